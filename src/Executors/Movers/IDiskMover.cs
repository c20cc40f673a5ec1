namespace Taquin.Executors.Movers;

/// <summary>Verification outcome: equal or not, how it was checked, and both digests (for the journal).</summary>
public sealed record VerifyReport(bool Match, VerifyMode Mode, string SourceDigest, string TargetDigest, string Detail)
{
    /// <summary>Bytes of guest content the verification read on each side, when known (what it adds to the downtime).</summary>
    public long? BytesRead { get; init; }

    public string ToCheckpoint() => $"{(Match ? "match" : "MISMATCH")};{Mode.ToString().ToLowerInvariant()};{Detail}";
}

/// <summary>
/// The data plane: moves a disk snapshot onto a target volume and proves they are equal. Real fleets use
/// <see cref="CommandDiskMover"/> (rbd, qemu-img and the C# diff applier over SSH); the simulator has its own.
/// </summary>
public interface IDiskMover
{
    /// <param name="progress">Called now and then while bytes move (bytes, rate, ETA).</param>
    Task<CopyReport> CopyAsync(DiskCopyRequest request, Func<CopyProgress, Task>? progress, CancellationToken ct);

    /// <summary>
    /// Compares the source at <see cref="DiskCopyRequest.ToSnapshot"/> with the target. For a file source with
    /// <see cref="DiskCopyRequest.FromSnapshot"/> set (a warm disk's overlay), a sampled verification also hashes every
    /// extent the overlay allocated.
    /// </summary>
    Task<VerifyReport> VerifyAsync(DiskCopyRequest request, CancellationToken ct);

    /// <summary>Clients of an RBD image other than us: watchers (a running qemu) and lock holders.</summary>
    Task<IReadOnlyList<string>> RbdClientsAsync(string host, string image, bool oldCluster, CancellationToken ct);
}
