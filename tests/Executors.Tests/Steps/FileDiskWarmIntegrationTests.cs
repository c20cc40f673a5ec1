using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using Taquin.Executors.Adapters;
using Taquin.Executors.Journal;
using Taquin.Executors.Libvirt;
using Taquin.Executors.Movers;
using Taquin.Executors.Pve;
using Taquin.Executors.Steps;
using Taquin.Executors.Tests.Pve;
using Taquin.Executors.Tests.Support;
using Taquin.PveSimulator;
using Xunit.Abstractions;

namespace Taquin.Executors.Tests.Steps;

/// <summary>
/// The PVE simulator with one node named like the test bed's libvirt host ("lv1"): the target volumes (zfs stand-in raw
/// files) and the source qcow2 files are on the same machine, as when a libvirt host's VMs go to its own PVE install.
/// </summary>
public sealed class Lv1PveFixture : IAsyncLifetime
{
    public SimulatedPveCluster Cluster { get; } = new()
    {
        Configure = dir => new PveSimulatorOptions
        {
            DataDirectory = dir,
            RootPassword = SimulatedPveCluster.RootPassword,
            ApiTokens = new Dictionary<string, string>(StringComparer.Ordinal) { [SimulatedPveCluster.TokenId] = SimulatedPveCluster.TokenSecret },
            Nodes = [TestbedHosts.Lv1],
        },
    };

    public Task InitializeAsync() => Cluster.InitializeAsync();

    public Task DisposeAsync() => Cluster.DisposeAsync();
}

/// <summary>
/// Warm copy of a qcow2 file disk (docs/adr/0012) on the test bed's libvirtd with an OS-less TCG guest: the steps run with
/// the real virsh adapter, the real SSH runner and the real mover; the target is a zfs stand-in volume of the PVE
/// simulator. The guest's writes are made by QEMU itself through the guest's disk device (HMP <c>qemu-io</c> on the
/// virtio backend), so they land wherever the running guest's writes would: in the overlay.
/// </summary>
[Collection(TestbedCollections.Libvirt)]
public sealed class FileDiskWarmIntegrationTests(Lv1PveFixture pve, ITestOutputHelper output) : IClassFixture<Lv1PveFixture>, IDisposable
{
    private const string Node = TestbedHosts.Lv1;
    private const string Storage = "local-zfs-lv1";
    private const int ChangedMib = 8;
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    private readonly ISshRunner _runner = TestbedHosts.Runner();
    private readonly PveHttpClient _client = pve.Cluster.TokenClient();
    private readonly List<string> _domains = [];
    private readonly List<string> _files = [];

    /// <summary>virsh on lv1 only (the test bed's first libvirtd; libvirt2 is not needed here).</summary>
    private VirshLibvirtHost Libvirt() => new(_runner, new VirshOptions
    {
        Hosts = new Dictionary<string, LibvirtEndpoint>(StringComparer.Ordinal) { [Node] = new() { ConnectUri = TestbedHosts.Require("TAQUIN_LIBVIRT_URI") } },
    });

    private async Task RemoveDomainAsync(string domain)
    {
        var libvirt = Libvirt();
        if (await libvirt.GetDomainStateAsync(Node, domain) != DomainRunState.Undefined)
        {
            await libvirt.DestroyAsync(Node, domain);
            await libvirt.UndefineAsync(Node, domain);
        }
    }

    public void Dispose()
    {
        foreach (var domain in _domains)
        {
            RemoveDomainAsync(domain).GetAwaiter().GetResult();
        }

        foreach (var file in _files.Where(File.Exists))
        {
            File.Delete(file);
        }

        _client.Dispose();
    }

    [IntegrationFact]
    public async Task Final_sync_carries_only_the_overlay_and_the_target_equals_the_source_chain()
    {
        var run = await PrepareAsync("taquin-it-warmfile", 64);
        var copyDisks = new CopyDisksStep();

        var copied = await copyDisks.ExecuteAsync(run.CopyDisks);

        var overlay = run.CopyDisks.Checkpoint("overlay.virtio0");
        Assert.Equal(FileDiskWarm.OverlayPathFor(run.BasePath), overlay);
        Assert.Equal("vda", run.CopyDisks.Checkpoint("dev.virtio0"));
        Assert.Contains("1 file disk base(s) copied", copied.Reason, StringComparison.Ordinal);
        Assert.Equal(overlay, await SourceAsync(run.Name, inactive: false));
        Assert.Equal(overlay, await SourceAsync(run.Name, inactive: true));
        Assert.Equal(DomainRunState.Running, await Libvirt().GetDomainStateAsync(Node, run.Name));
        Assert.True(await copyDisks.VerifyAsync(run.CopyDisks));
        // The base stopped changing at the snapshot and is on the target already.
        Assert.Equal(Sha256(run.Content), Sha256(await File.ReadAllBytesAsync(run.TargetPath), run.Content.Length));
        var full = Fields(run.CopyDisks.Checkpoint("copy.virtio0.full"));
        Assert.InRange(long.Parse(full["bytes"], CultureInfo.InvariantCulture), 64L << 20, 66L << 20);

        var expected = await GuestWritesAsync(run, offsetMib: 20);
        await new ShutdownSourceStep(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(200)).ExecuteAsync(run.Shutdown);
        var finalSync = new FinalSyncStep();
        await finalSync.ExecuteAsync(run.FinalSync);

        var diff = Fields(run.FinalSync.Checkpoint("copy.virtio0.diff"));
        output.WriteLine($"base copy: {run.CopyDisks.Checkpoint("copy.virtio0.full")}");
        output.WriteLine($"overlay sync: {run.FinalSync.Checkpoint("copy.virtio0.diff")}");
        // Only what the guest wrote crosses (the overlay's clusters), not the 64 MiB disk.
        Assert.Equal((long)ChangedMib << 20, long.Parse(diff["data"], CultureInfo.InvariantCulture));
        Assert.InRange(long.Parse(diff["bytes"], CultureInfo.InvariantCulture), (long)ChangedMib << 20, (long)(ChangedMib + 1) << 20);
        Assert.True(double.Parse(diff["seconds"], CultureInfo.InvariantCulture) > 0);
        Assert.StartsWith("match;full;qemu-img compare", run.FinalSync.Checkpoint("verify.virtio0"), StringComparison.Ordinal);
        Assert.Equal("yes", run.FinalSync.Checkpoint("verified"));
        Assert.Equal(Sha256(expected), Sha256(await File.ReadAllBytesAsync(run.TargetPath), expected.Length));
        Assert.Equal(Sha256(expected), await ChainSha256Async(overlay!));
        Assert.True(await finalSync.VerifyAsync(run.FinalSync));
        Assert.False(File.Exists(FileOverlaySync.TempPath(new RawVolumeTarget(Node, run.TargetPath))));

        // Retirement keeps base and overlay together: the saved XML names the overlay.
        await new CommitStep().ExecuteAsync(run.Commit);
        Assert.Equal(DomainRunState.Undefined, await Libvirt().GetDomainStateAsync(Node, run.Name));
        Assert.Equal($"{run.BasePath};{overlay}", run.Commit.Checkpoint("files.virtio0"));
        Assert.Contains(overlay!, run.Commit.Checkpoint("sourceXml"), StringComparison.Ordinal);
        Assert.True(File.Exists(run.BasePath) && File.Exists(overlay));
        _files.Add(overlay!);
    }

    [IntegrationFact]
    public async Task Rollback_while_running_merges_the_overlay_into_the_base_and_the_domain_runs_on_the_base()
    {
        var run = await PrepareAsync("taquin-it-warmfile-rb", 32);
        var copyDisks = new CopyDisksStep();
        await copyDisks.ExecuteAsync(run.CopyDisks);
        var overlay = run.CopyDisks.Checkpoint("overlay.virtio0")!;
        var expected = await GuestWritesAsync(run, offsetMib: 4);

        await copyDisks.CompensateAsync(run.CopyDisks);

        Assert.Equal(DomainRunState.Running, await Libvirt().GetDomainStateAsync(Node, run.Name));
        Assert.Equal(run.BasePath, await SourceAsync(run.Name, inactive: false));
        Assert.Equal(run.BasePath, await SourceAsync(run.Name, inactive: true));
        Assert.False(File.Exists(overlay));
        Assert.Null(run.CopyDisks.Checkpoint("overlay.virtio0"));
        await Libvirt().DestroyAsync(Node, run.Name);
        Assert.Equal(Sha256(expected), await ChainSha256Async(run.BasePath));
        Assert.Contains(await LogAsync(run.CopyDisks), l => l.Contains("blockcommit --active --pivot", StringComparison.Ordinal));
    }

    [IntegrationFact]
    public async Task Rollback_after_shutdown_commits_offline_and_redefines_the_domain_on_its_base()
    {
        var run = await PrepareAsync("taquin-it-warmfile-off", 32);
        var copyDisks = new CopyDisksStep();
        await copyDisks.ExecuteAsync(run.CopyDisks);
        var overlay = run.CopyDisks.Checkpoint("overlay.virtio0")!;
        var expected = await GuestWritesAsync(run, offsetMib: 20);
        await new ShutdownSourceStep(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(200)).ExecuteAsync(run.Shutdown);
        Assert.Equal(DomainRunState.ShutOff, await Libvirt().GetDomainStateAsync(Node, run.Name));

        await copyDisks.CompensateAsync(run.CopyDisks);

        Assert.Equal(run.BasePath, await SourceAsync(run.Name, inactive: true));
        Assert.False(File.Exists(overlay));
        Assert.Equal(Sha256(expected), await ChainSha256Async(run.BasePath));
        Assert.Contains(await LogAsync(run.CopyDisks), l => l.Contains("qemu-img commit, redefined on the base", StringComparison.Ordinal));
        // The redefined domain starts on its base with the driver format of the base.
        await Libvirt().StartAsync(Node, run.Name);
        Assert.Equal(DomainRunState.Running, await Libvirt().GetDomainStateAsync(Node, run.Name));
        Assert.Equal(run.BasePath, await SourceAsync(run.Name, inactive: false));
        Assert.Contains("type='qcow2'", (await Libvirt().DumpXmlAsync(Node, run.Name)).Replace('"', '\''), StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task A_resume_after_a_crash_before_or_after_the_snapshot_keeps_one_overlay()
    {
        var run = await PrepareAsync("taquin-it-warmfile-crash", 16);
        var overlay = FileDiskWarm.OverlayPathFor(run.BasePath);
        // The first attempt saved its checkpoints and died before virsh ran; a half-created overlay file was left.
        await run.CopyDisks.SaveAsync("sourceXml", await Libvirt().DumpXmlAsync(Node, run.Name));
        await run.CopyDisks.SaveAsync("dev.virtio0", "vda");
        await run.CopyDisks.SaveAsync("overlay.virtio0", overlay);
        await TestbedHosts.RunAsync(_runner, Node, "qemu-img", "create", "-q", "-f", "qcow2", overlay, "1M");
        var copyDisks = new CopyDisksStep();

        await copyDisks.ExecuteAsync(run.CopyDisks);
        // Then a crash after the snapshot, before "copied" was saved: the retry must find the overlay in place.
        await run.CopyDisks.SaveAsync("copied.virtio0", null);
        await copyDisks.ExecuteAsync(run.CopyDisks);

        Assert.Equal(overlay, await SourceAsync(run.Name, inactive: false));
        var chain = await BackingChainAsync(overlay);
        Assert.Equal([overlay, run.BasePath], chain);
        Assert.Equal(run.Content.Length, (await ImageInfoAsync(overlay)).GetProperty("virtual-size").GetInt64());
        Assert.Single(await LogAsync(run.CopyDisks), l => l.Contains("now writes into overlay", StringComparison.Ordinal));
        await copyDisks.CompensateAsync(run.CopyDisks);
        Assert.Equal(run.BasePath, await SourceAsync(run.Name, inactive: false));
    }

    [IntegrationFact]
    public async Task What_crosses_while_the_guest_is_off_stays_flat_for_warm_and_grows_with_the_disk_for_cold()
    {
        var downtime = new Dictionary<(string, int), double>();
        var crossedWhileDown = new Dictionary<(string, int), long>();
        foreach (var mib in new[] { 256, 1024 })
        {
            foreach (var strategy in new[] { "warm", "cold" })
            {
                var run = await PrepareAsync($"taquin-it-dt-{strategy}-{mib}", mib, strategy, random: false);
                await new CopyDisksStep().ExecuteAsync(run.CopyDisks);
                await GuestWritesAsync(run, offsetMib: mib / 2);
                // Stop (no OS: ACPI is ignored, so the power-off is immediate) → final-sync's copy and verification.
                var clock = Stopwatch.StartNew();
                await Libvirt().DestroyAsync(Node, run.Name);
                await Libvirt().SetAutostartAsync(Node, run.Name, false);
                await new FinalSyncStep().ExecuteAsync(run.FinalSync);
                downtime[(strategy, mib)] = clock.Elapsed.TotalSeconds;
                var copy = run.FinalSync.Checkpoint(strategy == "warm" ? "copy.virtio0.diff" : "copy.virtio0.full");
                output.WriteLine(FormattableString.Invariant($"{strategy} {mib} MiB qcow2, {ChangedMib} MiB changed: downtime (stop -> target verified) {downtime[(strategy, mib)]:F2} s; {copy}"));
                Assert.Equal("yes", run.FinalSync.Checkpoint("verified"));
                crossedWhileDown[(strategy, mib)] = BytesOf(copy);
                await RemoveRunAsync(run);
            }
        }

        // Wall-clock downtime is printed, not asserted: on a loaded 2-core runner a 1 GiB local copy (~0.7 s) is within
        // the noise of shutdown and verification. What decides downtime is what crosses while the guest is off.
        var changed = ChangedMib * 1024L * 1024;
        Assert.InRange(crossedWhileDown[("warm", 256)], changed, 2 * changed);
        Assert.InRange(crossedWhileDown[("warm", 1024)], changed, 2 * changed);
        Assert.True(crossedWhileDown[("cold", 256)] >= 256L * 1024 * 1024, $"cold 256 MiB crossed {crossedWhileDown[("cold", 256)]} bytes");
        Assert.True(crossedWhileDown[("cold", 1024)] >= 1024L * 1024 * 1024, $"cold 1 GiB crossed {crossedWhileDown[("cold", 1024)]} bytes");
    }

    /// <summary>The movers as an access file with <c>movers.verify: sampled</c> (or fleet.yaml policy.verify) makes them.</summary>
    private CommandDiskMover SampledMover() => new(_runner, MoverOptions.Default with { Verify = VerifyMode.Sampled });

    [IntegrationTheory]
    [InlineData(0L, "differing at 0")]
    [InlineData((22L << 20) + 5, "differing at overlay 23068672+1048576")]
    public async Task A_sampled_final_sync_refuses_cutover_when_the_target_differs_at_a_sampled_block_or_inside_the_overlay(long corruptAt, string named)
    {
        // 16 samples of 1 MiB every 31/15 MiB: 0 is the first block; 22 MiB + 5 falls between two samples, inside the
        // 8 MiB the guest wrote at 20 MiB. The target is damaged right after the overlay's clusters land on it.
        var mover = new CorruptingMover(SampledMover(), corruptAt);
        var run = await PrepareAsync($"taquin-it-wf-bad-{corruptAt % 1000}", 32, mover: mover);
        await new CopyDisksStep().ExecuteAsync(run.CopyDisks);
        await GuestWritesAsync(run, offsetMib: 20);
        await new ShutdownSourceStep(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(200)).ExecuteAsync(run.Shutdown);

        var failure = await Assert.ThrowsAsync<AdapterException>(() => new FinalSyncStep().ExecuteAsync(run.FinalSync));

        Assert.Equal(1, mover.Corrupted);
        Assert.Contains("refusing cutover", failure.Message, StringComparison.Ordinal);
        Assert.False(failure.IsTransient);
        Assert.Equal("mismatch", run.FinalSync.Checkpoint("verified"));
        var verify = run.FinalSync.Checkpoint("verify.virtio0");
        Assert.StartsWith("MISMATCH;sampled;SAMPLED: 16 x 1 MiB + overlay extents 8 MiB in full", verify, StringComparison.Ordinal);
        Assert.EndsWith(named, verify, StringComparison.Ordinal);
        var guard = await new StartTargetStep().CheckPreconditionAsync(run.StartTarget);
        Assert.False(guard.Met);
        Assert.Contains("does not match its source", guard.Reason, StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task Warm_downtime_with_sampled_verification_reads_the_same_bytes_for_256_MiB_and_1_GiB()
    {
        var readWhileDown = new Dictionary<int, long>();
        foreach (var mib in new[] { 256, 1024 })
        {
            var run = await PrepareAsync($"taquin-it-dts-{mib}", mib, random: false, mover: SampledMover());
            await new CopyDisksStep().ExecuteAsync(run.CopyDisks);
            await GuestWritesAsync(run, offsetMib: mib / 2);
            var clock = Stopwatch.StartNew();
            await Libvirt().DestroyAsync(Node, run.Name);
            await Libvirt().SetAutostartAsync(Node, run.Name, false);
            await new FinalSyncStep().ExecuteAsync(run.FinalSync);
            var seconds = clock.Elapsed.TotalSeconds;
            var verify = run.FinalSync.Checkpoint("verify.virtio0");
            output.WriteLine(FormattableString.Invariant($"warm {mib} MiB qcow2, {ChangedMib} MiB changed, sampled verify: downtime (stop -> target verified) {seconds:F2} s; {run.FinalSync.Checkpoint("copy.virtio0.diff")}; {verify}"));
            Assert.Equal("yes", run.FinalSync.Checkpoint("verified"));
            Assert.StartsWith($"match;sampled;SAMPLED: 16 x 1 MiB + overlay extents {ChangedMib} MiB in full", verify, StringComparison.Ordinal);
            readWhileDown[mib] = BytesReadOf(verify);
            await RemoveRunAsync(run);
        }

        // Counted bytes, not seconds: 16 blocks of 1 MiB + the 8 MiB overlay, whatever the disk's size (a full compare reads it all).
        Assert.Equal((16L + ChangedMib) << 20, readWhileDown[256]);
        Assert.Equal(readWhileDown[256], readWhileDown[1024]);
    }

    /// <summary>The size-comparison runs remove each size's domain and images before the next: the test bed holds one size at a time.</summary>
    private async Task RemoveRunAsync(Prepared run)
    {
        await RemoveDomainAsync(run.Name);
        foreach (var file in new[] { run.BasePath, FileDiskWarm.OverlayPathFor(run.BasePath), run.TargetPath })
        {
            File.Delete(file);
        }
    }

    private static long BytesReadOf(string? verifyCheckpoint)
    {
        Assert.NotNull(verifyCheckpoint);
        var match = System.Text.RegularExpressions.Regex.Match(verifyCheckpoint, @"; (\d+) bytes read per side");
        Assert.True(match.Success, verifyCheckpoint);
        return long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>A storage fault: the target volume gets one byte flipped right after the overlay sync wrote it.</summary>
    private sealed class CorruptingMover(IDiskMover inner, long offset) : IDiskMover
    {
        public int Corrupted { get; private set; }

        public async Task<CopyReport> CopyAsync(DiskCopyRequest request, Func<CopyProgress, Task>? progress, CancellationToken ct)
        {
            var report = await inner.CopyAsync(request, progress, ct);
            if (request.FromSnapshot is not null && request.Target is RawVolumeTarget raw)
            {
                await using var stream = new FileStream(raw.Path, FileMode.Open, FileAccess.ReadWrite);
                stream.Position = offset;
                var old = stream.ReadByte();
                stream.Position = offset;
                stream.WriteByte((byte)~old);
                Corrupted++;
            }

            return report;
        }

        public Task<VerifyReport> VerifyAsync(DiskCopyRequest request, CancellationToken ct) => inner.VerifyAsync(request, ct);

        public Task<IReadOnlyList<string>> RbdClientsAsync(string host, string image, bool oldCluster, CancellationToken ct) => inner.RbdClientsAsync(host, image, oldCluster, ct);
    }

    private static long BytesOf(string? copyCheckpoint)
    {
        Assert.NotNull(copyCheckpoint);
        var field = copyCheckpoint.Split(';').Single(f => f.StartsWith("bytes=", StringComparison.Ordinal));
        return long.Parse(field["bytes=".Length..], CultureInfo.InvariantCulture);
    }

    private sealed record Prepared(string Name, string BasePath, byte[] Content, string TargetPath, StepContext CopyDisks, StepContext Shutdown, StepContext FinalSync, StepContext StartTarget, StepContext Commit);

    /// <summary>
    /// A running TCG guest whose qcow2 disk is fully written (random bytes, or a counter pattern for the big timing runs),
    /// a PVE VM with a zfs stand-in volume for it, and the VM pipeline's step contexts in one journal run.
    /// </summary>
    private async Task<Prepared> PrepareAsync(string name, int mib, string strategy = "warm", bool random = true, IDiskMover? mover = null)
    {
        var libvirt = Libvirt();
        await RemoveDomainAsync(name);
        _domains.Add(name);
        var basePath = Path.Combine(TestbedHosts.Images, name + ".qcow2");
        foreach (var stale in new[] { basePath, FileDiskWarm.OverlayPathFor(basePath) })
        {
            File.Delete(stale);
        }

        _files.Add(basePath);
        _files.Add(FileDiskWarm.OverlayPathFor(basePath));
        var content = new byte[(long)mib << 20];
        if (random)
        {
            RandomNumberGenerator.Fill(content);
        }
        else
        {
            for (var i = 0; i < content.Length; i += 4096)
            {
                BitConverter.TryWriteBytes(content.AsSpan(i), i + 1);
            }
        }

        var rawSource = Path.Combine(TestbedHosts.Staging, name + ".src.raw");
        try
        {
            await File.WriteAllBytesAsync(rawSource, content);
            await TestbedHosts.RunAsync(_runner, Node, "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", rawSource, basePath);
        }
        finally
        {
            File.Delete(rawSource);
        }
        await libvirt.DefineAsync(Node, TestbedHosts.TcgDomainXml(name, qcow2Path: basePath));
        await libvirt.StartAsync(Node, name);

        var vmId = await _client.GetNextVmIdAsync();
        Assert.True((await _client.WaitForTaskAsync(Node, await _client.CreateVmAsync(Node, vmId, new Dictionary<string, string>
        {
            ["name"] = name,
            ["memory"] = "64",
            ["virtio0"] = $"{Storage}:1",
        }), Patience)).Succeeded);
        var volumeId = (await _client.GetVmConfigAsync(Node, vmId))!.Values["virtio0"].Split(',')[0];
        var targetPath = (await _client.GetVolumeAsync(Node, volumeId))!.Path;
        _files.Add(targetPath);

        var input = new StepInput
        {
            Vm = name,
            FromHost = Node,
            ToHost = Node,
            ToStorage = Storage,
            Strategy = strategy,
            Disks = [new DiskInput(basePath, IsRbd: false, "qcow2", (long)mib << 20, (long)mib << 20, "virtio0")],
        };
        var journal = new InMemoryRunJournal();
        var runId = "wf-" + Guid.NewGuid().ToString("N")[..8];
        await journal.CreateRunAsync(new RunRecord { RunId = runId, PlanDigest = "-", InventoryDigest = "-", CreatedAt = DateTimeOffset.UtcNow, Mode = "real" });
        string[] types = [StepTypes.CreateTargetVm, StepTypes.CopyDisks, StepTypes.ShutdownSource, StepTypes.FinalSync, StepTypes.StartTarget, StepTypes.Commit];
        await journal.AddStepsAsync(runId, [.. types.Select((t, i) => new NewStep { Wave = 1, Subject = "vm:" + name, StepType = t, Sequence = i + 1, InputJson = input.ToJson() })]);
        var adapters = new AdapterSet(_runner, _client, libvirt, NoCeph.Create(), mover);
        var steps = await journal.GetStepsAsync(runId);
        StepContext Context(string type) => new(steps.Single(s => s.StepType == type), adapters, journal, TimeProvider.System, DateTimeOffset.UtcNow + TimeSpan.FromMinutes(10), CancellationToken.None);
        await Context(StepTypes.CreateTargetVm).SaveAsync("vmid", vmId.ToString(CultureInfo.InvariantCulture));
        _journals[runId] = journal;
        return new Prepared(name, basePath, content, targetPath, Context(StepTypes.CopyDisks), Context(StepTypes.ShutdownSource), Context(StepTypes.FinalSync), Context(StepTypes.StartTarget), Context(StepTypes.Commit));
    }

    private readonly Dictionary<string, InMemoryRunJournal> _journals = new(StringComparer.Ordinal);

    private async Task<IReadOnlyList<string>> LogAsync(StepContext context)
        => (await _journals[context.Step.RunId].GetStepAsync(context.Step.StepId))!.LogTail;

    /// <summary>
    /// 8 MiB of new random bytes written by QEMU through the running guest's disk (HMP qemu-io on the virtio backend):
    /// exactly where a guest's own writes go. Returns the content the guest now sees.
    /// </summary>
    private async Task<byte[]> GuestWritesAsync(Prepared run, int offsetMib)
    {
        var data = RandomNumberGenerator.GetBytes(ChangedMib << 20);
        var file = Path.Combine(TestbedHosts.Images, run.Name + ".writes");
        await File.WriteAllBytesAsync(file, data);
        try
        {
            var said = await TestbedHosts.RunAsync(_runner, Node, "virsh", "-c", TestbedHosts.Require("TAQUIN_LIBVIRT_URI"), "qemu-monitor-command", run.Name, "--hmp",
                $"qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend \"write -s {file} {offsetMib}M {ChangedMib}M\"");
            Assert.True(string.IsNullOrWhiteSpace(said), $"qemu-io through the guest's disk said: {said}");
        }
        finally
        {
            File.Delete(file);
        }

        var expected = (byte[])run.Content.Clone();
        data.CopyTo(expected, (long)offsetMib << 20);
        return expected;
    }

    private async Task<string?> SourceAsync(string domain, bool inactive)
        => (await Libvirt().DomainBlockListAsync(Node, domain, inactive)).Single(b => b.Target == "vda").Source;

    /// <summary>SHA-256 of the guest-visible content of an image and its backing chain (read with qemu-img, shared).</summary>
    private async Task<string> ChainSha256Async(string image)
    {
        var raw = Path.Combine(TestbedHosts.Images, Path.GetFileName(image) + ".check.raw");
        try
        {
            await TestbedHosts.RunAsync(_runner, Node, "qemu-img", "convert", "-U", "-O", "raw", image, raw);
            return Sha256(await File.ReadAllBytesAsync(raw));
        }
        finally
        {
            File.Delete(raw);
        }
    }

    private async Task<JsonElement> ImageInfoAsync(string image)
        => JsonDocument.Parse(await TestbedHosts.RunAsync(_runner, Node, "qemu-img", "info", "-U", "--output=json", image)).RootElement;

    private async Task<List<string>> BackingChainAsync(string image)
        => [.. JsonDocument.Parse(await TestbedHosts.RunAsync(_runner, Node, "qemu-img", "info", "-U", "--backing-chain", "--output=json", image))
            .RootElement.EnumerateArray().Select(i => i.GetProperty("filename").GetString()!)];

    private static string Sha256(byte[] data, long? length = null)
        => Convert.ToHexStringLower(SHA256.HashData(data.AsSpan(0, (int)(length ?? data.Length))));

    private static Dictionary<string, string> Fields(string? checkpoint)
    {
        Assert.NotNull(checkpoint);
        return checkpoint.Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.Ordinal);
    }

    /// <summary>File disks only: any Ceph call is a test failure.</summary>
    public class NoCeph : DispatchProxy
    {
        public static ICephCluster Create() => Create<ICephCluster, NoCeph>();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
            => throw new InvalidOperationException($"ICephCluster.{targetMethod?.Name} called for a VM with file disks only");
    }
}
