namespace Taquin.Executors.Adapters;

/// <summary>virsh domstate values Taquin cares about.</summary>
public enum DomainRunState
{
    Running,
    Paused,
    ShutOff,
    /// <summary>The domain is not defined on that host.</summary>
    Undefined,
}

/// <summary><c>virsh domblkinfo</c>: the disk's virtual size, the bytes allocated to it, and the size of its container (file or device).</summary>
public sealed record DomainBlockInfo(long CapacityBytes, long AllocationBytes, long PhysicalBytes);

/// <summary>
/// One disk of a domain as <c>virsh domblklist --details</c> lists it: type (file, block, network), device (disk, cdrom),
/// target ("vda") and source (a path, "pool/image" for RBD, or null when empty).
/// </summary>
public sealed record DomainBlockDevice(string Type, string Device, string Target, string? Source);

/// <summary>libvirt on the old hypervisors (virsh over SSH in the real adapter).</summary>
public interface ILibvirtHost
{
    Task<IReadOnlyList<string>> ListDomainsAsync(string host, CancellationToken ct = default);
    Task<DomainRunState> GetDomainStateAsync(string host, string domain, CancellationToken ct = default);
    Task<string> DumpXmlAsync(string host, string domain, CancellationToken ct = default);
    /// <summary>Sizes of one disk of the domain, by its target device ("vda", "sdb").</summary>
    Task<DomainBlockInfo> GetBlockInfoAsync(string host, string domain, string target, CancellationToken ct = default);
    /// <summary>ACPI shutdown request; returns at once (the guest may ignore it).</summary>
    Task ShutdownAsync(string host, string domain, CancellationToken ct = default);
    /// <summary>Hard power-off.</summary>
    Task DestroyAsync(string host, string domain, CancellationToken ct = default);
    Task StartAsync(string host, string domain, CancellationToken ct = default);
    Task<bool> GetAutostartAsync(string host, string domain, CancellationToken ct = default);
    Task SetAutostartAsync(string host, string domain, bool enabled, CancellationToken ct = default);
    /// <summary>Undefines the domain and returns its XML so it can be defined again.</summary>
    Task<string> UndefineAsync(string host, string domain, CancellationToken ct = default);
    Task DefineAsync(string host, string xml, CancellationToken ct = default);
    /// <summary>
    /// Moves a domain to another libvirt host: live when it runs (<c>virsh migrate --live --persistent --undefinesource</c>),
    /// offline when it is shut off. RBD disks stay on the shared old Ceph; local file disks are copied with it
    /// (<c>--copy-storage-all</c>), so no downtime either way.
    /// </summary>
    Task LiveMigrateAsync(string host, string domain, string targetHost, CancellationToken ct = default);

    /// <summary>The domain's disks (<c>virsh domblklist --details</c>); <paramref name="inactive"/> reads the persistent definition.</summary>
    Task<IReadOnlyList<DomainBlockDevice>> DomainBlockListAsync(string host, string domain, bool inactive = false, CancellationToken ct = default);

    /// <summary>
    /// An external disk-only snapshot without libvirt metadata (<c>virsh snapshot-create-as --disk-only --atomic
    /// --no-metadata</c>): each disk named in <paramref name="overlays"/> (target → new overlay file) gets a qcow2 overlay
    /// backed by its current file, every other disk of the domain is left alone (<c>snapshot=no</c>). Both the running
    /// domain and its persistent definition then point at the overlays (docs/adr/0012).
    /// </summary>
    Task CreateDiskOnlySnapshotAsync(string host, string domain, string name, IReadOnlyDictionary<string, string> overlays, CancellationToken ct = default);

    /// <summary>
    /// Merges the active overlay of a running domain's disk into its backing file and points the domain (live and
    /// persistent) back at that file: <c>virsh blockcommit --active --pivot --wait</c>.
    /// </summary>
    Task BlockCommitAsync(string host, string domain, string target, CancellationToken ct = default);
}
