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
    /// <summary>Ranges are hashed in pieces of at most this many bytes (the temporary file a piece is read into stays small).</summary>
    internal const long PieceBytes = 64L << 20;

    /// <summary>Overlay extents closer than this are read as one range, gap included: fewer qemu-img start-ups.</summary>
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
    /// Extents merged into at most <see cref="MaxOverlayRanges"/> ranges: neighbours closer than the gap (starting at
    /// <see cref="MergeGapBytes"/>, doubled until the count fits) become one range. Every extent stays covered.
    /// </summary>
    internal static IReadOnlyList<(long Start, long Length)> MergeExtents(IReadOnlyList<(long Start, long Length)> extents)
    {
        var sorted = extents.Where(e => e.Length > 0).OrderBy(e => e.Start).ToList();
        for (var gap = MergeGapBytes; ; gap *= 2)
        {
            var merged = new List<(long Start, long Length)>();
            foreach (var (start, length) in sorted)
            {
                if (merged.Count > 0 && start - (merged[^1].Start + merged[^1].Length) < gap)
                {
                    var last = merged[^1];
                    merged[^1] = (last.Start, Math.Max(last.Start + last.Length, start + length) - last.Start);
                }
                else
                {
                    merged.Add((start, length));
                }
            }

            if (merged.Count <= MaxOverlayRanges)
            {
                return merged;
            }
        }
    }

    /// <summary>What one side reads: sample blocks first, then the overlay's ranges in pieces of at most <see cref="PieceBytes"/>.</summary>
    internal sealed record Piece(long Offset, long Length, bool Overlay);

    internal static IReadOnlyList<Piece> Pieces(MoverOptions options, Layout layout)
    {
        var pieces = options.SampleOffsetsFor(layout.VirtualSize)
            .Select(o => new Piece(o, Math.Min(options.SampleBytes, layout.VirtualSize - o), Overlay: false))
            .Where(p => p.Length > 0)
            .ToList();
        foreach (var (start, length) in MergeExtents(layout.OverlayExtents))
        {
            for (var at = start; at < start + length; at += PieceBytes)
            {
                pieces.Add(new Piece(at, Math.Min(PieceBytes, start + length - at), Overlay: true));
            }
        }

        return pieces;
    }

    private static async Task<VerifyReport> SampledAsync(ISshRunner ssh, MoverOptions options, DiskCopyRequest request, FileImageSource file, Layout layout, CancellationToken ct)
    {
        var pieces = Pieces(options, layout);
        var sourceTask = HashAsync(ssh, file.Host, Script(SourceReader(file), pieces), ct);
        var targetTask = HashAsync(ssh, request.Target.Host, Script(TargetReader(request.Target, options), pieces), ct);
        await Task.WhenAll(sourceTask, targetTask);
        var (source, target) = (await sourceTask, await targetTask);

        var differing = pieces.Where((_, i) => i >= source.Count || i >= target.Count || source[i] != target[i])
            .Select(p => p.Overlay ? FormattableString.Invariant($"overlay {p.Offset}+{p.Length}") : p.Offset.ToString(CultureInfo.InvariantCulture))
            .ToList();
        var samples = pieces.Count(p => !p.Overlay);
        var overlayData = layout.OverlayExtents.Sum(e => e.Length);
        var overlayRead = pieces.Where(p => p.Overlay).Sum(p => p.Length);
        var read = source.Sum(h => h.Bytes);
        var detail = new StringBuilder(FormattableString.Invariant($"SAMPLED: {samples} x {Size(options.SampleBytes)}"));
        if (request.FromSnapshot is not null)
        {
            detail.Append(FormattableString.Invariant($" + overlay extents {Size(overlayData)} in full ({MergeExtents(layout.OverlayExtents).Count} range(s), {Size(overlayRead)} read)"));
        }

        detail.Append(FormattableString.Invariant($" out of {layout.VirtualSize} bytes; {read} bytes read per side"));
        if (differing.Count > 0)
        {
            detail.Append("; differing at ").AppendJoin(',', differing);
        }

        return new VerifyReport(differing.Count == 0 && source.Count == pieces.Count, VerifyMode.Sampled, Digest(source), Digest(target), detail.ToString())
        {
            BytesRead = read,
        };
    }

    /// <summary>
    /// A shell function <c>r OFFSET LENGTH</c> that reads that guest range into "$t": qemu-img (qcow2 with its backing
    /// chain, RBD) through a <c>raw</c> node with offset and size, or dd for raw files and block devices.
    /// </summary>
    private static string SourceReader(FileImageSource file) => file.Format == "raw"
        ? DdReader(file.Path)
        : QemuReader(new JsonObject { ["driver"] = file.Format, ["file"] = new JsonObject { ["driver"] = "file", ["filename"] = file.Path } });

    private static string TargetReader(DiskTarget target, MoverOptions options)
    {
        switch (target)
        {
            case RawVolumeTarget raw:
                return DdReader(raw.Path);
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

                return QemuReader(node);
            default:
                throw new NotSupportedException(target.GetType().Name);
        }
    }

    private static string DdReader(string path)
        => $"r() {{ dd if={ShellQuoting.Quote(path)} of=\"$t\" bs=1M skip=\"$1\" count=\"$2\" iflag=skip_bytes,count_bytes status=none; }}";

    private static string QemuReader(JsonObject file)
    {
        var node = file.ToJsonString();
        // The range's offset and size are spliced into the JSON by the shell: "$1" and "$2" are plain integers.
        return $"f={ShellQuoting.Quote(node)}\nr() {{ qemu-img convert -O raw \"json:{{\\\"driver\\\":\\\"raw\\\",\\\"offset\\\":$1,\\\"size\\\":$2,\\\"file\\\":$f}}\" \"$t\"; }}";
    }

    /// <summary>The side's script: each piece read into a temporary file, then "sha256 bytes" printed (bytes as read).</summary>
    internal static string Script(string reader, IReadOnlyList<Piece> pieces)
    {
        var script = new StringBuilder();
        script.AppendLine("set -e").AppendLine("t=$(mktemp)").AppendLine("trap 'rm -f \"$t\"' EXIT").AppendLine(reader);
        script.AppendLine("h() { printf '%s %s\\n' \"$(sha256sum < \"$t\" | cut -d' ' -f1)\" \"$(stat -c %s \"$t\")\"; }");
        foreach (var piece in pieces)
        {
            script.AppendLine(CultureInfo.InvariantCulture, $"r {piece.Offset} {piece.Length}; h");
        }

        return script.ToString();
    }

    internal sealed record PieceHash(string Sha256, long Bytes);

    /// <summary>Runs a side's script from stdin (a scattered overlay's script can outgrow a command line).</summary>
    private static async Task<IReadOnlyList<PieceHash>> HashAsync(ISshRunner ssh, string host, string script, CancellationToken ct)
    {
        using var stdin = new MemoryStream(Encoding.UTF8.GetBytes(script));
        var result = await ssh.RunAsync(host, ["bash", "-o", "pipefail", "-s"], stdin, ct);
        Check(result, $"sampled checksums on {host}");
        return [.. result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' '))
            .Select(f => new PieceHash(f[0], long.Parse(f[1], CultureInfo.InvariantCulture)))];
    }

    /// <summary>One short digest of a side's hashes (the journal keeps it; the detail names differing pieces).</summary>
    private static string Digest(IReadOnlyList<PieceHash> hashes)
        => FormattableString.Invariant($"{hashes.Count} pieces sha256:{Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(string.Join('\n', hashes.Select(h => h.Sha256)))))[..16]}");

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
