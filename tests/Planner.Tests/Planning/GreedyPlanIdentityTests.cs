using Taquin.Planner.Planning;

namespace Taquin.Planner.Tests.Planning;

/// <summary>
/// The greedy baseline was reworked for speed (docs/adr/0025-greedy-speed.md) and must still decide exactly as before:
/// the expected digests were taken with the implementation before that work (commit b36157e) on the scenarios of
/// <see cref="GreedyScenarios"/>. A deliberate change to the greedy's rules moves them; then re-take them and say so.
/// </summary>
public sealed class GreedyPlanIdentityTests
{
    private static readonly Dictionary<string, string> DigestsBeforeTheSpeedWork = new(StringComparer.Ordinal)
    {
        ["fleet-216 seed 1"] = "3deb2f9caec1305b",
        ["fleet-216 seed 2"] = "f83ed9e692c064b1",
        ["fleet-216 seed 3"] = "2c21f12ccf777295",
        ["fleet-216 seed 1, RBD only"] = "99ccc0afe9bd61ce",
        ["fleet-216 seed 2, fixed order: last host, then first"] = "fe9902f1dd66a44c",
        ["fleet-216 seed 2, second host excluded"] = "06867e2d9437a00a",
        ["fleet-216 seed 2, first VM pinned to wave 3, second VM to the third host"] = "d8bc88321e5dd535",
        ["fleet-216 seed 3, first VM pinned to wave 1 (infeasible)"] = "infeasible a63603c9eb1cdf22",
        ["fleet-300 on 9 hosts seed 9"] = "2cfc4f7474962d40",
        ["fleet-1000 on 20 hosts seed 1"] = "4502ad94a0cdee8d",
    };

    public static TheoryData<string> Scenarios() => [.. GreedyScenarios.Names];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void The_greedy_decides_as_it_did_before_the_speed_work(string scenario)
    {
        var (inventory, options) = GreedyScenarios.Build(scenario);

        var outcome = GreedyScenarios.Outcome(inventory, options);

        Assert.Equal(DigestsBeforeTheSpeedWork[scenario], outcome);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Every_pinned_scenario_plan_passes_the_verifier_and_is_the_same_on_a_second_run(string scenario)
    {
        var (inventory, options) = GreedyScenarios.Build(scenario);
        MigrationPlan plan;
        try
        {
            plan = GreedyPlanner.Plan(inventory, options);
        }
        catch (PlanInfeasibleException e)
        {
            // The infeasible scenario pins a VM to wave 1, when no host is PVE yet: the blocker must say so.
            Assert.Contains(e.Blockers, b => b.Contains("pinned to wave 1", StringComparison.Ordinal) && b.Contains("no PVE host exists yet", StringComparison.Ordinal));
            return;
        }

        Assert.Empty(PlanVerifier.Verify(plan, inventory).Select(v => v.ToString()));
        Assert.Equal(GreedyScenarios.DecisionDigest(plan), GreedyScenarios.DecisionDigest(GreedyPlanner.Plan(inventory, options)));
    }

    [Fact]
    public void The_decision_digest_sees_a_changed_placement()
    {
        var (inventory, options) = GreedyScenarios.Build("fleet-216 seed 1");
        var plan = GreedyPlanner.Plan(inventory, options);
        var last = plan.Stages[^1];
        var (vm, placement) = last.Placements.First();
        var other = last.Hosts.Keys.First(h => h != placement.Host);
        var moved = plan with
        {
            Stages = [.. plan.Stages.Take(plan.Stages.Count - 1), last with { Placements = new Dictionary<string, Placement>(last.Placements) { [vm] = placement with { Host = other } } }],
        };

        Assert.NotEqual(GreedyScenarios.DecisionDigest(plan), GreedyScenarios.DecisionDigest(moved));
    }
}
