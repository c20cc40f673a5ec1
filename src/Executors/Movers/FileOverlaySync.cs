using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Nodes;
using Taquin.Executors.Adapters;
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

    public static async Task<(DataPath Path, string Method, long Sent, long Data)> CopyAsync(ISshRunner ssh, MoverOptions options, DiskCopyRequest request, FileImageSource overlay, CancellationToken ct)
    {
        var target = request.Target;
        var temp = TempPath(target);
        var (fileBytes, written) = await OverlaySizesAsync(ssh, overlay, ct);

        DataPath path;
        string carried;
        long sent;
        if (overlay.Host == target.Host)
        {
            // Same machine: a sparse local copy; nothing crosses a wire.
            Check(await ssh.RunAsync(target.Host, ["cp", "--sparse=always", overlay.Path, temp], ct: ct), $"copy of {overlay.Path} to {temp} on {target.Host}");
            (path, carried, sent) = (DataPath.Direct, "cp", 0);
        }
        else if (options.DataPath == DataPath.Direct)
        {
            var remote = ShellQuoting.Join([.. options.HostToHostSsh(target.Host), ShellQuoting.Join(["sh", "-c", "cat > \"$1\"", "sh", temp])]);
            var result = await ssh.RunAsync(overlay.Host, ["bash", "-o", "pipefail", "-c", $"cat {ShellQuoting.Quote(overlay.Path)} | {remote}"], ct: ct);
            if (!result.Succeeded)
            {
                throw new SshCommandException($"copy of overlay {overlay.Host}:{overlay.Path} to {target.Host}:{temp} failed (exit {result.ExitCode}): {result.Stderr.Trim()}", isTransient: result.ExitCode == 255, result.ExitCode);
            }

            (path, carried, sent) = (DataPath.Direct, "cat | ssh", fileBytes);
        }
        else
        {
            sent = await RelayAsync(ssh, overlay, target.Host, temp, ct);
            (path, carried) = (DataPath.Relayed, "cat > relay > cat");
        }

        // The target holds the base's bytes: the copy is re-pointed at it, then its clusters are written into it.
        var backing = TargetSpec(target, options);
        var commit = await ssh.RunAsync(target.Host,
        [
            "bash", "-c", "set -e; trap 'rm -f \"$2\"' EXIT; qemu-img rebase -q -u -f qcow2 -F raw -b \"$1\" \"$2\"; qemu-img commit -q -d \"$2\"",
            "commit-overlay", backing, temp,
        ], ct: ct);
        if (!commit.Succeeded && commit.Stderr.Contains("No space left", StringComparison.OrdinalIgnoreCase))
        {
            throw new AdapterException($"copy {request}: target is full ({commit.Stderr.Trim()}); the volume holds a partial copy and must not be used", isTransient: false);
        }

        Check(commit, $"commit of overlay {overlay.Path} into {target.Host}:{backing}");
        return (path, $"overlay {carried} + qemu-img rebase -u + qemu-img commit", sent, written);
    }

    /// <summary>The overlay file's size (what a copy carries) and the guest bytes it holds (clusters allocated in it, zeroes included).</summary>
    private static async Task<(long FileBytes, long Written)> OverlaySizesAsync(ISshRunner ssh, FileImageSource overlay, CancellationToken ct)
    {
        var stat = await ssh.RunAsync(overlay.Host, ["stat", "-c", "%s", overlay.Path], ct: ct);
        Check(stat, $"stat {overlay.Host}:{overlay.Path}");
        var map = await ssh.RunAsync(overlay.Host, ["qemu-img", "map", "--output=json", "-f", "qcow2", overlay.Path], ct: ct);
        Check(map, $"qemu-img map {overlay.Host}:{overlay.Path}");
        using var doc = JsonDocument.Parse(map.Stdout);
        var written = doc.RootElement.EnumerateArray()
            .Where(e => e.GetProperty("depth").GetInt32() == 0 && (e.GetProperty("data").GetBoolean() || e.GetProperty("zero").GetBoolean()))
            .Sum(e => e.GetProperty("length").GetInt64());
        return (long.Parse(stat.Stdout.Trim(), CultureInfo.InvariantCulture), written);
    }

    /// <summary>Relayed path: the orchestrator reads <c>cat</c> on the source and feeds <c>cat &gt; temp</c> on the target.</summary>
    private static async Task<long> RelayAsync(ISshRunner ssh, FileImageSource overlay, string targetHost, string temp, CancellationToken ct)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 16 << 20, resumeWriterThreshold: 8 << 20, useSynchronizationContext: false));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var counter = new CountingStream(pipe.Writer.AsStream());
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
        return counter.Bytes;
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

    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Bytes { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Bytes += count;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            Bytes += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
