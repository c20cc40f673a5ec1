using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// Exact CP-SAT placement for a fixed conversion schedule (docs/planner-model.md, "Window search").
/// The VMs in the free set may change their whole path — live migrations, crossing wave, PVE host, ZFS or
/// new Ceph — over the hosts they are allowed; every other VM keeps its decisions and counts as constant load.
/// With the schedule fixed, host states are constants, so the model has only the VM variables:
/// z[v,h,s] (on libvirt host h at stage s), x[v,p,s] (crosses to PVE host p in wave s), ceph[v].
/// The constraints are those of <see cref="PlanSimulation"/> (RAM, NIC per wave, old and new Ceph, ZFS,
/// local images, pins); the objective is live migrations, then storage-copy MiB and RAM spread.
/// </summary>
internal sealed class PlacementModel
{
    private const int SpreadScale = 1000;
    private readonly PlanningProblem problem;
    private readonly SolverDecisions current;
    private readonly PlanSimulation simulation;
    private readonly int stages;
    private readonly IReadOnlyList<int> free;
    private readonly bool[] isFree;
    private readonly Dictionary<(int Vm, int Host, int Stage), BoolVar> x = [];
    private readonly Dictionary<(int Vm, int Host, int Stage), BoolVar> z = [];
    private readonly Dictionary<int, BoolVar> ceph = [];
    // Arrival by live migration of v on h at stage s.
    private readonly Dictionary<(int Vm, int Host, int Stage), BoolVar> arrivals = [];

    /// <param name="allowedHosts">Hosts a free VM may use besides those of its current path; null: every host.</param>
    public PlacementModel(PlanningProblem problem, SolverDecisions current, IReadOnlyCollection<int> freeVms, IReadOnlySet<int>? allowedHosts = null)
    {
        this.problem = problem;
        this.current = current;
        simulation = new PlanSimulation(problem, current);
        stages = current.Stages;
        free = [.. freeVms.Order()];
        isFree = new bool[problem.Vms.Count];
        foreach (var v in free)
        {
            isFree[v] = true;
        }

        Build(allowedHosts);
    }

    public CpModel Model { get; } = new();

    public LinearExpr LiveMigrations { get; private set; } = LinearExpr.Constant(0);

    /// <summary>MiB of file data the free VMs copy by live migration with storage copy.</summary>
    public LinearExpr StorageCopyMiB { get; private set; } = LinearExpr.Constant(0);

    /// <summary>Max minus min RAM fill (per mille) of the hosts PVE at the last stage.</summary>
    public LinearExpr RamSpread { get; private set; } = LinearExpr.Constant(0);

    /// <summary>Number of Boolean variables: the size the window search keeps in check.</summary>
    public int Variables { get; private set; }

    private bool IsLibvirt(int h, int s) => !problem.Hosts[h].AlreadyPve && (current.ConversionStage[h] is not { } c || s < c);

    private bool IsPve(int h, int s) => problem.Hosts[h].AlreadyPve || (current.ConversionStage[h] is { } c && s > c);

    private BoolVar? Z(int v, int h, int s) => z.GetValueOrDefault((v, h, s));

    /// <summary>1 when v sits on libvirt host h at stage s (stage 0: its home, a constant).</summary>
    private LinearExpr? At(int v, int h, int s)
        => s == 0 ? (problem.Vms[v].Home == h ? LinearExpr.Constant(1) : null) : Z(v, h, s) is { } var ? var : null;

    private LinearExpr CrossingIn(int v, int s)
        => LinearExpr.Sum(problem.Hosts.Select(p => x.GetValueOrDefault((v, p.Index, s))).OfType<BoolVar>());

    private LinearExpr CrossedBy(int v, int s)
        => LinearExpr.Sum(Enumerable.Range(1, Math.Min(s, stages)).SelectMany(k => problem.Hosts.Select(p => x.GetValueOrDefault((v, p.Index, k)))).OfType<BoolVar>());

    private void Build(IReadOnlySet<int>? allowedHosts)
    {
        var hosts = problem.Hosts;
        var copies = LinearExpr.NewBuilder();
        foreach (var v in free)
        {
            var vm = problem.Vms[v];
            var d = current.Vms[v];
            var allowed = allowedHosts is null ? null : new HashSet<int>(allowedHosts) { vm.Home, d.TargetHost };
            allowed?.UnionWith(d.Hops.Select(h => h.Host));
            bool Allowed(int h) => allowed is null || allowed.Contains(h);
            var pinnedHost = problem.PinnedHost.TryGetValue(v, out var ph) ? ph : (int?)null;
            var pinnedStage = problem.PinnedStage.TryGetValue(v, out var ps) ? ps : (int?)null;
            var all = new List<BoolVar>();
            for (var s = 1; s <= stages; s++)
            {
                foreach (var p in hosts.Where(p => !p.Excluded && IsPve(p.Index, s) && Allowed(p.Index)
                    && (pinnedHost is null || pinnedHost == p.Index) && (pinnedStage is null || pinnedStage == s)))
                {
                    var var = Model.NewBoolVar($"x_{v}_{p.Index}_{s}");
                    x[(v, p.Index, s)] = var;
                    all.Add(var);
                }

                if (s == stages)
                {
                    continue;
                }

                foreach (var h in hosts.Where(h => IsLibvirt(h.Index, s) && Allowed(h.Index)
                    && (h.Index == vm.Home || (!h.Excluded && (!vm.FileBacked || h.FileCopyTarget)))))
                {
                    z[(v, h.Index, s)] = Model.NewBoolVar($"z_{v}_{h.Index}_{s}");
                }
            }

            Model.AddExactlyOne(all);
            ceph[v] = Model.NewBoolVar($"ceph_{v}");
            for (var s = 1; s < stages; s++)
            {
                var there = hosts.Select(h => Z(v, h.Index, s)).OfType<BoolVar>().ToList();
                Model.Add(LinearExpr.Sum(there) + CrossedBy(v, s) == 1);
                foreach (var h in hosts)
                {
                    if (Z(v, h.Index, s) is not { } now)
                    {
                        continue;
                    }

                    var before = At(v, h.Index, s - 1);
                    if (vm.FileBacked && h.Index == vm.Home && !h.FileCopyTarget)
                    {
                        // Its own files may leave home, but no copy can come back to it.
                        Model.Add(now <= (before ?? LinearExpr.Constant(0)));
                    }

                    if (before is null)
                    {
                        arrivals[(v, h.Index, s)] = now;
                    }
                    else if (s > 1 || h.Index != vm.Home)
                    {
                        var arrived = Model.NewBoolVar($"mig_{v}_{h.Index}_{s}");
                        Model.Add(arrived >= now - before);
                        arrivals[(v, h.Index, s)] = arrived;
                    }
                }
            }
        }

        LiveMigrations = LinearExpr.Sum(arrivals.Values);
        foreach (var ((v, _, _), arrival) in arrivals.Where(a => problem.Vms[a.Key.Vm].StorageCopyMiB > 0))
        {
            copies.AddTerm(arrival, problem.Vms[v].StorageCopyMiB);
        }

        StorageCopyMiB = copies;
        AddStageCapacities();
        AddNewCeph();
        AddZfsAndSpread();
        Variables = x.Count + z.Count + ceph.Count + arrivals.Count;
    }

    private void AddStageCapacities()
    {
        var hosts = problem.Hosts;
        var fixedVms = problem.Vms.Where(v => !isFree[v.Index]).ToList();
        for (var s = 1; s <= stages; s++)
        {
            var ram = new long[hosts.Count];
            long oldCeph = 0;
            foreach (var vm in fixedVms)
            {
                ram[simulation.Where(vm.Index, s).Host] += vm.RamMiB;
                if (current.Vms[vm.Index].CrossStage >= s)
                {
                    oldCeph += vm.RbdMiB;
                }
            }

            var nic = FixedNicCharges(fixedVms, s);
            var local = FixedLocalImages(fixedVms, s);
            foreach (var h in hosts)
            {
                var ramUse = LinearExpr.NewBuilder();
                var nicUse = LinearExpr.NewBuilder();
                var localUse = LinearExpr.NewBuilder();
                var anyLocal = false;
                foreach (var v in free)
                {
                    var vm = problem.Vms[v];
                    if (Z(v, h.Index, s) is { } on)
                    {
                        ramUse.AddTerm(on, vm.RamMiB);
                    }

                    for (var k = 1; k <= s; k++)
                    {
                        if (x.GetValueOrDefault((v, h.Index, k)) is { } landed)
                        {
                            ramUse.AddTerm(landed, vm.RamMiB);
                        }
                    }

                    AddNic(nicUse, vm, h.Index, s);
                    if (vm.FileMiB > 0 && Held(vm, h.Index, s) is { } held)
                    {
                        localUse.Add(held * vm.FileMiB);
                        anyLocal = true;
                    }
                }

                Model.Add(ramUse + ram[h.Index] <= h.RamCapacityMiB);
                Model.Add(nicUse + nic[h.Index] <= h.CopyBudgetMiB);
                if (anyLocal)
                {
                    Model.Add(localUse + local[h.Index] <= h.LocalImagesMiB);
                }
            }

            // Old Ceph: data of every VM not crossed before s (a copy made during wave s still counts).
            var rbd = LinearExpr.NewBuilder();
            foreach (var v in free.Where(v => problem.Vms[v].RbdMiB > 0))
            {
                rbd.Add(problem.Vms[v].RbdMiB);
                rbd.AddTerm(CrossedBy(v, s - 1), -problem.Vms[v].RbdMiB);
            }

            Model.Add(rbd + oldCeph <= problem.OldCephCapacityMiB(hosts.Where(h => IsLibvirt(h.Index, s))));
        }
    }

    /// <summary>What the free VM puts on host h's NIC in wave s, as <see cref="PlanSimulation.NicCharges"/> counts it.</summary>
    private void AddNic(LinearExprBuilder nic, SolverVm vm, int h, int s)
    {
        var v = vm.Index;
        if (x.GetValueOrDefault((v, h, s)) is { } arriving && vm.CopyMiB > 0)
        {
            nic.AddTerm(arriving, vm.CopyMiB);
        }

        var before = At(v, h, s - 1);
        var now = Z(v, h, s);
        if (arrivals.TryGetValue((v, h, s), out var arrived))
        {
            nic.AddTerm(arrived, vm.HopMiB);
        }

        if (before is null)
        {
            return;
        }

        var crossing = CrossingIn(v, s);
        if (s < stages)
        {
            var leaving = Model.NewBoolVar($"leave_{v}_{h}_{s}");
            Model.Add(leaving >= before - (now ?? LinearExpr.Constant(0)) - crossing);
            nic.AddTerm(leaving, vm.HopMiB);
        }

        if (vm.FileBacked && vm.CopyMiB > 0)
        {
            var sending = Model.NewBoolVar($"send_{v}_{h}_{s}");
            Model.Add(sending >= before + crossing - 1);
            nic.AddTerm(sending, vm.CopyMiB);
        }
    }

    /// <summary>1 when the free VM's files take room on h at stage s: there now, or there before and gone in wave s.</summary>
    private LinearExpr? Held(SolverVm vm, int h, int s)
    {
        var now = Z(vm.Index, h, s);
        var before = At(vm.Index, h, s - 1);
        if (now is null || before is null)
        {
            return now ?? before;
        }

        var held = Model.NewBoolVar($"local_{vm.Index}_{h}_{s}");
        Model.Add(held >= now);
        Model.Add(held >= before);
        return held;
    }

    private long[] FixedNicCharges(List<SolverVm> fixedVms, int s)
    {
        var charge = new long[problem.Hosts.Count];
        foreach (var vm in fixedVms)
        {
            var d = current.Vms[vm.Index];
            var (before, _) = simulation.Where(vm.Index, s - 1);
            if (d.CrossStage == s)
            {
                charge[d.TargetHost] += vm.CopyMiB;
                if (vm.FileBacked && before != d.TargetHost)
                {
                    charge[before] += vm.CopyMiB;
                }
            }
            else if (d.Hops.Any(h => h.Stage == s))
            {
                charge[simulation.Where(vm.Index, s).Host] += vm.HopMiB;
                charge[before] += vm.HopMiB;
            }
        }

        return charge;
    }

    private long[] FixedLocalImages(List<SolverVm> fixedVms, int s)
    {
        var used = new long[problem.Hosts.Count];
        foreach (var vm in fixedVms.Where(v => v.FileMiB > 0))
        {
            var (now, crossedNow) = simulation.Where(vm.Index, s);
            var (before, crossedBefore) = simulation.Where(vm.Index, s - 1);
            if (!crossedNow)
            {
                used[now] += vm.FileMiB;
            }

            if (!crossedBefore && (crossedNow || before != now))
            {
                used[before] += vm.FileMiB;
            }
        }

        return used;
    }

    private void AddNewCeph()
    {
        var hosts = problem.Hosts;
        for (var s = 1; s <= stages; s++)
        {
            var pveHosts = hosts.Where(h => !h.Excluded && IsPve(h.Index, s)).ToList();
            var capacity = pveHosts.Count >= problem.NewCephMinHosts ? problem.NewCephCapacityMiB(pveHosts) : 0;
            long used = 0;
            foreach (var vm in problem.Vms.Where(v => !isFree[v.Index] && current.Vms[v.Index].OnPveCeph && current.Vms[v.Index].CrossStage <= s))
            {
                used += vm.ProvisionedMiB;
            }

            var usage = LinearExpr.NewBuilder();
            foreach (var v in free)
            {
                var vm = problem.Vms[v];
                if (capacity == 0 || pveHosts.Count < problem.NewCephMinHosts)
                {
                    // No new Ceph at s: nothing lands on it in wave s.
                    Model.Add(ceph[v] + CrossingIn(v, s) <= 1);
                }

                if (vm.ProvisionedMiB > 0)
                {
                    var held = Model.NewBoolVar($"ceph_held_{v}_{s}");
                    Model.Add(held >= ceph[v] + CrossedBy(v, s) - 1);
                    usage.AddTerm(held, vm.ProvisionedMiB);
                }
            }

            Model.Add(usage + used <= capacity);
        }
    }

    private void AddZfsAndSpread()
    {
        var hosts = problem.Hosts;
        var targets = hosts.Where(h => !h.Excluded && IsPve(h.Index, stages) && h.RamCapacityMiB > 0).ToList();
        var max = Model.NewIntVar(0, SpreadScale, "fill_max");
        var min = Model.NewIntVar(0, SpreadScale, "fill_min");
        foreach (var p in hosts.Where(p => !p.Excluded))
        {
            long zfsFixed = 0, ramFixed = 0;
            foreach (var vm in problem.Vms.Where(v => !isFree[v.Index] && current.Vms[v.Index].TargetHost == p.Index))
            {
                zfsFixed += current.Vms[vm.Index].OnPveCeph ? 0 : vm.ProvisionedMiB;
                ramFixed += vm.RamMiB;
            }

            var zfs = LinearExpr.NewBuilder();
            var ram = LinearExpr.NewBuilder();
            foreach (var v in free)
            {
                var vm = problem.Vms[v];
                var landed = Enumerable.Range(1, stages).Select(s => x.GetValueOrDefault((v, p.Index, s))).OfType<BoolVar>().ToList();
                if (landed.Count == 0)
                {
                    continue;
                }

                ram.AddTerm(LinearExpr.Sum(landed), vm.RamMiB * SpreadScale);
                if (vm.ProvisionedMiB > 0)
                {
                    var onZfs = Model.NewBoolVar($"zfs_{v}_{p.Index}");
                    Model.Add(onZfs >= LinearExpr.Sum(landed) - ceph[v]);
                    zfs.AddTerm(onZfs, vm.ProvisionedMiB);
                }
            }

            Model.Add(zfs + zfsFixed <= p.ZfsCapacityMiB);
            if (targets.Contains(p) && targets.Count > 1)
            {
                Model.Add(max * p.RamCapacityMiB >= ram + (ramFixed * SpreadScale));
                Model.Add(min * p.RamCapacityMiB <= ram + (ramFixed * SpreadScale));
            }
        }

        RamSpread = targets.Count > 1 ? max - min : LinearExpr.Constant(0);
    }

    /// <summary>
    /// Redundant constraints for a whole-fleet solve without a start plan (ADR 0026), valid for every solution:
    /// a free VM not on PVE when its home converts has arrived somewhere by live migration (its home holds nothing
    /// then), which gives the LP the live-migration relaxation's count; and free VMs of one home with the same
    /// numbers and no pins cross in index order (swapping their whole paths changes nothing).
    /// </summary>
    public void AddLeaveHomeCuts()
    {
        foreach (var v in free)
        {
            var vm = problem.Vms[v];
            if (current.ConversionStage[vm.Home] is not { } c || c >= stages)
            {
                continue;
            }

            var own = arrivals.Where(a => a.Key.Vm == v).Select(a => a.Value).ToList();
            Model.Add(LinearExpr.Sum(own) >= 1 - CrossedBy(v, c));
        }

        var groups = free.Select(v => problem.Vms[v])
            .Where(vm => !problem.PinnedHost.ContainsKey(vm.Index) && !problem.PinnedStage.ContainsKey(vm.Index))
            .GroupBy(vm => (vm.Home, vm.RamMiB, vm.RbdMiB, vm.CopyMiB, vm.ProvisionedMiB, vm.FileMiB, vm.HopMiB, vm.FileBacked));
        foreach (var group in groups)
        {
            var list = group.OrderBy(vm => vm.Index).ToList();
            for (var i = 1; i < list.Count; i++)
            {
                Model.Add(CrossingStage(list[i - 1].Index) <= CrossingStage(list[i].Index));
            }
        }
    }

    private LinearExpr CrossingStage(int v)
        => LinearExpr.WeightedSum(
            x.Where(e => e.Key.Vm == v).Select(e => e.Value),
            x.Where(e => e.Key.Vm == v).Select(e => (long)e.Key.Stage));

    /// <summary>Each free VM crosses in the wave given (the schedule relaxation's), on a host of the model's choice.</summary>
    public void FixCrossingWaves(IReadOnlyList<int> waves)
    {
        foreach (var ((v, _, s), var) in x)
        {
            if (s != waves[v])
            {
                Model.Add(var == 0);
            }
        }
    }

    /// <summary>VM <paramref name="v"/> is on PVE by stage <paramref name="s"/> (a restriction: the model is no longer a bound).</summary>
    public void RequireCrossedBy(int v, int s) => Model.Add(CrossedBy(v, s) == 1);

    /// <summary>Hints the current decisions of the free VMs (a valid solution of this model).</summary>
    public void HintCurrent()
    {
        foreach (var ((v, h, s), var) in x)
        {
            Model.AddHint(var, current.Vms[v].CrossStage == s && current.Vms[v].TargetHost == h);
        }

        foreach (var ((v, h, s), var) in z)
        {
            var (host, crossed) = simulation.Where(v, s);
            Model.AddHint(var, !crossed && host == h);
        }

        foreach (var (v, var) in ceph)
        {
            Model.AddHint(var, current.Vms[v].OnPveCeph);
        }
    }

    /// <summary>The current decisions with the free VMs' paths read from the solution.</summary>
    public SolverDecisions Extract(CpSolver solver)
    {
        var decisions = current.Vms.ToArray();
        foreach (var v in free)
        {
            var ((_, target, stage), _) = x.First(e => e.Key.Vm == v && solver.BooleanValue(e.Value));
            var hops = new List<LiveHop>();
            var at = problem.Vms[v].Home;
            for (var s = 1; s < stage; s++)
            {
                var host = problem.Hosts.First(h => Z(v, h.Index, s) is { } var && solver.BooleanValue(var)).Index;
                if (host != at)
                {
                    hops.Add(new LiveHop(s, host));
                    at = host;
                }
            }

            decisions[v] = new VmDecision(stage, target, solver.BooleanValue(ceph[v]), hops);
        }

        return current with { Vms = decisions };
    }
}
