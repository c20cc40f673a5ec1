using System.IO.Pipelines;
using Taquin.Executors.Adapters;
using Taquin.Executors.Movers;

namespace Taquin.Executors.Simulation;

/// <summary>
/// The data plane on the twin: the command shapes <see cref="SimulatedSshRunner"/> interprets (<c>qemu-img convert</c>
/// for full copies, <c>rbd import-diff -</c> fed by the simulated Ceph for increments, <c>sha256sum</c> against the
/// Ceph snapshot checksum for verification). Transfers take simulated time; the reports carry the twin's used bytes.
/// </summary>
public sealed class SimulatedDiskMover(ClusterTwin twin, ISshRunner ssh, ICephCluster ceph) : IDiskMover
{
    private readonly TimeProvider time = twin.Clock;

    public async Task<CopyReport> CopyAsync(DiskCopyRequest request, Func<CopyProgress, Task>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var started = time.GetTimestamp();
        var target = TargetPath(request.Target);
        long bytes;
        if (request.Source is RbdImageSource rbd && request.FromSnapshot is { } from)
        {
            var pipe = new Pipe();
            var export = Task.Run(async () =>
            {
                await using var writer = pipe.Writer.AsStream();
                await ceph.ExportDiffAsync(rbd.Image, from, request.ToSnapshot!, writer, ct);
            }, ct);
            await using var reader = pipe.Reader.AsStream();
            var result = await ssh.RunAsync(request.Target.Host, ["rbd", "import-diff", "-", target], reader, ct);
            await export;
            if (!result.Succeeded)
            {
                throw new SshCommandException($"incremental sync {request} failed: {result.Stderr.Trim()}", isTransient: false, result.ExitCode);
            }

            bytes = UsedBytes(rbd) / 20;
        }
        else
        {
            var source = request.Source switch
            {
                RbdImageSource image => VolumePaths.RbdSource(image.Image, request.ToSnapshot ?? throw new ArgumentException("an RBD copy needs a snapshot")),
                FileImageSource file => VolumePaths.FileSource(file.Host, file.Path),
                _ => throw new NotSupportedException(request.Source.GetType().Name),
            };
            var format = request.Source is FileImageSource f ? f.Format : "raw";
            var result = await ssh.RunAsync(request.Target.Host, ["qemu-img", "convert", "-p", "-n", "-f", format, "-O", "raw", source, target], ct: ct);
            if (!result.Succeeded)
            {
                throw new SshCommandException($"copy {request} failed: {result.Stderr.Trim()}", isTransient: true, result.ExitCode);
            }

            bytes = UsedBytes(request.Source);
        }

        var elapsed = time.GetElapsedTime(started);
        if (progress is not null)
        {
            await progress(new CopyProgress(bytes, bytes, elapsed.TotalSeconds > 0 ? bytes / elapsed.TotalSeconds : 0, elapsed));
        }

        var method = request.FromSnapshot is null ? "qemu-img convert" : request.Source is FileImageSource ? "overlay commit" : "rbd export-diff | rbd import-diff";
        return new CopyReport(request.ToString(), DataPath.Direct, method, bytes, bytes, elapsed, 1);
    }

    public async Task<VerifyReport> VerifyAsync(DiskCopyRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? expected;
        switch (request.Source)
        {
            case RbdImageSource rbd:
                var snapshot = request.ToSnapshot ?? throw new ArgumentException("verification needs a snapshot");
                expected = (await ceph.ListSnapshotsAsync(rbd.Image, ct)).Contains(snapshot) ? await ceph.ChecksumAsync(rbd.Image, snapshot, ct) : null;
                break;
            case FileImageSource file:
                var source = await ssh.RunAsync(file.Host, ["sha256sum", file.Path], ct: ct);
                expected = source.Succeeded ? source.Stdout.Split(' ')[0] : null;
                break;
            default:
                throw new NotSupportedException(request.Source.GetType().Name);
        }

        var target = await ssh.RunAsync(request.Target.Host, ["sha256sum", TargetPath(request.Target)], ct: ct);
        var actual = target.Succeeded ? target.Stdout.Split(' ')[0] : "";
        return new VerifyReport(expected is not null && actual == expected, VerifyMode.Full, expected ?? "(no source snapshot)", actual, "simulated sha256");
    }

    public Task<IReadOnlyList<string>> RbdClientsAsync(string host, string image, bool oldCluster, CancellationToken ct)
        => Task.FromResult<IReadOnlyList<string>>([]);

    private static string TargetPath(DiskTarget target) => target switch
    {
        RbdVolumeTarget rbd => "rbd:" + rbd.Image,
        RawVolumeTarget raw => raw.Path,
        _ => throw new NotSupportedException(target.GetType().Name),
    };

    private long UsedBytes(DiskSource source)
    {
        lock (twin.Gate)
        {
            return source switch
            {
                RbdImageSource rbd => twin.RbdImages.TryGetValue(rbd.Image, out var image) ? image.UsedBytes : 0,
                FileImageSource file => twin.FileImages.TryGetValue((file.Host, file.Path), out var image) ? twin.CopyBytes(image) : 0,
                _ => 0,
            };
        }
    }
}
