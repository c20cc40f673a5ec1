using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// <see cref="MoveRelaxation"/> with the conversion schedule fixed (ADR 0029): host states are constants, so each VM
/// only chooses its crossing wave (one-hot over the waves, a tight assignment model that CP-SAT closes in about a
/// second at 216 VMs, where the free-schedule relaxation often stops at its LP bound). The same capacities, summed
/// over the hosts in the state that offers them; a VM that crosses no later than the wave its home converts in needs
/// no live migration, every other VM needs at least one. On the bounds' rounding its optimum is a lower bound on the
/// live migrations of every plan with that schedule, and its crossing waves guide the exact placement.
/// </summary>
internal static class ScheduleRelaxation
{
    /// <summary>
    /// Solves the relaxation for <paramref name="schedule"/> (conversion wave per host, null for hosts that do not
    /// convert). Bound: what the solver proved (0 when nothing); Waves: the best solution's crossing wave per VM.
    /// </summary>
    public static ScheduleRelaxationResult Solve(SearchContext context, PlanningProblem problem, IReadOnlyList<int?> schedule, int stages, double deterministicSeconds)
    {
        var model = new CpModel();
        var hosts = problem.Hosts;
        bool Pve(SolverHost h, int s) => h.AlreadyPve || (h.Convertible && schedule[h.Index] < s);
        bool Libvirt(SolverHost h, int s) => !h.AlreadyPve && (!h.Convertible || schedule[h.Index] > s);
        var wave = new BoolVar[problem.Vms.Count][];
        var migrate = LinearExpr.NewBuilder();
        foreach (var v in problem.Vms)
        {
            wave[v.Index] = new BoolVar[stages + 1];
            var row = new List<BoolVar>();
            for (var w = 1; w <= stages; w++)
            {
                var y = model.NewBoolVar($"wave_{v.Index}_{w}");
                wave[v.Index][w] = y;
                row.Add(y);
                if (!hosts.Any(h => !h.Excluded && Pve(h, w)))
                {
                    model.Add(y == 0);
                }
            }

            model.AddExactlyOne(row);
            // Crossing after its home converts means it left home before, by a live migration.
            if (hosts[v.Home].Convertible && schedule[v.Home] is { } home)
            {
                for (var w = home + 1; w <= stages; w++)
                {
                    migrate.Add(wave[v.Index][w]);
                }
            }
        }

        LinearExpr WaveOf(int v) => LinearExpr.WeightedSum(Enumerable.Range(1, stages).Select(w => wave[v][w]), Enumerable.Range(1, stages).Select(w => (long)w));
        LinearExpr On(int v, int s) => s <= 0 ? LinearExpr.Constant(0) : LinearExpr.Sum(Enumerable.Range(1, s).Select(w => wave[v][w]));
        long total(Func<SolverVm, long> demand) => problem.Vms.Sum(demand);
        for (var s = 1; s <= stages; s++)
        {
            var pve = hosts.Where(h => !h.Excluded && Pve(h, s)).ToList();
            var libvirt = hosts.Where(h => Libvirt(h, s)).ToList();
            var cephExists = pve.Count >= problem.NewCephMinHosts;
            var ramOnPve = LinearExpr.NewBuilder();
            var storageOnPve = LinearExpr.NewBuilder();
            var rbdCrossed = LinearExpr.NewBuilder();
            var copies = LinearExpr.NewBuilder();
            var filesCrossed = LinearExpr.NewBuilder();
            var filesCrossedBefore = LinearExpr.NewBuilder();
            foreach (var v in problem.Vms)
            {
                var now = On(v.Index, s);
                var before = On(v.Index, s - 1);
                ramOnPve.AddTerm(now, v.RamMiB);
                storageOnPve.AddTerm(now, v.ProvisionedMiB);
                rbdCrossed.AddTerm(before, v.RbdMiB);
                copies.AddTerm(now, v.CopyMiB);
                copies.AddTerm(before, -v.CopyMiB);
                filesCrossed.AddTerm(now, v.FileMiB);
                filesCrossedBefore.AddTerm(before, v.FileMiB);
            }

            model.Add(ramOnPve <= pve.Sum(h => h.RamCapacityMiB));
            // What has not crossed is on libvirt hosts: their RAM, the old Ceph (a crossing still counts in its wave), local images.
            model.Add(ramOnPve >= total(v => v.RamMiB) - libvirt.Sum(h => h.RamCapacityMiB));
            model.Add(storageOnPve <= pve.Sum(h => h.ZfsCapacityMiB + (cephExists ? problem.NewCephCapacityMiB([h]) : 0)));
            model.Add(rbdCrossed >= total(v => v.RbdMiB) - libvirt.Sum(h => problem.OldCephCapacityMiB([h])));
            model.Add(copies <= pve.Sum(h => h.CopyBudgetMiB));
            model.Add(filesCrossed >= total(v => v.FileMiB) - libvirt.Sum(h => h.LocalImagesMiB));
            model.Add(filesCrossedBefore >= total(v => v.FileMiB) - hosts.Where(h => Libvirt(h, s - 1)).Sum(h => h.LocalImagesMiB));
        }

        // VMs of one home with the same numbers are interchangeable: the lower index crosses no later.
        foreach (var group in problem.Vms.GroupBy(v => (v.Home, v.RamMiB, v.RbdMiB, v.CopyMiB, v.ProvisionedMiB, v.FileMiB)))
        {
            var list = group.OrderBy(v => v.Index).ToList();
            for (var i = 1; i < list.Count; i++)
            {
                model.Add(WaveOf(list[i - 1].Index) <= WaveOf(list[i].Index));
            }
        }

        model.Minimize(migrate);
        var (status, solver) = context.Solve(model, deterministicSeconds, fineBatches: true);
        var spent = solver.Response?.DeterministicTime ?? deterministicSeconds;
        context.Log.Add($"schedule relaxation {string.Join(",", schedule.Select(s => s?.ToString() ?? "-"))}: {status}, bound {Bound(solver, status)}");
        if (status == CpSolverStatus.Infeasible)
        {
            return new ScheduleRelaxationResult(Feasible: false, int.MaxValue, null, spent);
        }

        var waves = status is CpSolverStatus.Optimal or CpSolverStatus.Feasible
            ? problem.Vms.Select(v => Enumerable.Range(1, stages).First(w => solver.BooleanValue(wave[v.Index][w]))).ToArray()
            : null;
        return new ScheduleRelaxationResult(Feasible: true, Bound(solver, status), waves, spent);
    }

    private static int Bound(CpSolver solver, CpSolverStatus status)
        => status == CpSolverStatus.Infeasible ? int.MaxValue
            : double.IsFinite(solver.BestObjectiveBound) ? Math.Max(0, (int)Math.Ceiling(solver.BestObjectiveBound - 1e-6)) : 0;
}

/// <summary>
/// Outcome of <see cref="ScheduleRelaxation.Solve"/>. Feasible false: no plan has this schedule. Bound: proven fewest
/// VMs that must live-migrate with it. Waves: crossing wave per VM of the best solution (null when none was found).
/// </summary>
internal sealed record ScheduleRelaxationResult(bool Feasible, int Bound, IReadOnlyList<int>? Waves, double Spent);
