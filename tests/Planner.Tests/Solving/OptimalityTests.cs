using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

public class OptimalityTests
{
    private static readonly PlanMetrics Bound = new()
    {
        Stages = 3,
        Reboots = 5,
        DowntimeSeconds = 300,
        BytesCopied = 1000,
        LiveMigrations = 2,
        Moves = 7,
        RamImbalance = 0,
    };

    [Fact]
    public void A_plan_meeting_the_bounds_on_stages_reboots_downtime_and_live_migrations_is_optimal_but_bytes_stay_best_found()
    {
        var plan = Bound with { BytesCopied = 1200, RamImbalance = 0.25 };

        var proven = Optimality.Proven(plan, Bound);

        Assert.Equal(["stages", "reboots", "downtime", "live migrations"], proven);
        Assert.True(Optimality.IsOptimal(proven));
        Assert.Equal("OPTIMAL (stages, reboots, downtime, live migrations); bytes, balance: best found",
            new SolverReport { Status = "OPTIMAL", Proven = proven }.StatusLine());
    }

    [Fact]
    public void Levels_count_only_in_order_a_live_migration_bound_met_with_an_unproven_stage_count_proves_nothing()
    {
        Assert.Empty(Optimality.Proven(Bound with { Stages = 4 }, Bound));
        Assert.Equal(["stages", "reboots", "downtime"], Optimality.Proven(Bound with { LiveMigrations = 3, Moves = 8 }, Bound));
        Assert.False(Optimality.IsOptimal(Optimality.Proven(Bound with { LiveMigrations = 3, Moves = 8 }, Bound)));
    }

    [Fact]
    public void The_live_migration_bound_of_the_relaxation_counts_only_at_the_proven_stage_count()
    {
        var all = Bound with { LiveMigrations = 1, Moves = 6 };

        Assert.Equal(4, Optimality.LowerBound(all, stageBound: 3, new MoveBound(3, 4, Feasible: true, Exact: true)).LiveMigrations);
        Assert.Equal(9, Optimality.LowerBound(all, stageBound: 3, new MoveBound(3, 4, Feasible: true, Exact: true)).Moves);
        // At 4 stages the relaxation bounds only plans with ≤ 4 stages; the plan-wide bound stays.
        Assert.Equal(1, Optimality.LowerBound(all, stageBound: 3, new MoveBound(4, 4, Feasible: true, Exact: true)).LiveMigrations);
        Assert.Equal(1, Optimality.LowerBound(all, stageBound: 3, moves: null).LiveMigrations);
    }

    [Fact]
    public void The_decomposition_plan_is_reported_optimal_when_it_meets_the_relaxation_bounds()
    {
        // Forced through the decomposition (which minimises nothing exactly): 3 stages and 2 live migrations are
        // proven by the stage and live-migration relaxations alone.
        var inventory = new TestFleet()
            .Host("h1", 64, zfsGiB: 10).Host("h2", 64).Host("h3", 64)
            .Vm("a-01", "h1", 8)
            .Vms("b", 2, "h2", 8).Vms("c", 2, "h3", 8)
            .Build();
        var result = Planning.Planner(new CpSatTuning { ExactModelLimit = 0 }).Plan(inventory, Planning.Options());
        var plan = result.Plan!;

        Assert.Empty(PlanVerifier.Verify(plan, inventory));
        Assert.Contains("decomposition", plan.Solver.Model, StringComparison.Ordinal);
        Assert.Equal((3, 2), (plan.Metrics.Stages, plan.Metrics.LiveMigrations));
        Assert.Equal((3, 2), (plan.LowerBound!.Stages, plan.LowerBound.LiveMigrations));
        Assert.Equal("OPTIMAL", plan.Solver.Status);
        Assert.Contains("live migrations", plan.Solver.Proven);
    }

    [Fact]
    public void A_plan_above_the_live_migration_bound_stays_feasible_and_says_what_is_proven()
    {
        // The same plan with one live migration more than the proven minimum: stages and the fixed levels stay proven.
        var inventory = new TestFleet()
            .Host("h1", 64, zfsGiB: 10).Host("h2", 64).Host("h3", 64)
            .Vm("a-01", "h1", 8)
            .Vms("b", 2, "h2", 8).Vms("c", 2, "h3", 8)
            .Build();
        var plan = Planning.Planner(new CpSatTuning { ExactModelLimit = 0 }).Plan(inventory, Planning.Options()).Plan!;
        var worse = plan with { Metrics = plan.Metrics with { LiveMigrations = 3, Moves = plan.Metrics.Moves + 1 } };

        var proven = Optimality.Proven(worse.Metrics, plan.LowerBound!);

        Assert.Equal(["stages", "reboots", "downtime"], proven);
        Assert.Equal("FEASIBLE (stages, reboots, downtime); bytes, balance: best found", new SolverReport { Status = "FEASIBLE", Proven = proven }.StatusLine());
    }

    [Fact]
    public void A_per_vm_bound_stopped_below_the_host_level_one_gives_way_to_it()
    {
        // 216 VMs / 7 hosts, seed 5, 5 stages: the per-VM relaxation stops at its limit with a weak proven bound; the
        // host-level relaxation's LP closes higher at the root. The plan reports the larger, still below its own count.
        var inventory = SolverFleets.Generated(5, 216, 7, keepFileDisks: true);
        var options = Planning.Options(10);

        var result = Planning.Planner().Plan(inventory, options);

        var plan = result.Plan!;
        var hostLevel = HostMoveRelaxation.LiveMigrationBound(
            new SearchContext(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None),
            PlanningProblem.From(inventory, options, forBounds: true), plan.Metrics.Stages, options.TimeLimitSeconds * CpSatPlanner.HostBoundBesidePerVmDeterministicShare);
        Assert.Contains(result.Log, line => line.StartsWith("host-level bound ", StringComparison.Ordinal));
        Assert.NotNull(hostLevel);
        Assert.InRange(plan.LowerBound!.LiveMigrations, hostLevel.Value, plan.Metrics.LiveMigrations);
    }
}
