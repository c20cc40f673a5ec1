namespace Taquin.Executors.Adapters;

public sealed record CephHealth(string Status, IReadOnlyList<string> Checks)
{
    public bool IsOk => Status == "HEALTH_OK";
}

public sealed record CephUsage(long TotalBytes, long UsedBytes, long AvailableBytes);

public sealed record CephOsd(int Id, string Host, bool In, bool Up);

/// <summary>Recovery state while the cluster is not HEALTH_OK (objects from <c>ceph status</c>'s pgmap).</summary>
public sealed record CephRecoveryProgress(string Status, long DegradedObjects, long MisplacedObjects, long TotalObjects, long RecoveringBytesPerSecond, IReadOnlyList<string> Checks)
{
    /// <summary>Objects not yet where they belong, as a fraction of all object copies (0 when unknown).</summary>
    public double PendingRatio => TotalObjects <= 0 ? 0 : (double)(DegradedObjects + MisplacedObjects) / TotalObjects;

    /// <summary>One line for logs and errors.</summary>
    public string Describe()
    {
        var checks = Checks.Count == 0 ? "" : "; " + string.Join("; ", Checks);
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{Status}: {DegradedObjects} degraded, {MisplacedObjects} misplaced of {TotalObjects} object copies ({PendingRatio:P1} pending), recovering {RecoveringBytesPerSecond / 1048576.0:0.#} MiB/s{checks}");
    }
}

/// <summary>
/// What the OSDs left in would hold once <see cref="OsdIds"/> are out: all data stored now plus their own overhead, over
/// their raw size, against the cluster's nearfull ratio.
/// </summary>
public sealed record OsdsOutForecast(IReadOnlyList<int> OsdIds, long DataBytes, long RemainingRawBytes, long RemainingUsedBytesAfter, double NearfullRatio)
{
    /// <summary>Fill of the remaining OSDs; 0 when nothing is left to hold (the last host of an emptied cluster).</summary>
    public double ProjectedRatio => RemainingUsedBytesAfter <= 0 ? 0 : RemainingRawBytes <= 0 ? double.PositiveInfinity : (double)RemainingUsedBytesAfter / RemainingRawBytes;
    public bool StaysUnderNearfull => ProjectedRatio <= NearfullRatio;
}

/// <summary>An RBD image's provisioned size and allocated bytes (<c>rbd du</c>).</summary>
public sealed record RbdImageUsage(string Image, long ProvisionedBytes, long UsedBytes);

/// <summary>
/// The old (libvirt-side) Ceph cluster: health, OSDs, and RBD image operations. Streams carry image data
/// (<c>rbd export … -</c> / <c>rbd import - …</c>) so a copy never lands on a local disk.
/// </summary>
public interface ICephCluster
{
    Task<CephHealth> GetHealthAsync(CancellationToken ct = default);
    /// <summary>
    /// Waits until HEALTH_OK, reporting recovery progress through <paramref name="onProgress"/> while it waits;
    /// throws a transient <see cref="CephException"/> past <paramref name="timeout"/>.
    /// </summary>
    Task<CephHealth> WaitHealthyAsync(TimeSpan timeout, Func<CephRecoveryProgress, Task>? onProgress = null, CancellationToken ct = default);
    Task<CephUsage> GetUsageAsync(CancellationToken ct = default);
    Task<IReadOnlyList<CephOsd>> ListOsdsAsync(string? host = null, CancellationToken ct = default);
    /// <summary>Live check before setting OSDs out: would the others stay under nearfull with all the data?</summary>
    Task<OsdsOutForecast> ForecastOsdsOutAsync(IReadOnlyCollection<int> osdIds, CancellationToken ct = default);
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
    /// <summary>Provisioned and used bytes of one image ("pool/image").</summary>
    Task<RbdImageUsage> GetImageUsageAsync(string image, CancellationToken ct = default);
    /// <summary>Provisioned and used bytes of every image of a pool (one <c>rbd du</c>).</summary>
    Task<IReadOnlyList<RbdImageUsage>> ListImageUsageAsync(string pool, CancellationToken ct = default);
}
