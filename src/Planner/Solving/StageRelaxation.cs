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
    public static int RaiseLowerBound(SearchContext context, int lower, int upper)
    {
        for (var t = lower; t < upper; t++)
        {
            var status = Solve(context, t);
            context.Log.Add($"relaxation T={t}: {status}");
            if (status != CpSolverStatus.Infeasible)
            {
                return t;
            }
        }

        return upper;
    }

    private static CpSolverStatus Solve(SearchContext context, int stages)
    {
        var problem = context.Problem;
        var hosts = problem.Hosts;
        var vms = problem.Vms;
        var model = new CpModel();
        var conversion = new HostConversionVariables(model, hosts, stages);
        var conv = conversion.Conv;
        LinearExpr Pve(SolverHost h, int s) => conversion.Pve(h, s);
        LinearExpr Libvirt(SolverHost h, int s) => conversion.Libvirt(h, s);

        var ram = vms.Sum(v => v.RamMiB);
        var rbd = vms.Sum(v => v.RbdMiB);
        var storage = vms.Sum(v => v.ProvisionedMiB);
        var copy = vms.Sum(v => v.CopyMiB);
        IntVar[] Cumulative(string name, long total)
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

        var ramCrossed = Cumulative("ram", ram);
        var rbdCrossed = Cumulative("rbd", rbd);
        var storageCrossed = Cumulative("storage", storage);
        var copyCrossed = Cumulative("copy", copy);
        var files = vms.Sum(v => v.FileMiB);
        var filesCrossed = Cumulative("files", files);
        for (var s = 1; s <= stages; s++)
        {
            var pveRam = LinearExpr.NewBuilder();
            var libvirtRam = LinearExpr.NewBuilder();
            var pveStorage = LinearExpr.NewBuilder();
            var oldCeph = LinearExpr.NewBuilder();
            var budget = LinearExpr.NewBuilder();
            var localImages = LinearExpr.NewBuilder();
            foreach (var h in hosts)
            {
                if (!h.Excluded)
                {
                    pveRam.AddTerm(Pve(h, s), h.RamCapacityMiB);
                    // The new Ceph's host minimum is dropped: a relaxation may only add room.
                    pveStorage.AddTerm(Pve(h, s), h.ZfsCapacityMiB + problem.NewCephCapacityMiB([h]));
                    budget.AddTerm(Pve(h, s), h.CopyBudgetMiB);
                }

                libvirtRam.AddTerm(Libvirt(h, s), h.RamCapacityMiB);
                oldCeph.AddTerm(Libvirt(h, s), problem.OldCephCapacityMiB([h]));
                // File images not yet crossed sit on libvirt hosts, within their local-images capacity.
                localImages.AddTerm(Libvirt(h, s), h.LocalImagesMiB);
            }

            model.Add(ramCrossed[s] <= pveRam);
            model.Add(ram - ramCrossed[s] <= libvirtRam);
            model.Add(storageCrossed[s] <= pveStorage);
            model.Add(rbd - rbdCrossed[s - 1] <= oldCeph);
            model.Add(copyCrossed[s] - copyCrossed[s - 1] <= budget);
            // A VM's move carries at least its RBD data: RBD leaves the old Ceph only as fast as copies run.
            model.Add(rbdCrossed[s] - rbdCrossed[s - 1] <= copyCrossed[s] - copyCrossed[s - 1]);
            model.Add(files - filesCrossed[s] <= localImages);
        }

        var (status, _) = context.Solve(model, Math.Max(0.5, context.Options.TimeLimitSeconds * 0.05));
        return status;
    }
}
