using Google.OrTools.Sat;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>
/// The branch and bound over conversion schedules (ADR 0026) against independent exact solves: its bound never
/// exceeds the exact model's proven fewest live migrations, it proves the optimum where the single relaxation does
/// not, and it gives the same answer twice.
/// </summary>
public class ScheduleBranchAndBoundTests
{
    private static (SearchContext Context, PlanningProblem Relaxed) Fleet(int seed, int vms, int hosts) => SolverFleets.Problems(seed, vms, hosts);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Its_bound_never_exceeds_the_exact_models_fewest_live_migrations_and_proves_them(int seed)
    {
        var (context, relaxed) = Fleet(seed, 36, 4);
        const int Stages = 3;
        // The full VM × host × stage model on the bounds' rounding: the fewest live migrations of every plan of the model.
        var exact = new CpSatStageModel(relaxed, Stages);
        exact.Model.Minimize(exact.LiveMigrations);
        var (status, solver) = context.Solve(exact.Model, 30);
        // A start plan with more live migrations than needed: the plan model's own optimum plus the greedy's slack.
        var start = new CpSatStageModel(context.Problem, Stages);
        start.Model.Minimize(start.LiveMigrations);
        var (startStatus, startSolver) = context.Solve(start.Model, 30);
        var incumbent = start.Extract(startSolver);

        var result = ScheduleBranchAndBound.Run(context, relaxed, incumbent, 10)!;

        Assert.Equal(CpSolverStatus.Optimal, status);
        Assert.Equal(CpSolverStatus.Optimal, startStatus);
        Assert.InRange(result.Bound, 0, (int)solver.ObjectiveValue);
        Assert.True(result.Proven, $"bound {result.Bound}, plan {result.Plan.LiveMigrations}");
        Assert.Equal(result.Bound, result.Plan.LiveMigrations);
        Assert.Empty(new PlanSimulation(context.Problem, result.Plan).Violations());
    }

    [Fact]
    public void Proves_the_fewest_live_migrations_where_the_greedy_schedule_needs_twice_as_many()
    {
        // 90 VMs / 5 hosts, 5 stages: the greedy needs 22 live migrations, the relaxation says 11. Placing the
        // relaxation's schedule exactly gives 11, and no other schedule's relaxation goes below 11: optimal.
        var (context, relaxed) = Fleet(3, 90, 5);
        var greedy = GreedyDecisions.Solve(context.Problem)!;

        var result = ScheduleBranchAndBound.Run(context, relaxed, greedy, 20)!;

        Assert.Equal(22, greedy.LiveMigrations);
        Assert.True(result.Proven);
        Assert.Equal(11, result.Plan.LiveMigrations);
        Assert.Equal(11, result.Bound);
        Assert.Equal(greedy.Stages, result.Plan.Stages);
        Assert.Empty(new PlanSimulation(context.Problem, result.Plan).Violations());
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Finds_a_plan_with_the_fewer_stages_the_relaxation_admits_where_the_incumbent_has_more(int seed)
    {
        // The one-host-per-stage greedy takes a stage per host; the relaxation admits fewer. Searched at that count, the
        // schedules give a plan there (lexicographically better whatever its live migrations), bounded like any other.
        var (context, relaxed) = Fleet(seed, 36, 4);
        var greedy = GreedyDecisions.Solve(context.Problem)!;
        var fewer = MoveRelaxation.RaiseLowerBound(context, relaxed, 2, greedy.Stages, 10, out var admitted);
        var exact = new CpSatStageModel(relaxed, fewer);
        exact.Model.Minimize(exact.LiveMigrations);
        var (status, solver) = context.Solve(exact.Model, 30);

        var result = ScheduleBranchAndBound.Run(context, relaxed, greedy, 10, admitted, stages: fewer)!;

        Assert.InRange(fewer, 2, greedy.Stages - 1);
        Assert.Equal(CpSolverStatus.Optimal, status);
        Assert.Equal(fewer, result.Plan.Stages);
        Assert.Empty(new PlanSimulation(context.Problem, result.Plan).Violations());
        Assert.InRange(result.Bound, 0, (int)solver.ObjectiveValue);
        Assert.InRange(result.Plan.LiveMigrations, (int)solver.ObjectiveValue, int.MaxValue);
    }

    [Fact]
    public void Returns_nothing_below_the_incumbents_stages_when_no_plan_is_found_there()
    {
        // Every host in wave 1 of a 1-stage schedule: nothing runs PVE yet, so no plan has one stage.
        var (context, relaxed) = Fleet(2, 36, 4);
        var greedy = GreedyDecisions.Solve(context.Problem)!;

        Assert.Null(ScheduleBranchAndBound.Run(context, relaxed, greedy, 2, stages: 1));
    }

    [Fact]
    public void Gives_the_same_plan_and_bound_twice()
    {
        var (context, relaxed) = Fleet(5, 40, 5);
        var greedy = GreedyDecisions.Solve(context.Problem)!;

        var first = ScheduleBranchAndBound.Run(context, relaxed, greedy, 5)!;
        var second = ScheduleBranchAndBound.Run(context, relaxed, greedy, 5)!;

        Assert.Equal((first.Bound, first.Proven, first.Resolved), (second.Bound, second.Proven, second.Resolved));
        Assert.Equal(first.Plan.ConversionStage, second.Plan.ConversionStage);
        Assert.Equal(Paths(first.Plan), Paths(second.Plan));
    }

    private static IEnumerable<string> Paths(SolverDecisions plan)
        => plan.Vms.Select(v => $"{v.CrossStage}->{v.TargetHost} ceph={v.OnPveCeph} via {string.Join(",", v.Hops)}");

    [Fact]
    public void Does_not_run_with_pins_which_the_plan_file_does_not_record()
    {
        var inventory = SolverFleets.Generated(2, 36, 4, keepFileDisks: true);
        var options = Planning.Options(10) with { PinnedStages = new Dictionary<string, int> { [inventory.Vms[0].Name] = 2 } };

        Assert.False(ScheduleBranchAndBound.Applies(PlanningProblem.From(inventory, options), PlanningProblem.From(inventory, options, forBounds: true), 3));
        Assert.True(ScheduleBranchAndBound.Applies(PlanningProblem.From(inventory, Planning.Options(10)), PlanningProblem.From(inventory, Planning.Options(10), forBounds: true), 3));
    }
}
