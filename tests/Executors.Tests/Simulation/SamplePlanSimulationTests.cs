using Taquin.Executors.Simulation;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;
using Taquin.Tests.Shared;

namespace Taquin.Executors.Tests.Simulation;

/// <summary>
/// Plans made by the planner for the committed samples run end to end on the cluster twin: the compiled
/// steps agree with the planner's stage semantics (e.g. hosts converted in one wave are cluster members in
/// the next), every wave completes, and every VM ends running exactly once, on PVE.
/// </summary>
public sealed class SamplePlanSimulationTests
{
    [Theory]
    [InlineData("fleet-tiny", "greedy")]
    [InlineData("fleet-216", "greedy")]
    [InlineData("fleet-216", "cp-sat")]
    public async Task The_plan_of_a_sample_simulates_to_the_end_with_every_vm_on_pve(string sample, string planner)
    {
        var inventory = Assert.IsType<FleetInventory>(InventoryLoader.Load(RepositoryPaths.Sample(sample)).Inventory);
        IPlanSolver solver = planner == "greedy" ? new GreedyPlanner() : new CpSatPlanner();
        var plan = solver.Solve(inventory, new PlannerOptions { TimeLimitSeconds = 10 }, CancellationToken.None);
        Assert.Empty(PlanVerifier.Verify(plan, inventory));

        var result = await Simulator.RunAsync(plan, PlanJson.Serialize(plan), inventory);

        Assert.True(result.Succeeded, result.StoppedReason + string.Join("; ", result.FailedSteps.Concat(result.InvariantViolations)));
        Assert.Equal(plan.Stages.Count - 1, result.WavesRun);
        Assert.Equal(inventory.Vms.Count, result.VmsMoved);
        Assert.Empty(result.NotRunningExactlyOnce);
        Assert.Empty(result.RolledBackVms);

        // The taquin itself: hosts converted in plan order, the new Ceph once 3 PVE nodes exist, one VLAN per VM.
        var milestones = result.Milestones;
        Assert.Empty(milestones.Problems);
        var planned = plan.Stages.SelectMany(s => s.Actions.Where(a => a.Kind == ActionKind.ConvertHost).Select(a => (Host: a.Host!, Stage: s.Index))).ToList();
        Assert.Equal(planned.Select(p => p.Host).Order(StringComparer.Ordinal), milestones.Conversions.Select(c => c.Host).Order(StringComparer.Ordinal));
        Assert.All(milestones.Conversions, c => Assert.Equal(planned.Single(p => p.Host == c.Host).Stage, c.Wave));
        Assert.Equal(milestones.Conversions.Select(c => c.Wave).Order(), milestones.Conversions.Select(c => c.Wave));
        if (plan.Stages.FirstOrDefault(s => s.Actions.Any(a => a.Kind == ActionKind.CreatePveCeph)) is { } cephStage)
        {
            var ceph = Assert.IsType<CephCreation>(milestones.Ceph);
            Assert.Equal(cephStage.Index, ceph.Wave);
            Assert.True(ceph.ClusterNodes.Count >= inventory.Fleet.NewCeph.MinHosts, string.Join(", ", ceph.ClusterNodes));
        }

        Assert.Equal(inventory.Vms.Select(v => v.Name).Order(StringComparer.Ordinal), milestones.Vlans.Select(v => v.Vm));
        Assert.Equal(milestones.Vlans.Count, milestones.Vlans.Select(v => v.Vlan).Distinct().Count());
        var range = inventory.Fleet.Policy.VlanRange;
        Assert.All(milestones.Vlans, v => Assert.InRange(v.Vlan, range.From, range.To));
    }

    [Fact]
    public void Milestones_report_a_vlan_shared_by_two_vms_and_a_tag_the_journal_did_not_allocate()
    {
        var h = new TestFleet.Harness();
        foreach (var (id, name) in new[] { (900, "web-01"), (901, "db-01") })
        {
            var vm = new TwinPveVm(id, "h4", name, 1);
            vm.Config["net0"] = "virtio=52:54:00:00:00:01,bridge=vmbr0,tag=100";
            h.Twin.PveVms[id] = vm;
        }

        var allocations = new[] { new Executors.Journal.VlanAllocation(100, "web-01", TestFleet.Start, "t"), new Executors.Journal.VlanAllocation(101, "db-01", TestFleet.Start, "t") };
        var milestones = SimulationMilestones.Collect(h.Plan, h.Inventory, [], new Dictionary<long, StepSpan>(), null, h.Twin, allocations, completed: false);

        Assert.Contains("VLAN 100 is shared by db-01, web-01", milestones.Problems);
        Assert.Contains("VM db-01 is tagged VLAN 100 but the journal allocated it 101", milestones.Problems);
        Assert.Equal(2, milestones.Problems.Count);
    }
}
