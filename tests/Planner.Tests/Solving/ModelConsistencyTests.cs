using Google.OrTools.Sat;
using Taquin.Planner.Planning;
using Taquin.Planner.Samples;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

public class ModelConsistencyTests
{
    [Fact]
    public void The_exact_model_accepts_the_baseline_plan_of_the_sample_fleet()
    {
        var inventory = SolverFleets.Generated(seed: 1, vms: 216, hosts: 7);
        var options = new PlannerOptions { Seed = 1 };
        var problem = PlanningProblem.From(inventory, options);
        var decisions = CpSatPlanner.FromPlan(problem, GreedyPlanner.Plan(inventory, options));
        Assert.NotNull(decisions);
        Assert.Empty(new PlanSimulation(problem, decisions).Violations());
        var model = new CpSatStageModel(problem, decisions.Stages);
        model.Hint(problem, decisions, fix: true);
        var solver = new CpSolver { StringParameters = "num_workers:1, max_deterministic_time:5" };
        Assert.Equal(CpSolverStatus.Optimal, solver.Solve(model.Model));
    }
}
