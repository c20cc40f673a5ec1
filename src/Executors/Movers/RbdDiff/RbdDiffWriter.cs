using System.Buffers.Binary;
using System.Text;

namespace Taquin.Executors.Movers.RbdDiff;

/// <summary>Writes an <c>rbd export-diff</c> stream (v1 or v2) that <c>rbd import-diff</c> accepts.</summary>
public sealed class RbdDiffWriter(Stream stream, int version = 1)
{
    private readonly byte[] _scratch = new byte[32];

    public async Task WriteHeaderAsync(RbdDiffHeader header, CancellationToken ct = default)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(version == 2 ? RbdDiffFormat.BannerV2 : RbdDiffFormat.BannerV1), ct);
        if (header.FromSnapshot is { } from)
        {
            await WriteNameAsync(RbdDiffFormat.FromSnap, from, ct);
        }

        if (header.ToSnapshot is { } to)
        {
            await WriteNameAsync(RbdDiffFormat.ToSnap, to, ct);
        }

        await WriteRecordHeadAsync(RbdDiffFormat.Size, 8, ct);
        await WriteInt64Async(header.ImageSize, ct);
    }

    public async Task WriteDataAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        await WriteRecordHeadAsync(RbdDiffFormat.Write, 16 + data.Length, ct);
        await WriteInt64Async(offset, ct);
        await WriteInt64Async(data.Length, ct);
        await stream.WriteAsync(data, ct);
    }

    public async Task WriteZeroAsync(long offset, long length, CancellationToken ct = default)
    {
        await WriteRecordHeadAsync(RbdDiffFormat.Zero, 16, ct);
        await WriteInt64Async(offset, ct);
        await WriteInt64Async(length, ct);
    }

    /// <summary>A record this writer has no method for (v2 readers skip it by its length).</summary>
    public async Task WriteRawRecordAsync(byte tag, ReadOnlyMemory<byte> payload, CancellationToken ct = default)
    {
        await WriteRecordHeadAsync(tag, payload.Length, ct);
        await stream.WriteAsync(payload, ct);
    }

    public async Task WriteEndAsync(CancellationToken ct = default)
    {
        _scratch[0] = RbdDiffFormat.End;
        await stream.WriteAsync(_scratch.AsMemory(0, 1), ct);
        await stream.FlushAsync(ct);
    }

    private async Task WriteNameAsync(byte tag, string name, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        await WriteRecordHeadAsync(tag, 4 + bytes.Length, ct);
        BinaryPrimitives.WriteInt32LittleEndian(_scratch, bytes.Length);
        await stream.WriteAsync(_scratch.AsMemory(0, 4), ct);
        await stream.WriteAsync(bytes, ct);
    }

    private async Task WriteRecordHeadAsync(byte tag, long payloadLength, CancellationToken ct)
    {
        _scratch[0] = tag;
        if (version == 2)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_scratch.AsSpan(1), payloadLength);
            await stream.WriteAsync(_scratch.AsMemory(0, 9), ct);
        }
        else
        {
            await stream.WriteAsync(_scratch.AsMemory(0, 1), ct);
        }
    }

    private async Task WriteInt64Async(long value, CancellationToken ct)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_scratch, value);
        await stream.WriteAsync(_scratch.AsMemory(0, 8), ct);
    }
}
