using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

public class DecompositionTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(12)]
    public void A_generated_216_vm_fleet_goes_through_the_decomposition_and_is_never_worse_than_the_baseline(int seed)
    {
        var inventory = SolverFleets.Generated(seed, vms: 216, hosts: 7);

        var plan = Planning.Verified(inventory, Planning.Options(timeLimit: 10));
        var baseline = GreedyPlanner.Plan(inventory, Planning.Options());

        Assert.StartsWith("decomposition", plan.Solver.Model, StringComparison.Ordinal);
        Assert.True(plan.Metrics.Stages < baseline.Metrics.Stages
            || (plan.Metrics.Stages == baseline.Metrics.Stages && plan.Metrics.LiveMigrations <= baseline.Metrics.LiveMigrations));
        Assert.Equal(216, plan.Metrics.Reboots);
    }

    [Fact]
    public void The_committed_sample_plans_and_verifies_in_fewer_stages_than_the_baseline()
    {
        var loaded = InventoryLoader.Load(Path.Combine(RepositoryRoot(), "samples", "fleet-216"));
        Assert.NotNull(loaded.Inventory);

        var plan = Planning.Verified(loaded.Inventory, Planning.Options(timeLimit: 3));
        var baseline = GreedyPlanner.Plan(loaded.Inventory, Planning.Options());

        // The baseline converts one host at a time around the file-disk VMs; CP-SAT's schedule is shorter.
        Assert.True(plan.Metrics.Stages < baseline.Metrics.Stages, $"{plan.Metrics.Stages} stages against the baseline's {baseline.Metrics.Stages}");
        Assert.NotEqual("GREEDY", plan.Solver.Status);
        Assert.Contains(plan.Stages.SelectMany(s => s.Actions), PlanReport.IsLiveMigrationWithStorageCopy);
    }

    [Fact]
    public void A_fleet_the_search_packs_a_stage_above_the_bound_is_planned_in_the_fewer_stages_the_per_vm_relaxation_admits()
    {
        // Generated seed 18: the decomposition's schedules pack into 6 stages; the per-VM relaxation admits 5, and its
        // best 5-stage schedule, placed from its relaxation, gives a 5-stage plan (ADR 0030).
        var inventory = SolverFleets.Generated(18, vms: 216, hosts: 7, keepFileDisks: true);

        var result = Planning.Planner().Plan(inventory, Planning.Options(timeLimit: 10));

        Assert.True(result.IsFeasible);
        var plan = result.Plan!;
        Assert.Empty(PlanVerifier.Verify(plan, inventory));
        Assert.Contains(result.Log, line => line.StartsWith("schedule search 1 (5 stages)", StringComparison.Ordinal));
        Assert.Equal(5, plan.Metrics.Stages);
        Assert.Equal(5, result.StageLowerBound);
        Assert.Contains("stages", plan.Solver.Proven);
        Assert.InRange(plan.LowerBound!.LiveMigrations, 1, plan.Metrics.LiveMigrations);
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Migration.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Migration.sln not found above the test folder");
    }
}
