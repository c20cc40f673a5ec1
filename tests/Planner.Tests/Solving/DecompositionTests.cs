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
