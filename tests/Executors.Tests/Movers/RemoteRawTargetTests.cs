using Taquin.Executors.Adapters;
using Taquin.Executors.Movers;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Movers;

/// <summary>
/// RBD onto a raw target (zvol, raw file) on a node that is not the orchestrator's machine: the node writes the diff
/// itself (the perl raw writer), on every data path, cold then warm, and a full target leaves nothing behind.
/// The "node" is the test bed's sshd on this machine, so the file can be read back here.
/// </summary>
[Collection(TestbedCollections.Ceph)]
public sealed class RemoteRawTargetTests : IDisposable
{
    private const string Host = "127.0.0.1";
    private readonly TestbedCeph _ceph = new();
    private readonly TestLocalRunner _runner = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-remote-raw-").FullName;

    public void Dispose()
    {
        _ceph.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private CommandDiskMover Mover(DataPath path) => new(_runner, CommandDiskMoverTests.Options(path, _ceph) with
    {
        IsLocalHost = _ => false,
        Tcp = new TcpDataPathOptions { DefaultAddress = Host, FirstPort = 61200, LastPort = 61203, AcceptTimeout = TimeSpan.FromSeconds(5), ConnectTimeout = TimeSpan.FromSeconds(5) },
    });

    private string SparseSource(string prefix) => CommandDiskMoverTests.SparseSource(_ceph, prefix);

    [IntegrationTheory]
    [InlineData(DataPath.Direct)]
    [InlineData(DataPath.Relayed)]
    [InlineData(DataPath.DirectTcp)]
    [InlineData(DataPath.TargetClient)]
    public async Task A_raw_target_on_a_node_is_written_there_sparse_cold_then_warm_and_verifies(DataPath path)
    {
        var source = SparseSource($"rraw-{path}".ToLowerInvariant());
        var file = Path.Combine(_dir, $"vm-{(int)path}-disk-0.raw");
        var mover = Mover(path);
        var cold = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RawVolumeTarget(Host, file));

        var coldReport = await mover.CopyAsync(cold, null, CancellationToken.None);
        var allocated = new FileInfo(file).Length == 64 << 20 ? AllocatedBytes(file) : -1;
        _ceph.Write(source, 40 << 20, CommandDiskMoverTests.Pattern(512 << 10, 5));
        _ceph.Snapshot(source, "final");
        var warm = new DiskCopyRequest(new RbdImageSource(Host, source), "base", "final", new RawVolumeTarget(Host, file));
        var warmReport = await mover.CopyAsync(warm, null, CancellationToken.None);
        var verify = await mover.VerifyAsync(warm, CancellationToken.None);

        Assert.True(verify.Match, verify.ToCheckpoint());
        Assert.Equal(_ceph.Sha256(source + "@final"), verify.SourceDigest);
        Assert.Equal(path, coldReport.Path);
        Assert.Contains("raw writer", coldReport.Method, StringComparison.Ordinal);
        // Sparse: the 6 MiB of data (plus what shares a file-system block with it), not the 64 MiB of the image.
        Assert.InRange(allocated, 6 << 20, 7 << 20);
        Assert.InRange(coldReport.BytesSent, 6 << 20, (coldReport.DataBytes * 1.01) + 4096);
        Assert.InRange(warmReport.BytesSent, 512 << 10, 4 << 20);
    }

    private static long AllocatedBytes(string file)
        => 1024 * long.Parse(System.Text.Encoding.ASCII.GetString(TestbedCeph.RunBytes(["du", "-k", file])).Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture);

    [IntegrationFact]
    public async Task A_full_raw_target_on_a_node_fails_clearly_removes_the_partial_file_and_leaves_the_source_unchanged()
    {
        var source = SparseSource("rraw-full");
        var before = _ceph.Sha256(source);
        var mount = Path.Combine(_dir, "small");
        Directory.CreateDirectory(mount);
        TestbedCeph.RunBytes(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mount]);
        try
        {
            var file = Path.Combine(mount, "vm-101-disk-0.raw");
            var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RawVolumeTarget(Host, file));

            var error = await Assert.ThrowsAnyAsync<AdapterException>(() => Mover(DataPath.Direct).CopyAsync(request, null, CancellationToken.None));

            Assert.Contains($"{file} is full", error.Message, StringComparison.Ordinal);
            Assert.Contains("the partial file was removed", error.Message, StringComparison.Ordinal);
            Assert.False(error.IsTransient);
            Assert.False(File.Exists(file));
            Assert.Equal(before, _ceph.Sha256(source));
        }
        finally
        {
            TestbedCeph.RunBytes(["umount", mount]);
        }
    }
}
