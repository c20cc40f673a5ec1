using System.Text.Json;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Simulation;

/// <summary>The twin's state as plain data, so a durable simulated run survives its process (see <see cref="TwinStore"/>).</summary>
public sealed partial class ClusterTwin
{
    private static readonly JsonSerializerOptions SnapshotJson = new(JsonSerializerDefaults.Web) { WriteIndented = false };

    /// <summary>The whole mutable state as JSON (taken under the twin's lock, so it is one consistent picture).</summary>
    public string ToSnapshotJson(ScaledTimeProvider? clock = null)
    {
        lock (Gate)
        {
            var snapshot = new TwinSnapshot
            {
                InventoryDigest = Inventory.Digest,
                SimulatedEpoch = clock?.SimulatedEpoch,
                RealEpoch = clock?.RealEpoch,
                Scale = clock?.Scale,
                Hosts = [.. Hosts.Values.Select(h => new TwinSnapshot.Host(h.Name, h.State, h.PlacementEnabled, h.PveOnline, h.InPveCluster, h.HasPveCephOsds,
                    [.. h.Domains.Values.Select(d => new TwinSnapshot.Domain(d.Name, d.RamBytes, d.Xml, d.Running, d.Autostart, d.ShutdownCompletesAt, d.Overlays.Count == 0 ? null : new(d.Overlays)))]))],
                Osds = [.. Osds.Select(o => new TwinSnapshot.Osd(o.Id, o.Host, o.SizeBytes, o.In))],
                RbdImages = [.. RbdImages.Select(i => Image(null, i.Key, i.Value))],
                FileImages = [.. FileImages.Select(i => Image(i.Key.Host, i.Key.Path, i.Value))],
                PveVms = [.. PveVms.Values.Select(v => new TwinSnapshot.PveVm(v.VmId, v.Node, v.Name, v.RamBytes, v.Running, new(v.Config), v.ConfigVersion))],
                Volumes = [.. Volumes.Values.Select(v => new TwinSnapshot.Volume(v.VolumeId, v.Storage, v.SizeBytes, v.Content))],
                Storages = [.. PveStorages.Values],
                Tasks = [.. Tasks.Values],
                PvePools = [.. PvePools],
                PveCephInitialized = PveCephInitialized,
                OldCephHealthyAt = OldCephHealthyAt,
                Calls = new(Calls),
                Downtime = Downtime.ToDictionary(d => d.Key, d => d.Value.Ticks),
                RunningSince = new(RunningSince),
                StoppedAt = new(_stoppedAt),
                LostVms = [.. LostVms],
                NextVmId = _nextVmId,
                NextTask = _nextTask,
            };
            return JsonSerializer.Serialize(snapshot, SnapshotJson);
        }

        static TwinSnapshot.Image Image(string? host, string key, TwinImage image) =>
            new(host, key, image.Name, image.SizeBytes, image.UsedBytes, new(image.Snapshots), image.BackingPath, image.OverlaySince);
    }

    public static TwinSnapshot ParseSnapshot(string json) =>
        JsonSerializer.Deserialize<TwinSnapshot>(json, SnapshotJson) ?? throw new JsonException("empty twin snapshot");

    /// <summary>Replaces this twin's state (built from the inventory) with a saved one.</summary>
    public void Restore(TwinSnapshot snapshot)
    {
        if (snapshot.InventoryDigest != Inventory.Digest)
        {
            throw new InvalidOperationException($"the saved twin was built from inventory {snapshot.InventoryDigest}, not {Inventory.Digest}");
        }

        lock (Gate)
        {
            foreach (var saved in snapshot.Hosts)
            {
                var host = Hosts[saved.Name];
                (host.State, host.PlacementEnabled, host.PveOnline, host.InPveCluster, host.HasPveCephOsds) =
                    (saved.State, saved.PlacementEnabled, saved.PveOnline, saved.InPveCluster, saved.HasPveCephOsds);
                host.Domains.Clear();
                foreach (var d in saved.Domains)
                {
                    var domain = new TwinDomain(d.Name, d.RamBytes, d.Xml) { Running = d.Running, Autostart = d.Autostart, ShutdownCompletesAt = d.ShutdownCompletesAt };
                    foreach (var (target, overlay) in d.Overlays ?? [])
                    {
                        domain.Overlays[target] = overlay;
                    }

                    host.Domains[d.Name] = domain;
                }
            }

            Osds.Clear();
            Osds.AddRange(snapshot.Osds.Select(o => new TwinOsd(o.Id, o.Host, o.SizeBytes) { In = o.In }));
            RbdImages.Clear();
            FileImages.Clear();
            foreach (var i in snapshot.RbdImages)
            {
                RbdImages[i.Key] = ToImage(i);
            }

            foreach (var i in snapshot.FileImages)
            {
                FileImages[(i.Host!, i.Key)] = ToImage(i);
            }

            PveVms.Clear();
            foreach (var v in snapshot.PveVms)
            {
                var vm = new TwinPveVm(v.VmId, v.Node, v.Name, v.RamBytes) { Running = v.Running, ConfigVersion = v.ConfigVersion };
                foreach (var (key, value) in v.Config)
                {
                    vm.Config[key] = value;
                }

                PveVms[v.VmId] = vm;
            }

            Volumes.Clear();
            foreach (var v in snapshot.Volumes)
            {
                Volumes[v.VolumeId] = new TwinVolume(v.VolumeId, v.Storage, v.SizeBytes) { Content = v.Content };
            }

            Refill(PveStorages, snapshot.Storages.Select(s => (s.Id, s)));
            Refill(Tasks, snapshot.Tasks.Select(t => (t.Upid, t)));
            PvePools.Clear();
            PvePools.UnionWith(snapshot.PvePools);
            PveCephInitialized = snapshot.PveCephInitialized;
            OldCephHealthyAt = snapshot.OldCephHealthyAt;
            Refill(Calls, snapshot.Calls.Select(c => (c.Key, c.Value)));
            Refill(Downtime, snapshot.Downtime.Select(d => (d.Key, TimeSpan.FromTicks(d.Value))));
            Refill(RunningSince, snapshot.RunningSince.Select(r => (r.Key, r.Value)));
            Refill(_stoppedAt, snapshot.StoppedAt.Select(r => (r.Key, r.Value)));
            LostVms.Clear();
            LostVms.AddRange(snapshot.LostVms);
            _nextVmId = snapshot.NextVmId;
            _nextTask = snapshot.NextTask;
        }

        static TwinImage ToImage(TwinSnapshot.Image i)
        {
            var image = new TwinImage(i.Name, i.SizeBytes, i.UsedBytes) { BackingPath = i.BackingPath, OverlaySince = i.OverlaySince };
            foreach (var (name, at) in i.Snapshots)
            {
                image.Snapshots[name] = at;
            }

            return image;
        }

        static void Refill<TKey, TValue>(Dictionary<TKey, TValue> target, IEnumerable<(TKey Key, TValue Value)> values)
            where TKey : notnull
        {
            target.Clear();
            foreach (var (key, value) in values)
            {
                target[key] = value;
            }
        }
    }
}

/// <summary>Plain-data copy of a <see cref="ClusterTwin"/>'s state, with the scaled clock's epochs.</summary>
public sealed record TwinSnapshot
{
    public required string InventoryDigest { get; init; }
    public DateTimeOffset? SimulatedEpoch { get; init; }
    public DateTimeOffset? RealEpoch { get; init; }
    public double? Scale { get; init; }
    public required List<Host> Hosts { get; init; }
    public required List<Osd> Osds { get; init; }
    public required List<Image> RbdImages { get; init; }
    public required List<Image> FileImages { get; init; }
    public required List<PveVm> PveVms { get; init; }
    public required List<Volume> Volumes { get; init; }
    public required List<TwinStorage> Storages { get; init; }
    public required List<TwinTask> Tasks { get; init; }
    public required List<string> PvePools { get; init; }
    public bool PveCephInitialized { get; init; }
    public DateTimeOffset OldCephHealthyAt { get; init; }
    public required Dictionary<string, int> Calls { get; init; }
    public required Dictionary<string, long> Downtime { get; init; }
    public required Dictionary<string, DateTimeOffset> RunningSince { get; init; }
    public required Dictionary<string, DateTimeOffset> StoppedAt { get; init; }
    public required List<string> LostVms { get; init; }
    public int NextVmId { get; init; }
    public int NextTask { get; init; }

    public sealed record Host(string Name, HostState State, bool PlacementEnabled, bool PveOnline, bool InPveCluster, bool HasPveCephOsds, List<Domain> Domains);

    public sealed record Domain(string Name, long RamBytes, string Xml, bool Running, bool Autostart, DateTimeOffset? ShutdownCompletesAt, Dictionary<string, string>? Overlays = null);

    public sealed record Osd(int Id, string Host, long SizeBytes, bool In);

    public sealed record Image(string? Host, string Key, string Name, long SizeBytes, long UsedBytes, Dictionary<string, DateTimeOffset> Snapshots, string? BackingPath = null, DateTimeOffset? OverlaySince = null);

    public sealed record PveVm(int VmId, string Node, string Name, long RamBytes, bool Running, Dictionary<string, string> Config, int ConfigVersion);

    public sealed record Volume(string VolumeId, string Storage, long SizeBytes, string? Content);
}
