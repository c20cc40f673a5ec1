using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Simulation;

/// <summary>
/// A digital twin of the fleet for dry runs and tests: hosts (libvirt / converting / PVE), VMs on each side with
/// run state and autostart, disk images and sizes, the old Ceph (OSDs per host, in/out, health), PVE nodes,
/// storages and tasks. Data moves at the hosts' NIC rates on a <see cref="SimulatedTimeProvider"/>, so a copy of
/// N bytes takes N / rate of simulated time. The simulated adapters are its only writers; one lock guards it.
/// </summary>
public sealed partial class ClusterTwin
{
    internal readonly Lock Gate = new();

    public ClusterTwin(FleetInventory inventory, MigrationPlan? plan, TimeProvider clock)
    {
        Inventory = inventory;
        Clock = clock;
        var stage0 = plan?.Stages.FirstOrDefault(s => s.Index == 0);
        var osdId = 0;
        foreach (var spec in inventory.Fleet.Hosts)
        {
            var state = stage0?.Hosts.GetValueOrDefault(spec.Name) ?? (spec.AlreadyPve ? HostState.Pve : HostState.Libvirt);
            var host = new TwinHost(spec) { State = state };
            if (state == HostState.Pve)
            {
                host.PveOnline = true;
                host.InPveCluster = true;
                PveStorages[PveStorageIds.Zfs(spec.Name)] = new TwinStorage(PveStorageIds.Zfs(spec.Name), "zfspool", [spec.Name]);
            }

            foreach (var group in spec.Disks.Where(d => d.Now == DiskRole.OldCephOsd && state == HostState.Libvirt))
            {
                for (var i = 0; i < group.Count; i++)
                {
                    Osds.Add(new TwinOsd(osdId++, spec.Name, group.SizeBytes) { In = true });
                }
            }

            Hosts[spec.Name] = host;
        }

        foreach (var vm in inventory.Vms)
        {
            var domain = new TwinDomain(vm.Name, vm.RamBytes, vm.Xml ?? $"<domain><name>{vm.Name}</name></domain>")
            {
                Running = vm.Running,
                Autostart = vm.Domain.Autostart ?? true,
            };
            Hosts[vm.Host].Domains[vm.Name] = domain;
            foreach (var disk in vm.Disks)
            {
                var key = disk.Device.VolumeKey;
                if (key is null || disk.Device.IsCdrom)
                {
                    continue;
                }

                var image = new TwinImage(key, disk.Volume?.SizeBytes ?? 0, disk.Volume?.BytesToCopy ?? 0);
                if (disk.Device.IsRbd)
                {
                    RbdImages[key] = image;
                }
                else
                {
                    FileImages[(vm.Host, key)] = image;
                }
            }

            if (vm.Running)
            {
                RunningSince[vm.Name] = clock.GetUtcNow();
            }
        }
    }

    public FleetInventory Inventory { get; }
    /// <summary>The twin's time: <see cref="SimulatedTimeProvider"/> (never sleeps) or <see cref="ScaledTimeProvider"/> (real time, sped up).</summary>
    public TimeProvider Clock { get; }
    public FaultInjector Faults { get; } = new();
    /// <summary>Test hook run before every adapter call (operation name), e.g. to crash a worker mid-step.</summary>
    public Func<string, CancellationToken, Task>? BeforeAdapterCall { get; set; }
    /// <summary>Bytes a running guest rewrites per second: sizes the incremental diff of a warm copy.</summary>
    public double DirtyBytesPerSecond { get; set; } = 1024 * 1024;
    /// <summary>Time a guest takes to honour an ACPI shutdown; null = it ignores ACPI (no OS).</summary>
    public TimeSpan? AcpiShutdownTime { get; set; } = TimeSpan.FromSeconds(30);

    public Dictionary<string, TwinHost> Hosts { get; } = new(StringComparer.Ordinal);
    public List<TwinOsd> Osds { get; } = [];
    public Dictionary<string, TwinImage> RbdImages { get; } = new(StringComparer.Ordinal);
    public Dictionary<(string Host, string Path), TwinImage> FileImages { get; } = [];
    public Dictionary<int, TwinPveVm> PveVms { get; } = [];
    /// <summary>Target volumes by PVE volume id ("zfs-h4:vm-100-disk-0") with the content they hold.</summary>
    public Dictionary<string, TwinVolume> Volumes { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, TwinStorage> PveStorages { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, TwinTask> Tasks { get; } = new(StringComparer.Ordinal);
    public HashSet<string> PvePools { get; } = new(StringComparer.Ordinal);
    public bool PveCephInitialized { get; set; }
    public DateTimeOffset OldCephHealthyAt { get; set; } = DateTimeOffset.MinValue;
    /// <summary>Counters of mutating operations, by name, for tests (e.g. "pve.create-vm").</summary>
    public Dictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);
    /// <summary>Per VM: accumulated time during which it ran nowhere (for the timeline).</summary>
    public Dictionary<string, TimeSpan> Downtime { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, DateTimeOffset> RunningSince { get; } = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _stoppedAt = new(StringComparer.Ordinal);
    private int _nextVmId = 100;
    private int _nextTask;

    internal async Task EnterAsync(string operation, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (BeforeAdapterCall is { } hook)
        {
            await hook(operation, ct);
        }

        ct.ThrowIfCancellationRequested();
        Faults.OnAdapterCall(operation);
    }

    /// <summary>
    /// Bytes a copy of this image carries: a file overlay holds what the guest wrote since the snapshot (the dirty rate
    /// over that time, at most the disk), any other image its used bytes.
    /// </summary>
    internal long CopyBytes(TwinImage image)
        => image.OverlaySince is { } since
            ? Math.Min(image.SizeBytes, (long)(DirtyBytesPerSecond * Math.Max(0, (Clock.GetUtcNow() - since).TotalSeconds)))
            : image.UsedBytes;

    internal void Count(string operation)
    {
        lock (Gate)
        {
            Calls[operation] = Calls.GetValueOrDefault(operation) + 1;
        }
    }

    public int CallCount(string operation)
    {
        lock (Gate)
        {
            return Calls.GetValueOrDefault(operation);
        }
    }

    internal int AllocateVmId() => _nextVmId++;

    internal string NewTask(string node, string type, TimeSpan duration, string exitStatus = "OK")
    {
        var upid = string.Create(CultureInfo.InvariantCulture, $"UPID:{node}:{++_nextTask:X8}:{type}:");
        Tasks[upid] = new TwinTask(upid, node, Clock.GetUtcNow() + duration, exitStatus);
        return upid;
    }

    /// <summary>Bytes per second a host's NIC moves.</summary>
    public double NicRate(string host) => Hosts[host].Spec.NicGbits * 1e9 / 8;

    /// <summary>Records a VM starting or stopping somewhere, to account downtime.</summary>
    internal void NoteRunChange(string vm, bool runningNow)
    {
        var now = Clock.GetUtcNow();
        if (runningNow)
        {
            if (_stoppedAt.Remove(vm, out var since) && now > since)
            {
                Downtime[vm] = Downtime.GetValueOrDefault(vm) + (now - since);
            }

            RunningSince[vm] = now;
        }
        else if (CountRunning(vm) == 0)
        {
            _stoppedAt[vm] = now;
        }
    }

    public int CountRunning(string vm)
    {
        lock (Gate)
        {
            var libvirt = Hosts.Values.Count(h => h.Domains.TryGetValue(vm, out var d) && d.Running);
            var pve = PveVms.Values.Count(v => v.Name == vm && v.Running);
            return libvirt + pve;
        }
    }

    /// <summary>Where a VM runs now: "libvirt:h1", "pve:h4", or null.</summary>
    public IReadOnlyList<string> WhereRunning(string vm)
    {
        lock (Gate)
        {
            return [.. Hosts.Values.Where(h => h.Domains.TryGetValue(vm, out var d) && d.Running).Select(h => "libvirt:" + h.Name)
                .Concat(PveVms.Values.Where(v => v.Name == vm && v.Running).Select(v => "pve:" + v.Node))];
        }
    }

    /// <summary>
    /// The operator's manual part of converting a host: reinstall it as PVE. Whatever libvirt held is gone; the
    /// node comes up outside any cluster with no storage.
    /// </summary>
    public void ReinstallAsPve(string host)
    {
        lock (Gate)
        {
            var h = Hosts[host];
            foreach (var domain in h.Domains.Values.Where(d => d.Running))
            {
                LostVms.Add(domain.Name);
            }

            h.Domains.Clear();
            h.State = HostState.Pve;
            h.PveOnline = true;
            h.InPveCluster = false;
            h.PlacementEnabled = true;
        }
    }

    /// <summary>VMs that were still running on a host when it was wiped (a plan or engine bug).</summary>
    public List<string> LostVms { get; } = [];

    public static string ContentChecksum(string content)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    /// <summary>
    /// Checks the safety and capacity invariants: every VM runs in at most one place; RAM of running VMs fits each
    /// host; ZFS volumes fit each pool; the old Ceph's data fits the OSDs still in. Returns the violations.
    /// </summary>
    public IReadOnlyList<string> CheckInvariants()
    {
        lock (Gate)
        {
            var violations = new List<string>();
            var places = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            void Note(string vm, string place)
            {
                if (!places.TryGetValue(vm, out var list))
                {
                    places[vm] = list = [];
                }

                list.Add(place);
            }

            foreach (var host in Hosts.Values)
            {
                foreach (var domain in host.Domains.Values.Where(d => d.Running))
                {
                    Note(domain.Name, "libvirt:" + host.Name);
                }
            }

            foreach (var vm in PveVms.Values.Where(v => v.Running))
            {
                Note(vm.Name, "pve:" + vm.Node);
            }

            foreach (var (vm, where) in places.Where(p => p.Value.Count > 1))
            {
                violations.Add($"VM {vm} runs in {where.Count} places: {string.Join(", ", where)}");
            }

            violations.AddRange(LostVms.Select(vm => $"VM {vm} was running on a host that got reinstalled"));
            foreach (var host in Hosts.Values)
            {
                var ram = host.Domains.Values.Where(d => d.Running).Sum(d => d.RamBytes)
                    + PveVms.Values.Where(v => v.Node == host.Name && v.Running).Sum(v => v.RamBytes);
                if (ram > host.Spec.RamBytes)
                {
                    violations.Add($"host {host.Name}: running VMs need {ByteSize.Format(ram)} RAM, the host has {ByteSize.Format(host.Spec.RamBytes)}");
                }

                var zfsId = PveStorageIds.Zfs(host.Name);
                var zfs = Volumes.Values.Where(v => v.Storage == zfsId).Sum(v => v.SizeBytes);
                if (zfs > host.Spec.ZfsUsableBytes)
                {
                    violations.Add($"host {host.Name}: ZFS holds {ByteSize.Format(zfs)}, the pool has {ByteSize.Format(host.Spec.ZfsUsableBytes)}");
                }
            }

            var poolSize = Inventory.Fleet.OldCeph.PoolSize;
            var capacity = Osds.Where(o => o.In).Sum(o => o.SizeBytes) / Math.Max(1, poolSize);
            var used = RbdImages.Values.Sum(i => i.UsedBytes);
            if (used > capacity)
            {
                violations.Add($"old Ceph: {ByteSize.Format(used)} of data, the OSDs still in hold {ByteSize.Format(capacity)} at size {poolSize}");
            }

            return violations;
        }
    }

    /// <summary>Checks RAM against the policy reserve (a plan property, reported as a warning, not a violation).</summary>
    public IReadOnlyList<string> CheckReserve()
    {
        lock (Gate)
        {
            var reserve = Inventory.Fleet.Policy.RamReservePerHostBytes;
            return [.. Hosts.Values
                .Select(h => (h.Name, Ram: h.Domains.Values.Where(d => d.Running).Sum(d => d.RamBytes)
                    + PveVms.Values.Where(v => v.Node == h.Name && v.Running).Sum(v => v.RamBytes), Limit: h.Spec.RamBytes - reserve))
                .Where(x => x.Ram > x.Limit)
                .Select(x => $"host {x.Name}: running VMs use {ByteSize.Format(x.Ram)}, above the {ByteSize.Format(x.Limit)} left after the policy reserve")];
        }
    }
}

/// <summary>PVE storage ids Taquin creates for the plan's storages.</summary>
public static class PveStorageIds
{
    public const string OldCeph = "old-ceph";
    public const string PveCeph = "pve-ceph";

    public static string Zfs(string host) => "zfs-" + host;

    /// <summary>The PVE storage id of a plan storage id ("zfs:h4" → "zfs-h4").</summary>
    public static string FromPlan(string planStorage)
        => StorageIds.IsZfs(planStorage) ? Zfs(StorageIds.HostOf(planStorage)!) : planStorage;
}

public sealed class TwinHost(HostSpec spec)
{
    public HostSpec Spec { get; } = spec;
    public string Name => Spec.Name;
    public HostState State { get; set; }
    public bool PlacementEnabled { get; set; } = true;
    public bool PveOnline { get; set; }
    public bool InPveCluster { get; set; }
    public bool HasPveCephOsds { get; set; }
    public Dictionary<string, TwinDomain> Domains { get; } = new(StringComparer.Ordinal);
}

public sealed class TwinDomain(string name, long ramBytes, string xml)
{
    public string Name { get; } = name;
    public long RamBytes { get; } = ramBytes;
    public string Xml { get; } = xml;
    public bool Running { get; set; }
    public bool Autostart { get; set; }
    /// <summary>When an ACPI shutdown was asked and the guest will be off.</summary>
    public DateTimeOffset? ShutdownCompletesAt { get; set; }
    /// <summary>File disks running on an external overlay (warm copy of a file disk): target device → overlay path.</summary>
    public Dictionary<string, string> Overlays { get; } = new(StringComparer.Ordinal);
}

public sealed class TwinOsd(int id, string host, long sizeBytes)
{
    public int Id { get; } = id;
    public string Host { get; } = host;
    public long SizeBytes { get; } = sizeBytes;
    public bool In { get; set; }
}

public sealed class TwinImage(string name, long sizeBytes, long usedBytes)
{
    public string Name { get; set; } = name;
    public long SizeBytes { get; } = sizeBytes;
    public long UsedBytes { get; } = usedBytes;
    /// <summary>Snapshot name → when it was taken.</summary>
    public Dictionary<string, DateTimeOffset> Snapshots { get; } = new(StringComparer.Ordinal);
    /// <summary>An external overlay: the file it is backed by, and since when the guest writes into it.</summary>
    public string? BackingPath { get; init; }
    public DateTimeOffset? OverlaySince { get; init; }
}

public sealed class TwinPveVm(int vmId, string node, string name, long ramBytes)
{
    public int VmId { get; } = vmId;
    public string Node { get; set; } = node;
    public string Name { get; } = name;
    public long RamBytes { get; } = ramBytes;
    public bool Running { get; set; }
    public Dictionary<string, string> Config { get; } = new(StringComparer.Ordinal);
    public int ConfigVersion { get; set; } = 1;
    public string Digest => ClusterTwin.ContentChecksum($"{VmId}:{ConfigVersion}")[..40];
}

/// <summary>A disk volume on a PVE storage and what it holds ("image@snapshot" it was synced to).</summary>
public sealed class TwinVolume(string volumeId, string storage, long sizeBytes)
{
    public string VolumeId { get; } = volumeId;
    public string Storage { get; set; } = storage;
    public long SizeBytes { get; } = sizeBytes;
    public string? Content { get; set; }
}

public sealed record TwinStorage(string Id, string Type, IReadOnlyList<string> Nodes);

public sealed record TwinTask(string Upid, string Node, DateTimeOffset EndsAt, string ExitStatus);
