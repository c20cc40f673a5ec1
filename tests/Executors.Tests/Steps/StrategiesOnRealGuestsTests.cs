using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Taquin.Executors.Adapters;
using Taquin.Executors.Engine;
using Taquin.Executors.Journal;
using Taquin.Executors.Steps;
using Taquin.Executors.Tests.Support;
using Xunit.Abstractions;

namespace Taquin.Executors.Tests.Steps;

/// <summary>
/// Every strategy on a real running TCG guest (no OS: it ignores ACPI and never writes), moved through the real VM
/// pipeline by the step engine (preflight … commit) onto the PVE simulator: the target holds exactly the source
/// snapshot, the journal records bytes and durations, the source is retired only after verification; and a failure
/// at each step rolls back to a source that runs, with its autostart, its unchanged disk, no Taquin snapshot and no
/// half VM on PVE. Needs `scripts/testbed up --only ssh,libvirt,ceph --libvirt-hosts 2 --osds 2`.
/// </summary>
[Collection(TestbedCollections.Ceph)]
public sealed class StrategiesOnRealGuestsTests(RealGuestBed bed, ITestOutputHelper output) : IClassFixture<RealGuestBed>, IAsyncLifetime
{
    private const int DiskBytes = 16 << 20;
    private const string Drive = "virtio0";
    private readonly List<string> _domains = [];
    private readonly List<string> _files = [];
    private readonly List<GuestPipeline> _pipelines = [];
    private TestbedCeph? _rbd;

    private TestbedCeph Rbd => _rbd ??= new TestbedCeph();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // A failed test may leave its target VM: its volumes are named by VMID, which the next simulator hands out again.
        foreach (var pipeline in _pipelines)
        {
            if (await pipeline.CheckpointAsync(StepTypes.CreateTargetVm, "vmid") is { } vmId
                && await bed.Client.FindVmAsync(int.Parse(vmId, CultureInfo.InvariantCulture)) is { } left)
            {
                await DeleteTargetAsync(left.VmId, left.Node);
            }
        }

        foreach (var domain in _domains)
        {
            await TestbedHosts.RemoveDomainAsync(bed.Libvirt, domain);
        }

        foreach (var file in _files)
        {
            File.Delete(file);
        }

        _rbd?.Dispose();
    }

    [IntegrationTheory]
    [InlineData("cold", RealGuestBed.RbdStorage)]
    [InlineData("warm", RealGuestBed.ZfsStorage)]
    [InlineData("attach-and-move", RealGuestBed.ZfsStorage)]
    public async Task An_RBD_guest_moves_with_the_target_equal_to_the_source_snapshot_and_the_source_retired_only_after_verification(string strategy, string storage)
    {
        await bed.StartAsync();
        var clock = Stopwatch.StartNew();
        var guest = await RbdGuestAsync(strategy);
        var pipeline = await PipelineAsync(guest.Input(strategy, RealGuestBed.Node, storage));

        await RunAsync(pipeline, StepTypes.ShutdownSource, (StepTypes.CopyDisks, StepRunOutcome.Succeeded));
        var expected = guest.Content;
        if (strategy == "warm")
        {
            // The guest "writes" while the base copy is already on the target: only the final sync's increment carries it.
            var changed = RandomNumberGenerator.GetBytes(1 << 20);
            output.WriteLine(FormattableString.Invariant($"warm: base copied at {clock.Elapsed.TotalSeconds:F1} s"));
            Rbd.Write(guest.Image, 6 << 20, changed);
            output.WriteLine(FormattableString.Invariant($"warm: guest write done at {clock.Elapsed.TotalSeconds:F1} s"));
            expected = [.. expected];
            changed.CopyTo(expected, 6 << 20);
        }

        await RunAsync(pipeline, StepTypes.Commit, (StepTypes.Verify, StepRunOutcome.Succeeded));
        var vmId = await VmIdAsync(pipeline);
        var expectedSha = Convert.ToHexStringLower(SHA256.HashData(expected));
        var sourceImage = strategy == "attach-and-move" ? $"{TestbedHosts.CephPool}/vm-{vmId}-disk-0" : guest.Image;
        Rbd.Track(sourceImage);

        // Verified, not yet committed: the source is off but whole (defined, its image and final snapshot there).
        Assert.Equal(DomainRunState.ShutOff, await bed.Libvirt.GetDomainStateAsync(RealGuestBed.Source, guest.Name));
        Assert.Equal(expectedSha, Rbd.Sha256($"{sourceImage}@{VmStepHelpers.FinalSnapshot}"));
        Assert.True((await bed.Client.FindVmAsync(vmId))!.IsRunning);

        Assert.Equal(StepRunOutcome.Succeeded, await pipeline.RunAsync(StepTypes.Commit));
        output.WriteLine(FormattableString.Invariant($"{strategy}: pipeline {clock.Elapsed.TotalSeconds:F1} s: {await pipeline.DescribeAsync()}"));

        var volume = (await bed.Client.GetVmConfigAsync(RealGuestBed.Node, vmId))!.Values[Drive].Split(',')[0];
        Assert.StartsWith(storage + ":", volume, StringComparison.Ordinal);
        Assert.Equal(expectedSha, await bed.VolumeSha256Async(RealGuestBed.Node, volume, DiskBytes));
        Assert.Equal(DomainRunState.Undefined, await bed.Libvirt.GetDomainStateAsync(RealGuestBed.Source, guest.Name));
        Assert.False(await bed.Adapters.Ceph.ImageExistsAsync(sourceImage));

        // The journal: bytes and durations of every copy, and the checksum verdict.
        if (strategy == "attach-and-move")
        {
            var moved = Fields(await pipeline.CheckpointAsync(StepTypes.Commit, "moved." + Drive));
            Assert.True(long.Parse(moved["bytes"], CultureInfo.InvariantCulture) >= DiskBytes);
            Assert.True(double.Parse(moved["seconds"], CultureInfo.InvariantCulture) > 0);
            Assert.StartsWith("match;full;", await pipeline.CheckpointAsync(StepTypes.Commit, "verify." + Drive), StringComparison.Ordinal);
        }
        else
        {
            var (copyStep, copyKind) = strategy == "warm" ? (StepTypes.CopyDisks, "full") : (StepTypes.FinalSync, "full");
            AssertCopyRecorded(await pipeline.CheckpointAsync(copyStep, $"copy.{Drive}.{copyKind}"), minBytes: 4 << 20);
            if (strategy == "warm")
            {
                // Only what changed since the base snapshot crosses at cutover: the 1 MiB written, at most its 4 MiB RBD object.
                var diff = AssertCopyRecorded(await pipeline.CheckpointAsync(StepTypes.FinalSync, $"copy.{Drive}.diff"), minBytes: 1 << 20);
                Assert.True(diff <= (4 << 20) + 4096, $"the increment sent {diff} bytes for 1 MiB changed");
            }

            Assert.StartsWith("match;full;", await pipeline.CheckpointAsync(StepTypes.FinalSync, "verify." + Drive), StringComparison.Ordinal);
        }

        await DeleteTargetAsync(vmId);
    }

    [IntegrationTheory]
    [InlineData("cold")]
    [InlineData("warm")]
    public async Task A_qcow2_file_guest_moves_with_the_target_equal_to_the_guest_content(string strategy)
    {
        await bed.StartAsync();
        var name = GuestName("qcow2");
        var content = RandomContent();
        var raw = Path.Combine(bed.Folder, name + ".raw");
        await WriteSparseAsync(raw, content);
        var qcow2 = Path.Combine(TestbedHosts.Images, name + ".qcow2");
        _files.Add(raw);
        _files.Add(qcow2);
        await TestbedHosts.RunAsync(bed.Ssh, RealGuestBed.Source, "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, qcow2);
        await StartGuestAsync(name, TestbedHosts.TcgDomainXml(name, qcow2Path: qcow2, mac: "52:54:00:6a:00:02"));
        // The target node is the source host itself (see RealGuestBed): qemu-img reads the file by its path.
        var input = new StepInput
        {
            Vm = name,
            FromHost = RealGuestBed.Source,
            ToHost = RealGuestBed.Source,
            ToStorage = "local-zfs-" + RealGuestBed.Source,
            Strategy = strategy,
            DataPath = "relayed",
            RamBytes = 64 << 20,
            VlanTag = 100,
            Macs = ["52:54:00:6a:00:02"],
            Disks = [new DiskInput(qcow2, IsRbd: false, "qcow2", DiskBytes, 4 << 20, Drive)],
        };
        var pipeline = await PipelineAsync(input);

        await RunAsync(pipeline, StepTypes.Commit, (StepTypes.Verify, StepRunOutcome.Succeeded));
        Assert.Equal(DomainRunState.ShutOff, await bed.Libvirt.GetDomainStateAsync(RealGuestBed.Source, name));
        Assert.Equal(StepRunOutcome.Succeeded, await pipeline.RunAsync(StepTypes.Commit));

        var vmId = await VmIdAsync(pipeline);
        var volume = (await bed.Client.GetVmConfigAsync(RealGuestBed.Source, vmId))!.Values[Drive].Split(',')[0];
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), await bed.VolumeSha256Async(RealGuestBed.Source, volume, DiskBytes));
        if (strategy == "warm")
        {
            // The base crossed while the guest ran; at cutover only the overlay did (the guest wrote nothing: it is small).
            AssertCopyRecorded(await pipeline.CheckpointAsync(StepTypes.CopyDisks, $"copy.{Drive}.full"), minBytes: 4 << 20);
            var overlayBytes = AssertCopyRecorded(await pipeline.CheckpointAsync(StepTypes.FinalSync, $"copy.{Drive}.diff"), minBytes: 0);
            Assert.True(overlayBytes < 4 << 20, $"the overlay sync carried {overlayBytes} bytes, as much as the base");
        }
        else
        {
            AssertCopyRecorded(await pipeline.CheckpointAsync(StepTypes.FinalSync, $"copy.{Drive}.full"), minBytes: 4 << 20);
        }

        Assert.StartsWith("match;", await pipeline.CheckpointAsync(StepTypes.FinalSync, "verify." + Drive), StringComparison.Ordinal);
        Assert.Equal(DomainRunState.Undefined, await bed.Libvirt.GetDomainStateAsync(RealGuestBed.Source, name));
        await DeleteTargetAsync(vmId, RealGuestBed.Source);
    }

    public static TheoryData<string, string> FailurePoints()
    {
        var data = new TheoryData<string, string>();
        foreach (var step in StepTypes.MoveToPvePipeline)
        {
            data.Add("warm", step);
        }

        // The steps that act differently for the other strategies (cold copies at final-sync onto an RBD target;
        // attach-and-move renames the image at final-sync and moves it at commit).
        data.Add("cold", StepTypes.FinalSync);
        data.Add("attach-and-move", StepTypes.FinalSync);
        data.Add("attach-and-move", StepTypes.StartTarget);
        data.Add("attach-and-move", StepTypes.Commit);
        return data;
    }

    [IntegrationTheory]
    [MemberData(nameof(FailurePoints))]
    public async Task A_failure_at_any_step_rolls_back_to_a_running_source_with_its_disk_unchanged_and_no_half_VM(string strategy, string failing)
    {
        await bed.StartAsync();
        var guest = await RbdGuestAsync(strategy);
        var storage = strategy == "cold" ? RealGuestBed.RbdStorage : RealGuestBed.ZfsStorage;
        var pipeline = await PipelineAsync(guest.Input(strategy, RealGuestBed.Node, storage), failing);

        var clock = Stopwatch.StartNew();
        await RunAsync(pipeline, null, (failing, StepRunOutcome.Failed));
        output.WriteLine(FormattableString.Invariant($"{strategy}, failure at {failing}: run + rollback {clock.Elapsed.TotalSeconds:F1} s"));

        // The engine undid the pipeline: the failed step and every step before it are rolled back or failed, none left done.
        var steps = await pipeline.StepsAsync();
        Assert.Equal(StepState.Failed, steps.Single(s => s.StepType == failing).State);
        Assert.All(steps.TakeWhile(s => s.StepType != failing), s => Assert.True(s.State == StepState.RolledBack, $"{s.StepType}: {s.State} {s.LastReason}"));
        Assert.All(steps.SkipWhile(s => s.StepType != failing).Skip(1), s => Assert.Equal(StepState.Pending, s.State));

        // The source: defined, running again (or still), autostart as it was, its disk byte for byte the original,
        // under its own name, with no snapshot of Taquin's.
        Assert.Equal(DomainRunState.Running, await bed.Libvirt.GetDomainStateAsync(RealGuestBed.Source, guest.Name));
        Assert.True(await bed.Libvirt.GetAutostartAsync(RealGuestBed.Source, guest.Name));
        Assert.Empty(await bed.Adapters.Ceph.ListSnapshotsAsync(guest.Image));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(guest.Content)), Rbd.Sha256(guest.Image));

        // PVE: no half VM, no volume of it left.
        var vmId = await pipeline.CheckpointAsync(StepTypes.CreateTargetVm, "vmid");
        if (vmId is not null)
        {
            Assert.Null(await bed.Client.FindVmAsync(int.Parse(vmId, CultureInfo.InvariantCulture)));
            Assert.DoesNotContain($"vm-{vmId}-", Rbd.Rbd("ls", Rbd.Pool), StringComparison.Ordinal);
            lock (bed.Pve.State.Gate)
            {
                Assert.DoesNotContain(bed.Pve.State.Volumes.Keys, v => v.Contains($":vm-{vmId}-", StringComparison.Ordinal));
            }
        }

        lock (bed.Pve.State.Gate)
        {
            Assert.DoesNotContain(bed.Pve.State.Vms.Values, v => v.Config.GetValueOrDefault("name") == guest.Name);
        }

        // And the source is runnable from cold too: it starts again after a power-off.
        await bed.Libvirt.DestroyAsync(RealGuestBed.Source, guest.Name);
        await bed.Libvirt.StartAsync(RealGuestBed.Source, guest.Name);
        Assert.Equal(DomainRunState.Running, await bed.Libvirt.GetDomainStateAsync(RealGuestBed.Source, guest.Name));
    }

    [IntegrationFact]
    public async Task A_commit_that_fails_after_undefining_the_source_does_not_roll_the_target_back()
    {
        await bed.StartAsync();
        var guest = await RbdGuestAsync("cold");
        var pipeline = await PipelineAsync(guest.Input("cold", RealGuestBed.Node, RealGuestBed.ZfsStorage), StepTypes.Commit, failAfterEffects: true);

        await RunAsync(pipeline, null, (StepTypes.Commit, StepRunOutcome.Failed));

        // The source is gone: rolling back would delete the target, the only copy left. Everything before commit stays.
        var steps = await pipeline.StepsAsync();
        Assert.All(steps.Where(s => s.StepType != StepTypes.Commit), s => Assert.Equal(StepState.Succeeded, s.State));
        Assert.StartsWith("undefining", steps.Single(s => s.StepType == StepTypes.Commit).Checkpoint[StepBase.PastNoReturnKey], StringComparison.Ordinal);
        Assert.Equal(DomainRunState.Undefined, await bed.Libvirt.GetDomainStateAsync(RealGuestBed.Source, guest.Name));
        var vmId = await VmIdAsync(pipeline);
        Assert.True((await bed.Client.FindVmAsync(vmId))!.IsRunning);
        var volume = (await bed.Client.GetVmConfigAsync(RealGuestBed.Node, vmId))!.Values[Drive].Split(',')[0];
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(guest.Content)), await bed.VolumeSha256Async(RealGuestBed.Node, volume, DiskBytes));
        await DeleteTargetAsync(vmId);
    }

    private async Task<GuestPipeline> PipelineAsync(StepInput input, string? failing = null, bool? failAfterEffects = null)
    {
        var pipeline = await bed.PipelineAsync(input, failing, failAfterEffects);
        _pipelines.Add(pipeline);
        Rbd.Track($"{Rbd.Pool}/vm-{await bed.Client.GetNextVmIdAsync()}-disk-0");
        return pipeline;
    }

    /// <summary>Runs the pipeline (up to <paramref name="stopBefore"/>) and expects its last step and outcome.</summary>
    private static async Task RunAsync(GuestPipeline pipeline, string? stopBefore, (string Type, StepRunOutcome Outcome) expected)
    {
        var last = await pipeline.RunUntilAsync(stopBefore);
        Assert.True(last == expected, $"expected {expected}, got {last}: {await pipeline.DescribeAsync()}");
    }

    private sealed record Guest(string Name, string Image, byte[] Content, string Mac)
    {
        public StepInput Input(string strategy, string node, string storage) => new()
        {
            Vm = Name,
            FromHost = RealGuestBed.Source,
            ToHost = node,
            ToStorage = storage,
            Strategy = strategy,
            DataPath = "relayed",
            RamBytes = 64 << 20,
            VlanTag = 100,
            Macs = [Mac],
            Disks = [new DiskInput(Image, IsRbd: true, "raw", DiskBytes, 4 << 20, Drive)],
        };
    }

    /// <summary>A running guest with autostart on and a 16 MiB RBD disk: random data in two extents, the rest sparse.</summary>
    private async Task<Guest> RbdGuestAsync(string strategy)
    {
        var name = GuestName(strategy);
        var content = RandomContent();
        var raw = Path.Combine(bed.Folder, name + ".raw");
        await WriteSparseAsync(raw, content);
        var image = $"{Rbd.Pool}/{name}";
        Rbd.Rbd("import", "--no-progress", raw, image);
        Rbd.Track(image);
        File.Delete(raw);
        var mac = "52:54:00:6a:01:" + RandomNumberGenerator.GetInt32(16, 255).ToString("x2", CultureInfo.InvariantCulture);
        await StartGuestAsync(name, TestbedHosts.TcgDomainXml(name, rbdSpec: image, mac: mac));
        return new Guest(name, image, content, mac);
    }

    private async Task StartGuestAsync(string name, string xml)
    {
        _domains.Add(name);
        await bed.Libvirt.DefineAsync(RealGuestBed.Source, xml);
        await bed.Libvirt.SetAutostartAsync(RealGuestBed.Source, name, true);
        await bed.Libvirt.StartAsync(RealGuestBed.Source, name);
    }

    private static string GuestName(string strategy) => $"tq-{strategy[..4]}-{Guid.NewGuid():N}"[..16];

    private static byte[] RandomContent()
    {
        var content = new byte[DiskBytes];
        RandomNumberGenerator.Fill(content.AsSpan(0, 3 << 20));
        RandomNumberGenerator.Fill(content.AsSpan(11 << 20, 1 << 20));
        return content;
    }

    private static async Task WriteSparseAsync(string path, byte[] content)
    {
        await using var file = File.Create(path);
        file.SetLength(content.Length);
        await file.WriteAsync(content.AsMemory(0, 3 << 20));
        file.Position = 11 << 20;
        await file.WriteAsync(content.AsMemory(11 << 20, 1 << 20));
    }

    private static async Task<int> VmIdAsync(GuestPipeline pipeline)
        => int.Parse((await pipeline.CheckpointAsync(StepTypes.CreateTargetVm, "vmid"))!, CultureInfo.InvariantCulture);

    /// <summary>"bytes=..;seconds=..;..." → its fields; asserts bytes and a duration were recorded and returns the bytes.</summary>
    private static long AssertCopyRecorded(string? checkpoint, long minBytes)
    {
        Assert.NotNull(checkpoint);
        var fields = Fields(checkpoint);
        var bytes = long.Parse(fields["bytes"], CultureInfo.InvariantCulture);
        Assert.True(bytes >= minBytes, $"{checkpoint}: fewer than {minBytes} bytes");
        Assert.True(double.Parse(fields["seconds"], CultureInfo.InvariantCulture) > 0, checkpoint);
        return bytes;
    }

    private static Dictionary<string, string> Fields(string? checkpoint)
        => (checkpoint ?? "").Split(';').Select(f => f.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    private async Task DeleteTargetAsync(int vmId, string node = RealGuestBed.Node)
    {
        if ((await bed.Client.FindVmAsync(vmId))?.IsRunning == true)
        {
            await bed.Client.WaitForTaskAsync(node, await bed.Client.StopVmAsync(node, vmId), TimeSpan.FromMinutes(1));
        }

        var deleted = await bed.Client.WaitForTaskAsync(node, await bed.Client.DeleteVmAsync(node, vmId), TimeSpan.FromMinutes(1));
        Assert.True(deleted.Succeeded, deleted.ExitStatus);
    }
}
