namespace Taquin.Planner.Inventory;

/// <summary>The fleet file (fleet.yaml): hosts, the old Ceph, the new Ceph and the migration policy.</summary>
public sealed record Fleet
{
    public required IReadOnlyList<HostSpec> Hosts { get; init; }
    public required OldCephSpec OldCeph { get; init; }
    public NewCephSpec NewCeph { get; init; } = new();
    public required PolicySpec Policy { get; init; }
    /// <summary>The router taking over the VMs' routes; null when the fleet file has no <c>router:</c> section.</summary>
    public RouterSpec? Router { get; init; }

    public HostSpec? FindHost(string name) => Hosts.FirstOrDefault(h => h.Name == name);
}

public enum DiskRole
{
    /// <summary>OS disk; carries nothing Taquin plans with.</summary>
    System,
    /// <summary>An OSD of the old (libvirt-side) Ceph.</summary>
    OldCephOsd,
    /// <summary>A local disk holding libvirt file images (qcow2/raw).</summary>
    LocalImages,
    /// <summary>Part of the host's ZFS pool after reinstall as PVE.</summary>
    Zfs,
    /// <summary>An OSD of the new PVE Ceph after reinstall.</summary>
    NewCephOsd,
    /// <summary>Unused.</summary>
    None,
}

/// <summary>A group of identical physical disks in a host: what they are now and what they become as PVE.</summary>
public sealed record HostDiskGroup(string Model, int Count, long SizeBytes, DiskRole Now, DiskRole After);

public enum ZfsLayout
{
    Stripe,
    Mirror,
    RaidZ1,
    RaidZ2,
}

public sealed record HostSpec
{
    public required string Name { get; init; }
    public required long RamBytes { get; init; }
    public required int Cores { get; init; }
    public required double NicGbits { get; init; }
    /// <summary>user@address[:port] for SSH; null when only files are used.</summary>
    public string? Ssh { get; init; }
    public IReadOnlyList<HostDiskGroup> Disks { get; init; } = [];
    public ZfsLayout ZfsLayout { get; init; } = ZfsLayout.Mirror;
    /// <summary>Excluded hosts are never converted nor used as a target (admin's choice).</summary>
    public bool Excluded { get; init; }
    /// <summary>True when the host already runs PVE at stage 0 (a spare, or a rerun after partial progress).</summary>
    public bool AlreadyPve { get; init; }

    public long OldCephOsdRawBytes => Disks.Where(d => d.Now == DiskRole.OldCephOsd).Sum(d => d.Count * d.SizeBytes);
    public long NewCephOsdRawBytes => Disks.Where(d => d.After == DiskRole.NewCephOsd).Sum(d => d.Count * d.SizeBytes);
    public long LocalImagesBytes => Disks.Where(d => d.Now == DiskRole.LocalImages).Sum(d => d.Count * d.SizeBytes);

    /// <summary>Usable bytes of the ZFS pool after reinstall, from the disks that become ZFS and the layout.</summary>
    public long ZfsUsableBytes
    {
        get
        {
            var zfs = Disks.Where(d => d.After == DiskRole.Zfs).ToList();
            var count = zfs.Sum(d => d.Count);
            if (count == 0)
            {
                return 0;
            }

            // Pools are built from equal disks: the smallest bounds every vdev.
            var smallest = zfs.Min(d => d.SizeBytes);
            var usableDisks = ZfsLayout switch
            {
                ZfsLayout.Stripe => count,
                ZfsLayout.Mirror => count / 2,
                ZfsLayout.RaidZ1 => Math.Max(0, count - 1),
                ZfsLayout.RaidZ2 => Math.Max(0, count - 2),
                _ => count,
            };
            return usableDisks * smallest;
        }
    }
}

public sealed record OldCephSpec
{
    /// <summary>Replication size of the pool holding the VM images.</summary>
    public int PoolSize { get; init; } = 3;
    public double NearfullRatio { get; init; } = 0.85;
    /// <summary>Pools that hold VM images (informational; all RBD disks count).</summary>
    public IReadOnlyList<string> Pools { get; init; } = [];
    /// <summary>Monitor addresses, used to register the old Ceph as external RBD storage in PVE.</summary>
    public IReadOnlyList<string> Monitors { get; init; } = [];
}

public sealed record NewCephSpec
{
    public int PoolSize { get; init; } = 3;
    public double NearfullRatio { get; init; } = 0.85;
    public string PoolName { get; init; } = "vm-pool";
    /// <summary>Hosts needed before the new Ceph may be created (3: monitors and size-3 replication).</summary>
    public int MinHosts { get; init; } = 3;
}

public sealed record VlanRange(int From, int To)
{
    public int Count => To - From + 1;
}

public sealed record PolicySpec
{
    public long RamReservePerHostBytes { get; init; } = 8L * 1024 * 1024 * 1024;
    public int CopySlotsPerHost { get; init; } = 2;
    public double WaveWindowHours { get; init; } = 4;
    public required VlanRange VlanRange { get; init; }
    /// <summary>Bridge of the PVE hosts that carries the per-VM VLANs (VLAN-aware).</summary>
    public string Bridge { get; init; } = "vmbr0";
    /// <summary>Preferred disk strategy: cold, warm or attach-and-move.</summary>
    public string DefaultStrategy { get; init; } = "warm";
    /// <summary>Fraction of ZFS capacity the planner may fill.</summary>
    public double ZfsFillRatio { get; init; } = 0.8;
    /// <summary>
    /// How disk bytes travel: "direct" (source host pipes to the target host over SSH), "relayed" (through the
    /// orchestrator), "target-client" (the PVE node is a client of both clusters and pipes locally) or "direct-tcp" (plain TCP on a migration network).
    /// </summary>
    public string CopyDataPath { get; init; } = "direct";
    /// <summary>How copies are verified before cutover, as the planner counts it: "full" or "sampled" (match the access file's movers.verify).</summary>
    public string Verify { get; init; } = "full";
    /// <summary>Rates file (docs/rates-format.md) as written in fleet.yaml, relative to the inventory folder; null = default rates.</summary>
    public string? RatesFile { get; init; }
}

/// <summary>How the router side of a VM's VLAN is applied: networkd reload, or ip commands beside the persisted files.</summary>
public enum RouterApplyMode
{
    /// <summary>Write the files, <c>networkctl reload</c> and <c>networkctl reconfigure</c> of the trunk.</summary>
    Networkd,
    /// <summary>Write the files (for the next boot) and set the same state at once with <c>ip</c> commands.</summary>
    Iproute2,
}

/// <summary>
/// The router that takes over the VMs' routes from the libvirt hosts (fleet.yaml <c>router:</c>, docs/adr/0009):
/// one VLAN interface per VM on <see cref="Trunk"/>, bird2 static protocols announcing the VMs' prefixes.
/// </summary>
public sealed record RouterSpec
{
    /// <summary>Name the SSH runner knows the router by.</summary>
    public string Host { get; init; } = "router";
    /// <summary>user@address[:port] for SSH.</summary>
    public string? Ssh { get; init; }
    /// <summary>The link carrying the VLANs of the PVE hosts' bridge (VLAN interfaces are created on it).</summary>
    public string Trunk { get; init; } = "bond0";
    /// <summary>networkd file of the trunk; each VM's <c>VLAN=</c> line goes in a drop-in beside it.</summary>
    public string TrunkNetworkFile { get; init; } = "10-bond0.network";
    public string NetworkdDirectory { get; init; } = "/etc/systemd/network";
    /// <summary>Folder the router's bird.conf includes (<c>include "DIR/*.conf";</c>), one file per VM.</summary>
    public string BirdDirectory { get; init; } = "/etc/bird/taquin.d";
    public string BirdSocket { get; init; } = "/run/bird/bird.ctl";
    public RouterApplyMode Apply { get; init; } = RouterApplyMode.Networkd;
}
