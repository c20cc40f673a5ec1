using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ceph;
using Taquin.Executors.Journal;
using Taquin.Executors.Libvirt;
using Taquin.Executors.Movers;
using Taquin.Executors.Pve;
using Taquin.Executors.Steps;
using Taquin.Executors.Tests.Pve;
using Taquin.Executors.Tests.Support;
using Taquin.PveSimulator;
using Xunit.Abstractions;

namespace Taquin.Executors.Tests.Movers;

/// <summary>
/// attach-and-move's PVE half against the test bed's Ceph and the in-process PVE simulator: the old Ceph is an external
/// rbd storage of the simulator (same pool), the source image is renamed to vm-VMID-disk-0, the PVE VM starts on it and
/// move_disk carries it to the node's zfs stand-in, verified against the stop-time snapshot. The source domain is not
/// in these tests (the input's source host lv1 has no such domain: the cutover guard finds it undefined).
/// </summary>
[Collection(TestbedCollections.Ceph)]
public sealed class AttachAndMoveIntegrationTests(SimulatedPveCluster pve, ITestOutputHelper output) : IClassFixture<SimulatedPveCluster>, IDisposable
{
    private const string Node = "pve1";
    private const string TargetStorage = "local-zfs-pve1";
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    private readonly TestbedCeph _rbd = new();
    private readonly PveHttpClient _client = pve.TokenClient();

    public void Dispose()
    {
        _client.Dispose();
        _rbd.Dispose();
    }

    [IntegrationFact]
    public async Task The_vm_starts_on_the_renamed_image_and_the_move_leaves_the_target_equal_to_the_source_snapshot()
    {
        var run = await PrepareAsync(64);

        await new FinalSyncStep().ExecuteAsync(run.FinalSync);

        Assert.False(Exists(run.Image));
        Assert.True(Exists(run.Attached));
        var attachedDrive = (await _client.GetVmConfigAsync(Node, run.VmId))!.Values["scsi0"];
        Assert.Equal($"old-ceph:vm-{run.VmId}-disk-0,iothread=1,discard=on,size=64M", attachedDrive);

        await new StartTargetStep().ExecuteAsync(run.StartTarget);
        Assert.True((await _client.FindVmAsync(run.VmId))!.IsRunning);

        // A failed move task: the old image stays, the drive still points at it.
        pve.Server.State.InjectTaskFault("qmmove", new SimTaskFault(Error: "mirror-scsi0: job failed"));
        await Assert.ThrowsAsync<PveApiException>(() => AttachAndMove.MoveOffAsync(run.Commit, (node, upid, what) => WaitAsync(run.Commit, node, upid, what)));
        Assert.True(Exists(run.Attached));
        Assert.StartsWith("old-ceph:", (await _client.GetVmConfigAsync(Node, run.VmId))!.Values["scsi0"], StringComparison.Ordinal);

        await AttachAndMove.MoveOffAsync(run.Commit, (node, upid, what) => WaitAsync(run.Commit, node, upid, what));

        var config = (await _client.GetVmConfigAsync(Node, run.VmId))!.Values;
        var volumeId = config["scsi0"].Split(',')[0];
        Assert.StartsWith(TargetStorage + ":", volumeId, StringComparison.Ordinal);
        Assert.DoesNotContain(config.Values, v => v.StartsWith("old-ceph:", StringComparison.Ordinal));
        var target = (await _client.GetVolumeAsync(Node, volumeId))!;
        Assert.Equal(run.SourceChecksum, Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(target.Path))));
        Assert.False(Exists(run.Attached));
        Assert.False(Exists(run.Image));
        Assert.StartsWith(volumeId + ";bytes=", run.Commit.Checkpoint("moved.scsi0"), StringComparison.Ordinal);
        Assert.StartsWith("match;full;", run.Commit.Checkpoint("verify.scsi0"), StringComparison.Ordinal);

        await StopAndDeleteAsync(run.VmId);
    }

    [IntegrationFact]
    public async Task A_moved_volume_that_differs_from_the_stop_time_snapshot_keeps_the_old_image()
    {
        var run = await PrepareAsync(16);
        await new FinalSyncStep().ExecuteAsync(run.FinalSync);
        await new StartTargetStep().ExecuteAsync(run.StartTarget);
        // Bytes change after the stop (a move gone wrong, or a guest that wrote): the move carries them, the snapshot does not.
        _rbd.Write(run.Attached, 4 << 20, RandomNumberGenerator.GetBytes(64 << 10));

        var refused = await Assert.ThrowsAsync<AdapterException>(() => AttachAndMove.MoveOffAsync(run.Commit, (node, upid, what) => WaitAsync(run.Commit, node, upid, what)));

        Assert.False(refused.IsTransient);
        Assert.Contains("refusing to retire", refused.Message, StringComparison.Ordinal);
        Assert.StartsWith("MISMATCH;full;", run.Commit.Checkpoint("verify.scsi0"), StringComparison.Ordinal);
        Assert.True(Exists(run.Attached));
        Assert.Equal(run.SourceChecksum, _rbd.Sha256($"{run.Attached}@{VmStepHelpers.FinalSnapshot}"));
        await StopAndDeleteAsync(run.VmId);
    }

    [IntegrationFact]
    public async Task A_start_that_fails_before_the_move_gives_the_image_its_name_back_with_unchanged_content()
    {
        var run = await PrepareAsync(32);
        await new FinalSyncStep().ExecuteAsync(run.FinalSync);
        Assert.True(Exists(run.Attached));

        pve.Server.State.InjectTaskFault("qmstart", new SimTaskFault(Error: "start failed: QEMU exited with code 1"));
        await Assert.ThrowsAsync<PveApiException>(() => new StartTargetStep().ExecuteAsync(run.StartTarget));

        // The engine's rollback, newest first.
        await new StartTargetStep().CompensateAsync(run.StartTarget);
        await new FinalSyncStep().CompensateAsync(run.FinalSync);

        Assert.True(Exists(run.Image));
        Assert.False(Exists(run.Attached));
        Assert.Equal(run.SourceChecksum, _rbd.Sha256(run.Image));
        Assert.Equal(run.SourceChecksum, _rbd.Sha256($"{run.Image}@taquin-src"));
        Assert.DoesNotContain("scsi0", (await _client.GetVmConfigAsync(Node, run.VmId))!.Values.Keys);

        // Deleting the target VM (create-target-vm's rollback) must not take the old image with it.
        await StopAndDeleteAsync(run.VmId);
        Assert.Equal(run.SourceChecksum, _rbd.Sha256(run.Image));
    }

    [IntegrationFact]
    public async Task The_simulator_refuses_a_drive_on_an_image_name_PVE_cannot_parse_or_that_does_not_exist()
    {
        var run = await PrepareAsync(8);
        var config = (await _client.GetVmConfigAsync(Node, run.VmId))!;

        var unparsable = await Assert.ThrowsAsync<PveApiException>(() => _client.UpdateVmConfigAsync(Node, run.VmId,
            new Dictionary<string, string> { ["scsi0"] = "old-ceph:" + run.Image[(run.Image.IndexOf('/', StringComparison.Ordinal) + 1)..] }, config.Digest));
        var missing = await Assert.ThrowsAsync<PveApiException>(() => _client.UpdateVmConfigAsync(Node, run.VmId,
            new Dictionary<string, string> { ["scsi0"] = $"old-ceph:vm-{run.VmId}-disk-7" }, config.Digest));

        Assert.Contains("unable to parse rbd volume name", unparsable.Message, StringComparison.Ordinal);
        Assert.Contains("No such file or directory", missing.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("scsi0", (await _client.GetVmConfigAsync(Node, run.VmId))!.Values.Keys);
        await StopAndDeleteAsync(run.VmId);
    }

    [IntegrationFact]
    public async Task Downtime_from_stop_to_target_start_does_not_carry_the_disk_bytes()
    {
        var seconds = new Dictionary<int, double>();
        foreach (var mib in new[] { 256, 1024 })
        {
            var run = await PrepareAsync(mib);
            var clock = Stopwatch.StartNew();
            await new FinalSyncStep().ExecuteAsync(run.FinalSync);
            await new StartTargetStep().ExecuteAsync(run.StartTarget);
            seconds[mib] = clock.Elapsed.TotalSeconds;
            output.WriteLine(FormattableString.Invariant($"attach-and-move downtime (rename + drive update + start), {mib} MiB fully written: {seconds[mib]:F3} s"));

            Assert.True((await _client.FindVmAsync(run.VmId))!.IsRunning);
            Assert.Equal(run.SourceChecksum, _rbd.Sha256($"{run.Attached}@taquin-src"));
            await WaitAsync(run.StartTarget, Node, await _client.StopVmAsync(Node, run.VmId), "stop");
            await new FinalSyncStep().CompensateAsync(run.FinalSync);
            Assert.True(Exists(run.Image));
            await StopAndDeleteAsync(run.VmId);
        }

        Assert.Equal(2, seconds.Count);
    }

    private sealed record Prepared(int VmId, string Image, string Attached, string SourceChecksum, StepContext FinalSync, StepContext StartTarget, StepContext Commit);

    /// <summary>A fully written random image with a snapshot, the external storage, a target VM without the drive, and the steps' contexts.</summary>
    private async Task<Prepared> PrepareAsync(int mib)
    {
        var ceph = pve.Server.State.Options.Ceph ?? throw new InvalidOperationException($"TAQUIN_CEPH_CONF is not set: {Testbed.StartHint} (with ceph)");
        await EnsureOldCephStorageAsync(ceph);
        var image = $"{_rbd.Pool}/am-src-{Guid.NewGuid():N}"[..(_rbd.Pool.Length + 20)];
        // The checksum of the bytes written, which the snapshot holds: every later comparison reads Ceph's copy back.
        var checksum = _rbd.ImportRandom(image, mib);
        _rbd.Track(image);
        _rbd.Snapshot(image, "taquin-src");

        var vmId = await _client.GetNextVmIdAsync();
        var attached = $"{_rbd.Pool}/vm-{vmId}-disk-0";
        _rbd.Track(attached);
        Assert.True((await _client.WaitForTaskAsync(Node, await _client.CreateVmAsync(Node, vmId, new Dictionary<string, string> { ["name"] = $"am-{vmId}", ["memory"] = "256" }), Patience)).Succeeded);

        var input = new StepInput
        {
            Vm = $"am-{vmId}",
            // A source host with no such domain: the cutover guard finds it undefined, the mover reads the old Ceph there.
            FromHost = TestbedHosts.Lv1,
            ToHost = Node,
            ToStorage = TargetStorage,
            Strategy = "attach-and-move",
            Disks = [new DiskInput(image, IsRbd: true, "raw", (long)mib << 20, (long)mib << 20, "scsi0")],
            CreateParameters = new Dictionary<string, string> { ["scsi0"] = "ceph:0,iothread=1,discard=on" },
        };
        var journal = new InMemoryRunJournal();
        var runId = "am-" + vmId.ToString(CultureInfo.InvariantCulture);
        await journal.CreateRunAsync(new RunRecord { RunId = runId, PlanDigest = "-", InventoryDigest = "-", CreatedAt = DateTimeOffset.UtcNow, Mode = "real" });
        string[] types = [StepTypes.CreateTargetVm, StepTypes.FinalSync, StepTypes.StartTarget, StepTypes.Commit];
        await journal.AddStepsAsync(runId, [.. types.Select((t, i) => new NewStep { Wave = 1, Subject = "vm:" + input.Vm, StepType = t, Sequence = i + 1, InputJson = input.ToJson() })]);
        var mover = new CommandDiskMover(TestbedHosts.Runner(), MoverOptions.Default with
        {
            DataPath = DataPath.Relayed,
            SourceCephConf = _rbd.Conf,
            TargetCephConf = _rbd.Conf,
            IsLocalHost = host => host == Node,
        });
        var adapters = new AdapterSet(TestbedHosts.Runner(), _client, new VirshLibvirtHost(TestbedHosts.Runner(), TestbedHosts.VirshOptions()), new RbdCephCluster(TestbedHosts.Runner(), TestbedHosts.CephOptions()), mover);
        var steps = await journal.GetStepsAsync(runId);
        StepContext Context(string type) => new(steps.Single(s => s.StepType == type), adapters, journal, TimeProvider.System, DateTimeOffset.UtcNow + TimeSpan.FromMinutes(10), CancellationToken.None);
        await Context(StepTypes.CreateTargetVm).SaveAsync("vmid", vmId.ToString(CultureInfo.InvariantCulture));
        return new Prepared(vmId, image, attached, checksum, Context(StepTypes.FinalSync), Context(StepTypes.StartTarget), Context(StepTypes.Commit));
    }

    private async Task EnsureOldCephStorageAsync(CephAccess ceph)
    {
        if ((await _client.ListStoragesAsync(Node)).All(s => s.Id != "old-ceph"))
        {
            await _client.CreateStorageAsync("old-ceph", "rbd", new Dictionary<string, string>
            {
                ["monhost"] = "127.0.0.1",
                ["pool"] = ceph.Pool,
                ["content"] = "images",
                ["krbd"] = "0",
                ["username"] = ceph.User,
            });
        }
    }

    private bool Exists(string image)
        => _rbd.Rbd("ls", _rbd.Pool).Split('\n').Contains(image[(image.IndexOf('/', StringComparison.Ordinal) + 1)..]);

    private async Task WaitAsync(StepContext context, string node, string upid, string what)
    {
        var status = await context.Pve.WaitForTaskAsync(node, upid, Patience);
        if (!status.Succeeded)
        {
            throw new PveApiException($"{what}: {status.ExitStatus}", isTransient: false);
        }
    }

    private async Task StopAndDeleteAsync(int vmId)
    {
        if ((await _client.FindVmAsync(vmId))!.IsRunning)
        {
            await _client.WaitForTaskAsync(Node, await _client.StopVmAsync(Node, vmId), Patience);
        }

        var deleted = await _client.WaitForTaskAsync(Node, await _client.DeleteVmAsync(Node, vmId), Patience);
        Assert.True(deleted.Succeeded, $"{deleted.ExitStatus}: {string.Join(" | ", deleted.LogTail)}");
    }

}
