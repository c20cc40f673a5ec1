using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>A group of constraints that can be switched off as one, to name what makes a model infeasible.</summary>
internal enum ConstraintFamily
{
    Ram,
    Zfs,
    OldCeph,
    NewCeph,
    CopyBudget,
    LocalImages,
    PinHost,
    PinStage,
    PinOrder,
}

internal sealed record Blocker(ConstraintFamily Family, int Subject);

/// <summary>
/// The exact model for a fixed number of stages T (see docs/planner-model.md, "CP-SAT model").
/// conv[h,t]: host h converts at stage t. x[v,p,t]: VM v crosses to PVE host p at stage t.
/// z[v,h,t]: VM v is still on libvirt host h at stage t. mig[v,h,t]: VM v arrives on h by live migration at t.
/// ceph[v]: VM v lands on the new Ceph instead of zfs of its host.
/// </summary>
internal sealed class CpSatStageModel
{
    private readonly PlanningProblem problem;
    private readonly bool explain;
    private readonly BoolVar?[,] conv;
    private readonly BoolVar?[][,] x;
    private readonly BoolVar?[][,] z;
    private readonly BoolVar?[][,] mig;
    private readonly BoolVar[] ceph;
    private readonly BoolVar[] cephExists;
    private readonly Dictionary<int, Blocker> blockers = [];
    private readonly Dictionary<Blocker, BoolVar> switches = [];

    public CpSatStageModel(PlanningProblem problem, int stages, bool explain = false)
    {
        this.problem = problem;
        this.explain = explain;
        Stages = stages;
        var hostCount = problem.Hosts.Count;
        conv = new BoolVar?[hostCount, stages + 1];
        x = new BoolVar?[problem.Vms.Count][,];
        z = new BoolVar?[problem.Vms.Count][,];
        mig = new BoolVar?[problem.Vms.Count][,];
        ceph = new BoolVar[problem.Vms.Count];
        cephExists = new BoolVar[stages + 1];
        Build();
    }

    public CpModel Model { get; } = new();

    public int Stages { get; }

    public LinearExpr LiveMigrations { get; private set; } = LinearExpr.Constant(0);

    /// <summary>MiB of file disks copied by live migrations with storage copy.</summary>
    public LinearExpr StorageCopyMiB { get; private set; } = LinearExpr.Constant(0);

    /// <summary>Max minus min RAM fill (per mille) over hosts that are PVE at the last stage.</summary>
    public LinearExpr RamSpread { get; private set; } = LinearExpr.Constant(0);

    public IReadOnlyDictionary<int, Blocker> Blockers => blockers;

    private void Guard(Constraint constraint, ConstraintFamily family, int subject)
    {
        if (!explain)
        {
            return;
        }

        var key = new Blocker(family, subject);
        if (!switches.TryGetValue(key, out var literal))
        {
            literal = Model.NewBoolVar($"assume_{family}_{subject}");
            switches[key] = literal;
            blockers[literal.GetIndex()] = key;
            Model.AddAssumption(literal);
        }

        constraint.OnlyEnforceIf(literal);
    }

    private LinearExpr Libvirt(int h, int t)
    {
        var host = problem.Hosts[h];
        if (host.AlreadyPve)
        {
            return LinearExpr.Constant(0);
        }

        if (!host.Convertible)
        {
            return LinearExpr.Constant(1);
        }

        var later = new List<BoolVar>();
        for (var s = t + 1; s <= Stages; s++)
        {
            later.Add(conv[h, s]!);
        }

        return LinearExpr.Sum(later);
    }

    private LinearExpr Pve(int h, int t)
    {
        var host = problem.Hosts[h];
        if (host.AlreadyPve)
        {
            return LinearExpr.Constant(1);
        }

        if (!host.Convertible)
        {
            return LinearExpr.Constant(0);
        }

        var earlier = new List<BoolVar>();
        for (var s = 1; s < t; s++)
        {
            earlier.Add(conv[h, s]!);
        }

        return LinearExpr.Sum(earlier);
    }

    private LinearExpr CrossedBy(int v, int t)
    {
        var terms = new List<BoolVar>();
        for (var s = 1; s <= t; s++)
        {
            for (var p = 0; p < problem.Hosts.Count; p++)
            {
                if (x[v][p, s] is { } var)
                {
                    terms.Add(var);
                }
            }
        }

        return LinearExpr.Sum(terms);
    }

    private LinearExpr CrossStage(int v)
    {
        var b = LinearExpr.NewBuilder();
        for (var s = 1; s <= Stages; s++)
        {
            for (var p = 0; p < problem.Hosts.Count; p++)
            {
                if (x[v][p, s] is { } var)
                {
                    b.AddTerm(var, s);
                }
            }
        }

        return b;
    }

    private LinearExpr ConversionStage(int h)
    {
        var b = LinearExpr.NewBuilder();
        for (var s = 1; s <= Stages; s++)
        {
            b.AddTerm(conv[h, s]!, s);
        }

        return b;
    }

    private void Build()
    {
        var hosts = problem.Hosts;
        var vms = problem.Vms;
        var t = Stages;
        foreach (var h in hosts.Where(h => h.Convertible))
        {
            var all = new List<BoolVar>();
            for (var s = 1; s <= t; s++)
            {
                conv[h.Index, s] = Model.NewBoolVar($"conv_{h.Index}_{s}");
                all.Add(conv[h.Index, s]!);
            }

            Model.AddExactlyOne(all);
        }

        foreach (var vm in vms)
        {
            var v = vm.Index;
            x[v] = new BoolVar?[hosts.Count, t + 1];
            z[v] = new BoolVar?[hosts.Count, t + 1];
            mig[v] = new BoolVar?[hosts.Count, t + 1];
            ceph[v] = Model.NewBoolVar($"ceph_{v}");
            foreach (var p in hosts.Where(p => !p.Excluded))
            {
                for (var s = p.AlreadyPve ? 1 : 2; s <= t; s++)
                {
                    var var = Model.NewBoolVar($"x_{v}_{p.Index}_{s}");
                    x[v][p.Index, s] = var;
                    if (p.Convertible)
                    {
                        // Lands only on a host that is PVE by then.
                        Model.Add(var <= Pve(p.Index, s));
                    }
                }
            }

            // File-disk VMs hop only onto hosts with local-images room for copies (storage copy).
            foreach (var h in hosts.Where(h => !h.AlreadyPve && (vm.FileBacked ? h.Index == vm.Home || h.FileCopyTarget : !h.Excluded || h.Index == vm.Home)))
            {
                for (var s = 1; s < t; s++)
                {
                    var var = Model.NewBoolVar($"z_{v}_{h.Index}_{s}");
                    z[v][h.Index, s] = var;
                    if (h.Convertible)
                    {
                        Model.Add(var <= Libvirt(h.Index, s));
                    }

                    var arrived = Model.NewBoolVar($"mig_{v}_{h.Index}_{s}");
                    mig[v][h.Index, s] = arrived;
                    if (s == 1)
                    {
                        if (h.Index != vm.Home)
                        {
                            Model.Add(arrived >= var);
                        }
                        else
                        {
                            Model.Add(arrived == 0);
                        }
                    }
                    else
                    {
                        Model.Add(arrived >= var - z[v][h.Index, s - 1]!);
                        if (vm.FileBacked && h.Index == vm.Home && !h.FileCopyTarget)
                        {
                            // Its own files may leave home, but no copy can come back to it.
                            Model.Add(var <= z[v][h.Index, s - 1]!);
                        }
                    }
                }
            }

            for (var s = 1; s < t; s++)
            {
                var onLibvirt = new List<BoolVar>();
                for (var h = 0; h < hosts.Count; h++)
                {
                    if (z[v][h, s] is { } var)
                    {
                        onLibvirt.Add(var);
                    }
                }

                Model.Add(LinearExpr.Sum(onLibvirt) + CrossedBy(v, s) == 1);
            }

            Model.Add(CrossedBy(v, t) == 1);
        }

        LiveMigrations = LinearExpr.Sum(mig.SelectMany(m => m.Cast<BoolVar?>()).OfType<BoolVar>());
        var copied = LinearExpr.NewBuilder();
        foreach (var vm in vms.Where(v => v.StorageCopyMiB > 0))
        {
            foreach (var arrived in mig[vm.Index].Cast<BoolVar?>().OfType<BoolVar>())
            {
                copied.AddTerm(arrived, vm.StorageCopyMiB);
            }
        }

        StorageCopyMiB = copied;
        AddCapacity();
        AddNewCeph();
        AddPins();
        AddSymmetryBreaking();
        AddBounds();
        if (!explain)
        {
            // Its fill bounds restate RAM capacity without a switch: it would hide the real blocker.
            AddRamSpread();
        }
    }

    /// <summary>1 when the VM live-migrates away from host h in wave s (its RAM leaves through h's NIC).</summary>
    private BoolVar? Leaving(SolverVm vm, int h, int s)
    {
        if (s >= Stages)
        {
            return null;
        }

        var wasHere = s == 1 ? (vm.Home == h ? LinearExpr.Constant(1) : null) : z[vm.Index][h, s - 1] is { } before ? (LinearExpr)before : null;
        if (wasHere is null)
        {
            return null;
        }

        var stillHere = z[vm.Index][h, s] is { } now ? (LinearExpr)now : LinearExpr.Constant(0);
        var crossing = new List<BoolVar>();
        for (var p = 0; p < problem.Hosts.Count; p++)
        {
            if (x[vm.Index][p, s] is { } var)
            {
                crossing.Add(var);
            }
        }

        var leaving = Model.NewBoolVar($"leave_{vm.Index}_{h}_{s}");
        Model.Add(leaving >= wasHere - stillHere - LinearExpr.Sum(crossing));
        return leaving;
    }

    /// <summary>The literals that are 1 when the VM crosses to PVE in wave s from libvirt host h (none when it cannot be on h then).</summary>
    private IEnumerable<BoolVar> CrossingFrom(SolverVm vm, int h, int s)
    {
        var crossing = Enumerable.Range(0, problem.Hosts.Count).Select(p => x[vm.Index][p, s]).OfType<BoolVar>().ToList();
        if (s == 1 || problem.Hosts.All(o => o.Index == vm.Home || !o.FileCopyTarget))
        {
            // It can only be at home before crossing.
            return vm.Home == h && (s == 1 || z[vm.Index][h, s - 1] is not null) ? crossing : [];
        }

        if (z[vm.Index][h, s - 1] is not { } before || crossing.Count == 0)
        {
            return [];
        }

        var sending = Model.NewBoolVar($"send_{vm.Index}_{h}_{s}");
        Model.Add(sending >= before + LinearExpr.Sum(crossing) - 1);
        return [sending];
    }

    /// <summary>
    /// Local images of libvirt host h at stage s: the files there at s, and those there at s − 1 that left
    /// in wave s (a copied file is deleted once its wave is committed).
    /// </summary>
    private void AddLocalImages(SolverHost h, int s)
    {
        var used = LinearExpr.NewBuilder();
        long worst = 0;
        foreach (var vm in problem.Vms.Where(v => v.FileMiB > 0))
        {
            var now = s < Stages ? z[vm.Index][h.Index, s] : null;
            var before = s == 1 ? (vm.Home == h.Index ? LinearExpr.Constant(1) : null) : (LinearExpr?)z[vm.Index][h.Index, s - 1];
            if (now is null && before is null)
            {
                continue;
            }

            worst += vm.FileMiB;
            if (s == 1 && before is not null)
            {
                used.Add(vm.FileMiB);
            }
            else if (now is not null && before is not null)
            {
                var held = Model.NewBoolVar($"local_{vm.Index}_{h.Index}_{s}");
                Model.Add(held >= now);
                Model.Add(held >= before);
                used.AddTerm(held, vm.FileMiB);
            }
            else
            {
                used.AddTerm(now ?? before!, vm.FileMiB);
            }
        }

        if (worst > h.LocalImagesMiB)
        {
            Guard(Model.Add(used <= h.LocalImagesMiB), ConstraintFamily.LocalImages, h.Index);
        }
    }

    private void AddCapacity()
    {
        var hosts = problem.Hosts;
        var vms = problem.Vms;
        var t = Stages;
        for (var s = 1; s <= t; s++)
        {
            foreach (var h in hosts)
            {
                var ram = LinearExpr.NewBuilder();
                var nic = LinearExpr.NewBuilder();
                foreach (var vm in vms)
                {
                    if (z[vm.Index][h.Index, s] is { } onIt)
                    {
                        ram.AddTerm(onIt, vm.RamMiB);
                    }

                    for (var s2 = 1; s2 <= s; s2++)
                    {
                        if (x[vm.Index][h.Index, s2] is { } landed)
                        {
                            ram.AddTerm(landed, vm.RamMiB);
                        }
                    }

                    if (x[vm.Index][h.Index, s] is { } arriving && vm.CopyMiB > 0)
                    {
                        nic.AddTerm(arriving, vm.CopyMiB);
                    }

                    if (vm.FileBacked && vm.CopyMiB > 0)
                    {
                        // A file image is sent by the host it sits on when the VM crosses.
                        foreach (var sending in CrossingFrom(vm, h.Index, s))
                        {
                            nic.AddTerm(sending, vm.CopyMiB);
                        }
                    }

                    if (mig[vm.Index][h.Index, s] is { } arrivingLive)
                    {
                        nic.AddTerm(arrivingLive, vm.HopMiB);
                    }

                    if (Leaving(vm, h.Index, s) is { } leavingLive)
                    {
                        nic.AddTerm(leavingLive, vm.HopMiB);
                    }
                }

                Guard(Model.Add(ram <= h.RamCapacityMiB), ConstraintFamily.Ram, h.Index);
                Guard(Model.Add(nic <= h.CopyBudgetMiB), ConstraintFamily.CopyBudget, h.Index);
            }

            foreach (var h in hosts.Where(h => h.FileCopyTarget))
            {
                AddLocalImages(h, s);
            }

            // Old Ceph: data of every VM not crossed before s (a copy made during wave s still counts).
            var oldCeph = LinearExpr.NewBuilder();
            foreach (var vm in vms.Where(v => v.RbdMiB > 0))
            {
                oldCeph.Add(vm.RbdMiB);
                oldCeph.AddTerm(CrossedBy(vm.Index, s - 1), -vm.RbdMiB);
            }

            foreach (var h in hosts.Where(h => h.OldCephRawMiB > 0))
            {
                oldCeph.AddTerm(Libvirt(h.Index, s), -problem.OldCephCapacityMiB([h]));
            }

            Guard(Model.Add(oldCeph <= 0), ConstraintFamily.OldCeph, 0);
        }

        // ZFS only grows (no PVE to PVE moves), so the last stage is the binding one.
        foreach (var p in hosts.Where(p => !p.Excluded))
        {
            var zfs = LinearExpr.NewBuilder();
            foreach (var vm in vms)
            {
                var landed = new List<BoolVar>();
                for (var s = 1; s <= t; s++)
                {
                    if (x[vm.Index][p.Index, s] is { } var)
                    {
                        landed.Add(var);
                    }
                }

                if (landed.Count == 0 || vm.ProvisionedMiB == 0)
                {
                    continue;
                }

                var onZfs = Model.NewBoolVar($"zfs_{vm.Index}_{p.Index}");
                Model.Add(onZfs >= LinearExpr.Sum(landed) - ceph[vm.Index]);
                zfs.AddTerm(onZfs, vm.ProvisionedMiB);
            }

            Guard(Model.Add(zfs <= p.ZfsCapacityMiB), ConstraintFamily.Zfs, p.Index);
        }
    }

    private void AddNewCeph()
    {
        var hosts = problem.Hosts;
        var vms = problem.Vms;
        var t = Stages;
        for (var s = 1; s <= t; s++)
        {
            cephExists[s] = Model.NewBoolVar($"ceph_exists_{s}");
            if (s > 1)
            {
                Model.Add(cephExists[s] >= cephExists[s - 1]);
            }

            var pveCount = LinearExpr.NewBuilder();
            var capacity = LinearExpr.NewBuilder();
            foreach (var h in hosts.Where(h => !h.Excluded))
            {
                pveCount.Add(Pve(h.Index, s));
                capacity.AddTerm(Pve(h.Index, s), problem.NewCephCapacityMiB([h]));
            }

            var enoughHosts = Model.Add(pveCount >= problem.NewCephMinHosts);
            enoughHosts.OnlyEnforceIf(cephExists[s]);
            Guard(enoughHosts, ConstraintFamily.NewCeph, 0);
            var usage = LinearExpr.NewBuilder();
            foreach (var vm in vms)
            {
                var arriving = new List<BoolVar>();
                for (var p = 0; p < hosts.Count; p++)
                {
                    if (x[vm.Index][p, s] is { } var)
                    {
                        arriving.Add(var);
                    }
                }

                Model.Add(ceph[vm.Index] + LinearExpr.Sum(arriving) <= 1 + cephExists[s]);
                if (vm.ProvisionedMiB > 0)
                {
                    var held = Model.NewBoolVar($"ceph_held_{vm.Index}_{s}");
                    Model.Add(held >= ceph[vm.Index] + CrossedBy(vm.Index, s) - 1);
                    usage.AddTerm(held, vm.ProvisionedMiB);
                }
            }

            Guard(Model.Add(usage <= capacity), ConstraintFamily.NewCeph, 0);
        }
    }

    private void AddPins()
    {
        foreach (var (v, host) in problem.PinnedHost)
        {
            var elsewhere = new List<BoolVar>();
            for (var p = 0; p < problem.Hosts.Count; p++)
            {
                for (var s = 1; s <= Stages; s++)
                {
                    if (p != host && x[v][p, s] is { } var)
                    {
                        elsewhere.Add(var);
                    }
                }
            }

            Guard(Model.Add(LinearExpr.Sum(elsewhere) == 0), ConstraintFamily.PinHost, v);
        }

        foreach (var (v, stage) in problem.PinnedStage)
        {
            Guard(Model.Add(CrossStage(v) == stage), ConstraintFamily.PinStage, v);
        }

        // A pinned order is a prefix: each pinned host strictly after the previous one, every other host after the last.
        var order = problem.PinnedOrder;
        for (var i = 1; i <= order.Count && order.Count > 0; i++)
        {
            var a = problem.Hosts[order[i - 1]];
            var followers = i < order.Count
                ? [problem.Hosts[order[i]]]
                : problem.Hosts.Where(h => h.Convertible && !order.Contains(h.Index)).ToList();
            foreach (var b in followers)
            {
                if (a.Convertible && b.Convertible)
                {
                    Guard(Model.Add(ConversionStage(a.Index) + 1 <= ConversionStage(b.Index)), ConstraintFamily.PinOrder, i);
                }
                else
                {
                    Guard(Model.Add(LinearExpr.Constant(0) >= 1), ConstraintFamily.PinOrder, i);
                }
            }
        }
    }

    /// <summary>Interchangeable hosts convert in index order; interchangeable VMs cross in index order.</summary>
    private void AddSymmetryBreaking()
    {
        var pinnedHosts = problem.PinnedOrder.Concat(problem.PinnedHost.Values).ToHashSet();
        var pinnedVms = problem.PinnedHost.Keys.Concat(problem.PinnedStage.Keys).ToHashSet();
        var hostGroups = problem.Hosts
            .Where(h => h.Convertible && !pinnedHosts.Contains(h.Index) && !problem.VmsOn(h.Index).Any(v => pinnedVms.Contains(v.Index)))
            .GroupBy(h => (h.RamCapacityMiB, h.ZfsCapacityMiB, h.OldCephRawMiB, h.NewCephRawMiB, h.CopyBudgetMiB, h.LocalImagesMiB, h.AcceptsFileCopies,
                Load: string.Join(";", problem.VmsOn(h.Index).Select(VmSignature).Order(StringComparer.Ordinal))));
        foreach (var group in hostGroups)
        {
            var members = group.OrderBy(h => h.Index).ToList();
            for (var i = 1; i < members.Count; i++)
            {
                Model.Add(ConversionStage(members[i - 1].Index) <= ConversionStage(members[i].Index));
            }
        }

        var vmGroups = problem.Vms.Where(v => !pinnedVms.Contains(v.Index))
            .GroupBy(v => (v.Home, Signature: VmSignature(v)));
        foreach (var group in vmGroups)
        {
            var members = group.OrderBy(v => v.Index).ToList();
            for (var i = 1; i < members.Count; i++)
            {
                Model.Add(CrossStage(members[i - 1].Index) <= CrossStage(members[i].Index));
            }
        }
    }

    private static string VmSignature(SolverVm v) => $"{v.RamMiB}/{v.RbdMiB}/{v.CopyMiB}/{v.ProvisionedMiB}/{v.FileBacked}/{v.HopMiB}/{v.FileMiB}";

    /// <summary>
    /// Valid cuts: with no PVE host at stage 1, every VM of a host converted at stage 1 live-migrates then.
    /// </summary>
    private void AddBounds()
    {
        if (problem.Hosts.Any(h => h.AlreadyPve && !h.Excluded))
        {
            return;
        }

        foreach (var h in problem.Hosts.Where(h => h.Convertible))
        {
            var residents = problem.VmsOn(h.Index).ToList();
            if (residents.Count == 0 || Stages < 2)
            {
                continue;
            }

            var moved = residents.SelectMany(v => Enumerable.Range(0, problem.Hosts.Count).Select(g => mig[v.Index][g, 1])).OfType<BoolVar>().ToList();
            Model.Add(LinearExpr.Sum(moved) >= residents.Count * conv[h.Index, 1]!);
        }
    }

    private void AddRamSpread()
    {
        var targets = problem.Hosts.Where(h => !h.Excluded && h.RamCapacityMiB > 0).ToList();
        if (targets.Count < 2)
        {
            return;
        }

        const int scale = 1000;
        var max = Model.NewIntVar(0, scale, "fill_max");
        var min = Model.NewIntVar(0, scale, "fill_min");
        foreach (var p in targets)
        {
            var used = LinearExpr.NewBuilder();
            foreach (var vm in problem.Vms)
            {
                for (var s = 1; s <= Stages; s++)
                {
                    if (x[vm.Index][p.Index, s] is { } var)
                    {
                        used.AddTerm(var, vm.RamMiB * scale);
                    }
                }
            }

            Model.Add(max * p.RamCapacityMiB >= used);
            // Hosts still converting at the last stage are not PVE yet: they do not count for the minimum.
            var lastIsPve = Pve(p.Index, Stages + 1) - (p.Convertible ? conv[p.Index, Stages]! : LinearExpr.Constant(0));
            Model.Add(min * p.RamCapacityMiB <= used + (p.RamCapacityMiB * scale * (1 - lastIsPve)));
        }

        RamSpread = max - min;
    }

    /// <summary>Imposes the conversion stage of every convertible host (one schedule; e.g. the live-migration relaxation's).</summary>
    public void FixConversions(IReadOnlyList<int?> conversionStages)
    {
        foreach (var h in problem.Hosts.Where(h => h.Convertible && conversionStages[h.Index] is not null))
        {
            for (var s = 1; s <= Stages; s++)
            {
                Model.Add(conv[h.Index, s]! == (conversionStages[h.Index] == s ? 1 : 0));
            }
        }
    }

    /// <summary>Suggests a solution to the solver (or, with <paramref name="fix"/>, imposes it: tests use that to check the model accepts valid plans).</summary>
    public void Hint(PlanningProblem p, SolverDecisions d, bool fix = false)
    {
        if (d.Stages != Stages)
        {
            return;
        }

        var sim = new PlanSimulation(p, d);
        void AddHint(BoolVar var, bool value)
        {
            if (fix)
            {
                Model.Add(var == (value ? 1 : 0));
            }
            else
            {
                Model.AddHint(var, value);
            }
        }

        foreach (var h in p.Hosts.Where(h => h.Convertible))
        {
            for (var s = 1; s <= Stages; s++)
            {
                AddHint(conv[h.Index, s]!, d.ConversionStage[h.Index] == s);
            }
        }

        foreach (var vm in p.Vms)
        {
            var dv = d.Vms[vm.Index];
            AddHint(ceph[vm.Index], dv.OnPveCeph);
            for (var s = 1; s <= Stages; s++)
            {
                var (host, crossed) = sim.Where(vm.Index, s);
                var (before, _) = sim.Where(vm.Index, s - 1);
                for (var h = 0; h < p.Hosts.Count; h++)
                {
                    if (x[vm.Index][h, s] is { } xv)
                    {
                        AddHint(xv, dv.CrossStage == s && dv.TargetHost == h);
                    }

                    if (z[vm.Index][h, s] is { } zv)
                    {
                        AddHint(zv, !crossed && host == h);
                    }

                    if (mig[vm.Index][h, s] is { } mv)
                    {
                        AddHint(mv, !crossed && host == h && before != h);
                    }
                }
            }
        }

        var created = d.PveCephCreatedStage;
        for (var s = 1; s <= Stages; s++)
        {
            AddHint(cephExists[s], created is { } c && c <= s);
        }
    }

    public SolverDecisions Extract(CpSolver solver)
    {
        var hosts = problem.Hosts;
        var conversions = hosts.Select(h => h.Convertible
            ? Enumerable.Range(1, Stages).First(s => solver.BooleanValue(conv[h.Index, s]!))
            : (int?)null).ToList();
        var decisions = new List<VmDecision>();
        foreach (var vm in problem.Vms)
        {
            var v = vm.Index;
            var (stage, target) = (0, 0);
            for (var s = 1; s <= Stages && stage == 0; s++)
            {
                for (var p = 0; p < hosts.Count; p++)
                {
                    if (x[v][p, s] is { } var && solver.BooleanValue(var))
                    {
                        (stage, target) = (s, p);
                        break;
                    }
                }
            }

            var hops = new List<LiveHop>();
            var current = vm.Home;
            for (var s = 1; s < stage; s++)
            {
                for (var h = 0; h < hosts.Count; h++)
                {
                    if (z[v][h, s] is { } var && solver.BooleanValue(var))
                    {
                        if (h != current)
                        {
                            hops.Add(new LiveHop(s, h));
                            current = h;
                        }

                        break;
                    }
                }
            }

            decisions.Add(new VmDecision(stage, target, solver.BooleanValue(ceph[v]), hops));
        }

        return new SolverDecisions(Stages, conversions, decisions);
    }
}
