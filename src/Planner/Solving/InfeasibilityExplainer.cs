using System.Globalization;
using Taquin.Planner.Inventory;

namespace Taquin.Planner.Solving;

/// <summary>Turns "infeasible" into reasons an admin can act on: quick necessary checks, then the blocking constraint set.</summary>
internal static class InfeasibilityExplainer
{
    private static string Size(long mib) => ByteSize.Format(mib * PlanningProblem.MiB);

    /// <summary>Necessary conditions, each cheap; every failed one is a reason with its numbers.</summary>
    public static IReadOnlyList<string> QuickChecks(PlanningProblem problem)
    {
        var reasons = new List<string>();
        var hosts = problem.Hosts;
        var targets = hosts.Where(h => !h.Excluded).ToList();
        var reserve = Size(problem.RamReserveMiB);
        if (targets.Count == 0)
        {
            reasons.Add("every host is excluded: there is no PVE host to move VMs to");
            return reasons;
        }

        var biggest = targets.MaxBy(h => h.RamCapacityMiB)!;
        var maxZfs = targets.Max(h => h.ZfsCapacityMiB);
        var newCeph = problem.NewCephCapacityMiB(targets);
        foreach (var vm in problem.Vms)
        {
            if (problem.PinnedHost.TryGetValue(vm.Index, out var pinned) && vm.RamMiB > hosts[pinned].RamCapacityMiB)
            {
                reasons.Add($"pin: {vm.Name} is pinned to {hosts[pinned].Name}, but needs {Size(vm.RamMiB)} RAM and {hosts[pinned].Name} offers {Size(hosts[pinned].RamCapacityMiB)} ({reserve} reserve already taken off)");
            }
            else if (vm.RamMiB > biggest.RamCapacityMiB)
            {
                reasons.Add($"{vm.Name} needs {Size(vm.RamMiB)} RAM; the largest PVE host {biggest.Name} offers {Size(biggest.RamCapacityMiB)} once the {reserve} reserve is kept");
            }

            if (vm.ProvisionedMiB > Math.Max(maxZfs, newCeph))
            {
                reasons.Add($"{vm.Name} needs {Size(vm.ProvisionedMiB)} of storage; the largest ZFS pool takes {Size(maxZfs)} (after the fill ratio) and the new Ceph {Size(newCeph)}");
            }

            if (problem.PinnedHost.TryGetValue(vm.Index, out var h) && hosts[h].Excluded)
            {
                reasons.Add($"pin: {vm.Name} is pinned to {hosts[h].Name}, which is excluded");
            }
        }

        foreach (var name in problem.PinnedOrder.Where(h => !hosts[h].Convertible).Select(h => hosts[h].Name))
        {
            reasons.Add($"pin: the conversion order names {name}, which is excluded or already PVE and is never converted");
        }

        var convertible = hosts.Where(h => h.Convertible).ToList();
        var anyPve = hosts.Any(h => h.AlreadyPve && !h.Excluded);
        var totalRam = problem.Vms.Sum(v => v.RamMiB);
        if (convertible.Count > 0)
        {
            var smallest = convertible.MinBy(h => h.RamCapacityMiB)!;
            var room = hosts.Sum(h => h.RamCapacityMiB) - smallest.RamCapacityMiB;
            if (totalRam > room)
            {
                reasons.Add($"the VMs need {Size(totalRam)} RAM in total, but while even the smallest host ({smallest.Name}) is being converted the others offer only {Size(room)}");
            }
        }

        var totalRbd = problem.Vms.Sum(v => v.RbdMiB);
        var oldCapacity = problem.OldCephCapacityMiB(hosts.Where(h => !h.AlreadyPve));
        if (totalRbd > oldCapacity)
        {
            reasons.Add($"the old Ceph already holds {Size(totalRbd)}, more than its usable {Size(oldCapacity)} (raw ÷ pool size × nearfull)");
        }
        else if (!anyPve && convertible.Count > 0)
        {
            // Nothing can leave the old Ceph before a first PVE host exists.
            var best = convertible.MaxBy(h => problem.OldCephCapacityMiB(hosts.Where(o => o != h && !o.AlreadyPve)))!;
            var after = problem.OldCephCapacityMiB(hosts.Where(o => o != best && !o.AlreadyPve));
            if (totalRbd > after)
            {
                reasons.Add($"the old Ceph holds {Size(totalRbd)}, but once the first host leaves it (best choice {best.Name}) it offers only {Size(after)}, and no data can leave before a first PVE host exists");
            }
        }

        // With no PVE host yet, the first host to convert must send its file-disk VMs to another libvirt host by storage copy.
        bool Blocked(SolverHost h) => problem.VmsOn(h.Index).Any(v => v.FileBacked) && !hosts.Any(o => o.Index != h.Index && o.FileCopyTarget);
        if (!anyPve && convertible.Count > 0 && convertible.All(Blocked))
        {
            var examples = string.Join(", ", convertible.Take(3).Select(h => $"{problem.VmsOn(h.Index).First(v => v.FileBacked).Name} on {h.Name}"));
            reasons.Add($"every host runs a VM with a local file disk ({examples}) and no other host has local-images room to receive a storage copy, so no host can be emptied to become the first PVE host; add `now: local-images` disks in fleet.yaml");
        }

        var totalStorage = problem.Vms.Sum(v => v.ProvisionedMiB);
        var storage = targets.Sum(h => h.ZfsCapacityMiB) + (targets.Count >= problem.NewCephMinHosts ? newCeph : 0);
        if (totalStorage > storage)
        {
            reasons.Add($"the VMs need {Size(totalStorage)} of storage on PVE; all ZFS pools (after the fill ratio) and the new Ceph offer {Size(storage)}");
        }

        return reasons;
    }

    /// <summary>Words for a set of constraint groups that together admit no plan.</summary>
    public static IReadOnlyList<string> Describe(PlanningProblem problem, IEnumerable<Blocker> blockers, int stages)
    {
        var hosts = problem.Hosts;
        var reasons = new List<string>();
        foreach (var b in blockers.Distinct().OrderBy(b => b.Family).ThenBy(b => b.Subject))
        {
            reasons.Add(b.Family switch
            {
                ConstraintFamily.Ram => $"RAM of {hosts[b.Subject].Name}: {Size(hosts[b.Subject].RamCapacityMiB)} usable after the {Size(problem.RamReserveMiB)} reserve is too little for the VMs that must sit on it at some stage",
                ConstraintFamily.Zfs => $"ZFS of {hosts[b.Subject].Name}: {Size(hosts[b.Subject].ZfsCapacityMiB)} usable (fill ratio applied) is too little for the VMs that must land on it",
                ConstraintFamily.OldCeph => $"old Ceph: it holds {Size(problem.Vms.Sum(v => v.RbdMiB))} and shrinks as hosts leave (raw of the remaining OSDs ÷ pool size × nearfull); the data cannot leave fast enough",
                ConstraintFamily.NewCeph => $"new Ceph: it exists only with {problem.NewCephMinHosts} PVE hosts and offers {Size(problem.NewCephCapacityMiB(hosts.Where(h => !h.Excluded)))} at most",
                ConstraintFamily.CopyBudget => $"copy budget of {hosts[b.Subject].Name}: its NIC moves {Size(hosts[b.Subject].CopyBudgetMiB)} per wave window",
                ConstraintFamily.LocalImages => $"local images of {hosts[b.Subject].Name}: {Size(hosts[b.Subject].LocalImagesMiB)} for file disks, a copied file counting on its source until its wave is committed",
                ConstraintFamily.PinHost => $"pin: {problem.Vms[b.Subject].Name} → host {hosts[problem.PinnedHost[b.Subject]].Name}",
                ConstraintFamily.PinStage => $"pin: {problem.Vms[b.Subject].Name} → stage {problem.PinnedStage[b.Subject].ToString(CultureInfo.InvariantCulture)}",
                ConstraintFamily.PinOrder => b.Subject < problem.PinnedOrder.Count
                    ? $"pin: conversion order {hosts[problem.PinnedOrder[b.Subject - 1]].Name} before {hosts[problem.PinnedOrder[b.Subject]].Name}"
                    : $"pin: conversion order puts {string.Join(", ", problem.PinnedOrder.Select(h => hosts[h].Name))} before every other host",
                _ => b.ToString(),
            });
        }

        if (reasons.Count > 0)
        {
            reasons.Insert(0, $"no plan within {stages} stages: these constraints together block it (removing any one of them may unblock):");
        }

        return reasons;
    }
}
