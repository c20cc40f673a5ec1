using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;

namespace Taquin.Planner.Tests.Planning;

/// <summary>Small inventories built in memory, sized in GiB so the scenarios read like a whiteboard.</summary>
internal static class TestFleets
{
    public const long G = ByteSize.GiB;

    public static HostSpec Host(string name, int ramGib = 128, int oldOsdGib = 3000, int zfsGib = 2000, int newOsdGib = 3000, double nic = 10, bool alreadyPve = false, bool excluded = false)
        => new()
        {
            Name = name,
            RamBytes = ramGib * G,
            Cores = 16,
            NicGbits = nic,
            AlreadyPve = alreadyPve,
            Excluded = excluded,
            ZfsLayout = ZfsLayout.Stripe,
            Disks =
            [
                new HostDiskGroup("osd", 1, oldOsdGib * G, DiskRole.OldCephOsd, DiskRole.NewCephOsd),
                new HostDiskGroup("zfs", 1, zfsGib * G, DiskRole.None, DiskRole.Zfs),
                new HostDiskGroup("spare-osd", 1, newOsdGib * G, DiskRole.None, DiskRole.NewCephOsd),
            ],
        };

    public static VmRecord RbdVm(string name, string host, int ramGib, int diskGib, int usedGib = -1)
        => Vm(name, host, ramGib, new DiskDevice { SourceKind = DiskSourceKind.Network, Protocol = "rbd", NetworkName = "libvirt/" + name, TargetDev = "vda", Bus = "virtio" }, diskGib, usedGib);

    public static VmRecord FileVm(string name, string host, int ramGib, int diskGib, int usedGib = -1)
        => Vm(name, host, ramGib, new DiskDevice { SourceKind = DiskSourceKind.File, Format = "qcow2", Path = $"/var/lib/libvirt/images/{name}.qcow2", TargetDev = "vda", Bus = "virtio" }, diskGib, usedGib);

    private static VmRecord Vm(string name, string host, int ramGib, DiskDevice disk, int diskGib, int usedGib)
        => new()
        {
            Domain = new LibvirtDomain { Name = name, Uuid = Guid.Empty, MemoryBytes = ramGib * G, VcpuMax = 2 },
            Host = host,
            SourceFile = $"domains/{host}/{name}.xml",
            Disks = [new VmDisk(disk, new VolumeInfo(diskGib * G, usedGib < 0 ? diskGib * G : usedGib * G))],
        };

    public static FleetInventory MakeInventory(IReadOnlyList<HostSpec> hosts, IReadOnlyList<VmRecord> vms, Func<PolicySpec, PolicySpec>? policy = null, int minHosts = 3)
        => new()
        {
            Root = "mem",
            Fleet = new Fleet
            {
                Hosts = hosts,
                OldCeph = new OldCephSpec { PoolSize = 3, NearfullRatio = 0.85 },
                NewCeph = new NewCephSpec { MinHosts = minHosts },
                Policy = (policy ?? (p => p))(new PolicySpec { VlanRange = new VlanRange(100, 3999), RamReservePerHostBytes = 16 * G, ZfsFillRatio = 0.8 }),
            },
            Vms = vms,
            Volumes = new VolumeCatalog(),
            Digest = "sha256:test-" + hosts.Count + "-" + vms.Count,
        };

    /// <summary>A random fleet with room to breathe: hosts run at most 60 % of their usable RAM.</summary>
    public static FleetInventory Random(int seed, int hostCount = 5, int vmsPerHost = 6, bool varied = false)
    {
        var rng = new Random(seed);
        var hosts = Enumerable.Range(1, hostCount)
            .Select(i => Host($"h{i}", ramGib: rng.Next(6, 13) * 32, oldOsdGib: rng.Next(4, 9) * 1000, zfsGib: rng.Next(2, 5) * 2000, nic: rng.Next(0, 2) == 0 ? 10 : 25))
            .ToList();
        if (varied)
        {
            // A spare already on PVE, an excluded host, smaller ZFS pools, slow NICs.
            hosts[^1] = hosts[^1] with { AlreadyPve = seed % 3 == 0 };
            hosts[^2] = hosts[^2] with { Excluded = seed % 4 == 1 };
            hosts = [.. hosts.Select(h => h with
            {
                NicGbits = seed % 2 == 0 ? 1 : h.NicGbits,
                Disks = [.. h.Disks.Select(d => d.After == DiskRole.Zfs ? d with { SizeBytes = rng.Next(2, 5) * 1000 * G } : d)],
            })];
        }

        var vms = new List<VmRecord>();
        foreach (var h in hosts.Where(h => !h.AlreadyPve))
        {
            var budget = (h.RamBytes / G - 16) * 0.6;
            for (var j = 0; j < vmsPerHost; j++)
            {
                var ram = rng.Next(1, 9) * 4;
                if (ram > budget)
                {
                    break;
                }

                budget -= ram;
                var name = $"vm-{h.Name}-{j:00}";
                var disk = rng.Next(1, 20) * 20;
                // Local file disks only from the third host on: a fleet where every host ties a VM down has no plan.
                vms.Add(hosts.IndexOf(h) >= 2 && rng.Next(0, 4) == 0 ? FileVm(name, h.Name, ram, disk, disk / 2) : RbdVm(name, h.Name, ram, disk, disk / 2));
            }
        }

        return MakeInventory(hosts, vms);
    }
}
