using System.Diagnostics;
using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>
/// The baseline: wave by wave, convert the cheapest host to evacuate (fewest RAM + file bytes, ties by
/// name, or the admin's fixed order), send its VMs to PVE biggest first onto the least-filled host (ZFS
/// first, the new Ceph once it exists) or live-migrate them to libvirt hosts, then fill PVE with VMs of the hosts next in
/// line. Convert more hosts in the same wave while they fit. Every capacity rule of docs/plan-format.md
/// is respected as the plan is built, so <see cref="PlanVerifier"/> accepts it.
/// </summary>
public sealed class GreedyPlanner : IPlanSolver
{
    public MigrationPlan Solve(FleetInventory inventory, PlannerOptions options, CancellationToken cancellationToken)
        => Plan(inventory, options, cancellationToken);

    /// <summary>Plans greedily; throws <see cref="PlanInfeasibleException"/> naming what blocks.</summary>
    public static MigrationPlan Plan(FleetInventory inventory, PlannerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inventory);
        ArgumentNullException.ThrowIfNull(options);
        var clock = Stopwatch.StartNew();
        var decisions = Decide(inventory, options, multipleConversions: true, cancellationToken, out var blockers)
            ?? Decide(inventory, options, multipleConversions: false, cancellationToken, out blockers)
            ?? throw new PlanInfeasibleException(blockers);
        var plan = PlanBuilder.Build(inventory, decisions, options, new SolverReport
        {
            Status = "GREEDY",
            Seed = options.Seed,
            Workers = 1,
            Model = "greedy: cheapest host first, biggest VM first onto the least-filled PVE host (ZFS, then new Ceph), live migration to libvirt otherwise",
        });
        return plan with
        {
            Solver = plan.Solver with { WallSeconds = clock.Elapsed.TotalSeconds },
            Baseline = plan.Metrics,
            LowerBound = LowerBounds.Compute(inventory, options),
            ExcludedHosts = [.. options.ExcludedHosts],
        };
    }

    private static PlanDecisions? Decide(FleetInventory inventory, PlannerOptions options, bool multipleConversions, CancellationToken cancellationToken, out IReadOnlyList<string> blockers)
    {
        var state = new GreedyState(inventory, options);
        blockers = state.InitialBlockers();
        if (blockers.Count > 0)
        {
            return null;
        }

        // Each wave must make progress; a pinned stage may force idle waves up to it.
        var maxStages = state.HostCount + state.VmCount + options.PinnedStages.Values.DefaultIfEmpty(0).Max() + 2;
        for (var t = 1; !state.Done; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (t > maxStages)
            {
                blockers = ["the greedy planner made no progress (internal limit reached)"];
                return null;
            }

            state.BeginWave(t);
            if (!state.MovePinned(out blockers))
            {
                return null;
            }

            var converted = state.ConvertHosts(multipleConversions);
            state.FillPve();
            if (!state.WaveDidSomething && !state.WaitingForPins(t))
            {
                blockers = state.ExplainStuck();
                return null;
            }

            _ = converted;
        }

        blockers = [];
        return state.Decisions();
    }
}
