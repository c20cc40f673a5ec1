namespace Taquin.Planner.Inventory;

/// <summary>The figures an admin checks first on an inventory: what there is, and how full the storage is.</summary>
public sealed record InventorySummary
{
    public required int Hosts { get; init; }
    public required int ExcludedHosts { get; init; }
    public required long HostRamBytes { get; init; }
    public required int HostCores { get; init; }

    public required int Vms { get; init; }
    public required int RunningVms { get; init; }
    public required long VmRamBytes { get; init; }
    public required int UefiVms { get; init; }
    public required int RbdDisks { get; init; }
    /// <summary>Provisioned bytes of the RBD disks.</summary>
    public required long RbdBytes { get; init; }
    /// <summary>Bytes really used by the RBD disks (provisioned when usage unknown): the data on the old Ceph.</summary>
    public required long RbdUsedBytes { get; init; }
    public required int FileDisks { get; init; }
    public required long FileBytes { get; init; }
    public required long FileUsedBytes { get; init; }
    /// <summary>Disk bus -> number of disks using it (cdroms included).</summary>
    public required IReadOnlyDictionary<string, int> Buses { get; init; }

    public required long OldCephRawBytes { get; init; }
    /// <summary>Raw / pool size × nearfull ratio: what the old Ceph can hold before it warns.</summary>
    public required long OldCephUsableBytes { get; init; }
    public double OldCephFillRatio => OldCephUsableBytes > 0 ? (double)RbdUsedBytes / OldCephUsableBytes : 0;

    /// <summary>Sum of the ZFS pools of every non-excluded host once reinstalled.</summary>
    public required long ZfsUsableBytes { get; init; }
    public required long NewCephRawBytes { get; init; }
    public required long NewCephUsableBytes { get; init; }

    public static InventorySummary From(FleetInventory inv)
    {
        var fleet = inv.Fleet;
        var usable = fleet.Hosts.Where(h => !h.Excluded).ToList();
        var disks = inv.Vms.SelectMany(v => v.Disks).ToList();
        var rbd = disks.Where(d => d.Device.IsRbd).ToList();
        var files = disks.Where(d => !d.Device.IsRbd && !d.Device.IsCdrom).ToList();
        var oldRaw = fleet.Hosts.Sum(h => h.OldCephOsdRawBytes);
        var newRaw = usable.Sum(h => h.NewCephOsdRawBytes);

        return new InventorySummary
        {
            Hosts = fleet.Hosts.Count,
            ExcludedHosts = fleet.Hosts.Count - usable.Count,
            HostRamBytes = fleet.Hosts.Sum(h => h.RamBytes),
            HostCores = fleet.Hosts.Sum(h => h.Cores),
            Vms = inv.Vms.Count,
            RunningVms = inv.Vms.Count(v => v.Running),
            VmRamBytes = inv.Vms.Sum(v => v.RamBytes),
            UefiVms = inv.Vms.Count(v => v.Domain.IsUefi),
            RbdDisks = rbd.Count,
            RbdBytes = rbd.Sum(d => d.Volume?.SizeBytes ?? 0),
            RbdUsedBytes = rbd.Sum(d => d.Volume?.BytesToCopy ?? 0),
            FileDisks = files.Count,
            FileBytes = files.Sum(d => d.Volume?.SizeBytes ?? 0),
            FileUsedBytes = files.Sum(d => d.Volume?.BytesToCopy ?? 0),
            Buses = inv.Vms.SelectMany(v => v.Domain.Disks).GroupBy(d => d.Bus, StringComparer.Ordinal)
                .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            OldCephRawBytes = oldRaw,
            OldCephUsableBytes = Usable(oldRaw, fleet.OldCeph.PoolSize, fleet.OldCeph.NearfullRatio),
            ZfsUsableBytes = usable.Sum(h => h.ZfsUsableBytes),
            NewCephRawBytes = newRaw,
            NewCephUsableBytes = Usable(newRaw, fleet.NewCeph.PoolSize, fleet.NewCeph.NearfullRatio),
        };
    }

    private static long Usable(long raw, int poolSize, double nearfull) => poolSize < 1 ? 0 : (long)(raw / (double)poolSize * nearfull);
}
