using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ssh;

namespace Taquin.Executors.Movers;

/// <summary>
/// Verification of a file disk (qcow2 / raw file, or a warm disk's overlay with its backing chain) against its target
/// (docs/adr/0020). Full: <c>qemu-img compare</c> of the guest content. Sampled — <see cref="MoverOptions.Verify"/> or a
/// disk larger than <see cref="MoverOptions.FullVerifyLimitBytes"/>, as for RBD — hashes the RBD layout of blocks
/// (<see cref="MoverOptions.SampleOffsetsFor"/>) on each side, each side on its own host reading its own files, and for a
/// warm overlay (<see cref="DiskCopyRequest.FromSnapshot"/> set) every extent the overlay allocated, in full: the change
/// made while the guest ran is verified byte for byte, the base (copied and unchanged since) by samples.
/// </summary>
internal static class FileDiskVerifier
{
    /// <summary>Overlay ranges are read in pieces of at most this many bytes (whole blocks), so a group's temporary file stays small.</summary>
    internal const long PieceBytes = 64L << 20;

    /// <summary>When an overlay has more than <see cref="MaxOverlayRanges"/> ranges, neighbours this close (then twice, …) are read as one, gap included.</summary>
    internal const long MergeGapBytes = 1L << 20;

    /// <summary>At most this many overlay ranges: a scattered overlay's gap grows until they fit (more bytes, fewer processes).</summary>
    internal const int MaxOverlayRanges = 256;

    public static async Task<VerifyReport> VerifyAsync(ISshRunner ssh, MoverOptions options, DiskCopyRequest request, FileImageSource file, CancellationToken ct)
    {
        var overlay = request.FromSnapshot is not null;
        if (options.Verify == VerifyMode.Full && options.FullVerifyLimitBytes == long.MaxValue)
        {
            // Nothing to decide: no extra round trip for the disk's size.
            return await CompareAsync(ssh, options, request, file, null, ct);
        }

        var layout = await LayoutAsync(ssh, file, overlay, ct);
        if (options.Verify == VerifyMode.Full && layout.VirtualSize <= options.FullVerifyLimitBytes)
        {
            return await CompareAsync(ssh, options, request, file, layout.VirtualSize, ct);
        }

        return await SampledAsync(ssh, options, request, file, layout, ct);
    }

    /// <summary>Guest size of the source, and for an overlay the guest extents it allocated (written or zeroed clusters).</summary>
    internal sealed record Layout(long VirtualSize, IReadOnlyList<(long Start, long Length)> OverlayExtents);

    /// <summary>One round trip on the source host: <c>qemu-img info</c>, and <c>qemu-img map</c> of an overlay.</summary>
    private static async Task<Layout> LayoutAsync(ISshRunner ssh, FileImageSource file, bool overlay, CancellationToken ct)
    {
        const string Script = "set -e; qemu-img info --output=json -f \"$2\" \"$1\"; echo '#map'; if [ \"$3\" = overlay ]; then qemu-img map --output=json -f \"$2\" \"$1\"; fi";
        var result = await ssh.RunAsync(file.Host, ["bash", "-c", Script, "verify-layout", file.Path, file.Format, overlay ? "overlay" : "whole"], ct: ct);
        Check(result, $"qemu-img info/map of {file.Host}:{file.Path}");
        return ParseLayout(result.Stdout);
    }

    internal static Layout ParseLayout(string stdout)
    {
        var split = stdout.IndexOf("#map", StringComparison.Ordinal);
        if (split < 0)
        {
            throw new AdapterException($"qemu-img info/map printed no '#map' separator: {stdout.Trim()}", isTransient: false);
        }

        using var info = JsonDocument.Parse(stdout[..split]);
        var size = info.RootElement.GetProperty("virtual-size").GetInt64();
        var map = stdout[(split + "#map".Length)..].Trim();
        if (map.Length == 0)
        {
            return new Layout(size, []);
        }

        using var doc = JsonDocument.Parse(map);
        // Depth 0: clusters of the overlay itself (data, or zero clusters that hide the base); the rest reads through to the base.
        var extents = doc.RootElement.EnumerateArray()
            .Where(e => e.GetProperty("depth").GetInt32() == 0
                && (!e.TryGetProperty("present", out var present) || present.GetBoolean())
                && (e.GetProperty("data").GetBoolean() || e.GetProperty("zero").GetBoolean()))
            .Select(e => (e.GetProperty("start").GetInt64(), e.GetProperty("length").GetInt64()))
            .ToList();
        return new Layout(size, extents);
    }

    /// <summary>
    /// Extents widened to whole blocks of <paramref name="block"/> bytes (as far as the disk's <paramref name="size"/>)
    /// and merged, at most <see cref="MaxOverlayRanges"/> ranges: touching ones first, then neighbours closer than a gap
    /// that starts at <see cref="MergeGapBytes"/> and doubles until the count fits. Every extent stays covered.
    /// </summary>
    internal static IReadOnlyList<(long Start, long Length)> MergeExtents(IReadOnlyList<(long Start, long Length)> extents, long block, long size)
    {
        var aligned = extents.Where(e => e.Length > 0)
            .Select(e => (Start: e.Start / block * block, End: Math.Min(size, (e.Start + e.Length + block - 1) / block * block)))
            .OrderBy(e => e.Start)
            .ToList();
        for (var gap = 0L; ; gap = Math.Max(MergeGapBytes, gap * 2))
        {
            var merged = new List<(long Start, long End)>();
            foreach (var (start, end) in aligned)
            {
                if (merged.Count > 0 && start - merged[^1].End <= gap)
                {
                    merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, end));
                }
                else
                {
                    merged.Add((start, end));
                }
            }

            if (merged.Count <= MaxOverlayRanges)
            {
                return [.. merged.Select(r => (r.Start, r.End - r.Start))];
            }
        }
    }

    /// <summary>A guest range one side reads: a sample block, or a part of an overlay range (whole blocks).</summary>
    internal sealed record Piece(long Offset, long Length, bool Overlay);

    /// <summary>Sample blocks first, then the overlay's ranges in pieces of at most <see cref="PieceBytes"/> (whole blocks).</summary>
    internal static IReadOnlyList<Piece> Pieces(MoverOptions options, Layout layout)
    {
        var block = (long)options.SampleBytes;
        var pieces = options.SampleOffsetsFor(layout.VirtualSize)
            .Select(o => new Piece(o, Math.Min(block, layout.VirtualSize - o), Overlay: false))
            .Where(p => p.Length > 0)
            .ToList();
        var step = Math.Max(1, PieceBytes / block) * block;
        foreach (var (start, length) in MergeExtents(layout.OverlayExtents, block, layout.VirtualSize))
        {
            for (var at = start; at < start + length; at += step)
            {
                pieces.Add(new Piece(at, Math.Min(step, start + length - at), Overlay: true));
            }
        }

        return pieces;
    }

    /// <summary>What is hashed: each piece cut into blocks of <see cref="MoverOptions.SampleBytes"/> (a sample is one block).</summary>
    internal sealed record Block(long Offset, long Length, bool Overlay);

    internal static IReadOnlyList<Block> Blocks(IReadOnlyList<Piece> pieces, long block)
        => [.. pieces.SelectMany(p => Enumerable.Range(0, (int)((p.Length + block - 1) / block))
            .Select(i => new Block(p.Offset + (i * block), Math.Min(block, p.Length - (i * block)), p.Overlay)))];

    private static async Task<VerifyReport> SampledAsync(ISshRunner ssh, MoverOptions options, DiskCopyRequest request, FileImageSource file, Layout layout, CancellationToken ct)
    {
        var pieces = Pieces(options, layout);
        var blocks = Blocks(pieces, options.SampleBytes);
        var sourceTask = HashAsync(ssh, file.Host, Script(SourceReader(file), pieces, options.SampleBytes), ct);
        var targetTask = HashAsync(ssh, request.Target.Host, Script(TargetReader(request.Target, options), pieces, options.SampleBytes), ct);
        await Task.WhenAll(sourceTask, targetTask);
        var (source, target) = (await sourceTask, await targetTask);

        var differing = blocks.Where((_, i) => i >= source.Hashes.Count || i >= target.Hashes.Count || source.Hashes[i] != target.Hashes[i])
            .Select(b => b.Overlay ? FormattableString.Invariant($"overlay {b.Offset}+{b.Length}") : b.Offset.ToString(CultureInfo.InvariantCulture))
            .ToList();
        var samples = pieces.Count(p => !p.Overlay);
        var overlayData = layout.OverlayExtents.Sum(e => e.Length);
        var overlayRead = pieces.Where(p => p.Overlay).Sum(p => p.Length);
        var detail = new StringBuilder(FormattableString.Invariant($"SAMPLED: {samples} x {Size(options.SampleBytes)}"));
        if (request.FromSnapshot is not null)
        {
            var ranges = MergeExtents(layout.OverlayExtents, options.SampleBytes, layout.VirtualSize).Count;
            detail.Append(FormattableString.Invariant($" + overlay extents {Size(overlayData)} in full ({ranges} range(s), {Size(overlayRead)} read)"));
        }

        detail.Append(FormattableString.Invariant($" out of {layout.VirtualSize} bytes; {source.Bytes} bytes read per side"));
        if (differing.Count > 0)
        {
            detail.Append("; differing at ").AppendJoin(',', differing);
        }

        var complete = source.Hashes.Count == blocks.Count && target.Hashes.Count == blocks.Count;
        return new VerifyReport(differing.Count == 0 && complete, VerifyMode.Sampled, Digest(source.Hashes), Digest(target.Hashes), detail.ToString())
        {
            BytesRead = source.Bytes,
        };
    }

    /// <summary>How a side reads guest ranges: a raw file or block device with dd (a path), else qemu-img through this block node.</summary>
    private static object SourceReader(FileImageSource file) => file.Format == "raw"
        ? file.Path
        : new JsonObject { ["driver"] = file.Format, ["file"] = new JsonObject { ["driver"] = "file", ["filename"] = file.Path } };

    private static object TargetReader(DiskTarget target, MoverOptions options)
    {
        switch (target)
        {
            case RawVolumeTarget raw:
                return raw.Path;
            case RbdVolumeTarget rbd:
                var slash = rbd.Image.IndexOf('/', StringComparison.Ordinal);
                var node = new JsonObject
                {
                    ["driver"] = "rbd",
                    ["pool"] = slash < 0 ? "rbd" : rbd.Image[..slash],
                    ["image"] = slash < 0 ? rbd.Image : rbd.Image[(slash + 1)..],
                };
                if (options.TargetCephConf is not null)
                {
                    node["conf"] = options.TargetCephConf;
                }

                return node;
            default:
                throw new NotSupportedException(target.GetType().Name);
        }
    }

    /// <summary>Pieces read by one command into the temporary file: at most this many bytes…</summary>
    internal const long GroupBytes = 128L << 20;

    /// <summary>…and this many pieces (qemu-img opens the image once per piece).</summary>
    internal const int GroupPieces = 64;

    /// <summary>
    /// The side's script. Pieces are read in groups by ONE command into a temporary file — qemu-img convert with one
    /// <c>raw</c> node (offset, size) per piece as its sources, which it concatenates, or dd for raw files — then cut
    /// into blocks (<c>split -b</c>) and hashed by one <c>b2sum</c>: a few processes per group, not per piece
    /// (per-piece qemu-img and dd|sha256sum cost about 20 ms each on the loaded test bed). BLAKE2b, not SHA-256:
    /// coreutils' sha256sum has no SHA-NI and hashed at a third of b2sum's rate on the test bed, and hashing is most of
    /// this script's CPU. Prints "#bytes N" per group (what was actually read), then one hash line per block, in order.
    /// </summary>
    internal static string Script(object reader, IReadOnlyList<Piece> pieces, long block)
    {
        var script = new StringBuilder();
        script.AppendLine("set -e").AppendLine("d=$(mktemp -d)").AppendLine("trap 'rm -rf \"$d\"' EXIT");
        foreach (var group in Groups(pieces, block))
        {
            script.AppendLine(reader switch
            {
                string path => "{ " + string.Join(' ', group.Select(p => FormattableString.Invariant(
                    $"dd if={ShellQuoting.Quote(path)} bs=1M skip={p.Offset} count={p.Length} iflag=skip_bytes,count_bytes status=none;"))) + " } > \"$d/g\"",
                JsonObject node => "qemu-img convert -O raw " + string.Join(' ', group.Select(p => ShellQuoting.Quote("json:" + new JsonObject
                {
                    ["driver"] = "raw",
                    ["offset"] = p.Offset,
                    ["size"] = p.Length,
                    ["file"] = node.DeepClone(),
                }.ToJsonString()))) + " \"$d/g\"",
                _ => throw new NotSupportedException(reader.GetType().Name),
            });
            script.AppendLine("echo \"#bytes $(stat -c %s \"$d/g\")\"");
            script.AppendLine(CultureInfo.InvariantCulture, $"split -b {block} -a 6 -d \"$d/g\" \"$d/c.\"");
            script.AppendLine("b2sum \"$d\"/c.*").AppendLine("rm -f \"$d\"/c.* \"$d/g\"");
        }

        return script.ToString();
    }

    /// <summary>
    /// Consecutive pieces up to <see cref="GroupBytes"/> / <see cref="GroupPieces"/>; a piece that is not whole blocks (the
    /// disk's end) closes its group, so <c>split</c>'s blocks stay the pieces' blocks.
    /// </summary>
    private static IEnumerable<IReadOnlyList<Piece>> Groups(IReadOnlyList<Piece> pieces, long block)
    {
        var group = new List<Piece>();
        long bytes = 0;
        foreach (var piece in pieces)
        {
            if (group.Count > 0 && (group.Count == GroupPieces || bytes + piece.Length > GroupBytes || group[^1].Length % block != 0))
            {
                yield return group;
                (group, bytes) = ([], 0);
            }

            group.Add(piece);
            bytes += piece.Length;
        }

        if (group.Count > 0)
        {
            yield return group;
        }
    }

    /// <summary>Runs a side's script from stdin (a scattered overlay's script can outgrow a command line).</summary>
    internal static async Task<(IReadOnlyList<string> Hashes, long Bytes)> HashAsync(ISshRunner ssh, string host, string script, CancellationToken ct)
    {
        using var stdin = new MemoryStream(Encoding.UTF8.GetBytes(script));
        var result = await ssh.RunAsync(host, ["bash", "-o", "pipefail", "-s"], stdin, ct);
        Check(result, $"sampled checksums on {host}");
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return ([.. lines.Where(l => !l.StartsWith('#')).Select(l => l.Split(' ')[0])],
            lines.Where(l => l.StartsWith("#bytes ", StringComparison.Ordinal)).Sum(l => long.Parse(l["#bytes ".Length..], CultureInfo.InvariantCulture)));
    }

    /// <summary>One short digest (SHA-256 of the blocks' BLAKE2b lines) of a side's hashes (the journal keeps it; the detail names differing pieces).</summary>
    private static string Digest(IReadOnlyList<string> hashes)
        => FormattableString.Invariant($"{hashes.Count} blocks b2/sha256:{Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(string.Join('\n', hashes))))[..16]}");

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 20 when bytes % (1L << 20) == 0 => FormattableString.Invariant($"{bytes >> 20} MiB"),
        >= 1L << 20 => FormattableString.Invariant($"{bytes / (double)(1L << 20):F1} MiB"),
        _ when bytes % 1024 == 0 => FormattableString.Invariant($"{bytes >> 10} KiB"),
        _ => FormattableString.Invariant($"{bytes} bytes"),
    };

    /// <summary>
    /// Full: <c>qemu-img compare</c> of the source's guest content (an overlay with its whole chain) with the target, run
    /// on the target node (exit 0 identical, 1 different).
    /// </summary>
    private static async Task<VerifyReport> CompareAsync(ISshRunner ssh, MoverOptions options, DiskCopyRequest request, FileImageSource file, long? size, CancellationToken ct)
    {
        // An overlay (warm file disk) is read with its backing chain: over SSH every file of the chain is named.
        var (source, format) = await FileOverlaySync.QemuSourceAsync(ssh, file, request.Target.Host, ct);
        var target = FileOverlaySync.TargetSpec(request.Target, options);
        var result = await ssh.RunAsync(request.Target.Host, ["qemu-img", "compare", .. format is null ? Array.Empty<string>() : ["-f", format], "-F", "raw", source, target], ct: ct);
        if (result.ExitCode > 1)
        {
            Check(result, $"qemu-img compare for {request}");
        }

        return new VerifyReport(result.ExitCode == 0, VerifyMode.Full, file.Path, target, "qemu-img compare: " + (result.Stdout + result.Stderr).Trim())
        {
            BytesRead = result.ExitCode == 0 ? size : null,
        };
    }

    private static void Check(SshResult result, string what)
    {
        if (!result.Succeeded)
        {
            throw new SshCommandException($"{what} failed (exit {result.ExitCode}): {result.Stderr.Trim()}", isTransient: result.ExitCode == 255, result.ExitCode);
        }
    }
}
