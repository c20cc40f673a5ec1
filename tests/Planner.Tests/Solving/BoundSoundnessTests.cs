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
}
