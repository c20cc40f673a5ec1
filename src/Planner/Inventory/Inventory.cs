using Taquin.Planner.Libvirt;

namespace Taquin.Planner.Inventory;

/// <summary>Where a VM's disk lives before the migration.</summary>
public enum SourceStorage
{
    /// <summary>All disks are RBD images in the old Ceph: live migration between libvirt hosts is possible.</summary>
    OldCeph,
    /// <summary>At least one disk is a local file (qcow2/raw) on its host: the VM is tied to that host.</summary>
    LocalFile,
}

/// <summary>One VM of the fleet: its domain, the host it runs on now, and its disks' sizes.</summary>
public sealed record VmRecord
{
    public required LibvirtDomain Domain { get; init; }
    public required string Host { get; init; }
    /// <summary>Path of the domain XML relative to the inventory folder (for messages).</summary>
    public required string SourceFile { get; init; }
    /// <summary>Raw domain XML, kept so reviews can show it beside the PVE config.</summary>
    public string? Xml { get; init; }
    /// <summary>Disk sources with their sizes, in domain order; empty drives (cdrom without medium) omitted.</summary>
    public IReadOnlyList<VmDisk> Disks { get; init; } = [];
    public bool Running { get; init; } = true;

    public string Name => Domain.Name;
    /// <summary>RAM the VM needs on a host: the maximum it can balloon to.</summary>
    public long RamBytes => Domain.MemoryBytes;
    public long RbdBytes => Disks.Where(d => d.Device.IsRbd).Sum(d => d.Volume?.BytesToCopy ?? 0);
    public long FileBytes => Disks.Where(d => !d.Device.IsRbd).Sum(d => d.Volume?.BytesToCopy ?? 0);
    public long DiskBytes => Disks.Sum(d => d.Volume?.BytesToCopy ?? 0);
    /// <summary>Provisioned size of every disk: what the target storage must be able to hold.</summary>
    public long ProvisionedBytes => Disks.Sum(d => d.Volume?.SizeBytes ?? 0);
    public SourceStorage Storage => Disks.Any(d => !d.Device.IsRbd && !d.Device.IsCdrom) ? SourceStorage.LocalFile : SourceStorage.OldCeph;
}

public sealed record VmDisk(DiskDevice Device, VolumeInfo? Volume);

/// <summary>A whole inventory folder, loaded: the fleet, every VM, every volume size.</summary>
public sealed record FleetInventory
{
    public required string Root { get; init; }
    public required Fleet Fleet { get; init; }
    public required IReadOnlyList<VmRecord> Vms { get; init; }
    public required VolumeCatalog Volumes { get; init; }
    /// <summary>SHA-256 over the inventory's files, so a plan can tell it was made from this exact input.</summary>
    public required string Digest { get; init; }
    /// <summary>Names of the folders under domains/ (hosts that have an XML folder, even empty); null when not loaded from a folder.</summary>
    public IReadOnlyList<string>? HostFolders { get; init; }

    public IEnumerable<VmRecord> VmsOn(string host) => Vms.Where(v => v.Host == host);
}
