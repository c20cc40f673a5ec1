using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

public class SmokeTests
{
    [Fact]
    public void Three_hosts_plan()
    {
        var inventory = new TestFleet()
            .Host("h1", 64).Host("h2", 64).Host("h3", 64)
            .Vms("a", 3, "h1", 8).Vms("b", 3, "h2", 8).Vms("c", 3, "h3", 8)
            .Build();
        var result = new CpSatPlanner().Plan(inventory, new PlannerOptions { TimeLimitSeconds = 5, Seed = 1 });
        Assert.True(result.IsFeasible, string.Join("\n", result.Infeasibility?.Reasons ?? []));
        Assert.Fail(string.Join(" | ", result.Log) + result.Plan!.Solver.Status + result.Plan.Metrics + result.Plan.Solver.Model);
    }
}
