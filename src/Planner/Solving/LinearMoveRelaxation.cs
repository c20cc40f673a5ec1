using Google.OrTools.LinearSolver;

namespace Taquin.Planner.Solving;

/// <summary>
/// The per-VM live-migration relaxation (<see cref="MoveRelaxation"/>) as a linear program solved by GLOP, for fleets too
/// big for its CP-SAT version (ADR 0034). With every variable fractional its optimum still bounds the live migrations of
/// every plan within <c>stages</c> stages. A dive fixes the hosts' conversion waves a few at a time, one LP after
/// another, down to a schedule; the LP with that schedule fixed gives each VM's crossing wave for the packing.
/// Amounts are in GiB: in MiB the 5,000-VM rows span 1 to 10⁸ and GLOP stopped "abnormal".
/// </summary>
internal sealed class LinearMoveRelaxation : IDisposable
{
    private const double GiB = 1024.0;

    /// <summary>A host whose largest conversion fraction is at least this is taken as decided by the LP.</summary>
    private const double Decided = 0.999;

    /// <summary>
    /// Wall seconds per VM (or group) and stage of a root solve and of a whole dive on a quiet 2-core machine (GLOP is
    /// single-threaded). Measured at 5 stages: fleet-5000's root 1.9 s, a dive 5–8 s with its re-solves (the estimate takes
    /// the low end; the dives' wall step caps the rest), a grouped dive 1–1.5 s; fleet-1000's dive 0.6–1.1 s. Estimates let
    /// the callers decide by counting, not timing, whether a solve fits their share of the time limit.
    /// </summary>
    private const double RootSecondsPerVmStage = 8e-5;

    private const double DiveSecondsPerVmStage = 2e-4;

    private readonly PlanningProblem problem;
    private readonly IReadOnlyList<VmGroup> groups;
    private readonly int stages;
    private readonly Solver solver;
    private readonly Dictionary<(int Host, int Stage), Variable> conv = [];
    private readonly Variable[][] on;
    private readonly Variable[] cephExists;
    private readonly Objective objective;

    /// <param name="margin">Share of every host capacity the LP may use (1 for the bound; below 1 leaves the packing room).</param>
    /// <param name="grouped">
    /// Similar VMs of one home host as one fractional group (<see cref="Groups"/>): a smaller LP that is a restriction, not a
    /// relaxation, so for dives only (fleet-5000: 1,870 groups for 5,000 VMs).
    /// </param>
    public LinearMoveRelaxation(PlanningProblem problem, int stages, double margin = 1, bool grouped = false)
    {
        this.problem = problem;
        this.stages = stages;
        groups = grouped ? Groups(problem) : [.. problem.Vms.Select(v => new VmGroup(v.Home, [v]))];
        solver = Solver.CreateSolver("GLOP") ?? throw new InvalidOperationException("the GLOP linear solver is missing from Google.OrTools");
        // The dual simplex re-solves from the last basis after each bound change of the dive: 5,000 VMs, 1.9 s a root instead of 6.5 s.
        solver.SetSolverSpecificParametersAsString("use_dual_simplex:true");
        var hosts = problem.Hosts;
        foreach (var h in hosts.Where(h => h.Convertible))
        {
            var one = solver.MakeConstraint(1, 1, $"one_stage_{h.Index}");
            for (var s = 1; s <= stages; s++)
            {
                var x = solver.MakeNumVar(0, 1, $"conv_{h.Index}_{s}");
                conv[(h.Index, s)] = x;
                one.SetCoefficient(x, 1);
            }
        }

        objective = solver.Objective();
        on = new Variable[groups.Count][];
        var mayMigrate = 0;
        for (var g = 0; g < groups.Count; g++)
        {
            // on[g][s]: the share of the group on PVE at s; monotone, nobody at stage 0, everybody at the last stage.
            var group = groups[g];
            var row = on[g] = new Variable[stages + 1];
            for (var s = 1; s <= stages; s++)
            {
                row[s] = solver.MakeNumVar(s == stages ? 1 : 0, 1, $"on_{g}_{s}");
                if (s > 1)
                {
                    var monotone = solver.MakeConstraint(0, double.PositiveInfinity);
                    monotone.SetCoefficient(row[s], 1);
                    monotone.SetCoefficient(row[s - 1], -1);
                }
            }

            if (!hosts[group.Home].Convertible)
            {
                continue;
            }

            // stay ∧ home converted by s ⇒ crossed by s; every VM that does not stay live-migrates.
            mayMigrate += group.Vms.Count;
            var stay = solver.MakeNumVar(0, 1, $"stay_{g}");
            objective.SetCoefficient(stay, -group.Vms.Count);
            for (var s = 1; s < stages; s++)
            {
                var crossed = solver.MakeConstraint(-1, double.PositiveInfinity);
                crossed.SetCoefficient(row[s], 1);
                crossed.SetCoefficient(stay, -1);
                for (var k = 1; k <= s; k++)
                {
                    crossed.SetCoefficient(conv[(group.Home, k)], -1);
                }
            }
        }

        objective.SetOffset(mayMigrate);
        objective.SetMinimization();
        cephExists = new Variable[stages + 1];
        for (var s = 1; s <= stages; s++)
        {
            AddCapacities(s, margin);
        }
    }

    /// <summary>
    /// VMs of one home host with the same kind of disks and RAM and disk sizes within a factor 2 of each other: each
    /// group enters the LP as one fractional VM with the group's sums (ADR 0034).
    /// </summary>
    public static IReadOnlyList<VmGroup> Groups(PlanningProblem problem)
    {
        static int Bucket(long mib) => mib <= 0 ? -1 : (int)Math.Round(Math.Log2(mib));
        return [.. problem.Vms
            .GroupBy(v => (v.Home, File: v.FileMiB > 0, Ram: Bucket(v.RamMiB), Disk: Bucket(v.ProvisionedMiB)))
            .OrderBy(g => g.Min(v => v.Index))
            .Select(g => new VmGroup(g.Key.Home, [.. g.OrderBy(v => v.Index)]))];
    }

    public static double EstimatedRootSeconds(PlanningProblem problem, int stages) => problem.Vms.Count * stages * RootSecondsPerVmStage;

    /// <param name="items">VMs, or groups of them (<see cref="Groups"/>).</param>
    public static double EstimatedDiveSeconds(int items, int stages) => items * stages * DiveSecondsPerVmStage;

    /// <summary>
    /// The fewest live migrations of any plan within <c>stages</c> stages this LP proves (its optimum rounded up, less a
    /// hundredth for GLOP's tolerances); null when not solved. Built on <see cref="PlanningProblem.ForBounds"/> numbers, margin 1.
    /// </summary>
    public int? LiveMigrationBound(double wallSeconds)
        => Solve(wallSeconds) is { } value ? Math.Max(0, (int)Math.Ceiling(value - 0.01)) : null;

    /// <summary>The LP's optimum (live migrations, fractional); null when GLOP finds the LP infeasible or stops early.</summary>
    public double? Solve(double wallSeconds)
    {
        solver.SetTimeLimit((long)Math.Clamp(wallSeconds * 1000, 1, 1e9));
        return solver.Solve() == Solver.ResultStatus.OPTIMAL ? objective.Value() : null;
    }

    /// <summary>
    /// From a solved LP, fixes every host the LP has decided and the most decided of the others, solves again, and
    /// repeats until every host has a wave; a fix that makes the LP infeasible is forbidden instead. Returns the
    /// conversion wave per host (null for hosts that do not convert); null when the dive runs dry or out of time.
    /// </summary>
    public int?[]? Dive(Func<double> wallLeft, Func<bool> stop)
    {
        var convertible = problem.Hosts.Where(h => h.Convertible).Select(h => h.Index).ToList();
        var wave = new Dictionary<int, int>();
        while (wave.Count < convertible.Count)
        {
            if (stop())
            {
                return null;
            }

            var open = convertible.Where(h => !wave.ContainsKey(h))
                .Select(h => (Host: h, Stage: Enumerable.Range(1, stages).MaxBy(s => conv[(h, s)].SolutionValue())))
                .Select(p => (p.Host, p.Stage, Value: conv[(p.Host, p.Stage)].SolutionValue()))
                .ToList();
            var pick = open.Where(p => p.Value < Decided).OrderByDescending(p => p.Value).ThenBy(p => p.Host).Take(1).ToList();
            foreach (var (host, stage, _) in open.Where(p => p.Value >= Decided).Concat(pick))
            {
                conv[(host, stage)].SetLb(1);
                wave[host] = stage;
            }

            if (Solve(wallLeft()) is not null)
            {
                continue;
            }

            // The undecided host's wave was one fix too many: forbid it and go on from the LP without it.
            if (pick.Count == 0)
            {
                return null;
            }

            var (h, st, _) = pick[0];
            conv[(h, st)].SetLb(0);
            conv[(h, st)].SetUb(0);
            wave.Remove(h);
            if (Solve(wallLeft()) is null)
            {
                return null;
            }
        }

        return [.. problem.Hosts.Select(h => h.Convertible ? wave[h.Index] : (int?)null)];
    }

    /// <summary>
    /// The crossing wave per VM in this LP with <paramref name="schedule"/> fixed: the first stage the VM is at least half
    /// on PVE (in a group, its rank among the group's members against the group's share on PVE). Null when the schedule
    /// leaves the LP infeasible or GLOP stops early.
    /// </summary>
    public int[]? CrossingWaves(IReadOnlyList<int?> schedule, double wallSeconds)
    {
        foreach (var ((h, s), x) in conv)
        {
            var at = schedule[h] == s ? 1 : 0;
            x.SetBounds(at, at);
        }

        // With the schedule fixed, the new Ceph exists exactly where enough hosts run PVE: no fractional cluster.
        for (var s = 1; s <= stages; s++)
        {
            var pveHosts = problem.Hosts.Count(h => !h.Excluded && (h.AlreadyPve || (h.Convertible && schedule[h.Index] < s)));
            var exists = pveHosts >= problem.NewCephMinHosts ? 1 : 0;
            cephExists[s].SetBounds(exists, exists);
        }

        if (Solve(wallSeconds) is null)
        {
            return null;
        }

        // A group's share on PVE by stage s, rounded to whole VMs, crosses by s: its first members first.
        var waves = new int[problem.Vms.Count];
        for (var g = 0; g < groups.Count; g++)
        {
            var members = groups[g].Vms;
            for (var k = 0; k < members.Count; k++)
            {
                waves[members[k].Index] = Enumerable.Range(1, stages).First(s => s == stages || Math.Round(on[g][s].SolutionValue() * members.Count, MidpointRounding.AwayFromZero) > k);
            }
        }

        return waves;
    }

    public void Dispose() => solver.Dispose();

    /// <summary>The capacity rows of <see cref="MoveRelaxation"/> at stage s (the same <see cref="StageCapacity"/> room), in GiB.</summary>
    private void AddCapacities(int s, double margin)
    {
        var hosts = problem.Hosts;
        double Total(Func<SolverVm, long> demand) => problem.Vms.Sum(v => demand(v) / GiB);
        bool AlwaysPve(SolverHost h) => h.AlreadyPve && !h.Excluded;
        bool AlwaysLibvirt(SolverHost h) => !h.AlreadyPve && !h.Convertible;
        IEnumerable<Variable> Pve(SolverHost h, int stage) => h.Convertible ? Enumerable.Range(1, stage - 1).Select(k => conv[(h.Index, k)]) : [];
        IEnumerable<Variable> Libvirt(SolverHost h, int stage) => h.Convertible ? Enumerable.Range(stage + 1, stages - stage).Select(k => conv[(h.Index, k)]) : [];

        // Room: what the hosts offer in a state (constant for hosts that never change, a conversion sum for the others) minus the demand.
        var targets = hosts.Where(h => !h.Excluded).ToList();
        var ramOnPve = solver.MakeConstraint(double.NegativeInfinity, targets.Where(AlwaysPve).Sum(h => margin * h.RamCapacityMiB / GiB));
        var ramOnLibvirt = solver.MakeConstraint(double.NegativeInfinity, hosts.Where(AlwaysLibvirt).Sum(h => margin * h.RamCapacityMiB / GiB) - Total(v => v.RamMiB));
        var storageOnPve = solver.MakeConstraint(double.NegativeInfinity, targets.Where(AlwaysPve).Sum(h => margin * h.ZfsCapacityMiB / GiB));
        var rbdOnOldCeph = solver.MakeConstraint(double.NegativeInfinity, hosts.Where(AlwaysLibvirt).Sum(h => problem.OldCephCapacityMiB([h]) / GiB) - Total(v => v.RbdMiB));
        var copies = solver.MakeConstraint(double.NegativeInfinity, targets.Where(AlwaysPve).Sum(h => margin * h.CopyBudgetMiB / GiB));
        var files = solver.MakeConstraint(double.NegativeInfinity, hosts.Where(AlwaysLibvirt).Sum(h => margin * h.LocalImagesMiB / GiB) - Total(v => v.FileMiB));
        var filesBefore = solver.MakeConstraint(double.NegativeInfinity,
            hosts.Where(h => s == 1 ? !h.AlreadyPve : AlwaysLibvirt(h)).Sum(h => margin * h.LocalImagesMiB / GiB) - Total(v => v.FileMiB));

        // The new Ceph's room counts only while at least NewCephMinHosts hosts run PVE.
        var exists = cephExists[s] = solver.MakeNumVar(0, 1, $"ceph_exists_{s}");
        var pveCount = solver.MakeConstraint(-targets.Count(AlwaysPve), double.PositiveInfinity);
        pveCount.SetCoefficient(exists, -problem.NewCephMinHosts);
        foreach (var h in targets)
        {
            foreach (var x in Pve(h, s))
            {
                pveCount.SetCoefficient(x, 1);
                ramOnPve.SetCoefficient(x, -margin * h.RamCapacityMiB / GiB);
                storageOnPve.SetCoefficient(x, -margin * h.ZfsCapacityMiB / GiB);
                copies.SetCoefficient(x, -margin * h.CopyBudgetMiB / GiB);
            }

            var cephRoom = problem.NewCephCapacityMiB([h]);
            if (cephRoom > 0 && (h.Convertible || AlwaysPve(h)))
            {
                var counted = solver.MakeNumVar(0, 1, $"ceph_room_{h.Index}_{s}");
                var withCluster = solver.MakeConstraint(0, double.PositiveInfinity);
                withCluster.SetCoefficient(exists, 1);
                withCluster.SetCoefficient(counted, -1);
                var onPve = solver.MakeConstraint(AlwaysPve(h) ? -1 : 0, double.PositiveInfinity);
                onPve.SetCoefficient(counted, -1);
                foreach (var x in Pve(h, s))
                {
                    onPve.SetCoefficient(x, 1);
                }

                storageOnPve.SetCoefficient(counted, -margin * cephRoom / GiB);
            }
        }

        foreach (var h in hosts)
        {
            foreach (var x in Libvirt(h, s))
            {
                ramOnLibvirt.SetCoefficient(x, -margin * h.RamCapacityMiB / GiB);
                rbdOnOldCeph.SetCoefficient(x, -problem.OldCephCapacityMiB([h]) / GiB);
                files.SetCoefficient(x, -margin * h.LocalImagesMiB / GiB);
            }

            foreach (var x in s == 1 ? [] : Libvirt(h, s - 1))
            {
                filesBefore.SetCoefficient(x, -margin * h.LocalImagesMiB / GiB);
            }
        }

        for (var g = 0; g < groups.Count; g++)
        {
            double Sum(Func<SolverVm, long> demand) => groups[g].Vms.Sum(v => demand(v) / GiB);
            var now = on[g][s];
            ramOnPve.SetCoefficient(now, Sum(v => v.RamMiB));
            ramOnLibvirt.SetCoefficient(now, -Sum(v => v.RamMiB));
            storageOnPve.SetCoefficient(now, Sum(v => v.ProvisionedMiB));
            copies.SetCoefficient(now, Sum(v => v.CopyMiB));
            files.SetCoefficient(now, -Sum(v => v.FileMiB));
            if (s > 1)
            {
                // A VM crossing in wave s still has its RBD images in the old Ceph at s; its copy is charged to wave s.
                var before = on[g][s - 1];
                rbdOnOldCeph.SetCoefficient(before, -Sum(v => v.RbdMiB));
                copies.SetCoefficient(before, -Sum(v => v.CopyMiB));
                filesBefore.SetCoefficient(before, -Sum(v => v.FileMiB));
            }
        }
    }
}

/// <summary>VMs of one home host that enter <see cref="LinearMoveRelaxation"/> as one (a single VM outside dives of big fleets).</summary>
internal sealed record VmGroup(int Home, IReadOnlyList<SolverVm> Vms);
