using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Nodes;
using Taquin.Executors.Adapters;
using Taquin.Executors.Movers.Progress;
using Taquin.Executors.Movers.RbdDiff;
using Taquin.Executors.Ssh;

namespace Taquin.Executors.Movers;

/// <summary>
/// Moves disks with the hosts' own tools over SSH: <c>rbd export-diff</c> → <c>rbd import-diff</c> for RBD targets,
/// <c>rbd export-diff</c> → <see cref="RbdDiffApplier"/> for raw targets (zvol, raw file) of the orchestrator's machine and
/// → <see cref="RemoteRawWriter"/> on any other node, <c>qemu-img convert</c>
/// for file images. Only allocated extents travel. A broken stream restarts the copy (every copy is idempotent:
/// the same diff applied twice gives the same target).
/// </summary>
public sealed class CommandDiskMover(ISshRunner ssh, MoverOptions options, TimeProvider? time = null) : IDiskMover
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public MoverOptions Options => options;

    public async Task<CopyReport> CopyAsync(DiskCopyRequest request, Func<CopyProgress, Task>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var started = _time.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var (path, method, sent, data) = request.Source switch
                {
                    RbdImageSource rbd => await CopyRbdAsync(request, rbd, progress, ct),
                    FileImageSource file => await ConvertFileAsync(request, file, progress, ct),
                    _ => throw new NotSupportedException(request.Source.GetType().Name),
                };
                return new CopyReport(request.ToString(), path, method, sent, data, _time.GetElapsedTime(started), attempt);
            }
            catch (Exception e) when (attempt < options.CopyAttempts && IsBrokenStream(e) && !ct.IsCancellationRequested)
            {
                // A dropped connection: the copy starts over (same diff, same result); the journal keeps the attempts.
                if (progress is not null)
                {
                    await progress(new CopyProgress(0, null, 0, _time.GetElapsedTime(started)));
                }
            }
        }
    }

    private static bool IsBrokenStream(Exception e)
        => e switch
        {
            AdapterException adapter => adapter.IsTransient,
            RbdDiffFormatException format => format.Message.Contains("truncated", StringComparison.Ordinal),
            TargetFullException => false,
            IOException => true,
            _ => false,
        };

    private async Task<(DataPath, string, long, long)> CopyRbdAsync(DiskCopyRequest request, RbdImageSource source, Func<CopyProgress, Task>? progress, CancellationToken ct)
    {
        var toSnapshot = request.ToSnapshot ?? throw new ArgumentException($"copy {request}: an RBD copy needs a snapshot (the source must not change under it)");
        if (options.DataPath == DataPath.TargetClient && request.Target is RbdVolumeTarget && options.SourceCephConfOnTarget is null)
        {
            // Checked before anything runs: target-client is never silently replaced by another path.
            throw new AdapterException($"copy {request}: the target-client data path needs the old cluster's ceph.conf on the PVE nodes (movers.sourceCephConfOnTarget); it is not set", isTransient: false);
        }

        if (options.DataPath == DataPath.DirectTcp)
        {
            TcpPipe.CheckAddresses(options, source.Host, request.Target.Host, $"copy {request}");
        }

        var started = _time.GetTimestamp();
        // Both questions at once (two hosts, two rbd start-ups): on a small increment they are most of the copy's time.
        var diffing = DiffBytesAsync(source, request.FromSnapshot, toSnapshot, ct);
        var targetSnapshots = request.Target is RbdVolumeTarget rbdTarget
            ? SnapshotsAsync(rbdTarget.Host, rbdTarget.Image, options.TargetCephConf, ct)
            : Task.FromResult<IReadOnlyList<string>>([]);
        // The live progress of the remote paths needs the image size (rbd's percentage is of the address space).
        var sizing = progress is not null && options.DataPath is DataPath.Direct or DataPath.TargetClient or DataPath.DirectTcp && request.Target is RbdVolumeTarget
            ? ImageSizeAsync(source.Host, $"{source.Image}@{toSnapshot}", options.SourceCephConf, ct)
            : Task.FromResult(0L);
        var export = RbdArgs(options.SourceCephConf, ["export-diff", "--no-progress", .. FromSnap(request.FromSnapshot), $"{source.Image}@{toSnapshot}", "-"]);
        if (options.DataPath == DataPath.DirectTcp && request.Target is RbdVolumeTarget tcpTarget)
        {
            return await CopyRbdOverTcpAsync(request, source, tcpTarget, export, (diffing, targetSnapshots, sizing), started, progress, ct);
        }

        await Task.WhenAll(diffing, targetSnapshots, sizing);
        var expected = await diffing;
        switch (request.Target)
        {
            case RbdVolumeTarget target:
                {
                    if ((await targetSnapshots).Contains(toSnapshot))
                    {
                        // An earlier attempt finished (import-diff creates the end snapshot last): verification decides.
                        return (options.DataPath, "already at " + toSnapshot, 0, 0);
                    }

                    var import = ImportDiffArgs(target.Image);
                    if (options.DataPath == DataPath.Direct)
                    {
                        await using var live = LiveExportProgress(expected, request.FromSnapshot, toSnapshot, await sizing, started, progress);
                        await RunDirectAsync(source.Host, WithProgress(export), target.Host, import, $"copy {request}", live.Tap, ct);
                        await live.StopAsync();
                        await ReportDoneAsync(progress, expected.StreamBytes, started);
                        return (DataPath.Direct, "rbd export-diff | ssh | rbd import-diff", expected.StreamBytes, expected.DataBytes);
                    }

                    if (options.DataPath == DataPath.TargetClient)
                    {
                        await using var live = LiveExportProgress(expected, request.FromSnapshot, toSnapshot, await sizing, started, progress);
                        await RunOnTargetAsync(target.Host, FromSnap(request.FromSnapshot), $"{source.Image}@{toSnapshot}", import, $"copy {request}", live.Tap, ct);
                        await live.StopAsync();
                        await ReportDoneAsync(progress, expected.StreamBytes, started);
                        return (DataPath.TargetClient, "rbd export-diff | rbd import-diff on the target node", expected.StreamBytes, expected.DataBytes);
                    }

                    var (sent, _) = await RelayAsync(source.Host, export, expected.StreamBytes, progress, async (stdin, c) =>
                    {
                        var result = await ssh.RunAsync(target.Host, import, stdin, c);
                        Check(result, $"rbd import-diff into {target.Host}:{target.Image}");
                        return expected.DataBytes;
                    }, ct);
                    return (DataPath.Relayed, "rbd export-diff > relay > rbd import-diff", sent, expected.DataBytes);
                }

            case RawVolumeTarget raw:
                {
                    if (!options.IsLocalHost(raw.Host))
                    {
                        return await CopyToRemoteRawAsync(request, source, raw, export, expected, progress, started, ct);
                    }

                    var createdFile = !raw.Path.StartsWith("/dev/", StringComparison.Ordinal) && !File.Exists(raw.Path);
                    try
                    {
                        if (options.DataPath == DataPath.DirectTcp)
                        {
                            // The orchestrator's diff applier is the receiver: the source sends to it over TCP, not through SSH.
                            var applied = await new TcpPipe(ssh, options).ReceiveAsync(source.Host, export, raw.Host, (stream, c) => ApplyRawAsync(stream, raw.Path, request.FromSnapshot, createdFile, c), $"copy {request}", ct);
                            await ReportDoneAsync(progress, applied.StreamBytes, started);
                            return (DataPath.DirectTcp, "rbd export-diff | tcp | diff applier", applied.StreamBytes, applied.DataBytes);
                        }

                        var (sent, data) = await RelayAsync(source.Host, export, expected.StreamBytes, progress, async (stdin, c) =>
                        {
                            var applied = await RbdDiffApplier.ApplyAsync(stdin, raw.Path, new RbdDiffApplyOptions
                            {
                                ExpectedFromSnapshot = request.FromSnapshot,
                                TargetIsZeroed = createdFile,
                            }, c);
                            return applied.DataBytes;
                        }, ct);
                        return (DataPath.Relayed, "rbd export-diff > relay > diff applier", sent, data);
                    }
                    catch (TargetFullException)
                    {
                        if (createdFile)
                        {
                            File.Delete(raw.Path);
                        }

                        throw new AdapterException($"copy {request}: target {raw.Host}:{raw.Path} is full; {(createdFile ? "the partial file was removed" : "the volume holds a partial copy and must not be used")}", isTransient: false);
                    }
                }

            default:
                throw new NotSupportedException(request.Target.GetType().Name);
        }
    }

    /// <summary>
    /// A raw target (zvol, raw file) on a PVE node: the node applies the diff itself with <see cref="RemoteRawWriter"/>
    /// (perl, which every PVE node has), on the same data paths as an RBD target, so the bytes go host to host.
    /// </summary>
    private async Task<(DataPath, string, long, long)> CopyToRemoteRawAsync(DiskCopyRequest request, RbdImageSource source, RawVolumeTarget raw,
        IReadOnlyList<string> export, DiffSize expected, Func<CopyProgress, Task>? progress, long started, CancellationToken ct)
    {
        var toSnapshot = request.ToSnapshot!;
        var writer = RemoteRawWriter.Argv(raw.Path, request.FromSnapshot);
        var what = $"copy {request}";
        switch (options.DataPath)
        {
            case DataPath.Direct:
            case DataPath.TargetClient:
                {
                    if (options.DataPath == DataPath.TargetClient && options.SourceCephConfOnTarget is null)
                    {
                        throw new AdapterException($"{what}: the target-client data path needs the old cluster's ceph.conf on the PVE nodes (movers.sourceCephConfOnTarget); it is not set", isTransient: false);
                    }

                    var size = progress is null ? 0 : await ImageSizeAsync(source.Host, $"{source.Image}@{toSnapshot}", options.SourceCephConf, ct);
                    await using var live = LiveExportProgress(expected, request.FromSnapshot, toSnapshot, size, started, progress);
                    if (options.DataPath == DataPath.Direct)
                    {
                        await RunDirectAsync(source.Host, WithProgress(export), raw.Host, writer, what, live.Tap, ct);
                    }
                    else
                    {
                        await RunOnTargetAsync(raw.Host, FromSnap(request.FromSnapshot), $"{source.Image}@{toSnapshot}", writer, what, live.Tap, ct);
                    }

                    await live.StopAsync();
                    await ReportDoneAsync(progress, expected.StreamBytes, started);
                    return (options.DataPath, options.DataPath == DataPath.Direct ? "rbd export-diff | ssh | raw writer" : "rbd export-diff | raw writer on the target node", expected.StreamBytes, expected.DataBytes);
                }

            case DataPath.DirectTcp:
                await new TcpPipe(ssh, options).RunAsync(source.Host, export, raw.Host, writer, what, ct);
                await ReportDoneAsync(progress, expected.StreamBytes, started);
                return (DataPath.DirectTcp, "rbd export-diff | tcp | raw writer", expected.StreamBytes, expected.DataBytes);

            default:
                long? applied = null;
                var (sent, _) = await RelayAsync(source.Host, export, expected.StreamBytes, progress, async (stdin, c) =>
                {
                    var written = await ssh.RunAsync(raw.Host, writer, stdin, c);
                    Check(written, $"raw writer onto {raw.Host}:{raw.Path}");
                    applied = RemoteRawWriter.ParseSummary(written.Stdout)?.StreamBytes;
                    return expected.DataBytes;
                }, ct);
                if (applied != sent)
                {
                    // The relay counted what it sent; the writer says what it applied: both must be the whole stream.
                    throw new AdapterException($"{what}: the relay sent {sent} bytes but the raw writer on {raw.Host} applied {(applied is null ? "an unknown number of" : applied.ToString())} bytes of the stream", isTransient: true);
                }

                return (DataPath.Relayed, "rbd export-diff > relay > raw writer", sent, expected.DataBytes);
        }
    }

    /// <summary>
    /// RBD to RBD over TCP: the receiver starts while <c>rbd diff</c> and the target's <c>snap ls</c> run (its start-up is an
    /// SSH round trip of its own, off the critical path this way); the sender starts once both are known. The sender's
    /// stderr is export-diff's own: its percentages are the live progress, as on the direct path.
    /// </summary>
    private async Task<(DataPath, string, long, long)> CopyRbdOverTcpAsync(DiskCopyRequest request, RbdImageSource source, RbdVolumeTarget target, IReadOnlyList<string> export,
        (Task<DiffSize> Diffing, Task<IReadOnlyList<string>> TargetSnapshots, Task<long> Sizing) prelude, long started, Func<CopyProgress, Task>? progress, CancellationToken ct)
    {
        var toSnapshot = request.ToSnapshot!;
        ToolProgressReporter? live = null;
        try
        {
            var sent = await new TcpPipe(ssh, options).RunAsync(source.Host, WithProgress(export), target.Host, ImportDiffArgs(target.Image), $"copy {request}", ct, async () =>
            {
                await Task.WhenAll(prelude.Diffing, prelude.TargetSnapshots, prelude.Sizing);
                if ((await prelude.TargetSnapshots).Contains(toSnapshot))
                {
                    return new SenderStart(false, null);
                }

                live = LiveExportProgress(await prelude.Diffing, request.FromSnapshot, toSnapshot, await prelude.Sizing, started, progress);
                return new SenderStart(true, live.Tap);
            });
            if (!sent)
            {
                // An earlier attempt finished (import-diff creates the end snapshot last): verification decides.
                return (DataPath.DirectTcp, "already at " + toSnapshot, 0, 0);
            }

            await live!.StopAsync();
            var expected = await prelude.Diffing;
            await ReportDoneAsync(progress, expected.StreamBytes, started);
            return (DataPath.DirectTcp, "rbd export-diff | tcp | rbd import-diff", expected.StreamBytes, expected.DataBytes);
        }
        finally
        {
            if (live is not null)
            {
                await live.DisposeAsync();
            }

            // A receiver that failed first leaves the questions running: wait for them, their failure is not the copy's.
            await Task.WhenAll(prelude.Diffing, prelude.TargetSnapshots, prelude.Sizing).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private static Task<RbdDiffApplyResult> ApplyRawAsync(Stream diff, string path, string? fromSnapshot, bool createdFile, CancellationToken ct)
        => RbdDiffApplier.ApplyAsync(diff, path, new RbdDiffApplyOptions { ExpectedFromSnapshot = fromSnapshot, TargetIsZeroed = createdFile }, ct);

    private async Task<(DataPath, string, long, long)> ConvertFileAsync(DiskCopyRequest request, FileImageSource file, Func<CopyProgress, Task>? progress, CancellationToken ct)
    {
        if (request.FromSnapshot is not null)
        {
            // A warm file disk's overlay: the target already holds its base, only the overlay's clusters move (ADR 0012).
            return await FileOverlaySync.CopyAsync(ssh, options, request, file, progress, _time, ct);
        }

        var started = _time.GetTimestamp();
        // qemu-img reads the file over SSH when it lives on another host (as PVE's own import does), skips zero
        // clusters when reading and writes zeroes sparsely; -n keeps the volume PVE allocated.
        var source = file.Host == request.Target.Host ? file.Path : VolumePaths.FileSource(file.Host, file.Path);
        var (target, exists) = request.Target switch
        {
            RbdVolumeTarget rbd => ($"rbd:{rbd.Image}{(options.TargetCephConf is null ? "" : ":conf=" + options.TargetCephConf)}", true),
            RawVolumeTarget raw => (raw.Path, raw.Path.StartsWith("/dev/", StringComparison.Ordinal) || File.Exists(raw.Path) || !options.IsLocalHost(raw.Host)),
            _ => throw new NotSupportedException(request.Target.GetType().Name),
        };
        var allocated = await FileAllocatedBytesAsync(file, ct);
        // -p: qemu-img's own progress (percent of the data to copy, on stdout), streamed back for the journal.
        List<string> argv = ["qemu-img", "convert", "-p", "-f", file.Format, "-O", "raw"];
        if (exists)
        {
            argv.Add("-n");
        }

        argv.AddRange([source, target]);
        SshResult result;
        await using (var live = new ToolProgressReporter(ToolProgressFormat.QemuImg, allocated, ToolProgressReporter.PercentOf(allocated), _time, started, options.ProgressInterval, progress))
        {
            result = await ssh.RunStreamingAsync(request.Target.Host, argv, null, live.Tap, ct);
            await live.StopAsync();
        }

        if (!result.Succeeded && result.Stderr.Contains("No space left", StringComparison.OrdinalIgnoreCase))
        {
            if (!exists && File.Exists(target))
            {
                File.Delete(target);
            }

            throw new AdapterException($"copy {request}: target is full ({result.Stderr.Trim()}){(exists ? "" : "; the partial file was removed")}", isTransient: false);
        }

        Check(result, $"copy {request}");
        await ReportDoneAsync(progress, allocated, started);
        return (DataPath.Direct, "qemu-img convert", allocated, allocated);
    }

    /// <summary>
    /// Streams <paramref name="sourceArgv"/>'s stdout from <paramref name="sourceHost"/> into <paramref name="sink"/>
    /// through a bounded pipe (back-pressure: the source is not read faster than the sink consumes), counting bytes.
    /// </summary>
    private async Task<(long Sent, long Data)> RelayAsync(string sourceHost, IReadOnlyList<string> sourceArgv, long expectedBytes,
        Func<CopyProgress, Task>? progress, Func<Stream, CancellationToken, Task<long>> sink, CancellationToken ct)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: options.RelayBufferBytes, resumeWriterThreshold: options.RelayBufferBytes / 2, useSynchronizationContext: false));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var meter = new ProgressMeter(_time, expectedBytes, options.ProgressInterval, progress);
        var counting = new CountingWriteStream(pipe.Writer.AsStream(), meter);
        var sourceTask = Task.Run(async () =>
        {
            try
            {
                var result = await ssh.RunStreamingAsync(sourceHost, sourceArgv, null, counting, cts.Token);
                Check(result, $"{sourceArgv[0]} {sourceArgv[1]} on {sourceHost}");
                await pipe.Writer.CompleteAsync();
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(new IOException($"source stream broke: {e.Message}", e));
                throw;
            }
        }, cts.Token);
        long data;
        try
        {
            await using var reader = pipe.Reader.AsStream();
            data = await sink(reader, cts.Token);
        }
        catch
        {
            await cts.CancelAsync();
            try
            {
                await sourceTask;
            }
            catch (Exception sourceFailure) when (sourceFailure is not OperationCanceledException)
            {
                // The source failing is the cause; the sink only saw the stream end.
                throw sourceFailure is AdapterException ? sourceFailure : new SshCommandException(sourceFailure.Message, isTransient: true, innerException: sourceFailure);
            }
            catch (OperationCanceledException)
            {
            }

            throw;
        }

        await sourceTask;
        await meter.ReportAsync(force: true);
        return (meter.Bytes, data);
    }

    /// <summary>
    /// Direct path: the source host runs the whole pipeline, its second half over SSH on the target host. Nothing else
    /// touches the data on its way (no tee/wc: the byte count comes from <c>rbd diff</c>, see <see cref="DiffBytesAsync"/>),
    /// so the pipe costs what <c>export-diff | ssh | import-diff</c> costs.
    /// </summary>
    private async Task RunDirectAsync(string sourceHost, IReadOnlyList<string> sourceArgv, string targetHost, IReadOnlyList<string> targetArgv, string what, Stream stderrTap, CancellationToken ct)
    {
        var pipeline = $"{ShellQuoting.Join(sourceArgv)} | {ShellQuoting.Join([.. options.SshCommand(targetHost), ShellQuoting.Join(targetArgv)])}";
        var result = await ssh.RunWithStderrTapAsync(sourceHost, ["bash", "-o", "pipefail", "-c", pipeline], stderrTap, ct: ct);
        if (!result.Succeeded)
        {
            // ssh exits 255 when the connection itself failed: worth another attempt.
            throw new SshCommandException($"{what} failed (exit {result.ExitCode}): {ToolProgressParser.WithoutProgress(result.Stderr)}", isTransient: result.ExitCode == 255, result.ExitCode);
        }
    }

    /// <summary>
    /// Target-client path: the target node reads the old cluster with <see cref="MoverOptions.SourceCephConfOnTarget"/>
    /// and writes the new one, in one local pipe: no SSH hop carries data.
    /// </summary>
    private async Task RunOnTargetAsync(string targetHost, IReadOnlyList<string> fromSnap, string sourceSpec, IReadOnlyList<string> targetArgv, string what, Stream stderrTap, CancellationToken ct)
    {
        var export = RbdArgs(options.SourceCephConfOnTarget, ["export-diff", .. fromSnap, sourceSpec, "-"]);
        var result = await ssh.RunWithStderrTapAsync(targetHost, ["bash", "-o", "pipefail", "-c", $"{ShellQuoting.Join(export)} | {ShellQuoting.Join(targetArgv)}"], stderrTap, ct: ct);
        Check(result with { Stderr = ToolProgressParser.WithoutProgress(result.Stderr) }, what);
    }

    /// <summary>
    /// Live progress of a remote <c>rbd export-diff</c> (direct, target-client): its own percentage on stderr (no stage
    /// in the pipe), turned into stream bytes with the extents of <c>rbd diff</c> (<see cref="RbdExportProgressMap"/>).
    /// </summary>
    private ToolProgressReporter LiveExportProgress(DiffSize expected, string? from, string to, long imageSize, long started, Func<CopyProgress, Task>? progress)
    {
        var header = DiffStreamBytes(from, to, []) - 1;
        var map = new RbdExportProgressMap(imageSize, header, expected.StreamBytes, expected.Extents);
        return new ToolProgressReporter(ToolProgressFormat.RbdExport, expected.StreamBytes, r => map.StreamBytesAt(r.Percent ?? 0), _time, started, options.ProgressInterval, progress);
    }

    /// <summary>The export without <c>--no-progress</c>: on the remote paths its progress on stderr is the live progress.</summary>
    private static IReadOnlyList<string> WithProgress(IReadOnlyList<string> exportArgv) => [.. exportArgv.Where(a => a != "--no-progress")];

    /// <summary>
    /// <c>rbd import-diff</c> of stdin onto <paramref name="image"/>. With <see cref="MoverOptions.ParallelImportDiff"/> it
    /// reads the pipe as the path <c>/dev/stdin</c>, so rbd keeps several writes in flight (for <c>-</c> it allows one).
    /// </summary>
    internal IReadOnlyList<string> ImportDiffArgs(string image)
    {
        if (!options.ParallelImportDiff)
        {
            return RbdArgs(options.TargetCephConf, ["import-diff", "--no-progress", "-", image]);
        }

        var fromPath = ShellQuoting.Join(RbdArgs(options.TargetCephConf, ["import-diff", "--no-progress", "/dev/stdin", image]));
        var fromStdin = ShellQuoting.Join(RbdArgs(options.TargetCephConf, ["import-diff", "--no-progress", "-", image]));
        return ["sh", "-c", $"if [ -p /dev/stdin ]; then exec {fromPath}; else exec {fromStdin}; fi"];
    }

    private async Task ReportDoneAsync(Func<CopyProgress, Task>? progress, long bytes, long started)
    {
        if (progress is not null)
        {
            var elapsed = _time.GetElapsedTime(started);
            await progress(new CopyProgress(bytes, bytes, elapsed.TotalSeconds > 0 ? bytes / elapsed.TotalSeconds : 0, elapsed));
        }
    }

    public async Task<VerifyReport> VerifyAsync(DiskCopyRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Source is FileImageSource file)
        {
            // Full (qemu-img compare) or sampled, with a warm overlay's extents in full: FileDiskVerifier.
            return await FileDiskVerifier.VerifyAsync(ssh, options, request, file, ct);
        }

        var source = (RbdImageSource)request.Source;
        var snapshot = request.ToSnapshot ?? throw new ArgumentException("verification needs the snapshot both sides should hold");
        var size = await ImageSizeAsync(source.Host, source.Image, options.SourceCephConf, ct);
        var sourceRead = new RbdRead(source.Image + "@" + snapshot, options.SourceCephConf);
        object targetRead = request.Target switch
        {
            RbdVolumeTarget rbd => new RbdRead(rbd.Image + "@" + snapshot, options.TargetCephConf),
            RawVolumeTarget raw => raw.Path,
            _ => throw new NotSupportedException(request.Target.GetType().Name),
        };
        var sampled = options.Verify == VerifyMode.Sampled || size > options.FullVerifyLimitBytes;
        if (!sampled)
        {
            var (sourceHash, targetHash) = await BothAsync(
                HashAsync(source.Host, FullHashScript(sourceRead, size), ct),
                HashAsync(request.Target.Host, FullHashScript(targetRead, size), ct));
            var (s, t) = (string.Join(',', sourceHash), string.Join(',', targetHash));
            return new VerifyReport(s == t, VerifyMode.Full, s, t, $"sha256 of {size} bytes");
        }

        var offsets = options.SampleOffsetsFor(size);
        var (sourceHashes, targetHashes) = await BothAsync(
            SampleHashesAsync(source.Host, sourceRead, offsets, size, ct),
            SampleHashesAsync(request.Target.Host, targetRead, offsets, size, ct));
        var differing = offsets.Where((_, i) => i >= sourceHashes.Length || i >= targetHashes.Length || sourceHashes[i] != targetHashes[i]).ToList();
        return new VerifyReport(differing.Count == 0 && sourceHashes.Length == offsets.Count, VerifyMode.Sampled, string.Join(',', sourceHashes.Select(h => h[..12])), string.Join(',', targetHashes.Select(h => h[..Math.Min(12, h.Length)])),
            FormattableString.Invariant($"SAMPLED: {offsets.Count} blocks of {options.SampleBytes} bytes out of {size}{(differing.Count == 0 ? "" : "; differing at " + string.Join(',', differing))}"));
    }

    public async Task<IReadOnlyList<string>> RbdClientsAsync(string host, string image, bool oldCluster, CancellationToken ct)
    {
        var conf = oldCluster ? options.SourceCephConf : options.TargetCephConf;
        var status = await ssh.RunAsync(host, RbdArgs(conf, ["status", image, "--format", "json"]), ct: ct);
        Check(status, $"rbd status {image}");
        var locks = await ssh.RunAsync(host, RbdArgs(conf, ["lock", "ls", image, "--format", "json"]), ct: ct);
        Check(locks, $"rbd lock ls {image}");
        var clients = new List<string>();
        using (var doc = JsonDocument.Parse(status.Stdout))
        {
            if (doc.RootElement.TryGetProperty("watchers", out var watchers))
            {
                clients.AddRange(watchers.EnumerateArray().Select(w => "watcher " + (w.TryGetProperty("address", out var a) ? a.GetString() : w.ToString())));
            }
        }

        using (var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(locks.Stdout) ? "[]" : locks.Stdout))
        {
            var root = doc.RootElement;
            var entries = root.ValueKind == JsonValueKind.Array ? root.EnumerateArray().ToList() : [.. root.EnumerateObject().Select(p => p.Value)];
            clients.AddRange(entries.Select(l => "lock " + (l.TryGetProperty("locker", out var who) ? who.GetString() : l.ToString())));
        }

        return clients;
    }

    private sealed record RbdRead(string Spec, string? Conf);

    private static string FullHashScript(object read, long size) => read switch
    {
        RbdRead rbd => $"{ShellQuoting.Join(RbdArgs(rbd.Conf, ["export", "--no-progress", rbd.Spec, "-"]))} | sha256sum",
        string path => FormattableString.Invariant($"head -c {size} {ShellQuoting.Quote(path)} | sha256sum"),
        _ => throw new NotSupportedException(),
    };

    /// <summary>
    /// The sampled blocks' hashes on one side, read as the file verifier reads (one <c>qemu-img convert</c> or one dd
    /// group for all blocks, one <c>b2sum</c>), not one reader per block: this runs while the guest is off.
    /// </summary>
    private async Task<string[]> SampleHashesAsync(string host, object read, IReadOnlyList<long> offsets, long size, CancellationToken ct)
    {
        var pieces = offsets.Select(o => new FileDiskVerifier.Piece(o, Math.Min(options.SampleBytes, size - o), Overlay: false)).ToList();
        object reader = read switch
        {
            RbdRead rbd => RbdNode(rbd),
            string path => path,
            _ => throw new NotSupportedException(read.GetType().Name),
        };
        var (hashes, _) = await FileDiskVerifier.HashAsync(ssh, host, FileDiskVerifier.Script(reader, pieces, options.SampleBytes), ct);
        return [.. hashes];
    }

    /// <summary>The qemu block node of an RBD snapshot (<c>pool/image@snap</c>), for qemu-img's json: sources.</summary>
    private static JsonObject RbdNode(RbdRead rbd)
    {
        var at = rbd.Spec.IndexOf('@', StringComparison.Ordinal);
        var image = rbd.Spec[..at];
        var slash = image.IndexOf('/', StringComparison.Ordinal);
        var node = new JsonObject
        {
            ["driver"] = "rbd",
            ["pool"] = slash < 0 ? "rbd" : image[..slash],
            ["image"] = slash < 0 ? image : image[(slash + 1)..],
            ["snapshot"] = rbd.Spec[(at + 1)..],
        };
        if (rbd.Conf is not null)
        {
            node["conf"] = rbd.Conf;
        }

        return node;
    }

    private async Task<string[]> HashAsync(string host, string script, CancellationToken ct)
    {
        var result = await ssh.RunAsync(host, ["bash", "-o", "pipefail", "-c", script], ct: ct);
        Check(result, $"checksum on {host}");
        return [.. result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0])];
    }

    private static async Task<(string[], string[])> BothAsync(Task<string[]> a, Task<string[]> b)
    {
        await Task.WhenAll(a, b);
        return (await a, await b);
    }

    private sealed record DiffSize(long DataBytes, long StreamBytes, IReadOnlyList<RbdDiffEntry> Extents);

    /// <summary>
    /// What the diff will carry, from <c>rbd diff</c> (the same extent walk <c>export-diff</c> does): the data bytes and
    /// the stream's length in the v1 format (<see cref="DiffStreamBytes"/>). The stream length is the bytes-sent figure
    /// of the direct and target-client paths, which do not count bytes in the pipe (an extra copy on the data path).
    /// </summary>
    private async Task<DiffSize> DiffBytesAsync(RbdImageSource source, string? from, string to, CancellationToken ct)
    {
        var result = await ssh.RunAsync(source.Host, RbdArgs(options.SourceCephConf, ["diff", .. FromSnap(from), $"{source.Image}@{to}", "--format", "json"]), ct: ct);
        Check(result, $"rbd diff {source.Image}@{to}");
        using var doc = JsonDocument.Parse(result.Stdout);
        var extents = doc.RootElement.EnumerateArray()
            .Select(e => new RbdDiffEntry(e.GetProperty("offset").GetInt64(), e.GetProperty("length").GetInt64(), e.GetProperty("exists").ToString() == "true"))
            .ToList();
        return new DiffSize(extents.Where(e => e.Exists).Sum(e => e.Length), DiffStreamBytes(from, to, extents.Select(e => (e.Exists, e.Length))), extents);
    }

    /// <summary>
    /// Length of the <c>rbd export-diff</c> v1 stream for these extents: banner, from/to snapshot records
    /// (tag, u32 length, name), size record (tag, u64), one record per extent (tag, u64 offset, u64 length, and the
    /// data when it exists), end tag. export-diff writes an allocated extent that reads as all zeros as a zero record,
    /// so for such extents this is an upper bound; otherwise it is exact (tests compare it with the relayed count).
    /// </summary>
    internal static long DiffStreamBytes(string? from, string to, IEnumerable<(bool Exists, long Length)> extents)
    {
        long SnapRecord(string name) => 1 + 4 + System.Text.Encoding.UTF8.GetByteCount(name);
        var bytes = RbdDiffFormat.BannerV1.Length + (from is null ? 0 : SnapRecord(from)) + SnapRecord(to) + 1 + 8 + 1;
        foreach (var (exists, length) in extents)
        {
            bytes += 1 + 8 + 8 + (exists ? length : 0);
        }

        return bytes;
    }

    private async Task<long> ImageSizeAsync(string host, string image, string? conf, CancellationToken ct)
    {
        var result = await ssh.RunAsync(host, RbdArgs(conf, ["info", image, "--format", "json"]), ct: ct);
        Check(result, $"rbd info {image}");
        using var doc = JsonDocument.Parse(result.Stdout);
        return doc.RootElement.GetProperty("size").GetInt64();
    }

    private async Task<long> FileAllocatedBytesAsync(FileImageSource file, CancellationToken ct)
    {
        var result = await ssh.RunAsync(file.Host, ["qemu-img", "info", "--output=json", "-f", file.Format, file.Path], ct: ct);
        Check(result, $"qemu-img info {file.Host}:{file.Path}");
        using var doc = JsonDocument.Parse(result.Stdout);
        return doc.RootElement.TryGetProperty("actual-size", out var actual) ? actual.GetInt64() : 0;
    }

    private async Task<IReadOnlyList<string>> SnapshotsAsync(string host, string image, string? conf, CancellationToken ct)
    {
        var result = await ssh.RunAsync(host, RbdArgs(conf, ["snap", "ls", image, "--format", "json"]), ct: ct);
        Check(result, $"rbd snap ls {image} on {host}");
        using var doc = JsonDocument.Parse(result.Stdout);
        return [.. doc.RootElement.EnumerateArray().Select(s => s.GetProperty("name").GetString() ?? "")];
    }

    private static IReadOnlyList<string> FromSnap(string? from) => from is null ? [] : ["--from-snap", from];

    private static IReadOnlyList<string> RbdArgs(string? conf, IReadOnlyList<string> args)
        => conf is null ? ["rbd", .. args] : ["rbd", "--conf", conf, .. args];

    private static void Check(SshResult result, string what)
    {
        if (!result.Succeeded)
        {
            throw new SshCommandException($"{what} failed (exit {result.ExitCode}): {result.Stderr.Trim()}", isTransient: result.ExitCode == 255, result.ExitCode);
        }
    }
}
