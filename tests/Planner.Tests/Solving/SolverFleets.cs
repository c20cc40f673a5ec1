using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Samples;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>Generated fleets loaded in memory for solver tests.</summary>
internal static class SolverFleets
{
    private static readonly Lock Gate = new();

    /// <summary>
    /// A generated fleet, by default with file disks turned into RBD images (fleets of pure RBD VMs
    /// exercise the old Ceph); <paramref name="keepFileDisks"/> keeps the generator's file-disk VMs.
    /// </summary>
    public static FleetInventory Generated(long seed, int vms, int hosts, bool keepFileDisks = false)
    {
        var folder = Path.Combine(Path.GetTempPath(), "taquin-solver-tests", $"{seed}-{vms}-{hosts}-{Environment.ProcessId}");
        // Test classes run in parallel: without the lock one could load the folder while another is still writing it.
        lock (Gate)
        {
            if (!Directory.Exists(folder))
            {
                FleetGenerator.Generate(new FleetGeneratorOptions { Seed = seed, Vms = vms, Hosts = hosts }).WriteTo(folder);
            }
        }

        var loaded = InventoryLoader.Load(folder);
        var inventory = loaded.Inventory ?? throw new InvalidOperationException(string.Join("; ", loaded.Diagnostics));
        return keepFileDisks ? inventory : RbdOnly(inventory);
    }

    /// <summary>
    /// A generated fleet with its file disks, as the planner sees it (planning rounding, in a search context with a
    /// 10 s limit) and as the bounds see it (demands rounded down, capacities up).
    /// </summary>
    public static (SearchContext Context, PlanningProblem Relaxed) Problems(int seed, int vms, int hosts)
    {
        var inventory = Generated(seed, vms, hosts, keepFileDisks: true);
        var options = Planning.Options(10);
        var context = new SearchContext(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None);
        return (context, PlanningProblem.From(inventory, options, forBounds: true));
    }

    public static FleetInventory RbdOnly(FleetInventory inventory)
    {
        DiskDevice ToRbd(string vm, DiskDevice d) => d.IsCdrom || d.IsRbd || d.SourceKind == DiskSourceKind.None
            ? d
            : d with { SourceKind = DiskSourceKind.Network, Protocol = "rbd", NetworkName = $"libvirt/{vm}-{d.TargetDev}", Path = null };
        var vms = inventory.Vms.Select(v => v with
        {
            Domain = v.Domain with { Disks = [.. v.Domain.Disks.Select(d => ToRbd(v.Name, d))] },
            Disks = [.. v.Disks.Select(d => d with { Device = ToRbd(v.Name, d.Device) })],
        }).ToList();
        return inventory with { Vms = vms };
    }
}
