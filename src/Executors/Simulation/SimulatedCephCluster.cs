using System.Globalization;
using System.Text;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Simulation;

/// <summary>
/// The old Ceph of the twin. Image data is not materialised: exports write a one-line descriptor
/// ("taquin-sim-diff image=… from=… to=… bytes=…") that the simulated import side reads, and the twin charges
/// the transfer time for the bytes it stands for.
/// </summary>
public sealed class SimulatedCephCluster(ClusterTwin twin) : ICephCluster
{
    public async Task<CephHealth> GetHealthAsync(CancellationToken ct = default)
    {
        await twin.EnterAsync("ceph.health", ct);
        lock (twin.Gate)
        {
            return Health();
        }
    }

    public async Task<CephHealth> WaitHealthyAsync(TimeSpan timeout, Func<CephRecoveryProgress, Task>? onProgress = null, CancellationToken ct = default)
    {
        await twin.EnterAsync("ceph.wait-healthy", ct);
        DateTimeOffset healthyAt;
        CephHealth health;
        lock (twin.Gate)
        {
            healthyAt = twin.OldCephHealthyAt;
            health = Health();
        }

        if (!health.IsOk && onProgress is not null)
        {
            // The twin does not count objects: one report of the state the wait starts from.
            await onProgress(new CephRecoveryProgress(health.Status, 0, 0, 0, 0, health.Checks));
        }

        var remaining = healthyAt == DateTimeOffset.MaxValue ? TimeSpan.MaxValue : healthyAt - twin.Clock.GetUtcNow();
        if (remaining > timeout)
        {
            await twin.Clock.WaitAsync(timeout, ct);
            lock (twin.Gate)
            {
                throw new CephException($"old Ceph not HEALTH_OK after {timeout}: {string.Join("; ", Health().Checks)}", isTransient: true);
            }
        }

        await twin.Clock.WaitAsync(remaining, ct);
        lock (twin.Gate)
        {
            return Health();
        }
    }

    public async Task<CephUsage> GetUsageAsync(CancellationToken ct = default)
    {
        await twin.EnterAsync("ceph.df", ct);
        lock (twin.Gate)
        {
            var total = twin.Osds.Where(o => o.In).Sum(o => o.SizeBytes);
            var used = twin.RbdImages.Values.Sum(i => i.UsedBytes) * twin.Inventory.Fleet.OldCeph.PoolSize;
            return new CephUsage(total, used, Math.Max(0, total - used));
        }
    }

    public async Task<IReadOnlyList<CephOsd>> ListOsdsAsync(string? host = null, CancellationToken ct = default)
    {
        await twin.EnterAsync("ceph.osd-list", ct);
        lock (twin.Gate)
        {
            return [.. twin.Osds.Where(o => host is null || o.Host == host).Select(o => new CephOsd(o.Id, o.Host, o.In, Up: true))];
        }
    }

    public async Task<OsdsOutForecast> ForecastOsdsOutAsync(IReadOnlyCollection<int> osdIds, CancellationToken ct = default)
    {
        await twin.EnterAsync("ceph.osd-df", ct);
        lock (twin.Gate)
        {
            var dataRaw = twin.RbdImages.Values.Sum(i => i.UsedBytes) * twin.Inventory.Fleet.OldCeph.PoolSize;
            var remaining = twin.Osds.Where(o => o.In && !osdIds.Contains(o.Id)).Sum(o => o.SizeBytes);
            return new OsdsOutForecast([.. osdIds.Order()], dataRaw, remaining, dataRaw, twin.Inventory.Fleet.OldCeph.NearfullRatio);
        }
    }

    public async Task MarkOsdOutAsync(int osdId, CancellationToken ct = default)
    {
        await twin.EnterAsync("ceph.osd-out", ct);
        twin.Count("ceph.osd-out");
        lock (twin.Gate)
        {
            var osd = Osd(osdId);
            if (osd.In)
            {
                var rawIn = twin.Osds.Where(o => o.In).Sum(o => o.SizeBytes);
                osd.In = false;
                Rebalance(osd, rawIn);
            }
        }
    }

    public async Task MarkOsdInAsync(int osdId, CancellationToken ct = default)
    {
        await twin.EnterAsync("ceph.osd-in", ct);
        twin.Count("ceph.osd-in");
        lock (twin.Gate)
        {
            var osd = Osd(osdId);
            if (!osd.In)
            {
                osd.In = true;
                var rawIn = twin.Osds.Where(o => o.In).Sum(o => o.SizeBytes);
                Rebalance(osd, rawIn);
            }
        }
    }

    public async Task<IReadOnlyList<string>> ListSnapshotsAsync(string image, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.snap-ls", ct);
        lock (twin.Gate)
        {
            return [.. Image(image).Snapshots.Keys.Order(StringComparer.Ordinal)];
        }
    }

    public async Task CreateSnapshotAsync(string image, string snapshot, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.snap-create", ct);
        lock (twin.Gate)
        {
            Image(image).Snapshots.TryAdd(snapshot, twin.Clock.GetUtcNow());
        }
    }

    public async Task RemoveSnapshotAsync(string image, string snapshot, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.snap-rm", ct);
        lock (twin.Gate)
        {
            Image(image).Snapshots.Remove(snapshot);
        }
    }

    public async Task ExportAsync(string image, string? snapshot, Stream destination, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.export", ct);
        long bytes;
        lock (twin.Gate)
        {
            var img = Image(image);
            RequireSnapshot(img, snapshot);
            bytes = img.UsedBytes;
        }

        await WriteDescriptorAsync(destination, $"taquin-sim-export image={image} from=- to={snapshot ?? "-"} bytes={bytes}", ct);
    }

    public async Task ImportAsync(Stream source, string image, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.import", ct);
        var fields = await ReadDescriptorAsync(source, ct);
        lock (twin.Gate)
        {
            var bytes = long.Parse(fields["bytes"], CultureInfo.InvariantCulture);
            twin.RbdImages[image] = new TwinImage(image, bytes, bytes);
        }
    }

    public async Task ExportDiffAsync(string image, string? fromSnapshot, string toSnapshot, Stream destination, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.export-diff", ct);
        long bytes;
        lock (twin.Gate)
        {
            var img = Image(image);
            RequireSnapshot(img, toSnapshot);
            if (fromSnapshot is null)
            {
                bytes = img.UsedBytes;
            }
            else
            {
                RequireSnapshot(img, fromSnapshot);
                var written = (img.Snapshots[toSnapshot] - img.Snapshots[fromSnapshot]).TotalSeconds * twin.DirtyBytesPerSecond;
                bytes = (long)Math.Min(img.UsedBytes, Math.Max(0, written));
            }
        }

        await WriteDescriptorAsync(destination, $"taquin-sim-diff image={image} from={fromSnapshot ?? "-"} to={toSnapshot} bytes={bytes}", ct);
    }

    public async Task ImportDiffAsync(Stream source, string image, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.import-diff", ct);
        var fields = await ReadDescriptorAsync(source, ct);
        lock (twin.Gate)
        {
            Image(image).Snapshots.TryAdd(fields["to"], twin.Clock.GetUtcNow());
        }
    }

    public async Task RemoveImageAsync(string image, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.rm", ct);
        twin.Count("rbd.rm");
        lock (twin.Gate)
        {
            if (twin.RbdImages.TryGetValue(image, out var img) && img.Snapshots.Count > 0)
            {
                throw new CephException($"rbd: image {image} has snapshots - remove them first", isTransient: false);
            }

            twin.RbdImages.Remove(image);
        }
    }

    public async Task RenameImageAsync(string image, string newName, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.rename", ct);
        lock (twin.Gate)
        {
            var img = Image(image);
            twin.RbdImages.Remove(image);
            img.Name = newName;
            twin.RbdImages[newName] = img;
        }
    }

    public async Task<string> ChecksumAsync(string image, string snapshot, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.checksum", ct);
        lock (twin.Gate)
        {
            RequireSnapshot(Image(image), snapshot);
        }

        return ClusterTwin.ContentChecksum($"{image}@{snapshot}");
    }

    public async Task<bool> ImageExistsAsync(string image, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.info", ct);
        lock (twin.Gate)
        {
            return twin.RbdImages.ContainsKey(image);
        }
    }

    public async Task<RbdImageUsage> GetImageUsageAsync(string image, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.du", ct);
        lock (twin.Gate)
        {
            var img = Image(image);
            return new RbdImageUsage(image, img.SizeBytes, img.UsedBytes);
        }
    }

    public async Task<IReadOnlyList<RbdImageUsage>> ListImageUsageAsync(string pool, CancellationToken ct = default)
    {
        await twin.EnterAsync("rbd.du", ct);
        lock (twin.Gate)
        {
            return [.. twin.RbdImages.Where(i => i.Key.StartsWith(pool + "/", StringComparison.Ordinal)).OrderBy(i => i.Key, StringComparer.Ordinal)
                .Select(i => new RbdImageUsage(i.Key, i.Value.SizeBytes, i.Value.UsedBytes))];
        }
    }

    internal static async Task WriteDescriptorAsync(Stream destination, string line, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes("rbd diff v1\n" + line + "\n");
        await destination.WriteAsync(bytes, ct);
    }

    internal static async Task<Dictionary<string, string>> ReadDescriptorAsync(Stream source, CancellationToken ct)
    {
        using var reader = new StreamReader(source, Encoding.UTF8, leaveOpen: true);
        var text = await reader.ReadToEndAsync(ct);
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("taquin-sim-", StringComparison.Ordinal))
            ?? throw new CephException("input is not an image stream from the simulated cluster", isTransient: false);
        return line.Split(' ').Skip(1).Select(f => f.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
    }

    private CephHealth Health()
    {
        var now = twin.Clock.GetUtcNow();
        if (twin.OldCephHealthyAt == DateTimeOffset.MaxValue)
        {
            return new CephHealth("HEALTH_ERR", ["OSD_FULL: the OSDs still in cannot hold the data"]);
        }

        return now >= twin.OldCephHealthyAt ? new CephHealth("HEALTH_OK", [])
            : new CephHealth("HEALTH_WARN", [$"PG_DEGRADED: recovery ends in {(twin.OldCephHealthyAt - now).TotalMinutes:0} min"]);
    }

    /// <summary>Data of the OSD that changed state moves to (or from) the others at the host's NIC rate.</summary>
    private void Rebalance(TwinOsd osd, long rawInBefore)
    {
        var size = twin.Inventory.Fleet.OldCeph.PoolSize;
        var dataRaw = twin.RbdImages.Values.Sum(i => i.UsedBytes) * size;
        var rawIn = twin.Osds.Where(o => o.In).Sum(o => o.SizeBytes);
        if (dataRaw > rawIn)
        {
            twin.OldCephHealthyAt = DateTimeOffset.MaxValue;
            return;
        }

        var moved = rawInBefore == 0 ? 0 : (double)dataRaw * osd.SizeBytes / Math.Max(rawIn, rawInBefore);
        var start = twin.OldCephHealthyAt == DateTimeOffset.MaxValue || twin.OldCephHealthyAt < twin.Clock.GetUtcNow()
            ? twin.Clock.GetUtcNow() : twin.OldCephHealthyAt;
        twin.OldCephHealthyAt = start + TimeSpan.FromSeconds(moved / twin.NicRate(osd.Host));
    }

    private TwinOsd Osd(int id) => twin.Osds.FirstOrDefault(o => o.Id == id) ?? throw new CephException($"osd.{id} does not exist", isTransient: false);

    private TwinImage Image(string image)
        => twin.RbdImages.TryGetValue(image, out var img) ? img : throw new CephException($"rbd: error opening image {image}: (2) No such file or directory", isTransient: false);

    private static void RequireSnapshot(TwinImage img, string? snapshot)
    {
        if (snapshot is not null && !img.Snapshots.ContainsKey(snapshot))
        {
            throw new CephException($"rbd: snapshot {img.Name}@{snapshot} does not exist", isTransient: false);
        }
    }
}
