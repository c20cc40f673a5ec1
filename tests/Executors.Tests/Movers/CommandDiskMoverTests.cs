using Taquin.Executors.Adapters;
using Taquin.Executors.Movers;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Movers;

/// <summary>
/// Every strategy's copy against the test bed's real Ceph and qemu-img: the target ends equal to the source
/// snapshot (checksums on both sides), only allocated bytes travel, faults leave nothing half-done.
/// </summary>
[Collection(TestbedCollections.Ceph)]
public sealed class CommandDiskMoverTests : IDisposable
{
    private const string Host = "127.0.0.1";
    private readonly TestbedCeph _ceph = new();
    private readonly TestLocalRunner _runner = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-movers-").FullName;

    public void Dispose()
    {
        _ceph.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    internal static MoverOptions Options(DataPath path, TestbedCeph ceph) => new()
    {
        DataPath = path,
        SourceCephConf = ceph.Conf,
        TargetCephConf = ceph.Conf,
        HostToHostSsh = TestbedSsh,
        // target-client: the test bed has one cluster, which the "target node" (this machine) reads as the old one
        SourceCephConfOnTarget = ceph.Conf,
        IsLocalHost = _ => true,
        ProgressInterval = TimeSpan.Zero,
    };

    /// <summary>How a source host reaches the target host on the test bed: the test bed's sshd.</summary>
    internal static IReadOnlyList<string> TestbedSsh(string host) =>
    [
        "ssh", "-p", Environment.GetEnvironmentVariable("TAQUIN_SSH_PORT") ?? "22",
        "-i", Environment.GetEnvironmentVariable("TAQUIN_SSH_KEY") ?? "",
        "-o", "UserKnownHostsFile=" + Environment.GetEnvironmentVariable("TAQUIN_SSH_KNOWN_HOSTS"),
        .. MoverOptions.FastSshOptions, "root@" + host,
    ];

    private CommandDiskMover Mover(DataPath path, Action<MoverOptions>? _ = null) => new(_runner, Options(path, _ceph));

    internal static byte[] Pattern(int length, byte seed) => [.. Enumerable.Range(0, length).Select(i => (byte)(seed ^ (i * 13) ^ (i >> 9)))];

    /// <summary>A 64 MiB source with 6 MiB written in three places, snapshotted as "base" (the movers' tests share it).</summary>
    internal static string SparseSource(TestbedCeph ceph, string prefix)
    {
        var image = ceph.CreateImage(prefix, 64 << 20);
        ceph.Write(image, 0, Pattern(2 << 20, 1));
        ceph.Write(image, 20 << 20, Pattern(2 << 20, 2));
        ceph.Write(image, 62 << 20, Pattern(2 << 20, 3));
        ceph.Snapshot(image, "base");
        return image;
    }

    private string SparseSource(string prefix) => SparseSource(_ceph, prefix);

    [IntegrationTheory]
    [InlineData(DataPath.Direct)]
    [InlineData(DataPath.Relayed)]
    [InlineData(DataPath.TargetClient)]
    public async Task Cold_rbd_to_rbd_copies_the_snapshot_exactly_sending_only_allocated_bytes(DataPath path)
    {
        var source = SparseSource("cold-src");
        var target = _ceph.CreateImage("cold-dst", 64 << 20);
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, target));
        var progress = new List<CopyProgress>();

        var report = await Mover(path).CopyAsync(request, p => { progress.Add(p); return Task.CompletedTask; }, CancellationToken.None);
        var verify = await Mover(path).VerifyAsync(request, CancellationToken.None);

        Assert.True(verify.Match, verify.ToCheckpoint());
        Assert.Equal(_ceph.Sha256(source + "@base"), verify.TargetDigest);
        Assert.Equal(path, report.Path);
        // RBD counts an object as allocated from its start: what Ceph reports allocated is what may travel.
        Assert.InRange(report.BytesSent, 6 << 20, (report.DataBytes * 1.01) + 4096);
        Assert.InRange(report.DataBytes, 6 << 20, 12 << 20);
        Assert.Equal(report.BytesSent, progress[^1].Bytes);
        Assert.InRange(progress[^1].TotalBytes!.Value, report.BytesSent * 0.99, report.BytesSent * 1.01);
    }

    [IntegrationTheory]
    [InlineData(DataPath.Direct)]
    [InlineData(DataPath.Relayed)]
    [InlineData(DataPath.TargetClient)]
    public async Task Warm_rbd_to_rbd_moves_only_the_change_between_the_snapshots(DataPath path)
    {
        var source = SparseSource("warm-src");
        var target = _ceph.CreateImage("warm-dst", 64 << 20);
        var mover = Mover(path);
        await mover.CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, target)), null, CancellationToken.None);
        _ceph.Write(source, 30 << 20, Pattern(1 << 20, 4));
        _ceph.Snapshot(source, "final");
        var final = new DiskCopyRequest(new RbdImageSource(Host, source), "base", "final", new RbdVolumeTarget(Host, target));

        var report = await mover.CopyAsync(final, null, CancellationToken.None);
        var verify = await mover.VerifyAsync(final, CancellationToken.None);

        Assert.True(verify.Match, verify.ToCheckpoint());
        Assert.InRange(report.BytesSent, 1 << 20, (report.DataBytes * 1.01) + 4096);
        Assert.InRange(report.DataBytes, 1 << 20, 4 << 20);
        Assert.Equal(_ceph.Sha256(source + "@final"), _ceph.Sha256(target + "@final"));
    }

    [IntegrationTheory]
    [InlineData(null)]
    [InlineData("base")]
    public async Task The_direct_and_target_client_byte_counts_are_the_bytes_the_relay_counted_in_the_stream(string? from)
    {
        var source = SparseSource("count-src");
        _ceph.Write(source, 40 << 20, Pattern(3 << 20, 7));
        _ceph.Snapshot(source, "final");
        var reports = new Dictionary<DataPath, CopyReport>();
        foreach (var path in new[] { DataPath.Relayed, DataPath.Direct, DataPath.TargetClient })
        {
            var target = _ceph.CreateImage("count-dst", 64 << 20);
            var mover = Mover(path);
            if (from is not null)
            {
                await mover.CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, source), null, from, new RbdVolumeTarget(Host, target)), null, CancellationToken.None);
            }

            var request = new DiskCopyRequest(new RbdImageSource(Host, source), from, "final", new RbdVolumeTarget(Host, target));
            reports[path] = await mover.CopyAsync(request, null, CancellationToken.None);
            Assert.True((await mover.VerifyAsync(request, CancellationToken.None)).Match);
        }

        // The relay counts every byte it passes; the other two paths compute the stream from rbd diff, without a counter in the pipe.
        Assert.Equal(reports[DataPath.Relayed].BytesSent, reports[DataPath.Direct].BytesSent);
        Assert.Equal(reports[DataPath.Relayed].BytesSent, reports[DataPath.TargetClient].BytesSent);
        Assert.InRange(reports[DataPath.Direct].BytesSent, 3 << 20, (reports[DataPath.Direct].DataBytes * 1.01) + 4096);
        Assert.DoesNotContain(_runner.Commands, c => c.Contains("tee", StringComparison.Ordinal) || c.Contains("wc -c", StringComparison.Ordinal));
    }

    [IntegrationTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Import_diff_reads_the_pipe_as_a_path_or_as_stdin_and_both_copy_exactly(bool parallel)
    {
        var source = SparseSource(parallel ? "par-src" : "seq-src");
        var target = _ceph.CreateImage(parallel ? "par-dst" : "seq-dst", 64 << 20);
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, target));
        var mover = new CommandDiskMover(_runner, Options(DataPath.Relayed, _ceph) with { ParallelImportDiff = parallel });

        await mover.CopyAsync(request, null, CancellationToken.None);

        Assert.True((await mover.VerifyAsync(request, CancellationToken.None)).Match);
        var import = Assert.Single(_runner.Commands, c => c.Contains("import-diff", StringComparison.Ordinal));
        Assert.Equal(parallel, import.Contains("/dev/stdin", StringComparison.Ordinal));
    }

    [IntegrationFact]
    public async Task The_parallel_import_falls_back_to_stdin_when_stdin_is_a_file_not_a_pipe()
    {
        var source = SparseSource("file-src");
        var target = _ceph.CreateImage("file-dst", 64 << 20);
        var diff = Path.Combine(_dir, "base.diff");
        _ceph.Rbd("export-diff", "--no-progress", source + "@base", diff);
        var mover = Mover(DataPath.Direct);

        var result = await _runner.RunAsync(Host, ["bash", "-c", Taquin.Executors.Ssh.ShellQuoting.Join(mover.ImportDiffArgs(target)) + " < " + diff]);

        Assert.True(result.Succeeded, result.Stderr);
        Assert.Equal(_ceph.Sha256(source + "@base"), _ceph.Sha256(target + "@base"));
    }

    [IntegrationFact]
    public async Task A_direct_copy_whose_ssh_drops_restarts_and_its_ssh_gets_the_configured_cipher()
    {
        var source = SparseSource("ddrop-src");
        var target = _ceph.CreateImage("ddrop-dst", 64 << 20);
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, target));
        // An "ssh" that loses its connection once (exit 255 after reading some of the stream), then runs the real ssh.
        var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        var log = Path.Combine(_dir, "ssh.log");
        var flakySsh = Path.Combine(bin, "ssh");
        await File.WriteAllTextAsync(flakySsh, $"""
            #!/bin/bash
            echo "$*" >> {log}
            if [ ! -e {log}.dropped ]; then touch {log}.dropped; head -c 1048576 > /dev/null; exit 255; fi
            exec /usr/bin/ssh "$@"
            """.ReplaceLineEndings("\n"));
        TestbedCeph.RunBytes(["chmod", "700", flakySsh]);
        var options = Options(DataPath.Direct, _ceph) with
        {
            HostToHostSsh = host => [flakySsh, .. TestbedSsh(host).Skip(1)],
            SshCiphers = "chacha20-poly1305@openssh.com",
        };

        var report = await new CommandDiskMover(_runner, options).CopyAsync(request, null, CancellationToken.None);

        Assert.Equal(2, report.Attempts);
        Assert.True((await Mover(DataPath.Direct).VerifyAsync(request, CancellationToken.None)).Match);
        var calls = await File.ReadAllLinesAsync(log);
        Assert.Equal(2, calls.Length);
        Assert.All(calls, c => Assert.StartsWith("-c chacha20-poly1305@openssh.com ", c, StringComparison.Ordinal));
    }

    [IntegrationFact]
    public async Task Target_client_without_the_old_conf_on_the_target_refuses_before_anything_runs()
    {
        var request = new DiskCopyRequest(new RbdImageSource(Host, "rbd/any"), null, "base", new RbdVolumeTarget(Host, "rbd/other"));
        var mover = new CommandDiskMover(_runner, Options(DataPath.TargetClient, _ceph) with { SourceCephConfOnTarget = null });

        var error = await Assert.ThrowsAsync<AdapterException>(() => mover.CopyAsync(request, null, CancellationToken.None));

        Assert.False(error.IsTransient);
        Assert.Contains("movers.sourceCephConfOnTarget", error.Message, StringComparison.Ordinal);
        Assert.Empty(_runner.Commands);
    }

    [IntegrationFact]
    public async Task Rbd_to_a_raw_file_is_sparse_and_warm_works_on_it_through_the_diff_applier()
    {
        var source = SparseSource("raw-src");
        var file = Path.Combine(_dir, "vm-100-disk-0.raw");
        var mover = Mover(DataPath.Relayed);
        var baseCopy = await mover.CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RawVolumeTarget(Host, file)), null, CancellationToken.None);
        var allocatedKiB = long.Parse(System.Text.Encoding.ASCII.GetString(TestbedCeph.RunBytes(["du", "-k", file])).Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture);
        _ceph.Write(source, 40 << 20, Pattern(512 << 10, 5));
        _ceph.Snapshot(source, "final");
        var final = new DiskCopyRequest(new RbdImageSource(Host, source), "base", "final", new RawVolumeTarget(Host, file));

        var increment = await mover.CopyAsync(final, null, CancellationToken.None);
        var verify = await mover.VerifyAsync(final, CancellationToken.None);

        Assert.True(verify.Match, verify.ToCheckpoint());
        Assert.Equal(64 << 20, new FileInfo(file).Length);
        Assert.InRange(allocatedKiB, 6 << 10, 7 << 10);
        // written: the 6 MiB of data, plus zero bytes that shared a read with data (the skipped runs are the rest)
        Assert.InRange(baseCopy.DataBytes, 6 << 20, 7 << 20);
        Assert.Equal(512 << 10, increment.DataBytes);
    }

    [IntegrationTheory]
    [InlineData("rbd")]
    [InlineData("raw")]
    public async Task A_qcow2_file_is_converted_sparse_aware_and_compared_as_guest_content(string targetKind)
    {
        var qcow2 = Path.Combine(_dir, "guest.qcow2");
        TestbedCeph.RunBytes(["qemu-img", "create", "-q", "-f", "qcow2", qcow2, "32M"]);
        var payload = Path.Combine(_dir, "payload");
        await File.WriteAllBytesAsync(payload, Pattern(3 << 20, 6));
        TestbedCeph.RunBytes(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 8M 1M", "-c", "write -P 0x33 30M 512k", qcow2]);
        DiskTarget target = targetKind == "rbd" ? new RbdVolumeTarget(Host, _ceph.CreateImage("qcow-dst", 32 << 20)) : new RawVolumeTarget(Host, Path.Combine(_dir, "qcow.raw"));
        var request = new DiskCopyRequest(new FileImageSource(Host, qcow2, "qcow2"), null, null, target);

        var report = await Mover(DataPath.Direct).CopyAsync(request, null, CancellationToken.None);
        var verify = await Mover(DataPath.Direct).VerifyAsync(request, CancellationToken.None);

        Assert.True(verify.Match, verify.Detail);
        Assert.Equal("qemu-img convert", report.Method);
        Assert.InRange(report.BytesSent, 1, 4 << 20);
    }

    [IntegrationFact]
    public async Task A_stream_dropped_mid_copy_restarts_the_copy_which_still_verifies()
    {
        var source = SparseSource("drop-src");
        var target = _ceph.CreateImage("drop-dst", 64 << 20);
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, target));
        _runner.FailStreamAfterBytes = 3 << 20;

        var report = await Mover(DataPath.Relayed).CopyAsync(request, null, CancellationToken.None);
        var verify = await Mover(DataPath.Relayed).VerifyAsync(request, CancellationToken.None);

        Assert.Equal(2, report.Attempts);
        Assert.True(verify.Match, verify.ToCheckpoint());
    }

    [IntegrationFact]
    public async Task A_stream_dropped_mid_copy_onto_a_raw_file_restarts_and_still_verifies()
    {
        var source = SparseSource("dropraw-src");
        var file = Path.Combine(_dir, "dropped.raw");
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RawVolumeTarget(Host, file));
        _runner.FailStreamAfterBytes = 1 << 20;

        var report = await Mover(DataPath.Relayed).CopyAsync(request, null, CancellationToken.None);

        Assert.Equal(2, report.Attempts);
        Assert.True((await Mover(DataPath.Relayed).VerifyAsync(request, CancellationToken.None)).Match);
    }

    [IntegrationFact]
    public async Task A_full_target_fails_clearly_removes_the_partial_file_and_leaves_the_source_unchanged()
    {
        var source = SparseSource("full-src");
        var before = _ceph.Sha256(source);
        var mount = Path.Combine(_dir, "small");
        Directory.CreateDirectory(mount);
        TestbedCeph.RunBytes(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mount]);
        try
        {
            var file = Path.Combine(mount, "vm-101-disk-0.raw");
            var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RawVolumeTarget(Host, file));

            var error = await Assert.ThrowsAsync<AdapterException>(() => Mover(DataPath.Relayed).CopyAsync(request, null, CancellationToken.None));

            Assert.Contains("is full", error.Message, StringComparison.Ordinal);
            Assert.Contains("partial file was removed", error.Message, StringComparison.Ordinal);
            Assert.False(error.IsTransient);
            Assert.False(File.Exists(file));
            Assert.Equal(before, _ceph.Sha256(source));
        }
        finally
        {
            TestbedCeph.RunBytes(["umount", mount]);
        }
    }

    [IntegrationFact]
    public async Task A_target_changed_after_the_copy_fails_verification_full_and_sampled_names_it_sampled()
    {
        var source = SparseSource("mismatch-src");
        var file = Path.Combine(_dir, "mismatch.raw");
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RawVolumeTarget(Host, file));
        await Mover(DataPath.Relayed).CopyAsync(request, null, CancellationToken.None);
        var sampled = new CommandDiskMover(_runner, Options(DataPath.Relayed, _ceph) with { Verify = VerifyMode.Sampled, SampleCount = 4, SampleBytes = 65536 });
        Assert.True((await sampled.VerifyAsync(request, CancellationToken.None)).Match);

        await using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            stream.Position = 0;
            await stream.WriteAsync(new byte[] { 0xff, 0xee });
        }

        var full = await Mover(DataPath.Relayed).VerifyAsync(request, CancellationToken.None);
        var sample = await sampled.VerifyAsync(request, CancellationToken.None);

        Assert.False(full.Match);
        Assert.Equal(VerifyMode.Full, full.Mode);
        Assert.False(sample.Match);
        Assert.StartsWith("SAMPLED: 4 blocks of 65536 bytes", sample.Detail, StringComparison.Ordinal);
        Assert.Contains("differing at 0", sample.Detail, StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task Rbd_clients_lists_a_holder_of_the_image_lock()
    {
        var image = _ceph.CreateImage("clients", 8 << 20);
        Assert.Empty(await Mover(DataPath.Direct).RbdClientsAsync(Host, image, oldCluster: true, CancellationToken.None));

        _ceph.Rbd("lock", "add", image, "taquin-test");

        var clients = await Mover(DataPath.Direct).RbdClientsAsync(Host, image, oldCluster: true, CancellationToken.None);
        var locker = System.Text.Json.JsonDocument.Parse(_ceph.Rbd("lock", "ls", image, "--format", "json")).RootElement[0].GetProperty("locker").GetString()!;
        _ceph.Rbd("lock", "rm", image, "taquin-test", locker);

        Assert.Single(clients);
        Assert.Equal("lock " + locker, clients[0]);
        Assert.Empty(await Mover(DataPath.Direct).RbdClientsAsync(Host, image, oldCluster: true, CancellationToken.None));
    }
}
