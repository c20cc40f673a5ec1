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
    }
}
