using Taquin.Executors.Adapters;
using Taquin.Executors.Movers;
using Taquin.Executors.Tests.Support;
using Xunit.Abstractions;

namespace Taquin.Executors.Tests.Movers;

/// <summary>
/// Copies that run entirely on remote hosts (direct, target-client, qemu-img convert) report live progress from the
/// tools' own output while they run: at least one record with 0 &lt; bytes &lt; total comes before the final one, in the
/// checkpoint format the relayed path writes. Through a local runner and through SSH.NET against the test bed's sshd.
/// </summary>
[Collection(TestbedCollections.Ceph)]
public sealed class LiveProgressIntegrationTests(LiveProgressIntegrationTests.FullSourceImage fullSource, ITestOutputHelper output)
    : IClassFixture<LiveProgressIntegrationTests.FullSourceImage>, IDisposable
{
    private const string Host = "127.0.0.1";
    private const long DiskBytes = 512L << 20;
    private readonly TestbedCeph _ceph = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-progress-").FullName;

    public void Dispose()
    {
        _ceph.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>
    /// A 512 MiB image written in full (128 objects: rbd prints about one percentage per object), snapshot "s": made once
    /// for the class (the copies only read the snapshot), on first use so that TAQUIN_NO_TESTBED=1 skips without a Ceph.
    /// </summary>
    public sealed class FullSourceImage : IDisposable
    {
        private readonly Lazy<(TestbedCeph Ceph, string Image)> _made = new(() =>
        {
            var ceph = new TestbedCeph();
            var image = ceph.CreateImage("live-src", DiskBytes);
            ceph.Rbd("bench", "--io-type", "write", "--io-size", "4M", "--io-total", "512M", "--io-pattern", "seq", image);
            ceph.Snapshot(image, "s");
            return (ceph, image);
        });

        public string Image => _made.Value.Image;

        public void Dispose()
        {
            if (_made.IsValueCreated)
            {
                _made.Value.Ceph.Dispose();
            }
        }
    }

    private string FullSource() => fullSource.Image;

    private static MoverOptions Options(DataPath path, TestbedCeph ceph) => CommandDiskMoverTests.Options(path, ceph) with { Verify = VerifyMode.Sampled };

    private static async Task<(CopyReport Report, List<CopyProgress> Progress)> CopyAsync(CommandDiskMover mover, DiskCopyRequest request)
    {
        var progress = new List<CopyProgress>();
        var report = await mover.CopyAsync(request, p =>
        {
            lock (progress)
            {
                progress.Add(p);
            }

            return Task.CompletedTask;
        }, CancellationToken.None);
        return (report, progress);
    }

    private void AssertLiveProgress(CopyReport report, List<CopyProgress> progress)
    {
        output.WriteLine($"{report.Path} {report.Method}: {report.BytesSent} bytes in {report.Duration.TotalSeconds:F2} s, {progress.Count} progress records: {string.Join(' ', progress.Select(p => p.Bytes * 100 / Math.Max(1, p.TotalBytes ?? 1)))} %");
        Assert.True(progress.Count >= 2, $"{progress.Count} progress records");
        var final = progress[^1];
        Assert.Equal(report.BytesSent, final.Bytes);
        Assert.Equal(report.BytesSent, final.TotalBytes);
        var intermediate = progress[..^1];
        Assert.Contains(intermediate, p => p.Bytes > 0 && p.Bytes < report.BytesSent);
        Assert.All(intermediate, p => Assert.Equal(report.BytesSent, p.TotalBytes));
        Assert.Equal(intermediate.Select(p => p.Bytes).Order(), intermediate.Select(p => p.Bytes)); // never backwards
        var middle = intermediate.First(p => p.Bytes > 0 && p.Bytes < report.BytesSent);
        Assert.StartsWith($"bytes={middle.Bytes};total={report.BytesSent};rate=", middle.ToCheckpoint(), StringComparison.Ordinal);
        Assert.DoesNotContain("eta=?", middle.ToCheckpoint(), StringComparison.Ordinal);
    }

    [IntegrationTheory]
    [InlineData(DataPath.Direct)]
    [InlineData(DataPath.TargetClient)]
    public async Task A_remote_rbd_copy_checkpoints_progress_before_it_ends(DataPath path)
    {
        var source = FullSource();
        var target = _ceph.CreateImage("live-dst", DiskBytes);
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "s", new RbdVolumeTarget(Host, target));
        var mover = new CommandDiskMover(new TestLocalRunner(), Options(path, _ceph));

        var (report, progress) = await CopyAsync(mover, request);

        Assert.Equal(path, report.Path);
        AssertLiveProgress(report, progress);
        Assert.InRange(report.BytesSent, DiskBytes, DiskBytes + (1 << 20));
        Assert.True((await mover.VerifyAsync(request, CancellationToken.None)).Match);
    }

    [IntegrationFact]
    public async Task A_direct_copy_run_through_ssh_net_streams_rbd_progress_back_while_it_runs()
    {
        var source = FullSource();
        var target = _ceph.CreateImage("live-dst", DiskBytes);
        // Host names of the test bed's one sshd: the source host runs the pipe and reaches the "target" over ssh.
        var request = new DiskCopyRequest(new RbdImageSource(TestbedHosts.Lv1, source), null, "s", new RbdVolumeTarget("pve1", target));
        var mover = new CommandDiskMover(TestbedHosts.Runner(), Options(DataPath.Direct, _ceph) with { HostToHostSsh = _ => CommandDiskMoverTests.TestbedSsh(Host) });

        var (report, progress) = await CopyAsync(mover, request);

        AssertLiveProgress(report, progress);
        Assert.True((await mover.VerifyAsync(request, CancellationToken.None)).Match);
    }

    [IntegrationFact]
    public async Task A_direct_tcp_copy_run_through_ssh_net_streams_the_senders_rbd_progress_back_while_it_runs()
    {
        var source = FullSource();
        var target = _ceph.CreateImage("live-dst", DiskBytes);
        var request = new DiskCopyRequest(new RbdImageSource(TestbedHosts.Lv1, source), null, "s", new RbdVolumeTarget("pve1", target));
        // The test bed's migration network is the loopback: both "hosts" are its one sshd.
        var options = Options(DataPath.DirectTcp, _ceph) with { Tcp = new TcpDataPathOptions { DefaultAddress = Host, FirstPort = 61110, LastPort = 61113 } };
        var mover = new CommandDiskMover(TestbedHosts.Runner(), options);

        var (report, progress) = await CopyAsync(mover, request);

        Assert.Equal(DataPath.DirectTcp, report.Path);
        AssertLiveProgress(report, progress);
        Assert.InRange(report.BytesSent, DiskBytes, DiskBytes + (1 << 20));
        Assert.True((await mover.VerifyAsync(request, CancellationToken.None)).Match);
    }

    [IntegrationTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_qcow2_file_copy_checkpoints_qemu_img_progress_before_it_ends(bool overSshNet)
    {
        var qcow2 = Path.Combine(_dir, "guest.qcow2");
        TestbedCeph.RunBytes(["qemu-img", "create", "-q", "-f", "qcow2", qcow2, "512M"]);
        TestbedCeph.RunBytes(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 256M", "-c", "write -P 0x33 300M 200M", qcow2]);
        var host = overSshNet ? "pve1" : Host;
        var target = _ceph.CreateImage("live-qcow", DiskBytes);
        var request = new DiskCopyRequest(new FileImageSource(host, qcow2, "qcow2"), null, null, new RbdVolumeTarget(host, target));
        var mover = new CommandDiskMover(overSshNet ? TestbedHosts.Runner() : new TestLocalRunner(), Options(DataPath.Direct, _ceph));

        var (report, progress) = await CopyAsync(mover, request);

        Assert.Equal("qemu-img convert", report.Method);
        AssertLiveProgress(report, progress);
        Assert.True((await mover.VerifyAsync(request, CancellationToken.None)).Match);
    }

    [IntegrationFact]
    public async Task A_failing_remote_export_reports_the_tools_error_without_its_progress_records()
    {
        var source = _ceph.CreateImage("live-fail", 64 << 20);
        _ceph.Write(source, 0, CommandDiskMoverTests.Pattern(1 << 20, 3));
        _ceph.Snapshot(source, "s");
        var target = _ceph.CreateImage("live-fail-dst", 64 << 20);
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "s", new RbdVolumeTarget(Host, target));
        var mover = new CommandDiskMover(new TestLocalRunner(), Options(DataPath.TargetClient, _ceph) with { SourceCephConfOnTarget = Path.Combine(_dir, "no-such-ceph.conf") });
        var progress = new List<CopyProgress>();

        var error = await Assert.ThrowsAnyAsync<AdapterException>(() => mover.CopyAsync(request, p => { progress.Add(p); return Task.CompletedTask; }, CancellationToken.None));

        output.WriteLine(error.Message);
        Assert.Contains("no-such-ceph.conf", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("% complete...\n", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\r', error.Message);
        Assert.Empty(progress);
    }
}
