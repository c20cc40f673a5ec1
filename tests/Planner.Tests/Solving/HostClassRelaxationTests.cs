using Google.OrTools.Sat;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>
/// The stage relaxation counted per host class, as a bound and as a source of schedules (ADR 0027): generated fleets
/// where the greedy baseline is stages above the bound, and hand-built ones whose stage counts are proven by hand.
/// </summary>
public class HostClassRelaxationTests
{
    private static SearchContext Context(FleetInventory inventory, PlannerOptions options)
        => new(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None);

    private static MigrationPlan Verified(FleetInventory inventory, SearchContext context, SolverDecisions decisions)
    {
        var plan = PlanBuilder.Build(inventory, CpSatPlanner.ToPlanDecisions(context.Problem, decisions), context.Options, new SolverReport { Status = "TEST" });
        Assert.Empty(PlanVerifier.Verify(plan, inventory));
        return plan;
    }

    [Theory]
    [InlineData(0.1, 3, 5)]
    [InlineData(4, 3, 3)]
    public void It_agrees_with_the_per_host_relaxation_on_the_hand_proven_fleets(double windowHours, int minHosts, int expected)
    {
        // The fleets of StageRelaxationTests: a narrow wave window needs 5 stages for three 30 GiB disks, a wide one 3.
        var inventory = new TestFleet().WaveWindowHours(windowHours).NewCephMinHosts(minHosts)
            .Host("h1", 64, nicGbits: 1).Host("h2", 64, nicGbits: 1)
            .Vms("vm", 3, "h2", 2, diskGiB: 30)
            .Build();
        var options = Planning.Options();
        var context = Context(inventory, options);
        var relaxed = PlanningProblem.From(inventory, options, forBounds: true);

        Assert.Equal(expected, HostClassRelaxation.RaiseLowerBound(context, relaxed, lower: 2, upper: 8, deterministicSeconds: 2));
        Assert.Equal(expected, StageRelaxation.RaiseLowerBound(context, lower: 2, upper: 8, relaxed));
    }

    [Fact]
    public void Interchangeable_hosts_form_one_class_and_the_new_ceph_rule_still_counts_hosts()
    {
        // h2..h4 are equal (one class of 3), h1 has the ZFS pool. 400 GiB on an old Ceph of 4 × 150 GiB; past h1's
        // 250 GiB the data needs the new Ceph, which with a 3-host minimum exists only once h1..h3 run PVE: 5 stages.
        var inventory = new TestFleet().NewCephMinHosts(3)
            .Host("h1", 64, zfsGiB: 250, oldOsdGiB: 150, newOsdGiB: 500)
            .Host("h2", 64, zfsGiB: 0, oldOsdGiB: 150, newOsdGiB: 500)
            .Host("h3", 64, zfsGiB: 0, oldOsdGiB: 150, newOsdGiB: 500)
            .Host("h4", 64, zfsGiB: 0, oldOsdGiB: 150, newOsdGiB: 500)
            .Vms("vm", 4, "h4", 8, diskGiB: 100)
            .Build();
        var options = Planning.Options();
        var context = Context(inventory, options);

        Assert.Equal(2, HostClassRelaxation.Classes(context.Problem).Count);
        Assert.Equal(5, HostClassRelaxation.RaiseLowerBound(context, PlanningProblem.From(inventory, options, forBounds: true), 2, 8, 2));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void No_stage_count_the_exact_model_finds_is_below_the_class_bound(int seed)
    {
        // 36 VMs / 4 hosts: the full VM × host × stage model finds the fewest stages directly; the bound may not exceed them.
        var inventory = SolverFleets.Generated(seed, 36, 4, keepFileDisks: true);
        var options = Planning.Options(10);
        var context = Context(inventory, options);
        var relaxed = PlanningProblem.From(inventory, options, forBounds: true);
        var bound = HostClassRelaxation.RaiseLowerBound(context, relaxed, 1, 12, 2);

        var stages = Enumerable.Range(1, 8).First(t =>
        {
            var exact = new CpSatStageModel(relaxed, t);
            var (status, _) = context.Solve(exact.Model, 10);
            Assert.True(status is CpSolverStatus.Optimal or CpSolverStatus.Feasible or CpSolverStatus.Infeasible, $"T={t}: {status}");
            return status != CpSolverStatus.Infeasible;
        });

        Assert.InRange(bound, 2, stages);
    }

    [Fact]
    public void The_cuts_on_the_vms_not_yet_crossed_prove_a_stage_and_a_class_schedule_meets_it()
    {
        // 250 VMs / 10 hosts, seed 2: the VMs not yet crossed must hold the RBD data still on the old Ceph, which ties
        // their RAM to that data (the cuts on the complement). Without them the per-host relaxation admitted 4 stages;
        // both relaxations share them now (StageRelaxation.AddCrossingCuts, ADR 0032).
        var inventory = SolverFleets.Generated(2, 250, 10, keepFileDisks: true);
        var options = Planning.Options();
        var context = Context(inventory, options);
        var relaxed = PlanningProblem.From(inventory, options, forBounds: true);

        var bound = HostClassRelaxation.RaiseLowerBound(context, relaxed, 2, 12, 2);
        var plan = HostClassSchedules.Search(context, null, bound, 4);

        Assert.Equal(5, StageRelaxation.RaiseLowerBound(context, 2, 12, relaxed));
        Assert.Equal(5, bound);
        Assert.NotNull(plan);
        Assert.Equal(5, Verified(inventory, context, plan).Metrics.Stages);
    }

    [Fact]
    public void Class_counts_then_hosts_then_vms_find_a_plan_at_the_bound_where_the_baseline_needs_three_more_stages()
    {
        // 250 VMs / 10 hosts, seed 3: the baseline converts one or two hosts per wave (8 stages); the class schedule
        // empties several per wave with the RBD-dense VMs crossing first, and meets the bound of 5.
        var inventory = SolverFleets.Generated(3, 250, 10, keepFileDisks: true);
        var options = Planning.Options();
        var context = Context(inventory, options);
        var bound = HostClassRelaxation.RaiseLowerBound(context, PlanningProblem.From(inventory, options, forBounds: true), 2, 12, 2);
        var baseline = GreedyPlanner.Plan(inventory, options);

        var first = HostClassSchedules.Search(Context(inventory, options), null, bound, 4);
        var second = HostClassSchedules.Search(Context(inventory, options), null, bound, 4);

        Assert.Equal(8, baseline.Metrics.Stages);
        Assert.NotNull(first);
        Assert.NotNull(second);
        var plan = Verified(inventory, context, first);
        Assert.Equal(bound, plan.Metrics.Stages);
        Assert.True(plan.Metrics.Stages < baseline.Metrics.Stages);
        // Deterministic: the same schedule and the same live migrations from a fresh run.
        Assert.Equal(first.ConversionStage, second.ConversionStage);
        Assert.Equal(first.LiveMigrations, second.LiveMigrations);
    }
}
