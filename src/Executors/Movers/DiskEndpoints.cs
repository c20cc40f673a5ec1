namespace Taquin.Executors.Movers;

/// <summary>Where a disk's bytes come from.</summary>
public abstract record DiskSource(string Host);

/// <summary>An RBD image of the old Ceph ("pool/image"), read on <paramref name="Host"/> (a libvirt host, a Ceph client).</summary>
public sealed record RbdImageSource(string Host, string Image) : DiskSource(Host);

/// <summary>A libvirt file image (qcow2 or raw) on <paramref name="Host"/>.</summary>
public sealed record FileImageSource(string Host, string Path, string Format) : DiskSource(Host);

/// <summary>Where a disk's bytes go.</summary>
public abstract record DiskTarget(string Host);

/// <summary>An RBD image ("pool/image") of the new Ceph, written on <paramref name="Host"/> (a PVE node).</summary>
public sealed record RbdVolumeTarget(string Host, string Image) : DiskTarget(Host);

/// <summary>A raw volume: a block device (zvol) or a raw file on <paramref name="Host"/>.</summary>
public sealed record RawVolumeTarget(string Host, string Path) : DiskTarget(Host);

/// <summary>
/// One copy: the source at <see cref="ToSnapshot"/> onto the target. With <see cref="FromSnapshot"/> the target already
/// holds that snapshot and only the difference moves (warm); without, the whole snapshot moves (allocated extents only).
/// </summary>
public sealed record DiskCopyRequest(DiskSource Source, string? FromSnapshot, string? ToSnapshot, DiskTarget Target)
{
    public override string ToString()
        => $"{Describe(Source)}{(ToSnapshot is null ? "" : "@" + ToSnapshot)}{(FromSnapshot is null ? "" : $" (since @{FromSnapshot})")} -> {Describe(Target)}";

    private static string Describe(object endpoint) => endpoint switch
    {
        RbdImageSource s => $"rbd {s.Host}:{s.Image}",
        FileImageSource f => $"{f.Format} {f.Host}:{f.Path}",
        RbdVolumeTarget t => $"rbd {t.Host}:{t.Image}",
        RawVolumeTarget r => $"raw {r.Host}:{r.Path}",
        _ => endpoint.ToString() ?? "?",
    };
}

/// <summary>How a copy's bytes travel.</summary>
public enum DataPath
{
    /// <summary>The source host pipes straight to the target host (one SSH hop between them; they must trust each other).</summary>
    Direct,
    /// <summary>The orchestrator reads the source command's stdout and feeds the target command's stdin.</summary>
    Relayed,
    /// <summary>
    /// The target node is a client of both clusters and runs the whole pipe itself (no SSH hop in the data). Only when
    /// configured: it needs the old cluster's conf and key on the PVE nodes (<see cref="MoverOptions.SourceCephConfOnTarget"/>).
    /// </summary>
    TargetClient,
    /// <summary>
    /// Like <see cref="Direct"/>, but the bytes cross a trusted migration network as plain TCP (socat at both ends) while
    /// the control stays on SSH: no encryption cost (Proxmox's <c>migration: type=insecure</c>). Only when configured
    /// (<see cref="MoverOptions.Tcp"/>); the end-of-copy checksum catches a stranger's data. See docs/adr/0018.
    /// </summary>
    DirectTcp,
}

/// <summary>The names of <see cref="DataPath"/> in fleet.yaml (<c>policy.copyDataPath</c>) and the access file.</summary>
public static class DataPathNames
{
    public static IReadOnlyList<string> All { get; } = ["direct", "relayed", "target-client", "direct-tcp"];

    /// <summary>The data path a name stands for; null for an unknown name (callers report it).</summary>
    public static DataPath? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or "direct" => DataPath.Direct,
        "relayed" => DataPath.Relayed,
        "target-client" => DataPath.TargetClient,
        "direct-tcp" => DataPath.DirectTcp,
        _ => null,
    };

    public static string Name(DataPath path) => path switch
    {
        DataPath.Relayed => "relayed",
        DataPath.TargetClient => "target-client",
        DataPath.DirectTcp => "direct-tcp",
        _ => "direct",
    };
}

/// <summary>What a copy did, saved in the journal.</summary>
/// <param name="BytesSent">Bytes that crossed the wire (the diff stream, or the converted data).</param>
/// <param name="DataBytes">Bytes of image data written at the target.</param>
/// <param name="Attempts">1, or more when a dropped stream made the copy restart.</param>
public sealed record CopyReport(string Copy, DataPath Path, string Method, long BytesSent, long DataBytes, TimeSpan Duration, int Attempts)
{
    public double BytesPerSecond => Duration.TotalSeconds > 0 ? BytesSent / Duration.TotalSeconds : 0;
}

/// <summary>Progress of a running copy: bytes so far of an expected total, the rate and the time left.</summary>
public sealed record CopyProgress(long Bytes, long? TotalBytes, double BytesPerSecond, TimeSpan Elapsed)
{
    public TimeSpan? Eta => TotalBytes is { } total && BytesPerSecond > 0 ? TimeSpan.FromSeconds(Math.Max(0, total - Bytes) / BytesPerSecond) : null;

    public string ToCheckpoint()
        => FormattableString.Invariant($"bytes={Bytes};total={TotalBytes?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"};rate={BytesPerSecond:F0};elapsed={Elapsed.TotalSeconds:F1};eta={(Eta is { } eta ? eta.TotalSeconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : "?")}");
}
