using System.Globalization;

namespace Taquin.Planner.Solving;

/// <summary>
/// Count first, then hosts, then VMs (ADR 0027): the host-class relaxation with a capacity margin decides how many hosts
/// of each class convert in each wave, <see cref="HostClassRelaxation.Assign"/> picks which ones, and
/// <see cref="GreedyDecisions"/> packs the VMs stage by stage. Unlike the fluid host-level model of the decomposition, the
/// relaxation lets RAM, RBD data and storage cross at different paces (bounded by knapsack cuts), which is what a tight
/// schedule needs: the RBD-dense VMs cross early so the old Ceph can shrink fast. Deterministic (counted solves and packings).
/// </summary>
internal static class HostClassSchedules
{
    /// <summary>Margins on the capacities, tried in order: packing losses are a few per cent on big fleets.</summary>
    internal static readonly double[] Margins = [0.97, 0.93, 1.0, 0.9];

    /// <summary>Schedules tried per margin and stage count (each cut off from the next solve).</summary>
    internal const int SchedulesPerMargin = 2;

    /// <summary>Schedules still tried at the stage count of the first valid plan, for fewer live migrations.</summary>
    internal const int ExtraSchedulesAfterFound = 3;

    /// <summary>
    /// Worth running in the decomposition when counting merges hosts: at least two convertible hosts per class. Where every
    /// host is its own class (the 7-host fleets) the per-host models and the schedule search do as well and need its time.
    /// </summary>
    public static bool Applies(PlanningProblem problem)
        => problem.Hosts.Count(h => h.Convertible) >= 2 * HostClassRelaxation.Classes(problem).Count;

    /// <summary>
    /// The first schedule, from the stage bound up to one stage below <paramref name="best"/>, that packs into a valid plan
    /// with that many stages or fewer; null when none does (or <paramref name="best"/> is already at the bound).
    /// </summary>
    public static SolverDecisions? Search(SearchContext context, SolverDecisions? best, int lower, double deterministicSeconds)
    {
        var problem = context.Problem;
        var upper = (best?.Stages ?? int.MaxValue) - 1;
        if (problem.PinnedOrder.Count > 0 || !problem.Hosts.Any(h => h.Convertible))
        {
            // A fixed conversion order is not a count per class; the decomposition's own models honour it.
            return null;
        }

        var solveSeconds = deterministicSeconds / (Margins.Length * SchedulesPerMargin);
        // Counted, not timed (deterministic): two packings per schedule, fewer on big fleets.
        var packings = (int)Math.Clamp(context.Options.TimeLimitSeconds * Decomposition.PackingsPerSecondAndVm / Math.Max(1, problem.Vms.Count), 4, 40);
        for (var target = lower; target <= upper && target <= problem.Hosts.Count + 2; target++)
        {
            SolverDecisions? found = null;
            var afterFound = 0;
            foreach (var margin in Margins)
            {
                var tried = new List<int[][]>();
                for (var k = 0; k < SchedulesPerMargin && packings > 0 && (found is null || afterFound++ < ExtraSchedulesAfterFound); k++)
                {
                    if (context.Cancellation.IsCancellationRequested || context.Budget.StopNow())
                    {
                        return found;
                    }

                    // First any schedule (the most room for the packing), then the one emptying the fewest VMs in wave 1 (each of them hops).
                    var counts = HostClassRelaxation.Schedule(context, target, margin, solveSeconds, tried, fewestFirstWave: k == 1);
                    if (counts is null)
                    {
                        break;
                    }

                    tried.Add(counts);
                    var stages = HostClassRelaxation.Assign(problem, counts);
                    var order = problem.Hosts.Where(h => h.Convertible).OrderBy(h => stages[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();
                    foreach (var dense in new[] { true, false })
                    {
                        packings--;
                        var packed = GreedyDecisions.Solve(problem, order, stages, rbdDenseFirst: dense);
                        var valid = packed is not null && packed.Stages <= target && new PlanSimulation(problem, packed).Violations().Count == 0;
                        context.Log.Add($"host-class schedule {string.Join("/", Enumerable.Range(1, target).Select(s => counts.Sum(row => row[s])))} hosts per wave (margin {margin}), "
                            + $"{(dense ? "RBD-dense crossings" : "next hosts' crossings")}: {(packed is null ? "packing stuck" : $"{packed.Stages} stages, {packed.LiveMigrations} live migrations{(valid ? "" : " (not kept)")}")} at {context.Budget.Elapsed.ToString("0.00", CultureInfo.InvariantCulture)} s");
                        if (valid && (found is null || ExactSearch.Worse(found, packed!)))
                        {
                            found = packed;
                        }
                    }
                }
            }

            if (found is not null)
            {
                return found;
            }
        }

        return null;
    }
}
