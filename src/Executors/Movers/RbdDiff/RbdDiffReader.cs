using System.Buffers.Binary;
using System.Text;

namespace Taquin.Executors.Movers.RbdDiff;

/// <summary>
/// Streaming reader of an <c>rbd export-diff</c> stream (v1 and v2). Reads exactly up to and including the 'e'
/// record, never further, so several diffs can follow each other in one stream. Data is never buffered whole:
/// after <see cref="ReadExtentAsync"/> returns a Data extent, the caller drains it with <see cref="ReadDataAsync"/>.
/// </summary>
public sealed class RbdDiffReader(Stream stream)
{
    private readonly byte[] _scratch = new byte[16];
    private long _dataLeft;
    private bool _ended;

    /// <summary>Bytes consumed from the stream so far (for error messages and progress).</summary>
    public long Position { get; private set; }

    public RbdDiffHeader? Header { get; private set; }

    /// <summary>Reads the banner and the metadata records, up to the first data record (or 'e').</summary>
    public async Task<RbdDiffHeader> ReadHeaderAsync(CancellationToken ct = default)
    {
        var banner = new byte[RbdDiffFormat.BannerV1.Length];
        await ReadExactAsync(banner, "the banner", ct);
        var text = Encoding.ASCII.GetString(banner);
        var version = text switch
        {
            RbdDiffFormat.BannerV1 => 1,
            RbdDiffFormat.BannerV2 => 2,
            _ => throw new RbdDiffFormatException($"not an rbd diff stream: it starts with \"{Printable(text)}\", expected \"rbd diff v1\" or \"rbd diff v2\""),
        };

        string? from = null;
        string? to = null;
        long? size = null;
        while (true)
        {
            var tagAt = Position;
            var tag = await ReadTagAsync(ct);
            if (tag is RbdDiffFormat.Write or RbdDiffFormat.Zero or RbdDiffFormat.End)
            {
                _pendingTag = (tag, tagAt);
                break;
            }

            var length = version == 2 ? await ReadInt64Async($"the length of record '{(char)tag}'", ct) : -1;
            switch (tag)
            {
                case RbdDiffFormat.FromSnap:
                    from = await ReadNameAsync(ct);
                    break;
                case RbdDiffFormat.ToSnap:
                    to = await ReadNameAsync(ct);
                    break;
                case RbdDiffFormat.Size:
                    size = await ReadInt64Async("the image size", ct);
                    break;
                case RbdDiffFormat.ProtectionStatus when version == 2:
                    // One byte, whatever the length field says: Ceph's importer reads known records by their layout,
                    // and some Ceph releases write 8 here.
                    await ReadExactAsync(_scratch.AsMemory(0, 1), "the snapshot protection status", ct);
                    break;
                default:
                    if (version == 1)
                    {
                        throw new RbdDiffFormatException($"unknown record tag 0x{tag:x2} ('{Printable(((char)tag).ToString())}') at byte {tagAt} of an rbd diff v1 stream, which cannot skip records");
                    }

                    await SkipAsync(length, ct);
                    break;
            }
        }

        Header = new RbdDiffHeader(version, from, to, size ?? throw new RbdDiffFormatException($"rbd diff stream has no image size record before its data (byte {Position})"));
        return Header;
    }

    /// <summary>The first data tag, read by <see cref="ReadHeaderAsync"/> to know the metadata had ended.</summary>
    private (byte Tag, long At)? _pendingTag;

    /// <summary>The next data record, or null at 'e'. The previous Data extent must have been drained.</summary>
    public async Task<RbdDiffExtent?> ReadExtentAsync(CancellationToken ct = default)
    {
        var header = Header ?? throw new InvalidOperationException("ReadHeaderAsync first");
        if (_dataLeft != 0)
        {
            throw new InvalidOperationException($"{_dataLeft} bytes of the previous extent not read");
        }

        while (!_ended)
        {
            var (tag, tagAt) = _pendingTag ?? (await ReadTagAsync(ct), Position - 1);
            _pendingTag = null;
            if (tag == RbdDiffFormat.End)
            {
                _ended = true;
                return null;
            }

            var length = header.Version == 2 ? await ReadInt64Async($"the length of record '{(char)tag}'", ct) : -1;
            if (tag is RbdDiffFormat.Write or RbdDiffFormat.Zero)
            {
                var offset = await ReadInt64Async("an extent offset", ct);
                var extentLength = await ReadInt64Async("an extent length", ct);
                if (offset < 0 || extentLength < 0 || offset + extentLength > header.ImageSize)
                {
                    throw new RbdDiffFormatException($"extent at byte {tagAt} ({offset}+{extentLength}) lies outside the image size {header.ImageSize}");
                }

                if (header.Version == 2 && length != 16 + (tag == RbdDiffFormat.Write ? extentLength : 0))
                {
                    throw new RbdDiffFormatException($"record '{(char)tag}' at byte {tagAt} says its payload is {length} bytes, its extent needs {16 + (tag == RbdDiffFormat.Write ? extentLength : 0)}");
                }

                if (tag == RbdDiffFormat.Write)
                {
                    _dataLeft = extentLength;
                    return new RbdDiffExtent(RbdDiffExtentKind.Data, offset, extentLength);
                }

                return new RbdDiffExtent(RbdDiffExtentKind.Zero, offset, extentLength);
            }

            if (header.Version == 1)
            {
                throw new RbdDiffFormatException($"unknown record tag 0x{tag:x2} ('{Printable(((char)tag).ToString())}') at byte {tagAt} of an rbd diff v1 stream, which cannot skip records");
            }

            await SkipAsync(length, ct);
        }

        return null;
    }

    /// <summary>Reads data of the current Data extent into <paramref name="buffer"/>; 0 when the extent is drained.</summary>
    public async Task<int> ReadDataAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (_dataLeft == 0)
        {
            return 0;
        }

        var want = (int)Math.Min(buffer.Length, _dataLeft);
        var read = await stream.ReadAsync(buffer[..want], ct);
        if (read == 0)
        {
            throw new RbdDiffFormatException($"rbd diff stream truncated: it ended at byte {Position} with {_dataLeft} bytes of a data extent still expected");
        }

        Position += read;
        _dataLeft -= read;
        return read;
    }

    private async Task<byte> ReadTagAsync(CancellationToken ct)
    {
        var read = await stream.ReadAsync(_scratch.AsMemory(0, 1), ct);
        if (read == 0)
        {
            throw new RbdDiffFormatException($"rbd diff stream truncated: it ended at byte {Position} without its end record 'e'");
        }

        Position++;
        return _scratch[0];
    }

    private async Task ReadExactAsync(Memory<byte> buffer, string what, CancellationToken ct)
    {
        var start = 0;
        while (start < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer[start..], ct);
            if (read == 0)
            {
                throw new RbdDiffFormatException($"rbd diff stream truncated: it ended at byte {Position} inside {what}");
            }

            start += read;
            Position += read;
        }
    }

    private async Task<long> ReadInt64Async(string what, CancellationToken ct)
    {
        await ReadExactAsync(_scratch.AsMemory(0, 8), what, ct);
        var value = BinaryPrimitives.ReadInt64LittleEndian(_scratch);
        return value < 0 ? throw new RbdDiffFormatException($"{what} before byte {Position} is out of range ({(ulong)value})") : value;
    }

    private async Task<string> ReadNameAsync(CancellationToken ct)
    {
        await ReadExactAsync(_scratch.AsMemory(0, 4), "a snapshot name length", ct);
        var length = BinaryPrimitives.ReadInt32LittleEndian(_scratch);
        if (length is < 0 or > 4096)
        {
            throw new RbdDiffFormatException($"snapshot name length {length} before byte {Position} is not plausible");
        }

        var name = new byte[length];
        await ReadExactAsync(name, "a snapshot name", ct);
        return Encoding.UTF8.GetString(name);
    }

    private async Task SkipAsync(long length, CancellationToken ct)
    {
        var buffer = new byte[(int)Math.Min(length, 64 * 1024)];
        while (length > 0)
        {
            var chunk = (int)Math.Min(length, buffer.Length);
            await ReadExactAsync(buffer.AsMemory(0, chunk), "a skipped record", ct);
            length -= chunk;
        }
    }

    private static string Printable(string text)
        => new([.. text.Select(c => c is >= ' ' and <= '~' ? c : '?')]);
}
