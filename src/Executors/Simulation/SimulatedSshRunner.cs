using Taquin.Executors.Adapters;

namespace Taquin.Executors.Simulation;

/// <summary>
/// The commands the copy steps run on PVE nodes, interpreted against the twin: <c>qemu-img convert</c> (full copy
/// from an old-Ceph snapshot or a file over SSH), <c>rbd import-diff -</c> (incremental from a diff stream) and
/// <c>sha256sum</c> (copy verification), and the router/tap-route commands of the network step (<see cref="SimulatedRouting"/>).
/// Transfers take bytes / NIC rate of simulated time. Anything else exits 127.
/// </summary>
public sealed class SimulatedSshRunner(ClusterTwin twin) : ISshRunner
{
    private readonly SimulatedRouting _routing = new(twin);

    public async Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default)
    {
        await twin.EnterAsync("ssh." + (argv.Count > 0 ? argv[0] : "?"), ct);
        if (argv.Count == 0)
        {
            return new SshResult(127, "", "empty command");
        }

        return argv[0] switch
        {
            "qemu-img" when argv.Count >= 3 && argv[1] == "convert" => await ConvertAsync(host, argv, ct),
            "rbd" when argv.Count == 4 && argv[1] == "import-diff" && argv[2] == "-" && stdin is not null => await ImportDiffAsync(host, argv[3], stdin, ct),
            "sha256sum" when argv.Count == 2 => Checksum(host, argv[1]),
            "qemu-img" when argv.Count >= 3 && argv[1] == "commit" => OverlayFile(host, argv[^1], remove: false),
            "rm" when argv.Count == 3 && argv[1] == "-f" && argv[2] != Steps.DisablePlacementStep.FlagFile => OverlayFile(host, argv[2], remove: true),
            "touch" or "test" or "rm" when argv[^1] == Steps.DisablePlacementStep.FlagFile => PlacementFlag(host, argv[0]),
            var program when SimulatedRouting.Handles(program) => Routing(host, argv, stdin),
            _ => new SshResult(127, "", $"{argv[0]}: command not found"),
        };
    }

    public async Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        var result = await RunAsync(host, argv, stdin, ct);
        var bytes = System.Text.Encoding.UTF8.GetBytes(result.Stdout);
        await stdout.WriteAsync(bytes, ct);
        return result with { Stdout = "" };
    }

    /// <summary>The simulated programs print no live output: the tap gets their stderr once they end.</summary>
    public async Task<SshResult> RunWithStderrTapAsync(string host, IReadOnlyList<string> argv, Stream stderrTap, Stream? stdin = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(stderrTap);
        var result = await RunAsync(host, argv, stdin, ct);
        await stderrTap.WriteAsync(System.Text.Encoding.UTF8.GetBytes(result.Stderr), ct);
        return result;
    }

    private async Task<SshResult> ConvertAsync(string host, IReadOnlyList<string> argv, CancellationToken ct)
    {
        var source = argv[^2];
        var target = argv[^1];
        long bytes;
        double rate;
        string content;
        lock (twin.Gate)
        {
            var volumeId = VolumePaths.VolumeIdOf(host, target);
            if (volumeId is null || !twin.Volumes.TryGetValue(volumeId, out var volume))
            {
                return new SshResult(1, "", $"qemu-img: Could not open '{target}': No such file or directory");
            }

            rate = twin.NicRate(host);
            if (source.StartsWith("rbd:", StringComparison.Ordinal))
            {
                var spec = source["rbd:".Length..].Split(':')[0];
                var at = spec.IndexOf('@', StringComparison.Ordinal);
                var image = at < 0 ? spec : spec[..at];
                if (!twin.RbdImages.TryGetValue(image, out var img) || (at >= 0 && !img.Snapshots.ContainsKey(spec[(at + 1)..])))
                {
                    return new SshResult(1, "", $"qemu-img: Could not open '{source}': error reading header");
                }

                bytes = img.UsedBytes;
                content = spec;
            }
            else if (source.StartsWith("ssh://root@", StringComparison.Ordinal))
            {
                var rest = source["ssh://root@".Length..];
                var slash = rest.IndexOf('/', StringComparison.Ordinal);
                var fileHost = rest[..slash];
                var path = rest[slash..];
                if (!twin.FileImages.TryGetValue((fileHost, path), out var img))
                {
                    return new SshResult(1, "", $"qemu-img: Could not open '{source}': No such file");
                }

                bytes = twin.CopyBytes(img);
                rate = Math.Min(rate, twin.NicRate(fileHost));
                content = $"{fileHost}:{path}";
            }
            else
            {
                return new SshResult(1, "", $"qemu-img: unknown source '{source}'");
            }

            volume.Content = content;
        }

        await twin.Clock.WaitAsync(TimeSpan.FromSeconds(bytes / rate), ct);
        return new SshResult(0, $"    (100.00/100%)\n", "");
    }

    private async Task<SshResult> ImportDiffAsync(string host, string target, Stream stdin, CancellationToken ct)
    {
        var fields = await SimulatedCephCluster.ReadDescriptorAsync(stdin, ct);
        long bytes;
        lock (twin.Gate)
        {
            var volumeId = VolumePaths.VolumeIdOf(host, target);
            if (volumeId is null || !twin.Volumes.TryGetValue(volumeId, out var volume))
            {
                return new SshResult(1, "", $"rbd: error opening {target}");
            }

            var expected = $"{fields["image"]}@{fields["from"]}";
            if (fields["from"] != "-" && volume.Content != expected)
            {
                return new SshResult(1, "", $"rbd: import-diff: start snapshot '{fields["from"]}' does not match the target (it holds {volume.Content ?? "nothing"})");
            }

            volume.Content = $"{fields["image"]}@{fields["to"]}";
            bytes = long.Parse(fields["bytes"], System.Globalization.CultureInfo.InvariantCulture);
        }

        await twin.Clock.WaitAsync(TimeSpan.FromSeconds(bytes / twin.NicRate(host)), ct);
        return new SshResult(0, "", "");
    }

    /// <summary>
    /// An external overlay of a warm file disk: <c>qemu-img commit</c> merges it into its base (the twin's content is
    /// by name, so nothing changes), <c>rm -f</c> removes it. Base images are never removed here.
    /// </summary>
    private SshResult OverlayFile(string host, string path, bool remove)
    {
        lock (twin.Gate)
        {
            if (!twin.FileImages.TryGetValue((host, path), out var image))
            {
                return remove ? new SshResult(0, "", "") : new SshResult(1, "", $"qemu-img: Could not open '{path}': No such file or directory");
            }

            if (image.BackingPath is null)
            {
                return new SshResult(1, "", $"{(remove ? "rm" : "qemu-img")}: {path} is not an overlay (the twin keeps source disks)");
            }

            if (remove)
            {
                twin.FileImages.Remove((host, path));
            }

            return new SshResult(0, remove ? "" : "Image committed.\n", "");
        }
    }

    private SshResult Routing(string host, IReadOnlyList<string> argv, Stream? stdin)
    {
        lock (twin.Gate)
        {
            return _routing.Run(host, argv, stdin);
        }
    }

    /// <summary>The flag file the fleet's placement scripts honour.</summary>
    private SshResult PlacementFlag(string host, string command)
    {
        lock (twin.Gate)
        {
            var h = twin.Hosts[host];
            if (h.State != Planner.Planning.HostState.Libvirt)
            {
                return new SshResult(255, "", $"ssh: connect to host {host}: the host is not a libvirt host any more");
            }

            switch (command)
            {
                case "touch":
                    h.PlacementEnabled = false;
                    return new SshResult(0, "", "");
                case "rm":
                    h.PlacementEnabled = true;
                    return new SshResult(0, "", "");
                default:
                    return new SshResult(h.PlacementEnabled ? 1 : 0, "", "");
            }
        }
    }

    private SshResult Checksum(string host, string target)
    {
        lock (twin.Gate)
        {
            if (twin.FileImages.ContainsKey((host, target)))
            {
                return new SshResult(0, $"{ClusterTwin.ContentChecksum($"{host}:{target}")}  {target}\n", "");
            }

            var volumeId = VolumePaths.VolumeIdOf(host, target);
            return volumeId is not null && twin.Volumes.TryGetValue(volumeId, out var volume) && volume.Content is not null
                ? new SshResult(0, $"{ClusterTwin.ContentChecksum(volume.Content)}  {target}\n", "")
                : new SshResult(1, "", $"sha256sum: {target}: No such file or directory");
        }
    }
}
