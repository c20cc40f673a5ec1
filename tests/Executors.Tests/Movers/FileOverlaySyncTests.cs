using System.Security.Cryptography;
using Taquin.Executors.Movers;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Movers;

/// <summary>
/// The overlay half of a warm file disk (docs/adr/0012) with real qemu-img: a target that holds the base receives only the
/// overlay's clusters — written data and zeroed clusters — onto an RBD image of the test bed's Ceph or a raw file, through
/// the same-host, direct (host-to-host ssh) and relayed paths. The guest content of base+overlay equals the target after.
/// </summary>
[Collection(TestbedCollections.Ceph)]
public sealed class FileOverlaySyncTests : IDisposable
{
    private const string Host = "127.0.0.1";
    private const string OtherHost = "pve-target";
    private const int Size = 32 << 20;
    private readonly TestbedCeph _ceph = new();
    private readonly TestLocalRunner _runner = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-overlay-").FullName;

    public void Dispose()
    {
        _ceph.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Every host is this machine; "another host" is reached through the test bed's sshd.</summary>
    private CommandDiskMover Mover(DataPath path) => new(_runner, CommandDiskMoverTests.Options(path, _ceph) with
    {
        HostToHostSsh = _ => CommandDiskMoverTests.TestbedSsh(Host),
        Tcp = new TcpDataPathOptions { DefaultAddress = "127.0.0.1", FirstPort = 61100, LastPort = 61103 },
    });

    /// <summary>
    /// A qcow2 base fully written with random bytes and an overlay over it holding 8 MiB of new data at 4 MiB and a
    /// 1 MiB zeroed range at 20 MiB; returns the paths and the guest content of the chain.
    /// </summary>
    private (string Base, string Overlay, byte[] Content) Chain()
    {
        var content = RandomNumberGenerator.GetBytes(Size);
        var raw = Path.Combine(_dir, "content.raw");
        File.WriteAllBytes(raw, content);
        var basePath = Path.Combine(_dir, "vm.qcow2");
        TestbedCeph.RunBytes(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, basePath]);
        var overlay = Path.Combine(_dir, "vm.taquin-overlay.qcow2");
        TestbedCeph.RunBytes(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", basePath, overlay]);
        var changed = RandomNumberGenerator.GetBytes(8 << 20);
        File.WriteAllBytes(raw, changed);
        TestbedCeph.RunBytes(["qemu-io", "-f", "qcow2", "-c", $"write -s {raw} 4M 8M", "-c", "write -z 20M 1M", overlay]);
        File.Delete(raw);
        changed.CopyTo(content, 4 << 20);
        Array.Clear(content, 20 << 20, 1 << 20);
        return (basePath, overlay, content);
    }

    [IntegrationFact]
    public async Task An_RBD_target_holding_the_base_receives_only_the_overlay_and_equals_the_chain()
    {
        var (basePath, overlay, content) = Chain();
        var image = _ceph.CreateImage("overlay-dst", Size);
        var target = new RbdVolumeTarget(Host, image);
        var mover = Mover(DataPath.Direct);
        await mover.CopyAsync(new DiskCopyRequest(new FileImageSource(Host, basePath, "qcow2"), null, null, target), null, CancellationToken.None);

        var report = await mover.CopyAsync(new DiskCopyRequest(new FileImageSource(Host, overlay, "qcow2"), "taquin-base", null, target), null, CancellationToken.None);
        var verify = await mover.VerifyAsync(new DiskCopyRequest(new FileImageSource(Host, overlay, "qcow2"), null, null, target), CancellationToken.None);

        Assert.True(verify.Match, verify.ToCheckpoint());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), _ceph.Sha256(image));
        // 8 MiB written + 1 MiB zeroed: the clusters of the overlay, not the 32 MiB disk.
        Assert.Equal(9L << 20, report.DataBytes);
        Assert.InRange(report.BytesSent, 8L << 20, 10L << 20);
        Assert.Contains("qemu-img commit", report.Method, StringComparison.Ordinal);
        Assert.False(File.Exists(FileOverlaySync.TempPath(target)));
        // The source chain is untouched: the overlay still points at its base.
        Assert.Contains(basePath, System.Text.Encoding.UTF8.GetString(TestbedCeph.RunBytes(["qemu-img", "info", overlay])), StringComparison.Ordinal);
    }

    [IntegrationTheory]
    [InlineData(DataPath.Direct)]
    [InlineData(DataPath.Relayed)]
    [InlineData(DataPath.DirectTcp)]
    public async Task The_overlay_reaches_another_host_through_each_data_path(DataPath path)
    {
        var (basePath, overlay, content) = Chain();
        var volume = Path.Combine(_dir, "vm-100-disk-0.raw");
        await using (var file = File.Create(volume))
        {
            file.SetLength(Size);
        }

        var mover = Mover(path);
        await mover.CopyAsync(new DiskCopyRequest(new FileImageSource(Host, basePath, "qcow2"), null, null, new RawVolumeTarget(Host, volume)), null, CancellationToken.None);
        var overlayBytes = new FileInfo(overlay).Length;

        var progress = new List<CopyProgress>();
        var report = await mover.CopyAsync(new DiskCopyRequest(new FileImageSource(Host, overlay, "qcow2"), "taquin-base", null, new RawVolumeTarget(OtherHost, volume)), p =>
        {
            lock (progress)
            {
                progress.Add(p);
            }

            return Task.CompletedTask;
        }, CancellationToken.None);

        Assert.Equal(path, report.Path);
        Assert.Equal(overlayBytes, report.BytesSent);
        // Direct: dd's own byte count (once a second while it runs, then its summary); relayed: the relay's count.
        Assert.Equal(overlayBytes, progress[^1].Bytes);
        Assert.All(progress, p => Assert.Equal(overlayBytes, p.TotalBytes));
        Assert.Equal(9L << 20, report.DataBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(volume))));
        Assert.Contains(_runner.Commands, c => path switch
        {
            DataPath.Direct => c.StartsWith("bash -o pipefail -c if LC_ALL=C dd status=progress", StringComparison.Ordinal),
            DataPath.DirectTcp => c.Contains($"'exec cat {overlay}'", StringComparison.Ordinal) && c.Contains("socat -U TCP", StringComparison.Ordinal),
            _ => c.StartsWith("cat ", StringComparison.Ordinal),
        });
    }
}
