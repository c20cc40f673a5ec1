namespace Taquin.Executors.Adapters;

public sealed record PveNodeStatus(string Node, bool Online, long MemoryTotalBytes, long MemoryUsedBytes, string PveVersion);

/// <summary>A VM configuration with the digest PUT must send back (optimistic concurrency of the PVE API).</summary>
public sealed record PveVmConfig(IReadOnlyDictionary<string, string> Values, string Digest);

/// <summary>Status of a VM: "running" or "stopped".</summary>
public sealed record PveVmStatus(int VmId, string Node, string Name, string Status)
{
    public bool IsRunning => Status == "running";
}

/// <summary>
/// A PVE task (UPID). ExitStatus is "OK" or "WARNINGS: n" when it succeeded (PVE's read_status), the error
/// text otherwise, null while running.
/// </summary>
public sealed record PveTaskStatus(string Upid, bool Running, string? ExitStatus)
{
    /// <summary>The UPID-less answer of a call PVE ran synchronously (ceph init returns null): waiting on it returns OK at once.</summary>
    public const string CompletedSynchronously = "";

    public bool Succeeded => !Running && (ExitStatus == "OK" || HasWarnings);

    /// <summary>Ended well but logged warnings ("WARNINGS: 2"); PVE counts that as success.</summary>
    public bool HasWarnings => !Running && ExitStatus is not null && ExitStatus.StartsWith("WARNINGS: ", StringComparison.Ordinal);

    /// <summary>Last lines of the task log, filled by the waiter when the task failed or warned.</summary>
    public IReadOnlyList<string> LogTail { get; init; } = [];
}

/// <summary>A volume on a PVE storage and where its bytes live on the node (file, block device or rbd: URI).</summary>
public sealed record PveVolume(string VolumeId, string Path, long SizeBytes, string Format);

public sealed record PveStorage(string Id, string Type, IReadOnlyList<string> Nodes, long TotalBytes, long UsedBytes, bool Active);

public sealed record PveNetwork(string Iface, string Type, bool VlanAware);

/// <summary>The slice of the Proxmox VE API the steps need. Mutating calls return a task UPID to wait on.</summary>
public interface IPveApi
{
    Task<string> GetVersionAsync(string node, CancellationToken ct = default);
    Task<PveNodeStatus> GetNodeStatusAsync(string node, CancellationToken ct = default);
    /// <summary>Nodes of the PVE cluster (empty when the node is not in a cluster yet).</summary>
    Task<IReadOnlyList<string>> GetClusterNodesAsync(CancellationToken ct = default);
    /// <summary>Creates a cluster on <paramref name="node"/> (first node) or joins it to <paramref name="peer"/>'s cluster.</summary>
    Task<string> JoinClusterAsync(string node, string? peer, CancellationToken ct = default);

    Task<int> GetNextVmIdAsync(CancellationToken ct = default);
    Task<string> CreateVmAsync(string node, int vmId, IReadOnlyDictionary<string, string> parameters, CancellationToken ct = default);
    /// <summary>The VM's config, or null when no such VM exists.</summary>
    Task<PveVmConfig?> GetVmConfigAsync(string node, int vmId, CancellationToken ct = default);
    /// <summary>Applies changes; fails when <paramref name="digest"/> no longer matches (someone else changed it).</summary>
    Task UpdateVmConfigAsync(string node, int vmId, IReadOnlyDictionary<string, string> changes, string digest, CancellationToken ct = default);
    /// <summary>Status of a VM anywhere in the cluster, or null when it does not exist.</summary>
    Task<PveVmStatus?> FindVmAsync(int vmId, CancellationToken ct = default);
    Task<string> StartVmAsync(string node, int vmId, CancellationToken ct = default);
    Task<string> ShutdownVmAsync(string node, int vmId, TimeSpan timeout, CancellationToken ct = default);
    Task<string> StopVmAsync(string node, int vmId, CancellationToken ct = default);
    Task<string> DeleteVmAsync(string node, int vmId, CancellationToken ct = default);
    Task<string> MoveDiskAsync(string node, int vmId, string disk, string storage, bool deleteSource, CancellationToken ct = default);
    Task<string> MigrateVmAsync(string node, int vmId, string target, bool online, CancellationToken ct = default);

    Task<PveTaskStatus> GetTaskStatusAsync(string node, string upid, CancellationToken ct = default);
    /// <summary>Waits for a task to end; throws a transient <see cref="PveApiException"/> past <paramref name="timeout"/>.</summary>
    Task<PveTaskStatus> WaitForTaskAsync(string node, string upid, TimeSpan timeout, CancellationToken ct = default);

    Task<IReadOnlyList<PveStorage>> ListStoragesAsync(string node, CancellationToken ct = default);
    Task<PveStorage?> GetStorageStatusAsync(string node, string storage, CancellationToken ct = default);
    Task CreateStorageAsync(string storage, string type, IReadOnlyDictionary<string, string> parameters, CancellationToken ct = default);
    /// <summary>A volume ("storage:name") with its path on <paramref name="node"/>, or null when it does not exist.</summary>
    Task<PveVolume?> GetVolumeAsync(string node, string volumeId, CancellationToken ct = default);
    Task<IReadOnlyList<PveNetwork>> ListNetworksAsync(string node, CancellationToken ct = default);

    Task<string> CephInitAsync(string node, CancellationToken ct = default);
    Task<string> CephCreateOsdAsync(string node, string device, CancellationToken ct = default);
    Task<string> CephCreatePoolAsync(string node, string pool, int size, CancellationToken ct = default);
    Task<IReadOnlyList<string>> CephListPoolsAsync(string node, CancellationToken ct = default);
}
