using Taquin.Planner.Planning;

namespace Taquin.Planner.Solving;

/// <summary>
/// Which objectives of a plan are proven optimal, lexicographically: a level counts only when every level before
/// it is proven and the plan's value equals a proven lower bound (docs/plan-format.md, "Solver status").
/// </summary>
internal static class Optimality
{
    /// <summary>The levels that must be proven for the status OPTIMAL; bytes and balance are reported apart.</summary>
    public static readonly IReadOnlyList<string> Required = ["stages", "reboots", "downtime", "live migrations"];

    /// <summary>
    /// The plan's lower bounds: <paramref name="bounds"/> (valid for every plan) with the stage bound of the
    /// relaxations and, when the plan's stage count is that bound, the live-migration bound of the relaxation,
    /// which holds for every plan with that few stages, so for every lexicographically optimal plan.
    /// </summary>
    public static PlanMetrics LowerBound(PlanMetrics bounds, int stageBound, MoveBound? moves)
    {
        var liveMigrations = moves is { Feasible: true } && moves.Stages <= stageBound
            ? Math.Max(bounds.LiveMigrations, moves.LiveMigrations)
            : bounds.LiveMigrations;
        return bounds with
        {
            Stages = Math.Max(bounds.Stages, stageBound),
            LiveMigrations = liveMigrations,
            Moves = bounds.Reboots + liveMigrations,
        };
    }

    /// <summary>The proven levels, in order, up to the first that is not.</summary>
    public static IReadOnlyList<string> Proven(PlanMetrics plan, PlanMetrics bound)
    {
        var levels = new List<(string Name, bool Met)>
        {
            ("stages", plan.Stages <= bound.Stages),
            ("reboots", plan.Reboots <= bound.Reboots),
            // Fixed by the per-VM strategy: every plan has the same sum (the bound) unless a VM moves twice.
            ("downtime", plan.DowntimeSeconds <= bound.DowntimeSeconds + 1e-6),
            ("live migrations", plan.LiveMigrations <= bound.LiveMigrations && plan.Moves <= bound.Moves),
            ("bytes", plan.BytesCopied <= bound.BytesCopied),
            ("balance", plan.RamImbalance <= bound.RamImbalance + 1e-9),
        };
        return [.. levels.TakeWhile(l => l.Met).Select(l => l.Name)];
    }

    public static bool IsOptimal(IReadOnlyList<string> proven) => Required.All(proven.Contains);
}
