using Google.OrTools.Sat;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>
/// The live-migration bound against an independent exact solve (ADR 0022): on generated 36-VM / 4-host fleets the
/// full VM × host × stage model proves the fewest live migrations within 3 stages; no bound may exceed it.
/// </summary>
public class BoundSoundnessTests
{
    /// <summary>The fleet rounded for bounds, and a search context on the fleet rounded for plans.</summary>
    private static (PlanningProblem Relaxed, SearchContext Context) Relaxed(int seed)
    {
        var inventory = SolverFleets.Generated(seed, 36, 4, keepFileDisks: true);
        var options = Planning.Options(10);
        var relaxed = PlanningProblem.From(inventory, options, forBounds: true);
        return (relaxed, new SearchContext(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void No_bound_exceeds_the_exact_models_proven_fewest_live_migrations(int seed)
    {
        var (relaxed, context) = Relaxed(seed);
        const int Stages = 3;
        var exact = new CpSatStageModel(relaxed, Stages);
        exact.Model.Minimize(exact.LiveMigrations);
        var (status, solver) = context.Solve(exact.Model, 30);

        var bound = MoveRelaxation.LiveMigrationBound(context, relaxed, Stages, 10)!;
        var withSecondHops = MoveRelaxation.LiveMigrationBound(context, relaxed, Stages, 10, secondHops: true)!;

        Assert.Equal(CpSolverStatus.Optimal, status);
        Assert.True(bound.Feasible && withSecondHops.Feasible);
        Assert.InRange(bound.LiveMigrations, 1, (int)solver.ObjectiveValue);
        Assert.InRange(withSecondHops.LiveMigrations, bound.LiveMigrations, (int)solver.ObjectiveValue);
    }

    [Fact]
    public void The_relaxations_schedule_placed_exactly_meets_the_bound_where_the_greedy_schedule_did_not()
    {
        // 90 VMs / 5 hosts, 5 stages: the greedy's schedule needs 22 live migrations, the bound says 11. The
        // relaxation's own schedule, placed with the conversions fixed, needs exactly 11: the bound was tight, the
        // schedule was loose.
        var inventory = SolverFleets.Generated(3, 90, 5, keepFileDisks: true);
        var options = Planning.Options(10);
        var context = new SearchContext(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None);
        var greedy = GreedyDecisions.Solve(context.Problem)!;
        var bound = MoveRelaxation.LiveMigrationBound(context, PlanningProblem.From(inventory, options, forBounds: true), greedy.Stages, 10)!;

        var improved = BoundSchedule.Improve(context, greedy, bound, 10);

        Assert.True(greedy.LiveMigrations > bound.LiveMigrations, $"greedy: {greedy.Stages} stages, {greedy.LiveMigrations} live migrations, bound {bound.LiveMigrations}");
        Assert.NotNull(improved);
        Assert.Empty(new PlanSimulation(context.Problem, improved).Violations());
        Assert.Equal(greedy.Stages, improved.Stages);
        Assert.Equal(bound.LiveMigrations, improved.LiveMigrations);
        Assert.Equal(bound.Schedule, improved.ConversionStage);
    }
}
