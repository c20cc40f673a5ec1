namespace Taquin.Executors.Adapters;

public sealed record CephHealth(string Status, IReadOnlyList<string> Checks)
{
    public bool IsOk => Status == "HEALTH_OK";
}

public sealed record CephUsage(long TotalBytes, long UsedBytes, long AvailableBytes);

public sealed record CephOsd(int Id, string Host, bool In, bool Up);

/// <summary>
/// The old (libvirt-side) Ceph cluster: health, OSDs, and RBD image operations. Streams carry image data
/// (<c>rbd export … -</c> / <c>rbd import - …</c>) so a copy never lands on a local disk.
/// </summary>
public interface ICephCluster
{
    Task<CephHealth> GetHealthAsync(CancellationToken ct = default);
    /// <summary>Waits until HEALTH_OK; throws a transient <see cref="CephException"/> past <paramref name="timeout"/>.</summary>
    Task<CephHealth> WaitHealthyAsync(TimeSpan timeout, CancellationToken ct = default);
    Task<CephUsage> GetUsageAsync(CancellationToken ct = default);
    Task<IReadOnlyList<CephOsd>> ListOsdsAsync(string? host = null, CancellationToken ct = default);
    Task MarkOsdOutAsync(int osdId, CancellationToken ct = default);
    Task MarkOsdInAsync(int osdId, CancellationToken ct = default);

    Task<IReadOnlyList<string>> ListSnapshotsAsync(string image, CancellationToken ct = default);
    Task CreateSnapshotAsync(string image, string snapshot, CancellationToken ct = default);
    Task RemoveSnapshotAsync(string image, string snapshot, CancellationToken ct = default);
    Task ExportAsync(string image, string? snapshot, Stream destination, CancellationToken ct = default);
    Task ImportAsync(Stream source, string image, CancellationToken ct = default);
    /// <summary><c>rbd export-diff [--from-snap from] image@to -</c>.</summary>
    Task ExportDiffAsync(string image, string? fromSnapshot, string toSnapshot, Stream destination, CancellationToken ct = default);
    Task ImportDiffAsync(Stream source, string image, CancellationToken ct = default);
    Task RemoveImageAsync(string image, CancellationToken ct = default);
    Task RenameImageAsync(string image, string newName, CancellationToken ct = default);
    /// <summary>SHA-256 of a snapshot's content (read through <c>rbd export</c>).</summary>
    Task<string> ChecksumAsync(string image, string snapshot, CancellationToken ct = default);
    Task<bool> ImageExistsAsync(string image, CancellationToken ct = default);
}
