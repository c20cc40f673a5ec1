using Microsoft.Extensions.Time.Testing;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>Runs the CP-SAT planner with a small deterministic budget and checks every plan with the independent verifier.</summary>
internal static class Planning
{
    /// <summary>
    /// The planner without a wall-clock cap, on a clock that never moves: results depend on the deterministic
    /// limits alone, however loaded the machine (no timed tests).
    /// </summary>
    public static CpSatPlanner Planner(CpSatTuning? tuning = null)
        => new((tuning ?? new CpSatTuning()) with { WallLimitSeconds = double.PositiveInfinity }, new FakeTimeProvider());

    public static PlannerOptions Options(double timeLimit = 5) => new() { TimeLimitSeconds = timeLimit, Seed = 7, Workers = 2 };

    public static MigrationPlan Verified(FleetInventory inventory, PlannerOptions? options = null)
    {
        var result = Planner().Plan(inventory, options ?? Options());
        Assert.True(result.IsFeasible, "expected a plan, got: " + string.Join("; ", result.Infeasibility?.Reasons ?? []));
        var violations = PlanVerifier.Verify(result.Plan!, inventory);
        Assert.True(violations.Count == 0, string.Join("\n", violations));
        return result.Plan!;
    }

    public static IReadOnlyList<string> Reasons(FleetInventory inventory, PlannerOptions? options = null)
    {
        var result = Planner().Plan(inventory, options ?? Options());
        Assert.False(result.IsFeasible, "expected no plan");
        return result.Infeasibility!.Reasons;
    }

    public static PlanAction Action(MigrationPlan plan, string vm, ActionKind kind)
        => plan.Stages.SelectMany(s => s.Actions).Single(a => a.Vm == vm && a.Kind == kind);

    public static int StageOf(MigrationPlan plan, string vm, ActionKind kind)
        => plan.Stages.Single(s => s.Actions.Any(a => a.Vm == vm && a.Kind == kind)).Index;

    public static int ConversionStage(MigrationPlan plan, string host)
        => plan.Stages.Single(s => s.Hosts[host] == HostState.Converting).Index;
}
