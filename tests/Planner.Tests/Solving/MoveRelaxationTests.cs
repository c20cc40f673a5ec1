using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

public class MoveRelaxationTests
{
    /// <summary>
    /// h1 (one VM) converts first: its VM must live-migrate. Then h1's ZFS holds one 10 GiB disk only, so when h2
    /// converts (stage 2, with h1 the only PVE host) one of its two VMs crosses and the other live-migrates to h3.
    /// h3 converts last, with h1 and h2 PVE. Best plan: 3 stages, 2 live migrations; the first-host bound says 1.
    /// </summary>
    private static FleetInventory ShortZfsFleet() => new TestFleet()
        .Host("h1", 64, zfsGiB: 10).Host("h2", 64).Host("h3", 64)
        .Vm("a-01", "h1", 8)
        .Vms("b", 2, "h2", 8).Vms("c", 2, "h3", 8)
        .Build();

    private static SearchContext Context(FleetInventory inventory, PlannerOptions options)
        => new(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None);

    private static PlanningProblem ForBounds(FleetInventory inventory, PlannerOptions options)
        => PlanningProblem.From(inventory, options, forBounds: true);

    [Fact]
    public void A_second_host_whose_vms_cannot_all_cross_in_time_adds_live_migrations_to_the_bound()
    {
        var inventory = ShortZfsFleet();
        var options = Planning.Options();

        var bound = MoveRelaxation.LiveMigrationBound(Context(inventory, options), ForBounds(inventory, options), stages: 3, deterministicSeconds: 5);

        Assert.Equal(1, LowerBounds.Compute(inventory, options).LiveMigrations);
        Assert.NotNull(bound);
        Assert.True(bound.Feasible && bound.Exact);
        Assert.Equal(2, bound.LiveMigrations);
    }

    [Fact]
    public void The_bound_never_exceeds_the_exact_models_proven_optimum()
    {
        // Validity against an independent solve: the exact VM × host × stage model proves the fewest live
        // migrations (3 stages, 2 moves); a bound above it would be wrong.
        var inventory = ShortZfsFleet();
        var options = Planning.Options();
        var plan = Planning.Verified(inventory, options);

        var bound = MoveRelaxation.LiveMigrationBound(Context(inventory, options), ForBounds(inventory, options), plan.Metrics.Stages, 5);

        Assert.Equal("OPTIMAL", plan.Solver.Status);
        Assert.Equal(3, plan.Metrics.Stages);
        Assert.Equal(2, plan.Metrics.LiveMigrations);
        Assert.Equal(plan.Metrics.LiveMigrations, bound!.LiveMigrations);
    }

    [Fact]
    public void Vms_that_can_cross_before_their_host_converts_are_not_counted()
    {
        // Roomy ZFS everywhere: after the first host (one VM, which must live-migrate), every other VM can cross
        // to PVE in the wave its host converts. Counting "every VM of a host converting after the first" would
        // claim 4; the plan below needs 1.
        var inventory = new TestFleet()
            .Host("h1", 64).Host("h2", 64).Host("h3", 64)
            .Vm("a-01", "h1", 8)
            .Vms("b", 2, "h2", 8).Vms("c", 2, "h3", 8)
            .Build();
        var options = Planning.Options();
        var plan = Planning.Verified(inventory, options);

        var bound = MoveRelaxation.LiveMigrationBound(Context(inventory, options), ForBounds(inventory, options), plan.Metrics.Stages, 5);

        Assert.Equal(1, plan.Metrics.LiveMigrations);
        Assert.Equal(1, bound!.LiveMigrations);
    }

    [Fact]
    public void Fewer_stages_than_the_relaxation_admits_are_ruled_out()
    {
        // Two stages would put all five VMs (40 GiB of disks) on the first PVE host's 10 GiB ZFS pool.
        var inventory = ShortZfsFleet();
        var options = Planning.Options();

        Assert.Equal(3, MoveRelaxation.RaiseLowerBound(Context(inventory, options), ForBounds(inventory, options), lower: 2, upper: 6, deterministicSeconds: 5, out _));
        Assert.False(MoveRelaxation.LiveMigrationBound(Context(inventory, options), ForBounds(inventory, options), stages: 2, 5)!.Feasible);
    }

    [Fact]
    public void Rounding_for_bounds_keeps_demands_down_and_capacities_up()
    {
        // Plans round demands up and capacities down (a plan that fits in MiB fits in bytes); bounds the other way,
        // so that a plan valid in bytes is never ruled out by the relaxation.
        var inventory = ShortZfsFleet();
        var options = Planning.Options();
        var plan = PlanningProblem.From(inventory, options);
        var bounds = ForBounds(inventory, options);

        Assert.True(bounds.ForBounds);
        Assert.All(bounds.Hosts.Zip(plan.Hosts), p => Assert.True(p.First.RamCapacityMiB >= p.Second.RamCapacityMiB && p.First.CopyBudgetMiB >= p.Second.CopyBudgetMiB));
        Assert.All(bounds.Vms.Zip(plan.Vms), p => Assert.True(p.First.CopyMiB <= p.Second.CopyMiB && p.First.RamMiB <= p.Second.RamMiB));
        Assert.True(bounds.OldCephCapacityMiB(bounds.Hosts) >= plan.OldCephCapacityMiB(plan.Hosts));
    }

    [Fact]
    public void The_same_input_gives_the_same_bound()
    {
        var inventory = ShortZfsFleet();
        var options = Planning.Options();

        var runs = Enumerable.Range(0, 3)
            .Select(_ => MoveRelaxation.LiveMigrationBound(Context(inventory, options), ForBounds(inventory, options), 3, 5))
            .ToList();

        Assert.All(runs, r => Assert.Equal(runs[0], r));
    }
}
