using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// A valid relaxation on hosts only: conversion stage per host, and the amounts of RAM, RBD data,
/// storage and NIC bytes that have crossed by each stage as independent quantities. Every constraint
/// is an aggregate that any plan satisfies, so "infeasible within T stages" here proves it for plans.
/// Used to raise the stage lower bound so the stage count can be proven optimal.
/// </summary>
internal static class StageRelaxation
{
    /// <summary>The smallest T in [lower, upper) the relaxation cannot rule out, or upper when all are ruled out.</summary>
    /// <remarks>
    /// Pass the problem rounded for bounds (<see cref="PlanningProblem.ForBounds"/>) to make the result a bound for
    /// plans valid in bytes; by default the context's problem (rounded for plans) is used.
    /// </remarks>
    public static int RaiseLowerBound(SearchContext context, int lower, int upper, PlanningProblem? problem = null)
    {
        for (var t = lower; t < upper; t++)
        {
            var status = Solve(context, problem ?? context.Problem, t);
            context.Log.Add($"relaxation T={t}: {status}");
            if (status != CpSolverStatus.Infeasible)
            {
                return t;
            }
        }

        return upper;
    }

    private static CpSolverStatus Solve(SearchContext context, PlanningProblem problem, int stages)
    {
        var model = new CpModel();
        var conversion = new HostConversionVariables(model, problem.Hosts, stages);
        _ = AddAggregates(model, problem, conversion, stages);
        var (status, _) = context.Solve(model, Math.Max(0.5, context.Options.TimeLimitSeconds * 0.05));
        return status;
    }

    /// <summary>
    /// The relaxation's constraints on the crossed amounts, for the conversion variables given; returns the RAM crossed by
    /// each stage (index 0: nothing), which <see cref="HostMoveRelaxation"/> splits per home host.
    /// </summary>
    internal static IntVar[] AddAggregates(CpModel model, PlanningProblem problem, HostConversionVariables conversion, int stages)
    {
        var vms = problem.Vms;
        var ram = vms.Sum(v => v.RamMiB);
        var rbd = vms.Sum(v => v.RbdMiB);
        var storage = vms.Sum(v => v.ProvisionedMiB);
        var copy = vms.Sum(v => v.CopyMiB);
        IntVar[] Cumulative(string name, long total) => CumulativeAmount(model, name, total, stages);

        var ramCrossed = Cumulative("ram", ram);
        var rbdCrossed = Cumulative("rbd", rbd);
        var storageCrossed = Cumulative("storage", storage);
        var copyCrossed = Cumulative("copy", copy);
        var files = vms.Sum(v => v.FileMiB);
        var filesCrossed = Cumulative("files", files);
        for (var s = 1; s <= stages; s++)
        {
            var room = StageCapacity.Build(model, problem, conversion, s);
            model.Add(ramCrossed[s] <= room.PveRam);
            model.Add(ram - ramCrossed[s] <= room.LibvirtRam);
            model.Add(storageCrossed[s] <= room.PveStorage);
            model.Add(rbd - rbdCrossed[s - 1] <= room.OldCeph);
            model.Add(copyCrossed[s] - copyCrossed[s - 1] <= room.Budget);
            // A VM's move carries at least its RBD data: RBD leaves the old Ceph only as fast as copies run.
            model.Add(rbdCrossed[s] - rbdCrossed[s - 1] <= copyCrossed[s] - copyCrossed[s - 1]);
            model.Add(files - filesCrossed[s] <= room.LocalImages);
            AddCrossingCuts(model, vms, (ramCrossed[s], rbdCrossed[s], storageCrossed[s]), (ram, rbd, storage));
        }

        return ramCrossed;
    }

    /// <summary>
    /// The knapsack cuts that tie the crossed amounts of one stage together: the VMs that crossed (and those that did
    /// not) are a set of VMs, so each amount is at most what the densest VMs carry for another. Shared by the host-level
    /// relaxations (this one, <see cref="HostMoveRelaxation"/>, <see cref="HostClassRelaxation"/>).
    /// </summary>
    internal static void AddCrossingCuts(CpModel model, IReadOnlyList<SolverVm> vms, (LinearExpr Ram, LinearExpr Rbd, LinearExpr Storage) crossed, (long Ram, long Rbd, long Storage) total, bool rbdPerRam = true)
    {
        // RBD data leaves the old Ceph only with VMs that take PVE storage and PVE RAM: the RBD-densest VMs per MiB of
        // each (ADR 0032 for the RAM cut: without it the 5,000-VM bound let RBD cross with RAM it does not have).
        AddKnapsackCut(model, crossed.Rbd, crossed.Storage, vms.Select(v => (v.RbdMiB, v.ProvisionedMiB)));
        if (rbdPerRam)
        {
            AddKnapsackCut(model, crossed.Rbd, crossed.Ram, vms.Select(v => (v.RbdMiB, v.RamMiB)));
        }

        AddKnapsackCut(model, crossed.Ram, crossed.Storage, vms.Select(v => (v.RamMiB, v.ProvisionedMiB)));
        // The VMs not yet crossed are a set of VMs too: their RAM and storage are bounded by the most any VMs with
        // their RBD data (or storage) can have. At the last stage no RBD data is left, so what stays is file-only VMs.
        AddKnapsackCut(model, total.Ram - crossed.Ram, total.Rbd - crossed.Rbd, vms.Select(v => (v.RamMiB, v.RbdMiB)));
        AddKnapsackCut(model, total.Storage - crossed.Storage, total.Rbd - crossed.Rbd, vms.Select(v => (v.ProvisionedMiB, v.RbdMiB)));
        AddKnapsackCut(model, total.Ram - crossed.Ram, total.Storage - crossed.Storage, vms.Select(v => (v.RamMiB, v.ProvisionedMiB)));
    }

    /// <summary>
    /// An amount that has crossed by each stage 0..T: 0 at stage 0, never decreasing, all of <paramref name="total"/> at T
    /// (every VM ends on PVE).
    /// </summary>
    internal static IntVar[] CumulativeAmount(CpModel model, string name, long total, int stages)
    {
        var vars = new IntVar[stages + 1];
        vars[0] = model.NewConstant(0);
        for (var s = 1; s <= stages; s++)
        {
            vars[s] = model.NewIntVar(0, total, $"{name}_{s}");
            model.Add(vars[s] >= vars[s - 1]);
        }

        model.Add(vars[stages] == total);
        return vars;
    }

    /// <summary>
    /// <paramref name="value"/> ≤ the most value any set of items with total weight <paramref name="weight"/> can
    /// carry, items being fractional (so the bound is valid for whole VMs): the upper hull of the items sorted by
    /// value per weight, one line per segment. Items without weight bound nothing and are all counted at once.
    /// </summary>
    internal static void AddKnapsackCut(CpModel model, LinearExpr value, LinearExpr weight, IEnumerable<(long Value, long Weight)> items)
    {
        var list = items.ToList();
        var free = list.Where(i => i.Weight <= 0).Sum(i => i.Value);
        var segments = list.Where(i => i.Weight > 0 && i.Value > 0)
            .GroupBy(i => (double)i.Value / i.Weight)
            .OrderByDescending(g => g.Key)
            .Select(g => (Value: g.Sum(i => i.Value), Weight: g.Sum(i => i.Weight)))
            .ToList();
        const int MaxLines = 48;
        const long CoefficientLimit = 1L << 52;
        var totalValue = list.Sum(i => i.Value);
        var totalWeight = list.Sum(i => i.Weight);
        var step = Math.Max(1, (segments.Count + MaxLines - 1) / MaxLines);
        long valueBefore = free, weightBefore = 0;
        for (var k = 0; k < segments.Count; k++)
        {
            var (v, w) = segments[k];
            // Skipping lines keeps the bound valid (the hull is the minimum of all of them), only looser.
            // A line whose coefficients could overflow CP-SAT's 64-bit arithmetic is left out (fleets of petabytes).
            if ((k % step == 0 || k == segments.Count - 1) && w <= CoefficientLimit / Math.Max(1, totalValue) && v <= CoefficientLimit / Math.Max(1, totalWeight))
            {
                // value ≤ valueBefore + (v / w)·(weight − weightBefore), scaled by w to stay integral.
                model.Add(w * value <= (w * valueBefore) - (v * weightBefore) + (v * weight));
            }

            valueBefore += v;
            weightBefore += w;
        }
    }
}
