namespace Taquin.Planner.Libvirt;

/// <summary>
/// What Taquin knows of one VM from its libvirt domain XML (<c>virsh dumpxml</c>).
/// A faithful, typed copy of the parts that matter for moving it; nothing here is PVE-specific.
/// </summary>
public sealed record LibvirtDomain
{
    public required string Name { get; init; }
    public required Guid Uuid { get; init; }
    /// <summary>domain/@type: kvm, qemu, ...</summary>
    public string HypervisorType { get; init; } = "kvm";
    public string? Title { get; init; }
    public string? Description { get; init; }
    /// <summary>Raw inner XML of &lt;metadata&gt;, kept so nothing the admin wrote is lost.</summary>
    public string? MetadataXml { get; init; }

    /// <summary>&lt;memory&gt; in bytes: the maximum the guest can be given (balloon ceiling).</summary>
    public required long MemoryBytes { get; init; }
    /// <summary>&lt;currentMemory&gt; in bytes; equals MemoryBytes when absent.</summary>
    public long CurrentMemoryBytes { get; init; }
    /// <summary>&lt;maxMemory&gt; (hotplug ceiling) in bytes, when present.</summary>
    public long? MaxMemoryBytes { get; init; }

    /// <summary>&lt;vcpu&gt; text: the maximum number of vCPUs.</summary>
    public required int VcpuMax { get; init; }
    /// <summary>&lt;vcpu current='N'&gt;; equals VcpuMax when absent.</summary>
    public int VcpuCurrent { get; init; }
    public CpuSpec Cpu { get; init; } = new();

    public OsSpec Os { get; init; } = new();
    /// <summary>Names of the elements under &lt;features&gt; (acpi, apic, smm, hyperv, ...).</summary>
    public IReadOnlyList<string> Features { get; init; } = [];
    /// <summary>&lt;clock offset&gt;: utc or localtime (Windows guests).</summary>
    public string? ClockOffset { get; init; }

    public string? Emulator { get; init; }
    public IReadOnlyList<DiskDevice> Disks { get; init; } = [];
    public IReadOnlyList<ControllerDevice> Controllers { get; init; } = [];
    public IReadOnlyList<InterfaceDevice> Interfaces { get; init; } = [];
    public IReadOnlyList<GraphicsDevice> Graphics { get; init; } = [];
    public IReadOnlyList<CharDevice> Serials { get; init; } = [];
    public IReadOnlyList<CharDevice> Consoles { get; init; } = [];
    public IReadOnlyList<ChannelDevice> Channels { get; init; } = [];
    public IReadOnlyList<RngDevice> Rngs { get; init; } = [];
    public WatchdogDevice? Watchdog { get; init; }
    public TpmDevice? Tpm { get; init; }
    public IReadOnlyList<HostdevDevice> Hostdevs { get; init; } = [];
    public IReadOnlyList<FilesystemDevice> Filesystems { get; init; } = [];
    public string? VideoModel { get; init; }
    /// <summary>Device elements Taquin does not model (e.g. &lt;smartcard&gt;, &lt;redirdev&gt;), by element name.</summary>
    public IReadOnlyList<string> OtherDevices { get; init; } = [];

    /// <summary>
    /// Whether libvirt starts the domain at host boot. Not part of dumpxml; comes from the
    /// inventory's runtime file (collected with <c>virsh dominfo</c>). Null when unknown.
    /// </summary>
    public bool? Autostart { get; init; }

    public bool IsUefi => Os.Firmware == Firmware.Efi;
}

public enum Firmware
{
    Bios,
    Efi,
}

public sealed record CpuSpec
{
    /// <summary>host-passthrough, host-model, custom, maximum; null when no &lt;cpu&gt;.</summary>
    public string? Mode { get; init; }
    public string? Model { get; init; }
    public int? Sockets { get; init; }
    public int? Dies { get; init; }
    public int? Cores { get; init; }
    public int? Threads { get; init; }
    /// <summary>Feature policies, e.g. ("require", "vmx").</summary>
    public IReadOnlyList<(string Policy, string Name)> FeatureFlags { get; init; } = [];
}

public sealed record OsSpec
{
    /// <summary>hvm normally.</summary>
    public string Type { get; init; } = "hvm";
    public string? Arch { get; init; }
    /// <summary>Machine type as libvirt expanded it, e.g. pc-q35-7.2, pc-i440fx-7.2, q35.</summary>
    public string? Machine { get; init; }
    public Firmware Firmware { get; init; } = Firmware.Bios;
    public string? LoaderPath { get; init; }
    public bool LoaderReadOnly { get; init; }
    /// <summary>loader/@type: pflash or rom.</summary>
    public string? LoaderType { get; init; }
    public bool SecureBoot { get; init; }
    public string? NvramPath { get; init; }
    public string? NvramTemplate { get; init; }
    /// <summary>&lt;boot dev='hd|cdrom|network|fd'&gt; in order.</summary>
    public IReadOnlyList<string> BootDevices { get; init; } = [];
    public bool BootMenu { get; init; }
}

public enum DiskSourceKind
{
    File,
    Block,
    Network,
    Volume,
    /// <summary>A cdrom or floppy drive with no medium.</summary>
    None,
}

public sealed record DiskDevice
{
    /// <summary>disk/@type: file, block, network, volume.</summary>
    public required DiskSourceKind SourceKind { get; init; }
    /// <summary>disk/@device: disk, cdrom, floppy, lun.</summary>
    public string Device { get; init; } = "disk";
    /// <summary>driver/@type: raw, qcow2, ...</summary>
    public string? Format { get; init; }
    public string? Cache { get; init; }
    public string? Discard { get; init; }
    public string? Io { get; init; }
    public int? IoThread { get; init; }
    public string? DetectZeroes { get; init; }

    /// <summary>source/@file or source/@dev for file and block disks.</summary>
    public string? Path { get; init; }
    /// <summary>source/@protocol for network disks: rbd, nbd, iscsi, ...</summary>
    public string? Protocol { get; init; }
    /// <summary>source/@name for network disks: "pool/image" for RBD.</summary>
    public string? NetworkName { get; init; }
    public IReadOnlyList<NetworkHost> NetworkHosts { get; init; } = [];
    public string? AuthUsername { get; init; }
    /// <summary>auth/secret/@type (ceph) and @usage or @uuid.</summary>
    public string? AuthSecretType { get; init; }
    public string? AuthSecretUsage { get; init; }
    public string? AuthSecretUuid { get; init; }
    /// <summary>source/@pool and source/@volume for type='volume' disks (a libvirt storage-pool volume).</summary>
    public string? VolumePool { get; init; }
    public string? VolumeName { get; init; }

    /// <summary>target/@dev, e.g. vda, sda, hdc.</summary>
    public required string TargetDev { get; init; }
    /// <summary>target/@bus: virtio, scsi, sata, ide, usb, fdc. Inferred from the dev prefix when absent.</summary>
    public required string Bus { get; init; }
    public string? Serial { get; init; }
    public string? Wwn { get; init; }
    public bool ReadOnly { get; init; }
    public bool Shareable { get; init; }
    public int? BootOrder { get; init; }
    /// <summary>address/@controller for drive addresses (scsi/sata/ide controller index).</summary>
    public int? AddressController { get; init; }
    public int? AddressUnit { get; init; }

    public bool IsCdrom => Device == "cdrom";
    public bool IsRbd => SourceKind == DiskSourceKind.Network && Protocol == "rbd";

    /// <summary>Key of this disk's source in volumes.json ("pool/image" for RBD, the path for files); null for an empty drive.</summary>
    public string? VolumeKey => SourceKind switch
    {
        DiskSourceKind.Network => NetworkName,
        DiskSourceKind.File or DiskSourceKind.Block => Path,
        _ => null,
    };
}

public sealed record NetworkHost(string Name, int? Port);

public sealed record ControllerDevice(string Type, int Index, string? Model);

public sealed record IpAddressSpec(string Address, int? Prefix, string? Peer, string Family);

public sealed record RouteSpec(string Address, int? Prefix, string? Gateway, string Family);

public sealed record InterfaceDevice
{
    /// <summary>interface/@type: bridge, network, ethernet, direct, vhostuser, user, ...</summary>
    public required string Type { get; init; }
    public string? Mac { get; init; }
    /// <summary>model/@type: virtio, e1000, rtl8139, ...</summary>
    public string? Model { get; init; }
    public string? SourceBridge { get; init; }
    public string? SourceNetwork { get; init; }
    public string? SourceDev { get; init; }
    /// <summary>target/@dev, the host-side tap name (e.g. the routed tap of the old design).</summary>
    public string? TargetDev { get; init; }
    public IReadOnlyList<IpAddressSpec> Ips { get; init; } = [];
    public IReadOnlyList<RouteSpec> Routes { get; init; } = [];
    public int? Mtu { get; init; }
    public int? VlanTag { get; init; }
    public bool LinkDown { get; init; }
    public int? BootOrder { get; init; }
    /// <summary>driver/@queues for multiqueue virtio-net.</summary>
    public int? Queues { get; init; }
    /// <summary>virtualport/@type (openvswitch), when present.</summary>
    public string? VirtualPortType { get; init; }
}

public sealed record GraphicsDevice(string Type, string? Listen, int? Port, bool Autoport);

/// <summary>A &lt;serial&gt; or &lt;console&gt;: @type (pty, file, tcp, ...) and target type/port.</summary>
public sealed record CharDevice(string Type, string? TargetType, int? TargetPort);

/// <summary>A &lt;channel&gt;: qemu guest agent is type unix, target virtio name org.qemu.guest_agent.0.</summary>
public sealed record ChannelDevice(string Type, string? TargetType, string? TargetName)
{
    public bool IsGuestAgent => TargetName == "org.qemu.guest_agent.0";
}

public sealed record RngDevice(string Model, string? BackendModel, string? BackendSource);

public sealed record WatchdogDevice(string Model, string? Action);

public sealed record TpmDevice(string Model, string BackendType, string? Version);

/// <summary>A &lt;hostdev&gt;: PCI/USB passthrough cannot follow a VM to another host.</summary>
public sealed record HostdevDevice(string Mode, string Type, string Description);

/// <summary>A &lt;filesystem&gt;: 9p (driver path) or virtiofs share from the host.</summary>
public sealed record FilesystemDevice(string Type, string? Driver, string? Source, string? Target);
