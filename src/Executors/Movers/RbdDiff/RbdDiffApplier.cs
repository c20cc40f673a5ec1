using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Taquin.Executors.Movers.RbdDiff;

/// <summary>What applying a diff did.</summary>
/// <param name="DataBytes">Bytes written from 'w' records (zero runs skipped on a zeroed target are not counted).</param>
/// <param name="ZeroBytes">Bytes covered by 'z' records (written as zeroes unless the target was known to be zero).</param>
public sealed record RbdDiffApplyResult(RbdDiffHeader Header, long DataBytes, long ZeroBytes, int Extents, long StreamBytes);

public sealed record RbdDiffApplyOptions
{
    /// <summary>The snapshot the target must already hold (the diff's from-snap); null accepts only full diffs.</summary>
    public string? ExpectedFromSnapshot { get; init; }

    /// <summary>The target reads as zeroes where nothing was written yet (a fresh sparse file or thin volume): 'z' records are skipped.</summary>
    public bool TargetIsZeroed { get; init; }

    /// <summary>Called after every chunk with the bytes of stream consumed so far.</summary>
    public Action<long>? Progress { get; init; }
}

/// <summary>
/// Applies an <c>rbd export-diff</c> stream onto a raw target (a file or a block device such as a zvol): data at
/// its offsets, zero extents as zeroes, nothing else touched, so a full diff gives a sparse copy and an incremental
/// diff gives warm sync onto storage that is not RBD.
/// </summary>
public static class RbdDiffApplier
{
    private const int ChunkSize = 1 << 20;

    public static async Task<RbdDiffApplyResult> ApplyAsync(Stream diff, string targetPath, RbdDiffApplyOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var reader = new RbdDiffReader(diff);
        var header = await reader.ReadHeaderAsync(ct);
        if (header.FromSnapshot != options.ExpectedFromSnapshot)
        {
            throw new RbdDiffFormatException(header.FromSnapshot is null
                ? $"the diff is a full copy but {targetPath} is expected to hold snapshot '{options.ExpectedFromSnapshot}' already: refusing to apply a full diff as an increment"
                : $"the diff starts at snapshot '{header.FromSnapshot}' but {targetPath} holds {(options.ExpectedFromSnapshot is null ? "nothing" : $"'{options.ExpectedFromSnapshot}'")}");
        }

        using var handle = File.OpenHandle(targetPath, FileMode.OpenOrCreate, FileAccess.ReadWrite);
        // A block device (zvol) has its size; a file grows to the image size (sparse) so its checksum covers it.
        var isRegularFile = !targetPath.StartsWith("/dev/", StringComparison.Ordinal);
        if (isRegularFile && RandomAccess.GetLength(handle) < header.ImageSize)
        {
            RandomAccess.SetLength(handle, header.ImageSize);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            long data = 0, zero = 0;
            var extents = 0;
            while (await reader.ReadExtentAsync(ct) is { } extent)
            {
                extents++;
                if (extent.Kind == RbdDiffExtentKind.Data)
                {
                    var at = extent.Offset;
                    int read;
                    while ((read = await reader.ReadDataAsync(buffer.AsMemory(0, ChunkSize), ct)) > 0)
                    {
                        // Ceph reports an object allocated from its start, so full diffs carry zero runs: a zeroed target skips them.
                        if (!options.TargetIsZeroed || buffer.AsSpan(0, read).ContainsAnyExcept((byte)0))
                        {
                            await WriteAsync(handle, targetPath, buffer.AsMemory(0, read), at, ct);
                            data += read;
                        }

                        at += read;
                        options.Progress?.Invoke(reader.Position);
                    }
                }
                else
                {
                    zero += extent.Length;
                    if (!options.TargetIsZeroed)
                    {
                        Array.Clear(buffer, 0, ChunkSize);
                        for (var done = 0L; done < extent.Length; done += ChunkSize)
                        {
                            var chunk = (int)Math.Min(ChunkSize, extent.Length - done);
                            await WriteAsync(handle, targetPath, buffer.AsMemory(0, chunk), extent.Offset + done, ct);
                        }
                    }

                    options.Progress?.Invoke(reader.Position);
                }
            }

            RandomAccess.FlushToDisk(handle);
            return new RbdDiffApplyResult(header, data, zero, extents, reader.Position);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task WriteAsync(SafeFileHandle handle, string path, ReadOnlyMemory<byte> data, long offset, CancellationToken ct)
    {
        try
        {
            await RandomAccess.WriteAsync(handle, data, offset, ct);
        }
        catch (IOException e) when (e.HResult == 28 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase))
        {
            throw new TargetFullException($"target {path} is full: writing {data.Length} bytes at offset {offset} failed ({e.Message})", e);
        }
    }
}

/// <summary>The target storage ran out of space during a copy.</summary>
public sealed class TargetFullException(string message, Exception inner) : IOException(message, inner);
