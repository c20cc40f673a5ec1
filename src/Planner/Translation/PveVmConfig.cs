namespace Taquin.Planner.Translation;

/// <summary>How a VM's disks appear in the create request.</summary>
public enum DiskAllocation
{
    /// <summary><c>STORAGE:SIZE_GiB</c>: PVE allocates empty volumes and the mover copies the data into them.</summary>
    Placeholder,
    /// <summary><c>STORAGE:0,import-from=SOURCE</c>: PVE copies the data itself while creating the VM.</summary>
    ImportFromSource,
}

/// <summary>Where and how a VM lands on PVE; the planner decides these per VM.</summary>
public sealed record TranslationTarget
{
    /// <summary>The PVE node the VM is created on (the {node} of POST /nodes/{node}/qemu).</summary>
    public required string Node { get; init; }
    /// <summary>The VMID to create; null lets the caller ask /cluster/nextid later.</summary>
    public int? VmId { get; init; }
    /// <summary>PVE storage id for the disks (e.g. local-zfs, ceph-vm).</summary>
    public required string DiskStorage { get; init; }
    /// <summary>PVE storage id for efidisk0 and tpmstate0; the disk storage when null.</summary>
    public string? EfiStorage { get; init; }
    /// <summary>VLAN-aware bridge that carries the per-VM VLANs.</summary>
    public string Bridge { get; init; } = "vmbr0";
    /// <summary>The VM's VLAN in the new design; null when not assigned yet.</summary>
    public int? VlanTag { get; init; }
    public DiskAllocation Disks { get; init; } = DiskAllocation.Placeholder;
    /// <summary>
    /// For <see cref="DiskAllocation.ImportFromSource"/>: the PVE storage id under which the old Ceph pool
    /// is registered, so an RBD image "pool/img" is imported from "&lt;id&gt;:img".
    /// </summary>
    public string? OldCephStorage { get; init; }

    public string EfiStorageOrDefault => EfiStorage ?? DiskStorage;
}

/// <summary>Something approximated, dropped or impossible, with the libvirt element it concerns.</summary>
/// <param name="Code">Stable identifier (e.g. CPU_HOST_MODEL) for filtering and tests.</param>
/// <param name="Message">What happened and what to do about it.</param>
/// <param name="Element">The libvirt element, e.g. "disk[vdb]", "interface[52:54:00:12:34:56]".</param>
public sealed record TranslationWarning(string Code, string Message, string Element)
{
    public override string ToString() => $"{Code} <{Element}>: {Message}";
}

/// <summary>The PVE side of one VM: the create request's parameters and what did not carry over.</summary>
public sealed record PveVmConfig
{
    public required string Vm { get; init; }
    /// <summary>Parameters of POST /nodes/{node}/qemu, in a stable order, values as sent on the wire.</summary>
    public required IReadOnlyDictionary<string, string> Params { get; init; }
    public IReadOnlyList<TranslationWarning> Warnings { get; init; } = [];
    /// <summary>Reasons the VM cannot be migrated as is (passthrough devices, host shares, ...).</summary>
    public IReadOnlyList<TranslationWarning> Refusals { get; init; } = [];

    public bool IsRefused => Refusals.Count > 0;
}
