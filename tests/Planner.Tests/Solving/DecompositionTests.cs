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
    public void The_committed_sample_is_explained_file_disk_vms_sit_on_every_host()
    {
        var loaded = InventoryLoader.Load(Path.Combine(RepositoryRoot(), "samples", "fleet-216"));
        Assert.NotNull(loaded.Inventory);

        var reasons = Planning.Reasons(loaded.Inventory);

        Assert.Contains(reasons, r => r.StartsWith("every host runs a VM with a local file disk", StringComparison.Ordinal));
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
