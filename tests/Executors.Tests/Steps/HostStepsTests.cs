using Taquin.Executors.Adapters;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Steps;

/// <summary>Each host step's Execute, Verify and Compensate against the twin.</summary>
public sealed class HostStepsTests
{
    private readonly TestFleet.Harness _h = new();

    private async Task<StepContext> HostStepAsync(string host, string type, StepInput? input = null)
    {
        var run = await _h.CreateRunAsync();
        return await _h.ContextAsync(await _h.AddStepAsync(run, 9, "host:" + host, type, input ?? new StepInput { Host = host }));
    }

    [Fact]
    public async Task Disable_placement_sets_the_flag_the_placement_scripts_honour_and_compensation_clears_it()
    {
        var context = await HostStepAsync("h3", StepTypes.DisablePlacement);
        var step = new DisablePlacementStep();
        Assert.False(await step.VerifyAsync(context));

        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        Assert.False(_h.Twin.Hosts["h3"].PlacementEnabled);
        await step.CompensateAsync(context);
        Assert.True(_h.Twin.Hosts["h3"].PlacementEnabled);
    }

    [Fact]
    public async Task Drain_live_migrates_the_planned_VMs_and_fails_when_something_is_left()
    {
        var context = await HostStepAsync("h3", StepTypes.Drain, new StepInput { Host = "h3", Drain = [new DrainMove("cache-01", "h1")] });
        var step = new DrainHostStep();

        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        Assert.Equal(["libvirt:h1"], _h.Twin.WhereRunning("cache-01"));

        var h2 = await HostStepAsync("h2", StepTypes.Drain, new StepInput { Host = "h2", Drain = [new DrainMove("app-01", "h3")] });
        var error = await Assert.ThrowsAsync<AdapterException>(() => step.ExecuteAsync(h2));
        Assert.Contains("file-01", error.Message, StringComparison.Ordinal);
        Assert.False(await step.VerifyAsync(h2));
    }

    [Fact]
    public async Task Ceph_osds_out_waits_for_the_recovery_and_compensation_puts_them_back_in()
    {
        var context = await HostStepAsync("h1", StepTypes.CephOsdsOut);
        var step = new CephOsdsOutStep();
        var before = _h.Clock.GetUtcNow();

        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        Assert.All(_h.Twin.Osds.Where(o => o.Host == "h1"), o => Assert.False(o.In));
        Assert.True(_h.Clock.GetUtcNow() > before, "recovery takes simulated time");
        await step.CompensateAsync(context);
        Assert.All(_h.Twin.Osds.Where(o => o.Host == "h1"), o => Assert.True(o.In));
    }

    [Fact]
    public async Task Ceph_osds_out_refuses_with_numbers_when_the_rest_would_pass_nearfull()
    {
        var context = await HostStepAsync("h1", StepTypes.CephOsdsOut);
        foreach (var osd in _h.Twin.Osds.Where(o => o.Host != "h1"))
        {
            osd.In = false;
        }

        var error = await Assert.ThrowsAsync<AdapterException>(() => new CephOsdsOutStep().ExecuteAsync(context));

        Assert.False(error.IsTransient);
        Assert.Contains("refusing to set the OSDs of h1 out", error.Message, StringComparison.Ordinal);
        Assert.Contains("nearfull is 85.00 %", error.Message, StringComparison.Ordinal);
        Assert.All(_h.Twin.Osds.Where(o => o.Host == "h1"), o => Assert.True(o.In));
        Assert.Equal(0, _h.Twin.CallCount("ceph.osd-out"));
    }

    [Fact]
    public async Task Ceph_osds_out_of_the_last_host_of_an_emptied_cluster_is_not_refused()
    {
        var context = await HostStepAsync("h1", StepTypes.CephOsdsOut);
        _h.Twin.RbdImages.Clear();
        foreach (var osd in _h.Twin.Osds.Where(o => o.Host != "h1"))
        {
            osd.In = false;
        }

        await new CephOsdsOutStep().ExecuteAsync(context);

        Assert.All(_h.Twin.Osds, o => Assert.False(o.In));
    }

    [Fact]
    public async Task The_reinstall_gate_waits_until_its_checkpoint_holds_a_confirmation()
    {
        var context = await HostStepAsync("h1", StepTypes.GateReinstall);
        var step = new GateReinstallStep();

        Assert.Equal(StepOutcomeKind.WaitForGate, (await step.ExecuteAsync(context)).Kind);
        Assert.False(await step.VerifyAsync(context));

        await context.SaveAsync("confirmedBy", "alice");
        Assert.Equal(StepOutcomeKind.Done, (await step.ExecuteAsync(context)).Kind);
        Assert.True(await step.VerifyAsync(context));
    }

    [Fact]
    public async Task Verify_node_join_cluster_and_create_storage_bring_a_reinstalled_host_into_service()
    {
        var input = new StepInput { Host = "h1", ClusterPeer = "h4", OldCephMonitors = ["192.0.2.11"], OldCephPool = "libvirt" };
        var verify = await HostStepAsync("h1", StepTypes.VerifyNode, input);
        Assert.True((await Assert.ThrowsAsync<PveApiException>(() => new VerifyNodeStep().ExecuteAsync(verify))).IsTransient);

        _h.Twin.ReinstallAsPve("h1");
        await new VerifyNodeStep().ExecuteAsync(verify);
        Assert.True(await new VerifyNodeStep().VerifyAsync(verify));

        var join = await _h.ContextAsync(await _h.AddStepAsync(verify.Step.RunId, 9, "host:h1", StepTypes.JoinCluster, input));
        Assert.False(await new JoinClusterStep().VerifyAsync(join));
        await new JoinClusterStep().ExecuteAsync(join);
        await new JoinClusterStep().ExecuteAsync(join);
        Assert.True(await new JoinClusterStep().VerifyAsync(join));
        Assert.Equal(1, _h.Twin.CallCount("pve.cluster-join"));

        var storage = await _h.ContextAsync(await _h.AddStepAsync(verify.Step.RunId, 9, "host:h1", StepTypes.CreateStorage, input));
        await new CreateStorageStep().ExecuteAsync(storage);
        await new CreateStorageStep().ExecuteAsync(storage);
        Assert.True(await new CreateStorageStep().VerifyAsync(storage));
        Assert.Equal("zfspool", _h.Twin.PveStorages["zfs-h1"].Type);
        Assert.Equal("rbd", _h.Twin.PveStorages["old-ceph"].Type);
    }

    [Fact]
    public async Task Create_pve_ceph_builds_OSDs_pool_and_storage_on_three_nodes()
    {
        foreach (var host in new[] { "h1", "h2", "h3" })
        {
            _h.Twin.ReinstallAsPve(host);
            _h.Twin.Hosts[host].InPveCluster = true;
        }

        var context = await HostStepAsync("h1", StepTypes.CreatePveCeph, new StepInput { Host = "h1", CephNodes = ["h1", "h2", "h3"], CephPool = "vm-pool", CephPoolSize = 3 });
        var step = new CreatePveCephStep();
        Assert.False(await step.VerifyAsync(context));

        await step.ExecuteAsync(context);
        await step.ExecuteAsync(context);

        Assert.True(await step.VerifyAsync(context));
        Assert.Contains("vm-pool", _h.Twin.PvePools);
        Assert.Equal("rbd", _h.Twin.PveStorages["pve-ceph"].Type);
    }

    [Fact]
    public async Task Create_pve_ceph_refuses_with_too_few_nodes()
    {
        _h.Twin.ReinstallAsPve("h1");
        var context = await HostStepAsync("h1", StepTypes.CreatePveCeph, new StepInput { Host = "h1", CephNodes = ["h1"], CephPoolSize = 3 });

        var error = await Assert.ThrowsAsync<PveApiException>(() => new CreatePveCephStep().ExecuteAsync(context));

        Assert.False(error.IsTransient);
    }
}
