namespace Taquin.Planner.Inventory;

/// <summary>Size of one disk source, from <c>rbd info/du</c> or <c>qemu-img info</c>.</summary>
public sealed record VolumeInfo(long SizeBytes, long? UsedBytes, string? Format = null)
{
    /// <summary>Bytes that really have to move; the provisioned size when usage is unknown.</summary>
    public long BytesToCopy => UsedBytes ?? SizeBytes;
}

/// <summary>
/// volumes.json: RBD images by "pool/image" (cluster-wide) and file images by host then path
/// (the same path can exist on two hosts).
/// </summary>
public sealed record VolumeCatalog
{
    public IReadOnlyDictionary<string, VolumeInfo> Rbd { get; init; } = new Dictionary<string, VolumeInfo>();
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, VolumeInfo>> Files { get; init; }
        = new Dictionary<string, IReadOnlyDictionary<string, VolumeInfo>>();

    public VolumeInfo? FindRbd(string poolImage) => Rbd.GetValueOrDefault(poolImage);

    public VolumeInfo? FindFile(string host, string path)
        => Files.TryGetValue(host, out var byPath) ? byPath.GetValueOrDefault(path) : null;
}
