using Taquin.Executors.Adapters;
using Taquin.Executors.Simulation;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Steps;

/// <summary>Each VM step's Execute, Verify and Compensate against the twin, called directly as the engine would.</summary>
public sealed class VmStepsTests
{
    private readonly TestFleet.Harness _h = new();

    private async Task<(StepContext Context, string Run)> PrepareAsync(string vm, string stepType)
    {
        var run = await _h.CreateRunAsync();
        await _h.RunPipelineAsync(run, "vm:" + vm, stopBefore: stepType);
        return (await _h.ContextAsync((await _h.StepAsync(run, "vm:" + vm, stepType)).StepId), run);
    }

    [Fact]
    public async Task Preflight_passes_for_a_VM_where_the_plan_expects_it_and_refuses_one_that_is_gone()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.Preflight);
        var step = new PreflightStep();
        Assert.False(await step.VerifyAsync(context));

        await step.ExecuteAsync(context);
        Assert.True(await step.VerifyAsync(context));

        await _h.Adapters.Libvirt.DestroyAsync("h1", "web-01");
        await _h.Adapters.Libvirt.UndefineAsync("h1", "web-01");
        var error = await Assert.ThrowsAsync<AdapterException>(() => step.ExecuteAsync(context));
        Assert.False(error.IsTransient);
        Assert.Contains("not defined on h1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_target_vm_creates_a_stopped_VM_once_with_its_disk_and_identity_and_compensation_deletes_it()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.CreateTargetVm);
        var step = new CreateTargetVmStep();
        Assert.False(await step.VerifyAsync(context));

        await step.ExecuteAsync(context);
        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        Assert.Equal(1, _h.Twin.CallCount("pve.create-vm"));
        var vm = Assert.Single(_h.Twin.PveVms.Values);
        Assert.Equal(("web-01", "h4", false), (vm.Name, vm.Node, vm.Running));
        Assert.StartsWith("zfs-h4:vm-", vm.Config["virtio0"], StringComparison.Ordinal);
        Assert.Contains(_h.Inventory.Vms.Single(v => v.Name == "web-01").Domain.Interfaces[0].Mac!, vm.Config["net0"], StringComparison.Ordinal);
        Assert.Equal(20L << 30, _h.Twin.Volumes.Values.Single().SizeBytes);

        await step.CompensateAsync(context);
        Assert.Empty(_h.Twin.PveVms);
        Assert.Empty(_h.Twin.Volumes);
        Assert.False(await step.VerifyAsync(context));
    }

    [Fact]
    public async Task Copy_disks_warm_copies_a_snapshot_while_the_VM_runs_and_compensation_drops_the_snapshot()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.CopyDisks);
        var step = new CopyDisksStep();

        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        Assert.Equal("libvirt/web-01@taquin-base", _h.Twin.Volumes.Values.Single().Content);
        Assert.Equal(["libvirt:h1"], _h.Twin.WhereRunning("web-01"));
        await step.CompensateAsync(context);
        Assert.Empty(_h.Twin.RbdImages["libvirt/web-01"].Snapshots);
    }

    [Fact]
    public async Task Copy_disks_copies_nothing_for_a_cold_VM()
    {
        var (context, _) = await PrepareAsync("db-01", StepTypes.CopyDisks);

        await new CopyDisksStep().ExecuteAsync(context);

        Assert.True(await new CopyDisksStep().VerifyAsync(context));
        Assert.Null(_h.Twin.Volumes.Values.Single().Content);
    }

    [Fact]
    public async Task Shutdown_source_turns_autostart_off_and_the_VM_off_and_compensation_restores_both()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.ShutdownSource);
        var step = new ShutdownSourceStep();

        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        Assert.Empty(_h.Twin.WhereRunning("web-01"));
        Assert.False(_h.Twin.Hosts["h1"].Domains["web-01"].Autostart);
        Assert.Equal(0, _h.Twin.CallCount("libvirt.destroy"));
        await step.CompensateAsync(context);
        Assert.Equal(["libvirt:h1"], _h.Twin.WhereRunning("web-01"));
        Assert.True(_h.Twin.Hosts["h1"].Domains["web-01"].Autostart);
    }

    [Fact]
    public async Task Shutdown_source_powers_off_a_guest_that_ignores_ACPI()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.ShutdownSource);
        _h.Twin.AcpiShutdownTime = null;
        var before = _h.Clock.GetUtcNow();

        await new ShutdownSourceStep().ExecuteAsync(context);

        Assert.Equal(1, _h.Twin.CallCount("libvirt.destroy"));
        Assert.Empty(_h.Twin.WhereRunning("web-01"));
        Assert.True(_h.Clock.GetUtcNow() - before >= ShutdownSourceStep.AcpiGrace);
    }

    [Fact]
    public async Task Shutdown_source_uses_the_grace_time_of_the_source_host_from_the_access_file()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.ShutdownSource);
        _h.Twin.AcpiShutdownTime = null;
        var before = _h.Clock.GetUtcNow();
        var settings = new StepSettings { ShutdownGrace = host => host == "h1" ? TimeSpan.FromSeconds(2) : null };

        var result = await ((ShutdownSourceStep)StepRegistry.CreateDefault(settings).Get(StepTypes.ShutdownSource)).ExecuteAsync(context);

        var waited = _h.Clock.GetUtcNow() - before;
        Assert.Equal(1, _h.Twin.CallCount("libvirt.destroy"));
        Assert.Contains("powered off", result.Reason, StringComparison.Ordinal);
        // The poll is clamped to the grace: no 5 s poll past a 2 s grace, and far from the 3 min default.
        Assert.InRange(waited, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4));
    }

    [Fact]
    public async Task Final_sync_brings_the_target_to_the_final_snapshot_and_verify_catches_a_wrong_copy()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.FinalSync);
        var step = new FinalSyncStep();
        Assert.True((await step.CheckPreconditionAsync(context)).Met);
        Assert.False(await step.VerifyAsync(context));

        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        var volume = _h.Twin.Volumes.Values.Single();
        Assert.Equal("libvirt/web-01@taquin-final", volume.Content);
        volume.Content = "libvirt/web-01@taquin-base";
        Assert.False(await step.VerifyAsync(context));
        await step.CompensateAsync(context);
        Assert.DoesNotContain("taquin-final", _h.Twin.RbdImages["libvirt/web-01"].Snapshots.Keys);
    }

    [Fact]
    public async Task Final_sync_records_bytes_duration_and_verification_and_a_mismatch_there_refuses_cutover()
    {
        var (context, run) = await PrepareAsync("web-01", StepTypes.FinalSync);
        await new FinalSyncStep().ExecuteAsync(context);

        var copy = context.CheckpointValues.Single(kv => kv.Key.StartsWith("copy.", StringComparison.Ordinal)).Value;
        Assert.Matches(@"^bytes=[1-9]\d*;data=\d+;seconds=\d+\.\d{3};rate=\d+;path=direct;attempts=1$", copy);
        Assert.StartsWith("match;full;", context.CheckpointValues.Single(kv => kv.Key.StartsWith("verify.", StringComparison.Ordinal)).Value, StringComparison.Ordinal);
        Assert.Equal("yes", context.Checkpoint("verified"));
        await _h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.StartTarget);
        var start = await _h.ContextAsync((await _h.StepAsync(run, "vm:web-01", StepTypes.StartTarget)).StepId);
        Assert.True((await new StartTargetStep().CheckPreconditionAsync(start)).Met);

        await context.SaveAsync("verified", "mismatch");

        var guard = await new StartTargetStep().CheckPreconditionAsync(start);
        Assert.False(guard.Met);
        Assert.Contains("refusing cutover", guard.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Final_sync_copies_a_file_disk_in_full_from_its_host()
    {
        var run = await _h.CreateRunAsync();
        await _h.RunPipelineAsync(run, "vm:web-01");
        await _h.RunPipelineAsync(run, "vm:db-01");
        await _h.RunPipelineAsync(run, "host:h1", stopBefore: StepTypes.GateReinstall);
        _h.Twin.ReinstallAsPve("h1");
        var gate = await _h.StepAsync(run, "host:h1", StepTypes.GateReinstall);
        var engine = _h.Engine();
        await engine.RunStepAsync(gate.StepId);
        await engine.ConfirmGateAsync(gate.StepId, "test");
        await _h.RunPipelineAsync(run, "host:h1");
        await _h.RunPipelineAsync(run, "vm:file-01", stopBefore: StepTypes.FinalSync, wave: 2);
        var context = await _h.ContextAsync((await _h.StepAsync(run, "vm:file-01", StepTypes.FinalSync)).StepId);
        var before = _h.Clock.GetUtcNow();

        await new FinalSyncStep().ExecuteAsync(context);

        Assert.True(await new FinalSyncStep().VerifyAsync(context));
        Assert.Equal("h2:/var/lib/libvirt/images/file-01.qcow2", _h.Twin.Volumes.Values.Single(v => v.Storage == "zfs-h1").Content);
        // 5 GiB at 10 Gbit/s: a little over 4 s of simulated time.
        Assert.InRange((_h.Clock.GetUtcNow() - before).TotalSeconds, 4.2, 5);
    }

    [Fact]
    public async Task Network_tags_the_NIC_with_the_VMs_allocated_VLAN_and_compensation_restores_it_keeping_the_VLAN()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.Network);
        var step = new NetworkStep();
        var vm = _h.Twin.PveVms.Values.Single();
        var before = vm.Config["net0"];
        await _h.Journal.AllocateVlanAsync("other-vm", 100, 199, "test");

        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        var allocation = Assert.Single(await _h.Journal.GetVlanAllocationsAsync(), a => a.Vm == "web-01");
        Assert.Equal(101, allocation.Vlan);
        Assert.EndsWith(",tag=101", vm.Config["net0"], StringComparison.Ordinal);
        await step.CompensateAsync(context);
        Assert.Equal(before, vm.Config["net0"]);
        Assert.Contains(await _h.Journal.GetVlanAllocationsAsync(), a => a.Vm == "web-01" && a.Vlan == 101);
    }

    [Fact]
    public async Task Start_target_starts_the_PVE_VM_and_compensation_stops_it()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.StartTarget);
        var step = new StartTargetStep();
        Assert.True((await step.CheckPreconditionAsync(context)).Met);

        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        Assert.Equal(["pve:h4"], _h.Twin.WhereRunning("web-01"));
        await step.CompensateAsync(context);
        Assert.Empty(_h.Twin.WhereRunning("web-01"));
        Assert.False(await step.VerifyAsync(context));
    }

    [Fact]
    public async Task Verify_accepts_a_running_target_and_rejects_a_stopped_one()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.Verify);
        var step = new VerifyTargetStep();
        Assert.True(await step.VerifyAsync(context));

        _h.Twin.PveVms.Values.Single().Running = false;

        Assert.False(await step.VerifyAsync(context));
        Assert.True((await Assert.ThrowsAsync<AdapterException>(() => step.ExecuteAsync(context))).IsTransient);
    }

    [Fact]
    public async Task Commit_retires_the_source_and_is_idempotent()
    {
        var (context, _) = await PrepareAsync("web-01", StepTypes.Commit);
        var step = new CommitStep();
        Assert.False(step.Policy.CanCompensate);

        await step.ExecuteAsync(context);
        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        Assert.DoesNotContain("web-01", _h.Twin.Hosts["h1"].Domains.Keys);
        Assert.False(_h.Twin.RbdImages.ContainsKey("libvirt/web-01"));
        Assert.Equal(1, _h.Twin.CallCount("rbd.rm"));
        Assert.Contains("<name>web-01</name>", context.Checkpoint("sourceXml"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Live_migrate_moves_a_running_VM_between_libvirt_hosts_and_back_on_compensation()
    {
        var run = await _h.CreateRunAsync();
        var input = new StepInput { Vm = "cache-01", FromHost = "h3", ToHost = "h2" };
        var context = await _h.ContextAsync(await _h.AddStepAsync(run, 9, "vm:cache-01", StepTypes.LiveMigrate, input));
        var step = new LiveMigrateStep();

        await step.ExecuteAsync(context);
        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        Assert.Equal(["libvirt:h2"], _h.Twin.WhereRunning("cache-01"));
        Assert.Equal(1, _h.Twin.CallCount("libvirt.migrate"));
        await step.CompensateAsync(context);
        Assert.Equal(["libvirt:h3"], _h.Twin.WhereRunning("cache-01"));
    }

    [Fact]
    public async Task Live_migrate_copies_a_local_file_disk_along_with_the_VM()
    {
        var run = await _h.CreateRunAsync();
        var input = new StepInput { Vm = "file-01", FromHost = "h2", ToHost = "h3" };
        var context = await _h.ContextAsync(await _h.AddStepAsync(run, 9, "vm:file-01", StepTypes.LiveMigrate, input));
        var images = _h.Twin.FileImages.Keys.Where(k => k.Host == "h2").Select(k => k.Path).ToList();
        Assert.NotEmpty(images);

        await new LiveMigrateStep().ExecuteAsync(context);

        Assert.True(await new LiveMigrateStep().VerifyAsync(context));
        Assert.Equal(["libvirt:h3"], _h.Twin.WhereRunning("file-01"));
        // --copy-storage-all: the file now lives on the destination only.
        Assert.All(images, path =>
        {
            Assert.True(_h.Twin.FileImages.ContainsKey(("h3", path)), path);
            Assert.False(_h.Twin.FileImages.ContainsKey(("h2", path)), path);
        });
    }

    [Fact]
    public async Task Pve_live_migrate_and_move_disk_move_a_PVE_VM_without_a_reboot()
    {
        var run = await _h.CreateRunAsync();
        await _h.RunPipelineAsync(run, "vm:web-01");
        foreach (var host in new[] { "h1" })
        {
            _h.Twin.ReinstallAsPve(host);
            _h.Twin.Hosts[host].InPveCluster = true;
            _h.Twin.PveStorages[PveStorageIds.Zfs(host)] = new TwinStorage(PveStorageIds.Zfs(host), "zfspool", [host]);
        }

        var migrate = await _h.ContextAsync(await _h.AddStepAsync(run, 9, "vm:web-01", StepTypes.PveLiveMigrate,
            new StepInput { Vm = "web-01", FromHost = "h4", ToHost = "h1" }));
        await new PveLiveMigrateStep().ExecuteAsync(migrate);
        Assert.True(await new PveLiveMigrateStep().VerifyAsync(migrate));
        Assert.Equal(["pve:h1"], _h.Twin.WhereRunning("web-01"));

        var disks = StepInput.FromJson((await _h.StepAsync(run, "vm:web-01", StepTypes.CopyDisks)).InputJson).Disks;
        var move = await _h.ContextAsync(await _h.AddStepAsync(run, 9, "vm:web-01", StepTypes.PveMoveDisk,
            new StepInput { Vm = "web-01", FromHost = "h1", ToHost = "h1", ToStorage = "zfs:h1", Disks = disks }));
        await new PveMoveDiskStep().ExecuteAsync(move);
        Assert.True(await new PveMoveDiskStep().VerifyAsync(move));
        Assert.Equal("zfs-h1", _h.Twin.Volumes.Values.Single().Storage);
        // No reboot: the only start is the one of the move to PVE.
        Assert.Equal(1, _h.Twin.CallCount("pve.start"));
    }
}
