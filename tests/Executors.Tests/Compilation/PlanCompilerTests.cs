using Taquin.Executors.Compilation;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Compilation;

public sealed class PlanCompilerTests
{
    private static readonly IReadOnlyList<Executors.Journal.NewStep> Steps = PlanCompiler.Compile(TestFleet.Plan(), TestFleet.Inventory());

    [Fact]
    public void Each_move_to_PVE_becomes_the_nine_step_VM_pipeline_in_its_wave()
    {
        var web = Steps.Where(s => s.Subject == "vm:web-01").OrderBy(s => s.Sequence).ToList();

        Assert.Equal(StepTypes.MoveToPvePipeline, web.Select(s => s.StepType));
        Assert.All(web, s => Assert.Equal(1, s.Wave));
        var input = StepInput.FromJson(web[0].InputJson);
        Assert.Equal(("h1", "h4", "zfs:h4", "warm"), (input.FromHost, input.ToHost, input.ToStorage, input.Strategy));
        Assert.Equal(new DiskInput("libvirt/web-01", true, "raw", 20L << 30, 10L << 30, "virtio0"), Assert.Single(input.Disks));
    }

    [Fact]
    public void A_converted_host_gets_its_pipeline_and_its_drain_waits_for_the_VMs_leaving_it()
    {
        var h1 = Steps.Where(s => s.Subject == "host:h1").OrderBy(s => s.Sequence).ToList();

        Assert.Equal(StepTypes.ConvertHostPipeline, h1.Select(s => s.StepType));
        var drain = StepInput.FromJson(h1.Single(s => s.StepType == StepTypes.Drain).InputJson);
        Assert.Equal(["vm:web-01/commit", "vm:db-01/commit"], drain.WaitForSettled);
        Assert.Equal("h4", StepInput.FromJson(h1[0].InputJson).ClusterPeer);
    }

    [Fact]
    public void Live_migrations_off_a_converted_host_are_done_by_its_drain()
    {
        var drain = StepInput.FromJson(Steps.Single(s => s.Subject == "host:h2" && s.StepType == StepTypes.Drain).InputJson);

        Assert.Equal([new DrainMove("app-01", "h3")], drain.Drain);
        Assert.DoesNotContain(Steps, s => s.Subject == "vm:app-01" && s.Wave == 2);
    }

    [Fact]
    public void The_network_step_gets_the_policy_vlan_range_and_the_vm_addresses_and_the_target_is_created_untagged()
    {
        var network = StepInput.FromJson(Steps.Single(s => s.Subject == "vm:web-01" && s.StepType == StepTypes.Network).InputJson);
        var create = StepInput.FromJson(Steps.Single(s => s.Subject == "vm:web-01" && s.StepType == StepTypes.CreateTargetVm).InputJson);

        Assert.Null(network.VlanTag);
        Assert.Equal((100, 199), (network.VlanFrom, network.VlanTo));
        Assert.NotNull(network.Addressing);
        Assert.Equal("web-01", network.Addressing!.Vm);
        Assert.DoesNotContain("tag=", create.CreateParameters!["net0"], StringComparison.Ordinal);
    }

    [Fact]
    public void Stage_zero_has_no_steps_and_waves_follow_the_stages()
    {
        Assert.Equal([1, 2, 3], Steps.Select(s => s.Wave).Distinct().Order());
        Assert.Equal(Steps.Count, Steps.Select(s => (s.Wave, s.Subject, s.StepType)).Distinct().Count());
    }
}
