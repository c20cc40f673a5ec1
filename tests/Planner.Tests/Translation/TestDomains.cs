using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Translation;

namespace Taquin.Planner.Tests.Translation;

/// <summary>Hand-built domains shaped like what `virsh dumpxml` gives for the fleet's typical VMs.</summary>
internal static class TestDomains
{
    public static readonly TranslationTarget Target = new()
    {
        Node = "pve1",
        VmId = 4101,
        DiskStorage = "local-zfs",
        Bridge = "vmbr0",
        VlanTag = 101,
    };

    public static readonly Guid Uuid = Guid.Parse("6c7d1a52-2b8e-4f3c-9d1e-0a1b2c3d4e5f");

    public static DiskDevice Rbd(string dev, string bus, string image) => new()
    {
        SourceKind = DiskSourceKind.Network,
        Protocol = "rbd",
        NetworkName = "rbd/" + image,
        TargetDev = dev,
        Bus = bus,
        Format = "raw",
        Cache = "none",
    };

    public static DiskDevice File(string dev, string bus, string path) => new()
    {
        SourceKind = DiskSourceKind.File,
        Path = path,
        TargetDev = dev,
        Bus = bus,
        Format = "qcow2",
    };

    public static DiskDevice Cdrom(string dev, string bus, string? iso = null) => new()
    {
        SourceKind = iso is null ? DiskSourceKind.None : DiskSourceKind.File,
        Device = "cdrom",
        Path = iso,
        TargetDev = dev,
        Bus = bus,
        ReadOnly = true,
    };

    public static InterfaceDevice Bridged(string mac, string bridge = "br0") => new()
    {
        Type = "bridge",
        Mac = mac,
        Model = "virtio",
        SourceBridge = bridge,
    };

    public static InterfaceDevice Routed(string mac, string tap, string ip) => new()
    {
        Type = "ethernet",
        Mac = mac,
        Model = "virtio",
        TargetDev = tap,
        Ips = [new IpAddressSpec(ip, 32, null, "ipv4")],
        Routes = [new RouteSpec("0.0.0.0", 0, "169.254.0.1", "ipv4")],
    };

    public static LibvirtDomain Domain(string name = "web-01") => new()
    {
        Name = name,
        Uuid = Uuid,
        MemoryBytes = 4 * ByteSize.GiB,
        CurrentMemoryBytes = 4 * ByteSize.GiB,
        VcpuMax = 2,
        VcpuCurrent = 2,
        Cpu = new CpuSpec { Mode = "host-passthrough" },
        Os = new OsSpec { Machine = "pc-i440fx-7.2", BootDevices = ["hd"] },
        Features = ["acpi", "apic"],
        ClockOffset = "utc",
        Autostart = true,
    };

    /// <summary>The VM record with every disk's size (GiB) in the inventory, as the loader would give it.</summary>
    public static VmRecord Vm(LibvirtDomain domain, params long[] diskGiB)
    {
        var sized = domain.Disks.Where(d => d.VolumeKey is not null && !d.IsCdrom).ToList();
        var disks = sized.Select((d, i) => new VmDisk(d, new VolumeInfo((i < diskGiB.Length ? diskGiB[i] : 10) * ByteSize.GiB, null))).ToList();
        return new VmRecord
        {
            Domain = domain,
            Host = "hv3",
            SourceFile = $"domains/hv3/{domain.Name}.xml",
            Disks = disks,
        };
    }
}
