using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;

namespace Taquin.Planner.Tests.Solving;

/// <summary>Small in-memory fleets for solver tests, sized in GiB with round capacities (pool size 1, nearfull 1, fill ratio 1).</summary>
internal sealed class TestFleet
{
    private const long GiB = ByteSize.GiB;
    private readonly List<HostSpec> hosts = [];
    private readonly List<VmRecord> vms = [];
    private readonly Dictionary<string, VolumeInfo> rbd = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, VolumeInfo>> files = new(StringComparer.Ordinal);
    private long reserveGiB;
    private int newCephMinHosts = 3;
    private double windowHours = 4;

    public TestFleet Reserve(long gib)
    {
        reserveGiB = gib;
        return this;
    }

    public TestFleet NewCephMinHosts(int count)
    {
        newCephMinHosts = count;
        return this;
    }

    public TestFleet WaveWindowHours(double hours)
    {
        windowHours = hours;
        return this;
    }

    public TestFleet Host(string name, long ramGiB, long zfsGiB = 1000, long oldOsdGiB = 1000, long newOsdGiB = 0, double nicGbits = 10, bool alreadyPve = false, bool excluded = false, long localImagesGiB = 0)
    {
        var disks = new List<HostDiskGroup>();
        if (localImagesGiB > 0)
        {
            disks.Add(new HostDiskGroup("local-images", 1, localImagesGiB * GiB, DiskRole.LocalImages, DiskRole.None));
        }

        if (zfsGiB > 0)
        {
            disks.Add(new HostDiskGroup("zfs", 1, zfsGiB * GiB, DiskRole.None, DiskRole.Zfs));
        }

        if (oldOsdGiB > 0)
        {
            disks.Add(new HostDiskGroup("old-osd", 1, oldOsdGiB * GiB, DiskRole.OldCephOsd, DiskRole.None));
        }

        if (newOsdGiB > 0)
        {
            disks.Add(new HostDiskGroup("new-osd", 1, newOsdGiB * GiB, DiskRole.None, DiskRole.NewCephOsd));
        }

        hosts.Add(new HostSpec
        {
            Name = name,
            RamBytes = ramGiB * GiB,
            Cores = 16,
            NicGbits = nicGbits,
            Disks = disks,
            ZfsLayout = ZfsLayout.Stripe,
            AlreadyPve = alreadyPve,
            Excluded = excluded,
        });
        return this;
    }

    /// <summary>A VM with one disk: an RBD image on the old Ceph, or a local qcow2 file when <paramref name="file"/>.</summary>
    public TestFleet Vm(string name, string host, long ramGiB, long diskGiB = 10, bool file = false)
    {
        DiskDevice device;
        var volume = new VolumeInfo(diskGiB * GiB, diskGiB * GiB, file ? "qcow2" : "raw");
        if (file)
        {
            var path = $"/var/lib/libvirt/images/{name}.qcow2";
            device = new DiskDevice { SourceKind = DiskSourceKind.File, Path = path, Format = "qcow2", TargetDev = "vda", Bus = "virtio" };
            if (!files.TryGetValue(host, out var byPath))
            {
                files[host] = byPath = new Dictionary<string, VolumeInfo>(StringComparer.Ordinal);
            }

            byPath[path] = volume;
        }
        else
        {
            var image = $"libvirt/{name}-disk0";
            device = new DiskDevice { SourceKind = DiskSourceKind.Network, Protocol = "rbd", NetworkName = image, TargetDev = "vda", Bus = "virtio" };
            rbd[image] = volume;
        }

        var domain = new LibvirtDomain
        {
            Name = name,
            Uuid = new Guid(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name)).AsSpan(0, 16)),
            MemoryBytes = ramGiB * GiB,
            CurrentMemoryBytes = ramGiB * GiB,
            VcpuMax = 2,
            VcpuCurrent = 2,
            Disks = [device],
        };
        vms.Add(new VmRecord { Domain = domain, Host = host, SourceFile = $"domains/{host}/{name}.xml", Disks = [new VmDisk(device, volume)] });
        return this;
    }

    /// <summary>Many VMs named prefix-01.. with the same shape.</summary>
    public TestFleet Vms(string prefix, int count, string host, long ramGiB, long diskGiB = 10, bool file = false)
    {
        for (var i = 1; i <= count; i++)
        {
            Vm($"{prefix}-{i:00}", host, ramGiB, diskGiB, file);
        }

        return this;
    }

    public FleetInventory Build() => new()
    {
        Root = "memory",
        Digest = "test",
        Fleet = new Fleet
        {
            Hosts = hosts,
            OldCeph = new OldCephSpec { PoolSize = 1, NearfullRatio = 1 },
            NewCeph = new NewCephSpec { PoolSize = 1, NearfullRatio = 1, MinHosts = newCephMinHosts },
            Policy = new PolicySpec
            {
                RamReservePerHostBytes = reserveGiB * GiB,
                VlanRange = new VlanRange(100, 199),
                ZfsFillRatio = 1,
                WaveWindowHours = windowHours,
            },
        },
        Vms = vms,
        Volumes = new VolumeCatalog
        {
            Rbd = rbd,
            Files = files.ToDictionary(f => f.Key, f => (IReadOnlyDictionary<string, VolumeInfo>)f.Value, StringComparer.Ordinal),
        },
    };
}
