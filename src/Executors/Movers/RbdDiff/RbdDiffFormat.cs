namespace Taquin.Executors.Movers.RbdDiff;

/// <summary>
/// The <c>rbd export-diff</c> stream (ceph doc/dev/rbd-diff.rst): a banner, metadata records (from/to snapshot,
/// image size), data records ('w' data, 'z' zeroes) and 'e'. Version 2 prefixes every record but 'e' with its
/// payload length, so unknown tags can be skipped; version 1 cannot skip anything it does not know.
/// </summary>
public static class RbdDiffFormat
{
    public const string BannerV1 = "rbd diff v1\n";
    public const string BannerV2 = "rbd diff v2\n";
    public const byte FromSnap = (byte)'f';
    public const byte ToSnap = (byte)'t';
    public const byte Size = (byte)'s';
    public const byte ProtectionStatus = (byte)'p';
    public const byte Write = (byte)'w';
    public const byte Zero = (byte)'z';
    public const byte End = (byte)'e';
}

/// <summary>The metadata part of a diff stream.</summary>
/// <param name="FromSnapshot">Null for a full diff (no --from-snap): it applies onto an empty image.</param>
/// <param name="ToSnapshot">Null when the stream was exported from the image head.</param>
public sealed record RbdDiffHeader(int Version, string? FromSnapshot, string? ToSnapshot, long ImageSize);

public enum RbdDiffExtentKind
{
    Data,
    Zero,
}

/// <summary>One data record: <see cref="Length"/> bytes at <see cref="Offset"/>; a Data extent's bytes follow in the stream.</summary>
public readonly record struct RbdDiffExtent(RbdDiffExtentKind Kind, long Offset, long Length);

/// <summary>A diff stream that is not one, or ends before its 'e' record. The message names the byte position.</summary>
public sealed class RbdDiffFormatException(string message) : IOException(message);
