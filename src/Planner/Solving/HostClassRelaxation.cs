using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// The stage relaxation (<see cref="StageRelaxation"/>) with interchangeable hosts merged (ADR 0027): the relaxation sees a
/// host only through its capacities (RAM, ZFS, old- and new-Ceph OSDs, NIC budget, local images), so convertible hosts with
/// equal capacities form a class and the model only counts how many hosts of each class convert in each wave. Any
/// per-host solution maps to counts and any counts to a per-host solution (take the class's hosts in any order), so
/// both models admit the same stage counts; the counted one has classes × stages integers instead of hosts × stages
/// Booleans with their symmetry, and decides 100-host fleets in a fraction of a second.
/// With a margin below 1 on the capacities it is a heuristic for conversion schedules instead (<see cref="Schedule"/>).
/// </summary>
internal static class HostClassRelaxation
{
    /// <summary>
    /// Convertible hosts with equal capacities, each class in host order, classes by their first host. Hosts that can be
    /// emptied by live migration alone (<see cref="CanEmptyByHops"/>) are kept apart from those that cannot: a finer
    /// partition leaves the relaxation exact and lets the schedule heuristic keep the latter out of wave 1.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<SolverHost>> Classes(PlanningProblem problem)
    {
        var free = FreeRam(problem);
        return [.. problem.Hosts.Where(h => h.Convertible)
            .GroupBy(h => (h.RamCapacityMiB, h.ZfsCapacityMiB, h.OldCephRawMiB, h.NewCephRawMiB, h.CopyBudgetMiB, h.LocalImagesMiB, CanEmptyByHops(problem, h, free)))
            .Select(g => (IReadOnlyList<SolverHost>)[.. g.OrderBy(h => h.Index)])
            .OrderBy(c => c[0].Index)];
    }

    /// <summary>Every VM of the host fits the RAM left on some other host at stage 0: needed to empty it before any host runs PVE.</summary>
    private static bool CanEmptyByHops(PlanningProblem problem, SolverHost host, long[] free)
        => problem.VmsOn(host.Index).All(v => problem.Hosts.Any(g => g.Index != host.Index && !g.Excluded && !g.AlreadyPve && free[g.Index] >= v.RamMiB));

    private static long[] FreeRam(PlanningProblem problem)
    {
        var free = problem.Hosts.Select(h => h.RamCapacityMiB).ToArray();
        foreach (var v in problem.Vms)
        {
            free[v.Home] -= v.RamMiB;
        }

        return free;
    }

    /// <summary>
    /// The smallest T in [lower, upper) the relaxation cannot rule out, or upper when all are ruled out. Pass the problem
    /// rounded for bounds (<see cref="PlanningProblem.ForBounds"/>) for a bound valid in bytes.
    /// </summary>
    public static int RaiseLowerBound(SearchContext context, PlanningProblem problem, int lower, int upper, double deterministicSeconds)
    {
        for (var t = lower; t < upper; t++)
        {
            var model = new Model(problem, t, margin: 1, forBound: true);
            var (status, _) = context.Solve(model.Cp, deterministicSeconds);
            context.Log.Add($"host-class relaxation T={t} ({model.ClassCount} classes): {status}");
            if (status != CpSolverStatus.Infeasible)
            {
                return t;
            }
        }

        return upper;
    }

    /// <summary>
    /// How many hosts of each class convert in each wave of a <paramref name="stages"/>-stage schedule the relaxation admits
    /// with every capacity but the old Ceph's scaled by <paramref name="margin"/> (room for packing losses); null if none
    /// found. Schedules already returned (<paramref name="except"/>) are cut off. With <paramref name="fewestFirstWave"/> the
    /// model empties as few VMs as it can in wave 1 (each of them live-migrates when nothing runs PVE yet).
    /// </summary>
    public static int[][]? Schedule(SearchContext context, int stages, double margin, double deterministicSeconds, IReadOnlyList<int[][]> except, bool fewestFirstWave)
    {
        var problem = context.Problem;
        var model = new Model(problem, stages, margin, forBound: false);
        if (!problem.Hosts.Any(h => h.AlreadyPve && !h.Excluded))
        {
            // Nothing runs PVE in wave 1: its hosts are emptied by live migration, so none with a VM no other host can take.
            var free = FreeRam(problem);
            var classes = Classes(problem);
            for (var c = 0; c < classes.Count; c++)
            {
                if (!CanEmptyByHops(problem, classes[c][0], free))
                {
                    model.Cp.Add(model.Count[c][1]! == 0);
                }
            }
        }

        foreach (var counts in except)
        {
            var differs = new List<ILiteral>();
            for (var c = 0; c < model.ClassCount; c++)
            {
                for (var s = 1; s <= stages; s++)
                {
                    var same = model.Cp.NewBoolVar($"same_{c}_{s}");
                    model.Cp.Add(model.Count[c][s] == counts[c][s]).OnlyEnforceIf(same);
                    model.Cp.Add(model.Count[c][s] != counts[c][s]).OnlyEnforceIf(same.Not());
                    differs.Add(same.Not());
                }
            }

            model.Cp.AddBoolOr(differs);
        }

        if (fewestFirstWave && !problem.Hosts.Any(h => h.AlreadyPve && !h.Excluded))
        {
            // Every VM of a host emptied in wave 1 live-migrates (nothing runs PVE yet): fewest such VMs.
            var classes = Classes(problem);
            var firstWave = LinearExpr.NewBuilder();
            for (var c = 0; c < classes.Count; c++)
            {
                firstWave.AddTerm(model.Count[c][1]!, classes[c].Min(h => problem.VmsOn(h.Index).Count()));
            }

            model.Cp.Minimize(firstWave);
        }

        var (status, solver) = context.Solve(model.Cp, deterministicSeconds);
        context.Log.Add($"host-class schedule, {stages} stages, margin {margin}: {status}");
        if (status is not (CpSolverStatus.Optimal or CpSolverStatus.Feasible))
        {
            return null;
        }

        return [.. model.Count.Select(row => row.Select(v => v is null ? 0 : (int)solver.Value(v)).ToArray())];
    }

    /// <summary>
    /// Conversion stage per host from class counts: within a class, hosts whose biggest VM is smallest take the earliest
    /// waves (in wave 1 every VM hops into what the other hosts have left), then those without file-disk VMs (no storage
    /// copy), then the least RAM to evacuate.
    /// </summary>
    public static int[] Assign(PlanningProblem problem, int[][] counts)
    {
        var stagesOf = new int[problem.Hosts.Count];
        var classes = Classes(problem);
        for (var c = 0; c < classes.Count; c++)
        {
            var members = classes[c]
                .OrderBy(h => problem.VmsOn(h.Index).Select(v => v.RamMiB).DefaultIfEmpty(0).Max())
                .ThenBy(h => problem.VmsOn(h.Index).Any(v => v.FileBacked) ? 1 : 0)
                .ThenBy(h => problem.VmsOn(h.Index).Sum(v => v.RamMiB))
                .ThenBy(h => h.Index)
                .ToList();
            var next = 0;
            for (var s = 1; s < counts[c].Length; s++)
            {
                for (var k = 0; k < counts[c][s]; k++)
                {
                    stagesOf[members[next++].Index] = s;
                }
            }
        }

        return stagesOf;
    }

    /// <summary>The counted model: Count[c][s] hosts of class c convert in wave s (index 0 unused).</summary>
    private sealed class Model
    {
        public Model(PlanningProblem problem, int stages, double margin, bool forBound)
        {
            var classes = Classes(problem);
            ClassCount = classes.Count;
            long Cap(long value) => margin >= 1 ? value : (long)Math.Floor(value * margin);
            Count = [.. classes.Select(members =>
            {
                var row = new IntVar?[stages + 1];
                for (var s = 1; s <= stages; s++)
                {
                    row[s] = Cp.NewIntVar(0, members.Count, $"count_{members[0].Index}_{s}");
                }

                Cp.Add(LinearExpr.Sum(row.Skip(1).OfType<IntVar>()) == members.Count);
                return row;
            })];

            var vms = problem.Vms;
            var ram = vms.Sum(v => v.RamMiB);
            var rbd = vms.Sum(v => v.RbdMiB);
            var storage = vms.Sum(v => v.ProvisionedMiB);
            var copy = vms.Sum(v => v.CopyMiB);
            var files = vms.Sum(v => v.FileMiB);
            var ramCrossed = Cumulative("ram", ram, stages);
            var rbdCrossed = Cumulative("rbd", rbd, stages);
            var storageCrossed = Cumulative("storage", storage, stages);
            var copyCrossed = Cumulative("copy", copy, stages);
            var filesCrossed = Cumulative("files", files, stages);
            // Hosts outside the classes (already PVE, excluded) are constants, as in HostConversionVariables.
            var others = problem.Hosts.Where(h => !h.Convertible).ToList();
            for (var s = 1; s <= stages; s++)
            {
                var pveRam = LinearExpr.NewBuilder();
                var libvirtRam = LinearExpr.NewBuilder();
                var pveStorage = LinearExpr.NewBuilder();
                var oldCeph = LinearExpr.NewBuilder();
                var budget = LinearExpr.NewBuilder();
                var localImages = LinearExpr.NewBuilder();
                var pveHosts = LinearExpr.NewBuilder();
                var cephExists = Cp.NewBoolVar($"ceph_exists_{s}");
                foreach (var h in others)
                {
                    var pve = h.AlreadyPve ? 1 : 0;
                    if (!h.Excluded)
                    {
                        pveRam.Add(pve * Cap(h.RamCapacityMiB));
                        pveStorage.Add(pve * Cap(h.ZfsCapacityMiB));
                        budget.Add(pve * Cap(h.CopyBudgetMiB));
                        pveHosts.Add(pve);
                        var cephRoom = Cap(problem.NewCephCapacityMiB([h]));
                        if (pve == 1 && cephRoom > 0)
                        {
                            var counted = Cp.NewBoolVar($"ceph_room_{h.Index}_{s}");
                            Cp.AddImplication(counted, cephExists);
                            pveStorage.AddTerm(counted, cephRoom);
                        }
                    }

                    var libvirt = 1 - pve;
                    libvirtRam.Add(libvirt * Cap(h.RamCapacityMiB));
                    oldCeph.Add(libvirt * problem.OldCephCapacityMiB([h]));
                    localImages.Add(libvirt * Cap(h.LocalImagesMiB));
                }

                for (var c = 0; c < classes.Count; c++)
                {
                    var h = classes[c][0];
                    var size = classes[c].Count;
                    // PVE at s: converted before s; libvirt at s: converts after s.
                    var pve = LinearExpr.Sum(Enumerable.Range(1, s - 1).Select(k => Count[c][k]!));
                    var libvirt = size - LinearExpr.Sum(Enumerable.Range(1, s).Select(k => Count[c][k]!));
                    pveRam.AddTerm(pve, Cap(h.RamCapacityMiB));
                    pveStorage.AddTerm(pve, Cap(h.ZfsCapacityMiB));
                    budget.AddTerm(pve, Cap(h.CopyBudgetMiB));
                    pveHosts.Add(pve);
                    var cephRoom = Cap(problem.NewCephCapacityMiB([h]));
                    if (cephRoom > 0)
                    {
                        // Hosts of the class whose new-Ceph room counts: PVE ones, and only while the cluster exists.
                        var counted = Cp.NewIntVar(0, size, $"ceph_room_{h.Index}_{s}");
                        Cp.Add(counted <= pve);
                        Cp.Add(counted <= size * cephExists);
                        pveStorage.AddTerm(counted, cephRoom);
                    }

                    libvirtRam.AddTerm(libvirt, Cap(h.RamCapacityMiB));
                    oldCeph.AddTerm(libvirt, problem.OldCephCapacityMiB([h]));
                    localImages.AddTerm(libvirt, Cap(h.LocalImagesMiB));
                }

                Cp.Add(pveHosts >= problem.NewCephMinHosts).OnlyEnforceIf(cephExists);
                // The constraints of StageRelaxation, on the same sums.
                Cp.Add(ramCrossed[s] <= pveRam);
                Cp.Add(ram - ramCrossed[s] <= libvirtRam);
                Cp.Add(storageCrossed[s] <= pveStorage);
                Cp.Add(rbd - rbdCrossed[s - 1] <= oldCeph);
                Cp.Add(copyCrossed[s] - copyCrossed[s - 1] <= budget);
                Cp.Add(rbdCrossed[s] - rbdCrossed[s - 1] <= copyCrossed[s] - copyCrossed[s - 1]);
                Cp.Add(files - filesCrossed[s] <= localImages);
                // The RBD-per-RAM cut only for the bound: schedules drawn with it packed a stage longer on the 5,000-VM fleet (ADR 0032).
                StageRelaxation.AddCrossingCuts(Cp, vms, (ramCrossed[s], rbdCrossed[s], storageCrossed[s]), (ram, rbd, storage), rbdPerRam: forBound);
            }
        }

        public CpModel Cp { get; } = new();

        public int ClassCount { get; }

        public IReadOnlyList<IntVar?[]> Count { get; }

        private IntVar[] Cumulative(string name, long total, int stages) => StageRelaxation.CumulativeAmount(Cp, name, total, stages);
    }
}
