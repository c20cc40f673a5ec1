using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// The capacities offered at stage s by the hosts in each state, as linear expressions over the conversion
/// variables: one builder for the host-level relaxations (<see cref="StageRelaxation"/>, <see cref="MoveRelaxation"/>),
/// so both count the same room. The new Ceph's room counts only while it can exist (≥ minHosts PVE hosts).
/// </summary>
internal sealed record StageCapacity(
    LinearExpr PveRam,
    LinearExpr LibvirtRam,
    LinearExpr PveStorage,
    LinearExpr OldCeph,
    LinearExpr Budget,
    LinearExpr LocalImages,
    LinearExpr LocalImagesBefore)
{
    /// <summary>
    /// PVE RAM (minus reserve), libvirt RAM, ZFS + new-Ceph room of PVE hosts, old-Ceph capacity of libvirt hosts,
    /// NIC budget of PVE hosts, local-images capacity of libvirt hosts at s and at s − 1.
    /// </summary>
    public static StageCapacity Build(CpModel model, PlanningProblem problem, HostConversionVariables conversion, int s)
    {
        var pveRam = LinearExpr.NewBuilder();
        var libvirtRam = LinearExpr.NewBuilder();
        var pveStorage = LinearExpr.NewBuilder();
        var oldCeph = LinearExpr.NewBuilder();
        var budget = LinearExpr.NewBuilder();
        var localImages = LinearExpr.NewBuilder();
        var localImagesBefore = LinearExpr.NewBuilder();
        // A host's new-Ceph room is there when the host is PVE and the cluster exists at that stage, as in the exact model.
        var cephExists = model.NewBoolVar($"ceph_exists_{s}");
        model.Add(LinearExpr.Sum(problem.Hosts.Where(h => !h.Excluded).Select(h => conversion.Pve(h, s))) >= problem.NewCephMinHosts)
            .OnlyEnforceIf(cephExists);
        foreach (var h in problem.Hosts)
        {
            if (!h.Excluded)
            {
                pveRam.AddTerm(conversion.Pve(h, s), h.RamCapacityMiB);
                pveStorage.AddTerm(conversion.Pve(h, s), h.ZfsCapacityMiB);
                var cephRoom = problem.NewCephCapacityMiB([h]);
                if (cephRoom > 0)
                {
                    var counted = model.NewBoolVar($"ceph_room_{h.Index}_{s}");
                    model.AddImplication(counted, cephExists);
                    model.Add(counted <= conversion.Pve(h, s));
                    pveStorage.AddTerm(counted, cephRoom);
                }

                budget.AddTerm(conversion.Pve(h, s), h.CopyBudgetMiB);
            }

            libvirtRam.AddTerm(conversion.Libvirt(h, s), h.RamCapacityMiB);
            oldCeph.AddTerm(conversion.Libvirt(h, s), problem.OldCephCapacityMiB([h]));
            localImages.AddTerm(conversion.Libvirt(h, s), h.LocalImagesMiB);
            // A file copied away (or moved to PVE) in wave s still counts at s on its source, libvirt at s − 1.
            localImagesBefore.AddTerm(conversion.Libvirt(h, s - 1), h.LocalImagesMiB);
        }

        return new StageCapacity(pveRam, libvirtRam, pveStorage, oldCeph, budget, localImages, localImagesBefore);
    }
}
