namespace Taquin.Executors.Movers.Progress;

/// <summary>One entry of <c>rbd diff --format json</c>: where it is, how long, and whether it holds data (else it is a zero record).</summary>
public readonly record struct RbdDiffEntry(long Offset, long Length, bool Exists);

/// <summary>
/// Turns <c>rbd export-diff</c>'s percentage into bytes of its stream. rbd's percentage is of the image's address space
/// (the offset of the last extent written, over the image size), not of the stream: on a sparse image 6 % of the address
/// space can be all of the data. With the extents of <c>rbd diff</c> (the same walk export-diff does) the stream bytes
/// written up to that offset are known: header, then per extent its record and its data, in offset order.
/// Accuracy: 1 % of the address space (rbd prints whole percents): the extents that start inside the reported percent
/// count as written, which is exact when the one rbd just reported is the last of them (so on the captured samples).
/// </summary>
public sealed class RbdExportProgressMap
{
    private readonly long _imageSize;
    private readonly long _streamBytes;
    private readonly long[] _offsets;
    private readonly long[] _doneAfter;

    /// <param name="imageSize">The image's size at the exported snapshot (what rbd divides by).</param>
    /// <param name="headerBytes">Stream bytes before the first extent record (banner, snapshot and size records).</param>
    /// <param name="streamBytes">The whole stream's length (<see cref="CommandDiskMover.DiffStreamBytes"/>).</param>
    public RbdExportProgressMap(long imageSize, long headerBytes, long streamBytes, IEnumerable<RbdDiffEntry> extents)
    {
        var sorted = extents.OrderBy(e => e.Offset).ToArray();
        _imageSize = imageSize;
        _streamBytes = streamBytes;
        _offsets = [.. sorted.Select(e => e.Offset)];
        _doneAfter = new long[sorted.Length];
        var bytes = headerBytes;
        for (var i = 0; i < sorted.Length; i++)
        {
            bytes += RecordBytes + (sorted[i].Exists ? sorted[i].Length : 0);
            _doneAfter[i] = bytes;
        }
    }

    /// <summary>Tag, offset and length of one extent record (its data follows when the extent exists).</summary>
    public const int RecordBytes = 1 + 8 + 8;

    /// <summary>Stream bytes written once rbd reported <paramref name="percent"/>; below the total until 100 %.</summary>
    public long StreamBytesAt(double percent)
    {
        if (percent >= 100 || _imageSize <= 0)
        {
            return percent >= 100 ? _streamBytes : 0;
        }

        // rbd prints floor(offset of the extent just written / size): the extents it has written start below the next percent.
        var below = (long)Math.Ceiling((Math.Floor(percent) + 1) / 100 * _imageSize);
        var index = Array.BinarySearch(_offsets, below);
        var done = index >= 0 ? index : ~index;
        while (done > 0 && _offsets[done - 1] >= below)
        {
            done--;
        }

        var bytes = done == 0 ? 0 : _doneAfter[done - 1];
        return Math.Min(bytes, _streamBytes - 1);
    }
}
