using System.IO.Compression;
using Google.OrTools.Sat;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>
/// One CP-SAT solve as the planner runs it (ADR 0030): a solution hint reaches CP-SAT only on a model known to have a
/// solution, because CP-SAT 9.15 aborts the whole process when it proves a hinted model infeasible while loading it.
/// </summary>
public class SearchContextTests
{
    [Fact]
    public void Drops_the_hint_of_a_model_that_may_have_no_solution_and_proves_it_infeasible()
    {
        // Saved from the schedule search on generated seed 8 (216 VMs, --time-limit 30): a placement capped below the
        // incumbent, hinted with the relaxation's waves, that has no solution. With its hint and the planner's parameters
        // CP-SAT stops the test host ("Check failed: heuristics.fixed_search != nullptr").
        var model = SavedModel("hinted-infeasible-placement.pb.gz");
        var context = Context(seed: 1);
        Assert.NotEmpty(model.Model.SolutionHint.Vars);

        var (status, _) = context.Solve(model, 3.3, fineBatches: true);

        Assert.Equal(CpSolverStatus.Infeasible, status);
        Assert.Empty(model.Model.SolutionHint?.Vars ?? []);
        Assert.Contains(context.Log, line => line.Contains("solution hint dropped", StringComparison.Ordinal));
    }

    [Fact]
    public void Keeps_the_hint_of_a_model_known_to_have_a_solution()
    {
        var model = new CpModel();
        var x = model.NewIntVar(0, 10, "x");
        var y = model.NewIntVar(0, 10, "y");
        model.Add(x + y >= 7);
        model.AddHint(x, 3);
        model.AddHint(y, 4);
        model.Minimize(x + (2 * y));
        var context = Context(seed: 1);

        var (status, solver) = context.Solve(model, 1, knownFeasible: true);

        Assert.Equal(CpSolverStatus.Optimal, status);
        Assert.Equal(7, solver.ObjectiveValue);
        Assert.Equal(2, model.Model.SolutionHint.Vars.Count);
        Assert.DoesNotContain(context.Log, line => line.Contains("solution hint dropped", StringComparison.Ordinal));
    }

    private static SearchContext Context(int seed)
    {
        var options = new PlannerOptions { TimeLimitSeconds = 10, Seed = seed, Workers = 2 };
        var problem = PlanningProblem.From(new TestFleet().Host("h1", 64).Build(), options);
        return new SearchContext(problem, options, new CpSatTuning(), [], CancellationToken.None);
    }

    private static CpModel SavedModel(string name)
    {
        using var file = File.OpenRead(Path.Combine(AppContext.BaseDirectory, "TestData", "cp-sat", name));
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        var model = new CpModel();
        model.Model.MergeFrom(CpModelProto.Parser.ParseFrom(gzip));
        return model;
    }
}
