using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Nodes;
using Taquin.Executors.Adapters;
using Taquin.Executors.Movers.Progress;
using Taquin.Executors.Ssh;

namespace Taquin.Executors.Movers;

/// <summary>
/// The cutover half of a warm file disk (docs/adr/0012): the target already holds the base file's content, so only the
/// external overlay's clusters move. The overlay file is copied to the target node, re-pointed (without reading
/// anything: <c>qemu-img rebase -u</c>) at the target volume as its raw backing file, and committed into it
/// (<c>qemu-img commit</c> writes exactly the clusters allocated in the overlay, zero clusters as zeroes).
/// </summary>
internal static class FileOverlaySync
{
    /// <summary>Where the overlay copy lives on the target node while it is committed (removed afterwards).</summary>
    public const string TempFolder = "/var/tmp";

    // $1 = the target volume (qemu spec), $2 = the overlay copy on the target node, $3 = the overlay on the source host.
    private const string InfoScript = "stat -c %s \"$3\"; qemu-img map --output=json -f qcow2 \"$3\"";
    private const string CommitScript = "qemu-img rebase -q -u -f qcow2 -F raw -b \"$1\" \"$2\"; qemu-img commit -q -d \"$2\"";
    private const string RemoveCopy = "trap 'rm -f \"$2\"' EXIT; ";

    public static async Task<(DataPath Path, string Method, long Sent, long Data)> CopyAsync(ISshRunner ssh, MoverOptions options, DiskCopyRequest request, FileImageSource overlay,
        Func<CopyProgress, Task>? progress, TimeProvider time, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        var target = request.Target;
        var temp = TempPath(target);
        // The target holds the base's bytes: the overlay's copy is re-pointed at it (rebase -u reads nothing), then
        // its clusters are written into it. One command per host: each SSH round trip is in the downtime.
        var backing = TargetSpec(target, options);
        if (overlay.Host == target.Host)
        {
            // Same machine: a sparse local copy, nothing crosses a wire.
            var local = await ssh.RunAsync(target.Host, ["bash", "-c", $"set -e; {RemoveCopy}{InfoScript}; cp --sparse=always \"$3\" \"$2\"; {CommitScript}", "commit-overlay", backing, temp, overlay.Path], ct: ct);
            CheckCommit(local, request, overlay, backing);
            var (size, written) = ParseInfo(local.Stdout);
            return (DataPath.Direct, "overlay cp + qemu-img rebase -u + qemu-img commit", size, written);
        }

        var info = await ssh.RunAsync(overlay.Host, ["bash", "-c", $"set -e; {InfoScript}", "overlay-info", "", "", overlay.Path], ct: ct);
        Check(info, $"qemu-img map {overlay.Host}:{overlay.Path}");
        var (fileBytes, data) = ParseInfo(info.Stdout);
        DataPath path;
        long sent;
        if (options.DataPath == DataPath.Direct)
        {
            var remote = ShellQuoting.Join([.. options.SshCommand(target.Host), ShellQuoting.Join(["sh", "-c", "cat > \"$1\"", "sh", temp])]);
            SshResult result;
            await using (var live = new ToolProgressReporter(ToolProgressFormat.DdBytes, fileBytes, ToolProgressReporter.PercentOf(fileBytes), time, started, options.ProgressInterval, progress))
            {
                result = await ssh.RunWithStderrTapAsync(overlay.Host, ["bash", "-o", "pipefail", "-c", $"{ReadWithProgress(overlay.Path)} | {remote}"], live.Tap, ct: ct);
                await live.StopAsync();
            }

            if (!result.Succeeded)
            {
                throw new SshCommandException($"copy of overlay {overlay.Host}:{overlay.Path} to {target.Host}:{temp} failed (exit {result.ExitCode}): {ToolProgressParser.WithoutProgress(result.Stderr)}", isTransient: result.ExitCode == 255, result.ExitCode);
            }

            (path, sent) = (DataPath.Direct, fileBytes);
        }
        else if (options.DataPath == DataPath.DirectTcp)
        {
            var meter = new ProgressMeter(time, fileBytes, options.ProgressInterval, progress);
            await new TcpPipe(ssh, options).RunAsync(overlay.Host, ["cat", overlay.Path], target.Host, ["sh", "-c", "cat > \"$1\"", "sh", temp], $"copy of overlay {overlay.Host}:{overlay.Path} to {target.Host}:{temp}", ct);
            // No live meter on this path (docs/adr/0018): the journal gets the final count only.
            await meter.AddAsync(fileBytes);
            await meter.ReportAsync(force: true);
            (path, sent) = (DataPath.DirectTcp, fileBytes);
        }
        else
        {
            (path, sent) = (DataPath.Relayed, await RelayAsync(ssh, overlay, target.Host, temp, new ProgressMeter(time, fileBytes, options.ProgressInterval, progress), ct));
        }

        var commit = await ssh.RunAsync(target.Host, ["bash", "-c", $"set -e; {RemoveCopy}{CommitScript}", "commit-overlay", backing, temp], ct: ct);
        CheckCommit(commit, request, overlay, backing);
        return (path, $"overlay {path switch { DataPath.Direct => "cat | ssh", DataPath.DirectTcp => "cat | tcp", _ => "cat > relay > cat" }} + qemu-img rebase -u + qemu-img commit", sent, data);
    }

    private static void CheckCommit(SshResult result, DiskCopyRequest request, FileImageSource overlay, string backing)
    {
        if (!result.Succeeded && result.Stderr.Contains("No space left", StringComparison.OrdinalIgnoreCase))
        {
            throw new AdapterException($"copy {request}: target is full ({result.Stderr.Trim()}); the volume holds a partial copy and must not be used", isTransient: false);
        }

        Check(result, $"commit of overlay {overlay.Path} into {request.Target.Host}:{backing}");
    }

    /// <summary>
    /// <see cref="InfoScript"/>'s output: the overlay file's size (what a copy carries), then its map, whose depth-0
    /// extents are the guest bytes it holds (written clusters, zero clusters included: they are written as zeroes).
    /// </summary>
    internal static (long FileBytes, long Written) ParseInfo(string stdout)
    {
        var newline = stdout.IndexOf('\n', StringComparison.Ordinal);
        var size = long.Parse(stdout[..newline].Trim(), CultureInfo.InvariantCulture);
        using var doc = JsonDocument.Parse(stdout[(newline + 1)..]);
        var written = doc.RootElement.EnumerateArray()
            .Where(e => e.GetProperty("depth").GetInt32() == 0 && (e.GetProperty("data").GetBoolean() || e.GetProperty("zero").GetBoolean()))
            .Sum(e => e.GetProperty("length").GetInt64());
        return (size, written);
    }

    /// <summary>Relayed path: the orchestrator reads <c>cat</c> on the source and feeds <c>cat &gt; temp</c> on the target.</summary>
    private static async Task<long> RelayAsync(ISshRunner ssh, FileImageSource overlay, string targetHost, string temp, ProgressMeter meter, CancellationToken ct)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 16 << 20, resumeWriterThreshold: 8 << 20, useSynchronizationContext: false));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var counter = new CountingWriteStream(pipe.Writer.AsStream(), meter);
        var source = Task.Run(async () =>
        {
            try
            {
                Check(await ssh.RunStreamingAsync(overlay.Host, ["cat", overlay.Path], null, counter, cts.Token), $"cat {overlay.Host}:{overlay.Path}");
                await pipe.Writer.CompleteAsync();
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(new IOException($"source stream broke: {e.Message}", e));
                throw;
            }
        }, cts.Token);
        try
        {
            await using var reader = pipe.Reader.AsStream();
            Check(await ssh.RunAsync(targetHost, ["sh", "-c", "cat > \"$1\"", "sh", temp], reader, cts.Token), $"write of {temp} on {targetHost}");
        }
        catch
        {
            await cts.CancelAsync();
            throw;
        }

        await source;
        await meter.ReportAsync(force: true);
        return counter.Bytes;
    }

    /// <summary>
    /// Reads the overlay for the direct pipe: <c>dd status=progress</c> prints the exact bytes read once a second on
    /// stderr (it replaces <c>cat</c>, it is not an extra stage); a dd without it (coreutils before 8.24) falls back to
    /// <c>cat</c> and the copy has no live progress.
    /// </summary>
    internal static string ReadWithProgress(string path)
    {
        var quoted = ShellQuoting.Quote(path);
        return $"if LC_ALL=C dd status=progress if=/dev/null of=/dev/null 2>/dev/null; then LC_ALL=C dd if={quoted} bs=4M status=progress; else cat {quoted}; fi";
    }

    /// <summary>A temporary file name on the target node, one per target volume (a retry overwrites it).</summary>
    internal static string TempPath(DiskTarget target)
    {
        var name = target switch
        {
            RbdVolumeTarget rbd => rbd.Image,
            RawVolumeTarget raw => raw.Path.TrimStart('/'),
            _ => throw new NotSupportedException(target.GetType().Name),
        };
        return $"{TempFolder}/taquin-overlay-{name.Replace('/', '_')}.qcow2";
    }

    /// <summary>How qemu names the target volume: <c>rbd:pool/image:conf=…</c> (accepted as a raw backing file) or the raw path.</summary>
    internal static string TargetSpec(DiskTarget target, MoverOptions options) => target switch
    {
        RbdVolumeTarget rbd => $"rbd:{rbd.Image}{(options.TargetCephConf is null ? "" : ":conf=" + options.TargetCephConf)}",
        RawVolumeTarget raw => raw.Path,
        _ => throw new NotSupportedException(target.GetType().Name),
    };

    /// <summary>
    /// How qemu-img on <paramref name="readerHost"/> opens a file image with its whole backing chain. On the same host the
    /// path; on another host over SSH: a plain <c>ssh://</c> URL for a file without backing, else a <c>json:</c> spec that
    /// names every backing file over SSH too (qemu would open an absolute backing path locally on the reader).
    /// </summary>
    public static async Task<(string Spec, string? Format)> QemuSourceAsync(ISshRunner ssh, FileImageSource file, string readerHost, CancellationToken ct)
    {
        if (file.Host == readerHost)
        {
            return (file.Path, file.Format);
        }

        if (file.Format != "qcow2")
        {
            return (VolumePaths.FileSource(file.Host, file.Path), file.Format);
        }

        var info = await ssh.RunAsync(file.Host, ["qemu-img", "info", "--backing-chain", "--output=json", "-f", file.Format, file.Path], ct: ct);
        Check(info, $"qemu-img info {file.Host}:{file.Path}");
        var chain = JsonNode.Parse(info.Stdout) is JsonArray array ? array : [JsonNode.Parse(info.Stdout)];
        if (chain.Count <= 1)
        {
            return (VolumePaths.FileSource(file.Host, file.Path), file.Format);
        }

        JsonNode? spec = null;
        foreach (var image in chain.Reverse())
        {
            var node = new JsonObject
            {
                ["driver"] = (string?)image?["format"] ?? "raw",
                ["file"] = new JsonObject { ["driver"] = "ssh", ["server"] = new JsonObject { ["host"] = file.Host, ["port"] = "22" }, ["user"] = "root", ["path"] = (string?)image?["filename"] },
            };
            if (spec is not null)
            {
                node["backing"] = spec;
            }

            spec = node;
        }

        return ("json:" + spec!.ToJsonString(), null);
    }

    private static void Check(SshResult result, string what)
    {
        if (!result.Succeeded)
        {
            throw new SshCommandException($"{what} failed (exit {result.ExitCode}): {result.Stderr.Trim()}", isTransient: result.ExitCode == 255, result.ExitCode);
        }
    }
}
