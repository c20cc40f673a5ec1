namespace Taquin.Planner.Solving;

/// <summary>A libvirt to libvirt live migration of a VM, arriving on <paramref name="Host"/> at <paramref name="Stage"/>.</summary>
internal readonly record struct LiveHop(int Stage, int Host);

/// <summary>What happens to one VM: where it goes on PVE, at which stage, and its live migrations before.</summary>
internal sealed record VmDecision(int CrossStage, int TargetHost, bool OnPveCeph, IReadOnlyList<LiveHop> Hops);

/// <summary>
/// The solver's answer in indices: stage count, conversion stage per host and one decision per VM.
/// Everything else of a plan (placements per stage, actions, metrics) follows from these.
/// </summary>
internal sealed record SolverDecisions(int Stages, IReadOnlyList<int?> ConversionStage, IReadOnlyList<VmDecision> Vms)
{
    public int LiveMigrations => Vms.Sum(v => v.Hops.Count);

    /// <summary>MiB of file disks copied by live migrations with storage copy.</summary>
    public long StorageCopyMiB(PlanningProblem problem) => Vms.Select((v, i) => v.Hops.Count * problem.Vms[i].StorageCopyMiB).Sum();

    /// <summary>The stage at which the new Ceph is created: the first stage a VM lands on it.</summary>
    public int? PveCephCreatedStage => Vms.Where(v => v.OnPveCeph).Select(v => (int?)v.CrossStage).Min();
}

/// <summary>The state of every host and VM at every stage, derived from decisions, and every rule checked on it.</summary>
internal sealed class PlanSimulation
{
    public enum State
    {
        Libvirt,
        Converting,
        Pve,
    }

    private readonly PlanningProblem problem;
    private readonly SolverDecisions decisions;

    public PlanSimulation(PlanningProblem problem, SolverDecisions decisions)
    {
        this.problem = problem;
        this.decisions = decisions;
    }

    public string HostName(int host) => problem.Hosts[host].Name;

    public State HostState(int host, int stage)
    {
        var h = problem.Hosts[host];
        if (h.AlreadyPve)
        {
            return State.Pve;
        }

        if (decisions.ConversionStage[host] is not { } c)
        {
            return State.Libvirt;
        }

        return stage < c ? State.Libvirt : stage == c ? State.Converting : State.Pve;
    }

    /// <summary>Host of the VM at a stage and whether it is still on libvirt.</summary>
    public (int Host, bool Crossed) Where(int vm, int stage)
    {
        var d = decisions.Vms[vm];
        if (stage >= d.CrossStage)
        {
            return (d.TargetHost, true);
        }

        var host = problem.Vms[vm].Home;
        foreach (var hop in d.Hops)
        {
            if (hop.Stage <= stage)
            {
                host = hop.Host;
            }
        }

        return (host, false);
    }

    /// <summary>
    /// MiB each host's NIC carries in wave s, as the verifier counts: the receiver of every move, the
    /// sender when data leaves its own disks (file images) or RAM (live migrations, with storage copy
    /// RAM + file data).
    /// </summary>
    public long[] NicCharges(int s)
    {
        var charge = new long[problem.Hosts.Count];
        foreach (var vm in problem.Vms)
        {
            var d = decisions.Vms[vm.Index];
            var (before, _) = Where(vm.Index, s - 1);
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
                var (after, _) = Where(vm.Index, s);
                charge[after] += vm.HopMiB;
                charge[before] += vm.HopMiB;
            }
        }

        return charge;
    }

    /// <summary>MiB of file disks on each host at stage s, as the verifier counts: there at s, or there at s − 1 and gone in wave s (deleted once the wave is committed).</summary>
    public long[] LocalImages(int s)
    {
        var used = new long[problem.Hosts.Count];
        foreach (var vm in problem.Vms.Where(v => v.FileMiB > 0))
        {
            var (now, crossedNow) = Where(vm.Index, s);
            if (!crossedNow)
            {
                used[now] += vm.FileMiB;
            }

            if (s > 0)
            {
                var (before, crossedBefore) = Where(vm.Index, s - 1);
                if (!crossedBefore && (crossedNow || before != now))
                {
                    used[before] += vm.FileMiB;
                }
            }
        }

        return used;
    }

    /// <summary>Every broken rule, in words; empty when the decisions form a valid plan.</summary>
    public IReadOnlyList<string> Violations()
    {
        var errors = new List<string>();
        var hosts = problem.Hosts;
        var vms = problem.Vms;
        var t = decisions.Stages;
        foreach (var h in hosts.Where(h => h.Convertible))
        {
            if (decisions.ConversionStage[h.Index] is not { } c || c < 1 || c > t)
            {
                errors.Add($"host {h.Name} is not converted within stages 1..{t}");
            }
        }

        foreach (var h in hosts.Where(h => !h.Convertible && decisions.ConversionStage[h.Index] is not null))
        {
            errors.Add($"host {h.Name} is converted but is excluded or already PVE");
        }

        var created = decisions.PveCephCreatedStage;
        foreach (var vm in vms)
        {
            var d = decisions.Vms[vm.Index];
            if (d.CrossStage < 1 || d.CrossStage > t)
            {
                errors.Add($"{vm.Name} crosses at stage {d.CrossStage}, outside 1..{t}");
                continue;
            }

            if (HostState(d.TargetHost, d.CrossStage) != State.Pve || hosts[d.TargetHost].Excluded)
            {
                errors.Add($"{vm.Name} crosses at stage {d.CrossStage} to {hosts[d.TargetHost].Name}, which is not a usable PVE host then");
            }

            foreach (var hop in d.Hops.Where(h => vm.FileBacked && !hosts[h.Host].FileCopyTarget))
            {
                errors.Add($"{vm.Name} has a file disk and cannot be copied onto {hosts[hop.Host].Name} (no local-images room for copies)");
            }

            if (d.Hops.Any(h => h.Stage >= d.CrossStage) || d.Hops.Select(h => h.Stage).Distinct().Count() != d.Hops.Count)
            {
                errors.Add($"{vm.Name} live-migrates at or after its crossing, or twice in one wave");
            }

            if (problem.PinnedHost.TryGetValue(vm.Index, out var ph) && ph != d.TargetHost)
            {
                errors.Add($"{vm.Name} is pinned to {hosts[ph].Name}");
            }

            if (problem.PinnedStage.TryGetValue(vm.Index, out var ps) && ps != d.CrossStage)
            {
                errors.Add($"{vm.Name} is pinned to stage {ps}");
            }

            for (var s = 0; s < d.CrossStage; s++)
            {
                var (host, _) = Where(vm.Index, s);
                if (HostState(host, s) != State.Libvirt || (s > 0 && hosts[host].Excluded && host != vm.Home))
                {
                    errors.Add($"{vm.Name} sits on {hosts[host].Name} at stage {s}, which is not a usable libvirt host then");
                }
            }
        }

        var order = problem.PinnedOrder;
        for (var i = 1; i <= order.Count && order.Count > 0; i++)
        {
            var a = decisions.ConversionStage[order[i - 1]];
            var followers = i < order.Count ? [order[i]] : hosts.Where(h => h.Convertible && !order.Contains(h.Index)).Select(h => h.Index).ToList();
            foreach (var f in followers)
            {
                var b = decisions.ConversionStage[f];
                if (a is null || b is null || a >= b)
                {
                    errors.Add($"conversion order pin broken: {hosts[order[i - 1]].Name} must convert before {hosts[f].Name}");
                }
            }
        }

        for (var s = 0; s <= t; s++)
        {
            var ram = new long[hosts.Count];
            var zfs = new long[hosts.Count];
            long oldCeph = 0, newCeph = 0;
            foreach (var vm in vms)
            {
                var d = decisions.Vms[vm.Index];
                var (host, crossed) = Where(vm.Index, s);
                ram[host] += vm.RamMiB;
                if (crossed && !d.OnPveCeph)
                {
                    zfs[host] += vm.ProvisionedMiB;
                }

                if (crossed && d.OnPveCeph)
                {
                    newCeph += vm.ProvisionedMiB;
                }

                if (d.CrossStage >= s)
                {
                    oldCeph += vm.RbdMiB;
                }
            }

            foreach (var h in hosts)
            {
                if (ram[h.Index] > h.RamCapacityMiB)
                {
                    errors.Add($"stage {s}: {h.Name} needs {ram[h.Index]} MiB RAM, offers {h.RamCapacityMiB}");
                }

                if (zfs[h.Index] > h.ZfsCapacityMiB)
                {
                    errors.Add($"stage {s}: zfs:{h.Name} holds {zfs[h.Index]} MiB, may hold {h.ZfsCapacityMiB}");
                }
            }

            var oldCap = problem.OldCephCapacityMiB(hosts.Where(h => HostState(h.Index, s) == State.Libvirt));
            if (oldCeph > oldCap)
            {
                errors.Add($"stage {s}: old Ceph holds {oldCeph} MiB, usable {oldCap}");
            }

            var pveHosts = hosts.Where(h => HostState(h.Index, s) == State.Pve).ToList();
            if (newCeph > 0 && (created is null || created > s || pveHosts.Count < problem.NewCephMinHosts))
            {
                errors.Add($"stage {s}: VMs on the new Ceph before it can exist");
            }

            if (newCeph > problem.NewCephCapacityMiB(pveHosts))
            {
                errors.Add($"stage {s}: new Ceph holds {newCeph} MiB, usable {problem.NewCephCapacityMiB(pveHosts)}");
            }

            var local = LocalImages(s);
            foreach (var h in hosts.Where(h => local[h.Index] > h.LocalImagesMiB))
            {
                errors.Add($"stage {s}: {h.Name} holds {local[h.Index]} MiB of local images (incl. copies leaving in wave {s}), may hold {h.LocalImagesMiB}");
            }

            if (s > 0)
            {
                var charge = NicCharges(s);
                foreach (var h in hosts.Where(h => charge[h.Index] > h.CopyBudgetMiB))
                {
                    errors.Add($"wave {s}: {h.Name} moves {charge[h.Index]} MiB, its NIC moves {h.CopyBudgetMiB} MiB in the window");
                }
            }
        }

        return errors;
    }
}
