using System.Security.Cryptography;
using Taquin.Executors.Adapters;
using Taquin.Executors.Movers;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Movers;

/// <summary>
/// Sampled verification of file disks (docs/adr/0020) with real qemu-img: a warm disk's overlay chain against a raw file
/// or an RBD image of the test bed's Ceph. The base is checked by the RBD sample layout, the overlay's extents in full;
/// a corrupted byte at a sampled block or inside an overlay extent is a mismatch, and the record says "sampled".
/// </summary>
[Collection(TestbedCollections.Ceph)]
public sealed class FileDiskVerifierTests : IDisposable
{
    private const string Host = "127.0.0.1";
    private const int Size = 32 << 20;
    private const int Mib = 1 << 20;
    private readonly TestbedCeph _ceph = new();
    private readonly TestLocalRunner _runner = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-fileverify-").FullName;

    public void Dispose()
    {
        _ceph.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>4 blocks of 1 MiB: at 0, 10.33 MiB, 20.67 MiB and 31 MiB (4 KiB aligned) of the 32 MiB disk.</summary>
    private CommandDiskMover Mover(VerifyMode verify) => new(_runner, CommandDiskMoverTests.Options(DataPath.Direct, _ceph) with
    {
        Verify = verify,
        SampleCount = 4,
        SampleBytes = Mib,
    });

    /// <summary>A random 32 MiB qcow2 base and an overlay holding 8 MiB of new data at 4 MiB and 1 MiB of zeroes at 24 MiB.</summary>
    private (string Base, string Overlay) Chain()
    {
        var raw = Path.Combine(_dir, "content.raw");
        File.WriteAllBytes(raw, RandomNumberGenerator.GetBytes(Size));
        var basePath = Path.Combine(_dir, "vm.qcow2");
        TestbedCeph.RunBytes(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, basePath]);
        var overlay = Path.Combine(_dir, "vm.taquin-overlay.qcow2");
        TestbedCeph.RunBytes(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", basePath, overlay]);
        File.WriteAllBytes(raw, RandomNumberGenerator.GetBytes(8 * Mib));
        TestbedCeph.RunBytes(["qemu-io", "-f", "qcow2", "-c", $"write -s {raw} 4M 8M", "-c", "write -z 24M 1M", overlay]);
        File.Delete(raw);
        return (basePath, overlay);
    }

    /// <summary>The warm pipeline's two copies: the base while the guest runs, then the overlay's clusters.</summary>
    private async Task<DiskCopyRequest> CopiedAsync(DiskTarget target)
    {
        var (basePath, overlay) = Chain();
        var mover = Mover(VerifyMode.Full);
        await mover.CopyAsync(new DiskCopyRequest(new FileImageSource(Host, basePath, "qcow2"), null, null, target), null, CancellationToken.None);
        var sync = new DiskCopyRequest(new FileImageSource(Host, overlay, "qcow2"), "taquin-base", null, target);
        await mover.CopyAsync(sync, null, CancellationToken.None);
        return sync;
    }

    private async Task<RawVolumeTarget> RawTargetAsync()
    {
        var volume = Path.Combine(_dir, "vm-100-disk-0.raw");
        await using (var file = File.Create(volume))
        {
            file.SetLength(Size);
        }

        return new RawVolumeTarget(Host, volume);
    }

    private static async Task CorruptAsync(string path, long offset)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        var old = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)~old);
    }

    [IntegrationFact]
    public async Task A_sampled_verify_of_an_overlay_chain_reads_the_samples_and_every_overlay_extent_and_says_so()
    {
        var request = await CopiedAsync(await RawTargetAsync());

        var report = await Mover(VerifyMode.Sampled).VerifyAsync(request, CancellationToken.None);

        Assert.True(report.Match, report.ToCheckpoint());
        Assert.Equal(VerifyMode.Sampled, report.Mode);
        Assert.StartsWith("match;sampled;SAMPLED: 4 x 1 MiB + overlay extents 9 MiB in full (2 range(s), 9 MiB read)", report.ToCheckpoint(), StringComparison.Ordinal);
        // Counted from what qemu-img produced on the source side: 4 blocks + 8 MiB data + 1 MiB zeroes.
        Assert.Equal(13L * Mib, report.BytesRead);
        Assert.Contains($"{13L * Mib} bytes read per side", report.Detail, StringComparison.Ordinal);
        Assert.NotEmpty(report.SourceDigest);
        Assert.Equal(report.SourceDigest, report.TargetDigest);
    }

    [IntegrationTheory]
    [InlineData(0L, "differing at 0")]
    [InlineData(31L * Mib + 4097, "differing at 32505856")]
    [InlineData(6L * Mib + 123, "differing at overlay 6291456+1048576")]
    [InlineData(24L * Mib + 77, "differing at overlay 25165824+1048576")]
    public async Task A_sampled_verify_catches_a_corrupted_byte_at_a_sampled_block_or_inside_an_overlay_extent(long offset, string named)
    {
        var target = await RawTargetAsync();
        var request = await CopiedAsync(target);
        await CorruptAsync(target.Path, offset);

        var report = await Mover(VerifyMode.Sampled).VerifyAsync(request, CancellationToken.None);

        Assert.False(report.Match);
        Assert.StartsWith("MISMATCH;sampled;SAMPLED:", report.ToCheckpoint(), StringComparison.Ordinal);
        Assert.EndsWith(named, report.Detail, StringComparison.Ordinal);
        Assert.NotEqual(report.SourceDigest, report.TargetDigest);
    }

    [IntegrationFact]
    public async Task A_byte_changed_outside_the_samples_and_the_overlay_passes_sampled_and_fails_full_which_is_why_the_record_says_sampled()
    {
        var target = await RawTargetAsync();
        var request = await CopiedAsync(target);
        await CorruptAsync(target.Path, 16L * Mib);

        var sampled = await Mover(VerifyMode.Sampled).VerifyAsync(request, CancellationToken.None);
        var full = await Mover(VerifyMode.Full).VerifyAsync(request, CancellationToken.None);

        Assert.True(sampled.Match);
        Assert.Equal(VerifyMode.Sampled, sampled.Mode);
        Assert.False(full.Match);
        Assert.StartsWith("MISMATCH;full;qemu-img compare", full.ToCheckpoint(), StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task Full_mode_turns_sampled_above_the_full_verify_limit_and_stays_full_below_it()
    {
        var request = await CopiedAsync(await RawTargetAsync());

        var above = await (new CommandDiskMover(_runner, Mover(VerifyMode.Full).Options with { FullVerifyLimitBytes = Size - 1 })).VerifyAsync(request, CancellationToken.None);
        var below = await (new CommandDiskMover(_runner, Mover(VerifyMode.Full).Options with { FullVerifyLimitBytes = Size })).VerifyAsync(request, CancellationToken.None);

        Assert.True(above.Match && below.Match);
        Assert.Equal(VerifyMode.Sampled, above.Mode);
        Assert.Equal(VerifyMode.Full, below.Mode);
        Assert.Equal(Size, below.BytesRead);
    }

    [IntegrationFact]
    public async Task An_RBD_target_is_sampled_through_qemu_and_a_corrupted_overlay_byte_there_is_a_mismatch()
    {
        var image = _ceph.CreateImage("fileverify-dst", Size);
        var request = await CopiedAsync(new RbdVolumeTarget(Host, image));
        var sampled = Mover(VerifyMode.Sampled);
        Assert.True((await sampled.VerifyAsync(request, CancellationToken.None)).Match);

        _ceph.Write(image, 5L * Mib, [0xde, 0xad]);
        var report = await sampled.VerifyAsync(request, CancellationToken.None);

        Assert.False(report.Match);
        Assert.EndsWith("differing at overlay 5242880+1048576", report.Detail, StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task A_cold_qcow2_file_without_an_overlay_is_sampled_by_blocks_only()
    {
        var qcow2 = Path.Combine(_dir, "cold.qcow2");
        TestbedCeph.RunBytes(["qemu-img", "create", "-q", "-f", "qcow2", qcow2, "32M"]);
        TestbedCeph.RunBytes(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 2M", "-c", "write -P 0x33 30M 2M", qcow2]);
        var target = await RawTargetAsync();
        var request = new DiskCopyRequest(new FileImageSource(Host, qcow2, "qcow2"), null, null, target);
        await Mover(VerifyMode.Full).CopyAsync(request, null, CancellationToken.None);

        var report = await Mover(VerifyMode.Sampled).VerifyAsync(request, CancellationToken.None);

        Assert.True(report.Match, report.Detail);
        Assert.StartsWith($"SAMPLED: 4 x 1 MiB out of {Size} bytes; {4L * Mib} bytes read per side", report.Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// Cross-host: the chain is on the source host, the volume on the target node; each side hashes its own files on its
    /// own host (no qemu ssh:// driver, no data crosses for verification). Both names reach the test bed's sshd.
    /// </summary>
    [IntegrationFact]
    public async Task Cross_host_each_side_hashes_its_own_files_on_its_own_host_through_ssh()
    {
        var target = await RawTargetAsync();
        await CopiedAsync(target);
        var overlay = Path.Combine(_dir, "vm.taquin-overlay.qcow2");
        var runner = new HostRecordingRunner(TestbedHosts.Runner());
        var mover = new CommandDiskMover(runner, Mover(VerifyMode.Sampled).Options);
        var request = new DiskCopyRequest(new FileImageSource(TestbedHosts.Lv1, overlay, "qcow2"), "taquin-base", null, new RawVolumeTarget("pve1", target.Path));

        var report = await mover.VerifyAsync(request, CancellationToken.None);
        await CorruptAsync(target.Path, 7L * Mib);
        var corrupted = await mover.VerifyAsync(request, CancellationToken.None);

        Assert.True(report.Match, report.Detail);
        Assert.Equal(13L * Mib, report.BytesRead);
        Assert.False(corrupted.Match);
        Assert.EndsWith("differing at overlay 7340032+1048576", corrupted.Detail, StringComparison.Ordinal);
        // The layout and the chain's hashes on lv1; the volume's on pve1; nobody reads the other side's files.
        Assert.All(runner.Calls.Where(c => c.Host == "pve1"), c => Assert.DoesNotContain(overlay, c.Text, StringComparison.Ordinal));
        Assert.All(runner.Calls.Where(c => c.Host == TestbedHosts.Lv1), c => Assert.DoesNotContain(target.Path, c.Text, StringComparison.Ordinal));
        Assert.Contains(runner.Calls, c => c.Host == "pve1" && c.Text.Contains(target.Path, StringComparison.Ordinal));
        Assert.Contains(runner.Calls, c => c.Host == TestbedHosts.Lv1 && c.Text.Contains("qemu-img convert", StringComparison.Ordinal));
        Assert.DoesNotContain(runner.Calls, c => c.Text.Contains("ssh://", StringComparison.Ordinal) || c.Text.Contains("\"ssh\"", StringComparison.Ordinal));
    }

    /// <summary>Records each command's host and text (argv and the script it got on stdin).</summary>
    private sealed class HostRecordingRunner(ISshRunner inner) : ISshRunner
    {
        public List<(string Host, string Text)> Calls { get; } = [];

        public async Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default)
        {
            var script = "";
            if (stdin is MemoryStream memory)
            {
                script = System.Text.Encoding.UTF8.GetString(memory.ToArray());
            }

            lock (Calls)
            {
                Calls.Add((host, string.Join(' ', argv) + "\n" + script));
            }

            return await inner.RunAsync(host, argv, stdin, ct);
        }

        public Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default)
            => throw new InvalidOperationException("verification streams nothing");
    }
}
