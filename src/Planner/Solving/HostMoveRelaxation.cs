using System.Globalization;
using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// A live-migration lower bound for fleets too big for the per-VM relaxation (<see cref="MoveRelaxation"/>): the stage
/// relaxation (conversion stage per host, crossed amounts as cumulative quantities) plus, per host, the RAM of its own
/// VMs that has crossed by each stage. Whatever RAM of a host's VMs has not crossed when the host converts left it by
/// live migration, and no fewer VMs carry that RAM than its biggest ones: a convex count drawn as lines through the
/// host's sorted VM sizes. Arguments: ADR 0031, docs/planner-model.md.
/// </summary>
internal static class HostMoveRelaxation
{
    /// <summary>Most lines drawn per host and wave for the live-migration count.</summary>
    private const int MaxLines = 24;

    /// <summary>
    /// The fewest live migrations of any plan with at most <paramref name="stages"/> stages, as CP-SAT's proven objective
    /// bound, which holds whenever the solve stops (its LP closes most of it at the root); null when nothing was proven.
    /// <paramref name="problem"/>: the inventory rounded for bounds (<see cref="PlanningProblem.ForBounds"/>).
    /// </summary>
    public static int? LiveMigrationBound(SearchContext context, PlanningProblem problem, int stages, double deterministicSeconds)
    {
        var model = new CpModel();
        model.Minimize(Build(model, problem, stages));
        var (status, solver) = context.Solve(model, deterministicSeconds);
        int? bound = status is CpSolverStatus.Infeasible or CpSolverStatus.ModelInvalid || !double.IsFinite(solver.BestObjectiveBound)
            ? null
            : Math.Max(0, (int)Math.Ceiling(solver.BestObjectiveBound - 1e-6));
        context.Log.Add(string.Create(CultureInfo.InvariantCulture,
            $"host live-migration relaxation T={stages}: {status}, bound {(bound is null ? "none" : bound)} ({solver.WallTime():0.00}s)"));
        return bound is > 0 ? bound : null;
    }

    /// <summary>Adds the relaxation within <paramref name="stages"/> stages; returns the live-migration count to minimize.</summary>
    internal static LinearExpr Build(CpModel model, PlanningProblem problem, int stages)
    {
        var conversion = new HostConversionVariables(model, problem.Hosts, stages);
        var ramCrossed = StageRelaxation.AddAggregates(model, problem, conversion, stages);
        var liveMigrations = LinearExpr.NewBuilder();
        var nothingPve = !problem.Hosts.Any(h => h.AlreadyPve && !h.Excluded);
        var ownCrossed = new List<IntVar[]>();
        foreach (var h in problem.Hosts.Where(h => h.Convertible))
        {
            var sizes = problem.VmsOn(h.Index).Select(v => v.RamMiB).OrderByDescending(r => r).ToList();
            if (sizes.Count == 0)
            {
                continue;
            }

            var total = sizes.Sum();
            // crossed[s]: RAM of the host's own VMs on PVE at stage s.
            var crossed = StageRelaxation.CumulativeAmount(model, $"own_crossed_{h.Index}", total, stages);
            ownCrossed.Add(crossed);
            // The RAM left on the host when it converts went by live migration, one VM at a time: at least k VMs once it
            // exceeds the k − 1 biggest. That count is convex in the RAM (sizes sorted down), so each segment's line bounds
            // it. Written per conversion wave (the disjunction's perspective, tight for the LP): in wave s, shipped is the
            // RAM of the host's VMs crossed by s if it converts then (else 0) and left the VMs that live-migrated.
            var migrated = model.NewIntVar(0, sizes.Count, $"migrated_{h.Index}");
            var perWave = new List<IntVar>();
            var lines = Lines(sizes);
            for (var s = 1; s <= stages; s++)
            {
                var conv = conversion.Conv[(h.Index, s)];
                var shipped = model.NewIntVar(0, total, $"own_crossed_at_conversion_{h.Index}_{s}");
                model.Add(shipped <= total * conv);
                model.Add(shipped <= crossed[s]);
                var left = model.NewIntVar(0, sizes.Count, $"migrated_{h.Index}_{s}");
                foreach (var (size, k, before) in lines)
                {
                    // size · left ≥ (size · k − before + total) · conv − shipped
                    model.Add((size * left) >= (((size * k) - before + total) * conv) - shipped);
                }

                // With no PVE host yet nothing has crossed: every VM of a host converting in wave 1 live-migrates.
                if (s == 1 && nothingPve)
                {
                    model.Add(left >= sizes.Count * conv);
                }

                perWave.Add(left);
            }

            model.Add(migrated >= LinearExpr.Sum(perWave));
            liveMigrations.Add(migrated);
        }

        // The hosts' own crossed RAM is part of all the RAM crossed.
        for (var s = 1; s <= stages; s++)
        {
            model.Add(LinearExpr.Sum(ownCrossed.Select(c => c[s])) <= ramCrossed[s]);
        }

        return liveMigrations;
    }

    /// <summary>
    /// The count's lines: for segment k (0-based), the (k + 1)-th biggest size, k and the sum of the k biggest. At most
    /// <see cref="MaxLines"/>, evenly spread (fewer lines keep the bound valid, only looser); the last one always kept.
    /// </summary>
    private static List<(long Size, int K, long Before)> Lines(List<long> sizes)
    {
        var lines = new List<(long, int, long)>();
        var step = Math.Max(1, (sizes.Count + MaxLines - 1) / MaxLines);
        long before = 0;
        for (var k = 0; k < sizes.Count; k++)
        {
            if (k % step == 0 || k == sizes.Count - 1)
            {
                lines.Add((Math.Max(1, sizes[k]), k, before));
            }

            before += sizes[k];
        }

        return lines;
    }
}
