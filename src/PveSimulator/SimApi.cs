using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Taquin.PveSimulator;

/// <summary>A request after auth and schema validation: path variables and body/query parameters merged, as PVE does.</summary>
public sealed class SimRequest(IReadOnlyDictionary<string, string> values, string user)
{
    public string User { get; } = user;
    public IReadOnlyDictionary<string, string> Values { get; } = values;

    public string this[string name] => Values.TryGetValue(name, out var v) ? v : throw new SimApiException(400, "Parameter verification failed.", new() { [name] = "property is missing and it is not optional" });

    public string? Optional(string name) => Values.GetValueOrDefault(name);

    public bool Flag(string name) => Values.TryGetValue(name, out var v) && v is "1" or "true" or "yes" or "on";

    public int Int(string name) => int.Parse(this[name], CultureInfo.InvariantCulture);
}

/// <summary>What a handler answers: the envelope's data, and total for paged lists.</summary>
public sealed record SimResult(object? Data, int? Total = null);

/// <summary>A handler's die(): HTTP status, PVE's message, per-parameter errors for 400.</summary>
public sealed class SimApiException(int status, string message, Dictionary<string, string>? errors = null) : Exception(message)
{
    public int Status { get; } = status;
    public Dictionary<string, string>? Errors { get; } = errors;
}

/// <summary>
/// One endpoint the simulator serves: PVE's path template (as in pve-apidata.json), the parameters its handler
/// reads (beyond the path variables), or <see cref="AnyConfigKey"/> for the VM config endpoints that take any
/// schema-valid config key.
/// </summary>
public sealed record SimRoute(string Method, string Template, IReadOnlyList<string> Parameters, Func<SimRequest, Task<SimResult>> Handler)
{
    public bool AnyConfigKey { get; init; }
    public bool Anonymous { get; init; }
}

/// <summary>The handlers: what each endpoint does to <see cref="SimState"/> and the real storages.</summary>
public sealed partial class SimApi(SimState state, SimAuth auth, string certificateFingerprint)
{
    public const string Version = "9.1.1";

    private static readonly string[] InetOnly = ["inet"];

    public IReadOnlyList<SimRoute> Routes() =>
    [
        new("POST", "/access/ticket", ["username", "password", "realm"], Ticket) { Anonymous = true },
        new("GET", "/version", [], _ => Ok(new Dictionary<string, object> { ["version"] = Version, ["release"] = "9.1", ["repoid"] = "0c0f5ea7" })),
        new("GET", "/nodes", [], Nodes),
        new("GET", "/nodes/{node}/status", [], NodeStatus),
        new("GET", "/nodes/{node}/version", [], r => { KnownNode(r); return Ok(new Dictionary<string, object> { ["version"] = Version, ["release"] = "9.1", ["repoid"] = "0c0f5ea7" }); }),
        new("GET", "/cluster/status", [], ClusterStatus),
        new("POST", "/cluster/config", ["clustername"], ClusterCreate),
        new("POST", "/cluster/config/join", ["hostname", "fingerprint", "password"], ClusterJoin),
        new("GET", "/cluster/nextid", ["vmid"], NextId),
        new("GET", "/cluster/resources", ["type"], Resources),
        new("POST", "/nodes/{node}/qemu", ["vmid"], CreateVm) { AnyConfigKey = true },
        new("GET", "/nodes/{node}/qemu/{vmid}/config", [], GetConfig),
        new("PUT", "/nodes/{node}/qemu/{vmid}/config", ["digest", "delete"], PutConfig) { AnyConfigKey = true },
        new("GET", "/nodes/{node}/qemu/{vmid}/status/current", [], VmStatus),
        new("POST", "/nodes/{node}/qemu/{vmid}/status/start", [], Start),
        new("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown", ["timeout", "forceStop"], Shutdown),
        new("POST", "/nodes/{node}/qemu/{vmid}/status/stop", [], Stop),
        new("DELETE", "/nodes/{node}/qemu/{vmid}", ["purge", "destroy-unreferenced-disks"], Destroy),
        new("POST", "/nodes/{node}/qemu/{vmid}/move_disk", ["disk", "storage", "delete", "format"], MoveDisk),
        new("POST", "/nodes/{node}/qemu/{vmid}/migrate", ["target", "online", "with-local-disks"], Migrate),
        new("GET", "/nodes/{node}/tasks/{upid}/status", [], TaskStatus),
        new("GET", "/nodes/{node}/tasks/{upid}/log", ["start", "limit"], TaskLog),
        new("GET", "/storage", ["type"], StorageConfig),
        new("POST", "/storage", ["storage", "type", "path", "pool", "content", "nodes", "krbd", "sparse", "monhost", "username"], CreateStorage),
        new("GET", "/nodes/{node}/storage", ["content", "storage"], NodeStorages),
        new("GET", "/nodes/{node}/storage/{storage}/status", [], StorageStatus),
        new("GET", "/nodes/{node}/storage/{storage}/content", ["content", "vmid"], StorageContent),
        new("GET", "/nodes/{node}/storage/{storage}/content/{volume}", [], VolumeInfo),
        new("GET", "/nodes/{node}/network", ["type"], Networks),
        new("POST", "/nodes/{node}/ceph/init", ["network", "size", "min_size"], CephInit),
        new("POST", "/nodes/{node}/ceph/osd", ["dev"], CephOsd),
        new("GET", "/nodes/{node}/ceph/pool", [], CephPools),
        new("POST", "/nodes/{node}/ceph/pool", ["name", "size", "min_size", "application", "pg_num"], CephCreatePool),
    ];

    private static Task<SimResult> Ok(object? data, int? total = null) => Task.FromResult(new SimResult(data, total));

    // ------------------------------------------------------------------ access, nodes, cluster

    private Task<SimResult> Ticket(SimRequest r)
    {
        var user = r["username"];
        if (r.Optional("realm") is { } realm && !user.Contains('@', StringComparison.Ordinal))
        {
            user += "@" + realm;
        }

        var issued = auth.Login(user, r["password"]) ?? throw new SimApiException(401, "authentication failure");
        return Ok(new Dictionary<string, object> { ["ticket"] = issued.Ticket, ["CSRFPreventionToken"] = issued.Csrf, ["username"] = user });
    }

    private Task<SimResult> Nodes(SimRequest r)
    {
        lock (state.Gate)
        {
            return Ok(state.Options.Nodes.Select(n => new Dictionary<string, object>
            {
                ["node"] = n,
                ["status"] = "online",
                ["type"] = "node",
                ["id"] = "node/" + n,
                ["maxmem"] = state.Options.NodeMemoryBytes,
                ["mem"] = UsedMemory(n),
                ["maxcpu"] = 16,
                ["cpu"] = 0.02,
                ["uptime"] = 86400,
            }).ToList());
        }
    }

    private Task<SimResult> NodeStatus(SimRequest r)
    {
        var node = KnownNode(r);
        lock (state.Gate)
        {
            var used = UsedMemory(node);
            return Ok(new Dictionary<string, object>
            {
                ["memory"] = new Dictionary<string, object> { ["total"] = state.Options.NodeMemoryBytes, ["used"] = used, ["free"] = state.Options.NodeMemoryBytes - used },
                ["pveversion"] = $"pve-manager/{Version}/0c0f5ea7",
                ["kversion"] = "Linux 6.17.2-1-pve #1 SMP PREEMPT_DYNAMIC",
                ["uptime"] = 86400,
                ["cpu"] = 0.02,
            });
        }
    }

    private long UsedMemory(string node) =>
        state.Vms.Values.Where(v => v.Node == node && v.Running).Sum(v => MemoryMiB(v) << 20);

    private static long MemoryMiB(SimVm vm) =>
        vm.Config.TryGetValue("memory", out var m) && long.TryParse(m.Replace("current=", "", StringComparison.Ordinal).Split(',')[0], CultureInfo.InvariantCulture, out var mib) ? mib : 512;

    private Task<SimResult> ClusterStatus(SimRequest r)
    {
        lock (state.Gate)
        {
            var items = new List<Dictionary<string, object>>();
            if (state.ClusterName is { } name)
            {
                items.Add(new() { ["type"] = "cluster", ["id"] = "cluster", ["name"] = name, ["nodes"] = state.ClusterMembers.Count, ["quorate"] = 1, ["version"] = state.ClusterMembers.Count });
            }

            var nodes = state.ClusterName is null ? [state.LocalNode] : state.ClusterMembers.Order(StringComparer.Ordinal).ToList();
            items.AddRange(nodes.Select((n, i) => new Dictionary<string, object>
            {
                ["type"] = "node",
                ["id"] = "node/" + n,
                ["name"] = n,
                ["online"] = 1,
                ["local"] = n == state.LocalNode ? 1 : 0,
                ["nodeid"] = i + 1,
                ["ip"] = "127.0.0." + (i + 1).ToString(CultureInfo.InvariantCulture),
                ["level"] = "",
            }));
            return Ok(items);
        }
    }

    private Task<SimResult> ClusterCreate(SimRequest r)
    {
        lock (state.Gate)
        {
            if (state.ClusterName is not null)
            {
                throw new SimApiException(500, "cluster config '/etc/pve/corosync.conf' already exists\n");
            }

            state.ClusterName = r["clustername"];
            state.ClusterMembers.Add(state.LocalNode);
        }

        return Ok(state.StartTask(state.LocalNode, "clustercreate", r["clustername"], r.User, (_, _) => Task.CompletedTask));
    }

    private Task<SimResult> ClusterJoin(SimRequest r)
    {
        // The API is served by the first node: the join makes that node a member of the peer's cluster.
        lock (state.Gate)
        {
            if (state.ClusterName is null || !state.ClusterMembers.Contains(r["hostname"]))
            {
                throw new SimApiException(500, $"unable to join: {r["hostname"]} is not a cluster member\n");
            }

            if (!string.Equals(r["fingerprint"], certificateFingerprint, StringComparison.OrdinalIgnoreCase))
            {
                throw new SimApiException(500, $"Certificate fingerprint mismatch: {r["fingerprint"]} does not match {r["hostname"]}'s\n");
            }

            if (r["password"] != state.Options.RootPassword)
            {
                throw new SimApiException(500, "error during cfs-locked 'file-corosync_conf' operation: 401 authentication failure\n");
            }
        }

        return Ok(state.StartTask(state.LocalNode, "clusterjoin", "", r.User, (_, _) =>
        {
            lock (state.Gate)
            {
                state.ClusterMembers.Add(state.LocalNode);
            }

            return Task.CompletedTask;
        }));
    }

    private Task<SimResult> NextId(SimRequest r)
    {
        lock (state.Gate)
        {
            if (r.Optional("vmid") is { } wanted)
            {
                var id = int.Parse(wanted, CultureInfo.InvariantCulture);
                return Taken(id) ? throw new SimApiException(400, "Parameter verification failed.", new() { ["vmid"] = $"VM {id} already exists" }) : Ok(wanted);
            }

            var next = 100;
            while (Taken(next))
            {
                next++;
            }

            // PVE answers the integer as a string.
            return Ok(next.ToString(CultureInfo.InvariantCulture));
        }
    }

    private bool Taken(int vmId) => state.Vms.ContainsKey(vmId) || state.Reserved.Contains(vmId);

    private Task<SimResult> Resources(SimRequest r)
    {
        var type = r.Optional("type");
        lock (state.Gate)
        {
            var items = new List<Dictionary<string, object>>();
            if (type is null or "vm")
            {
                items.AddRange(state.Vms.Values.OrderBy(v => v.VmId).Select(v => new Dictionary<string, object>
                {
                    ["id"] = $"qemu/{v.VmId}",
                    ["type"] = "qemu",
                    ["vmid"] = v.VmId,
                    ["node"] = v.Node,
                    ["name"] = v.Config.GetValueOrDefault("name", $"VM {v.VmId}"),
                    ["status"] = v.Running ? "running" : "stopped",
                    ["maxmem"] = MemoryMiB(v) << 20,
                    ["template"] = 0,
                }));
            }

            if (type is null or "node")
            {
                items.AddRange(state.Options.Nodes.Select(n => new Dictionary<string, object>
                {
                    ["id"] = "node/" + n,
                    ["type"] = "node",
                    ["node"] = n,
                    ["status"] = "online",
                    ["maxmem"] = state.Options.NodeMemoryBytes,
                }));
            }

            if (type is null or "storage")
            {
                items.AddRange(state.Storages.Values.SelectMany(s => state.Options.Nodes.Where(s.IsOn).Select(n => new Dictionary<string, object>
                {
                    ["id"] = $"storage/{n}/{s.Id}",
                    ["type"] = "storage",
                    ["storage"] = s.Id,
                    ["node"] = n,
                    ["status"] = "available",
                    ["plugintype"] = s.Type,
                    ["shared"] = s.Shared ? 1 : 0,
                    ["content"] = s.Content,
                })));
            }

            return Ok(items);
        }
    }

    // ------------------------------------------------------------------ VMs

    private async Task<SimResult> CreateVm(SimRequest r)
    {
        var node = KnownNode(r);
        var vmId = r.Int("vmid");
        var allocations = new List<(string Key, SimStorage Storage, long Bytes, string Options)>();
        var config = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in r.Values.Where(v => v.Key is not ("node" or "vmid" or "start")))
        {
            if (DiskKey().IsMatch(key) && NewDisk().Match(value) is { Success: true } m)
            {
                allocations.Add((key, Storage(m.Groups[1].Value, node), GiBToBytes(m.Groups[2].Value), m.Groups[3].Value));
            }
            else
            {
                config[key] = key.StartsWith("net", StringComparison.Ordinal) ? CanonicalNet(value) : value;
            }
        }

        lock (state.Gate)
        {
            if (Taken(vmId))
            {
                throw new SimApiException(500, $"unable to create VM {vmId} - VM {vmId} already exists on node '{state.Vms.GetValueOrDefault(vmId)?.Node ?? node}'\n");
            }

            state.Reserved.Add(vmId);
        }

        var upid = state.StartTask(node, "qmcreate", vmId.ToString(CultureInfo.InvariantCulture), r.User, async (task, ct) =>
        {
            try
            {
                foreach (var (key, value) in await AllocateAsync(vmId, allocations, task, ct))
                {
                    config[key] = value;
                }

                var vm = new SimVm(vmId, node);
                foreach (var (k, v) in config)
                {
                    vm.Config[k] = v;
                }

                lock (state.Gate)
                {
                    state.Vms[vmId] = vm;
                }

                if (r.Flag("start"))
                {
                    vm.Running = true;
                }
            }
            finally
            {
                lock (state.Gate)
                {
                    state.Reserved.Remove(vmId);
                }
            }
        });
        return new SimResult(upid);
    }

    /// <summary>Allocates "storage:SIZE" disks; returns each disk's config value ("volid,opts,size=...").</summary>
    private async Task<List<(string Key, string Value)>> AllocateAsync(int vmId, List<(string Key, SimStorage Storage, long Bytes, string Options)> disks, SimTask? task, CancellationToken ct)
    {
        var result = new List<(string, string)>();
        foreach (var (key, storage, bytes, options) in disks)
        {
            string volumeId;
            lock (state.Gate)
            {
                var index = 0;
                while (state.Volumes.ContainsKey(storage.VolumeId(vmId, index)))
                {
                    index++;
                }

                volumeId = storage.VolumeId(vmId, index);
                state.Volumes[volumeId] = bytes;
            }

            await storage.AllocateAsync(volumeId, bytes, ct);
            task?.Log.Enqueue($"{storage.Type}: allocated volume '{volumeId}' ({FormatSize(bytes)})");
            result.Add((key, volumeId + WithoutSize(options) + ",size=" + FormatSize(bytes)));
        }

        return result;
    }

    private Task<SimResult> GetConfig(SimRequest r)
    {
        lock (state.Gate)
        {
            var vm = Vm(r);
            var data = vm.Config.ToDictionary(kv => kv.Key, kv => (object)kv.Value, StringComparer.Ordinal);
            data["digest"] = vm.Digest;
            return Ok(data);
        }
    }

    private async Task<SimResult> PutConfig(SimRequest r)
    {
        var node = KnownNode(r);
        SimVm vm;
        lock (state.Gate)
        {
            vm = Vm(r);
            if (r.Optional("digest") is { } digest && digest != vm.Digest)
            {
                // PVE::Tools::assert_if_modified
                throw new SimApiException(500, "detected modified configuration - file changed by other user? Try again.\n");
            }
        }

        var changes = r.Values.Where(v => v.Key is not ("node" or "vmid" or "digest" or "delete")).ToList();
        var allocations = new List<(string Key, SimStorage Storage, long Bytes, string Options)>();
        var plain = new List<(string Key, string Value)>();
        foreach (var (key, value) in changes)
        {
            if (DiskKey().IsMatch(key) && NewDisk().Match(value) is { Success: true } m)
            {
                allocations.Add((key, Storage(m.Groups[1].Value, node), GiBToBytes(m.Groups[2].Value), m.Groups[3].Value));
            }
            else if (DiskKey().IsMatch(key) && await ExistingRbdVolumeAsync(value, node) is { } attached)
            {
                plain.Add((key, attached));
            }
            else
            {
                plain.Add((key, key.StartsWith("net", StringComparison.Ordinal) ? CanonicalNet(value) : value));
            }
        }

        plain.AddRange(await AllocateAsync(vm.VmId, allocations, null, CancellationToken.None));
        lock (state.Gate)
        {
            foreach (var key in (r.Optional("delete") ?? "").Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries))
            {
                vm.Config.Remove(key);
            }

            foreach (var (key, value) in plain)
            {
                vm.Config[key] = value;
            }
        }

        return new SimResult(null);
    }

    /// <summary>
    /// A drive set to an image that already exists on an rbd storage (e.g. an external Ceph added for attach-and-move):
    /// the name must parse as PVE's rbd plugin requires (vm-VMID-…/base-VMID-…) and the image must exist; its size is
    /// read from Ceph and the volume becomes known. Null when the value is not an rbd volume.
    /// </summary>
    private async Task<string?> ExistingRbdVolumeAsync(string value, string node)
    {
        var volumeId = value.Split(',')[0];
        var colon = volumeId.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0 || value.Contains("media=cdrom", StringComparison.Ordinal) || Storage(volumeId[..colon], node) is not RbdStorage rbd)
        {
            return null;
        }

        var name = volumeId[(colon + 1)..];
        if (!RbdVolumeName().IsMatch(name))
        {
            // PVE::Storage::RBDPlugin::parse_volname
            throw new SimApiException(500, $"unable to parse rbd volume name '{name}'\n");
        }

        string info;
        try
        {
            info = await rbd.Rbd(CancellationToken.None, "info", "--format", "json", rbd.ImageSpec(volumeId));
        }
        catch (InvalidOperationException e)
        {
            throw new SimApiException(500, $"rbd error: {e.Message}\n");
        }

        var size = System.Text.Json.JsonDocument.Parse(info).RootElement.GetProperty("size").GetInt64();
        lock (state.Gate)
        {
            state.Volumes[volumeId] = size;
        }

        return volumeId + WithoutSize(value[volumeId.Length..]) + ",size=" + FormatSize(size);
    }

    private Task<SimResult> VmStatus(SimRequest r)
    {
        lock (state.Gate)
        {
            var vm = Vm(r);
            return Ok(new Dictionary<string, object>
            {
                ["vmid"] = vm.VmId,
                ["status"] = vm.Running ? "running" : "stopped",
                ["qmpstatus"] = vm.Running ? "running" : "stopped",
                ["name"] = vm.Config.GetValueOrDefault("name", $"VM {vm.VmId}"),
                ["maxmem"] = MemoryMiB(vm) << 20,
                ["ha"] = new Dictionary<string, object> { ["managed"] = 0 },
            });
        }
    }

    private Task<SimResult> Start(SimRequest r) => VmTask(r, "qmstart", vm =>
    {
        if (vm.Running)
        {
            throw new InvalidOperationException($"VM {vm.VmId} already running");
        }

        foreach (var (key, value) in vm.Config.Where(kv => DiskKey().IsMatch(kv.Key) && !kv.Value.Contains("media=cdrom", StringComparison.Ordinal)))
        {
            var volumeId = value.Split(',')[0];
            if (!state.Volumes.ContainsKey(volumeId))
            {
                throw new InvalidOperationException($"volume '{volumeId}' of {key} does not exist");
            }
        }

        vm.Running = true;
    });

    private Task<SimResult> Shutdown(SimRequest r) => VmTask(r, "qmshutdown", vm => vm.Running = false);

    private Task<SimResult> Stop(SimRequest r) => VmTask(r, "qmstop", vm => vm.Running = false);

    private Task<SimResult> VmTask(SimRequest r, string type, Action<SimVm> change)
    {
        SimVm vm;
        lock (state.Gate)
        {
            vm = Vm(r);
        }

        return Ok(state.StartTask(vm.Node, type, vm.VmId.ToString(CultureInfo.InvariantCulture), r.User, (_, _) =>
        {
            lock (state.Gate)
            {
                change(vm);
            }

            return Task.CompletedTask;
        }));
    }

    private Task<SimResult> Destroy(SimRequest r)
    {
        SimVm vm;
        lock (state.Gate)
        {
            vm = Vm(r);
        }

        return Ok(state.StartTask(vm.Node, "qmdestroy", vm.VmId.ToString(CultureInfo.InvariantCulture), r.User, async (task, ct) =>
        {
            List<string> volumes;
            lock (state.Gate)
            {
                if (vm.Running)
                {
                    throw new InvalidOperationException($"VM {vm.VmId} is running - destroy failed");
                }

                state.Vms.Remove(vm.VmId);
                var prefix = $"vm-{vm.VmId}-disk-";
                volumes = [.. state.Volumes.Keys.Where(v => v.Contains(prefix, StringComparison.Ordinal)
                    && (vm.Config.Values.Any(c => c.Split(',')[0] == v) || r.Flag("destroy-unreferenced-disks")))];
            }

            foreach (var volumeId in volumes)
            {
                var storage = Storage(volumeId[..volumeId.IndexOf(':', StringComparison.Ordinal)], vm.Node);
                // PVE lists an rbd storage's images: one renamed or removed outside PVE is simply not there any more.
                if (storage is RbdStorage rbd && !await rbd.ExistsAsync(volumeId, ct))
                {
                    lock (state.Gate)
                    {
                        state.Volumes.Remove(volumeId);
                    }

                    continue;
                }

                await storage.FreeAsync(volumeId, ct);
                lock (state.Gate)
                {
                    state.Volumes.Remove(volumeId);
                }

                task.Log.Enqueue($"Removed volume '{volumeId}'");
            }
        }));
    }

    private Task<SimResult> MoveDisk(SimRequest r)
    {
        var disk = r["disk"];
        var targetStorageId = r.Optional("storage") ?? throw new SimApiException(501, "the simulator moves disks between storages only (target-vmid is not simulated)");
        SimVm vm;
        string value;
        lock (state.Gate)
        {
            vm = Vm(r);
            value = vm.Config.GetValueOrDefault(disk) ?? throw new SimApiException(500, $"disk '{disk}' does not exist\n");
        }

        var source = value.Split(',')[0];
        var sourceStorage = Storage(source[..source.IndexOf(':', StringComparison.Ordinal)], vm.Node);
        var target = Storage(targetStorageId, vm.Node);
        if (target.Id == sourceStorage.Id)
        {
            throw new SimApiException(500, "you can't move to the same storage with same format\n");
        }

        return Ok(state.StartTask(vm.Node, "qmmove", vm.VmId.ToString(CultureInfo.InvariantCulture), r.User, async (task, ct) =>
        {
            long bytes;
            string newId;
            lock (state.Gate)
            {
                bytes = state.Volumes.GetValueOrDefault(source);
                var index = 0;
                while (state.Volumes.ContainsKey(target.VolumeId(vm.VmId, index)))
                {
                    index++;
                }

                newId = target.VolumeId(vm.VmId, index);
                state.Volumes[newId] = bytes;
            }

            task.Log.Enqueue($"create full clone of drive {disk} ({source})");
            await CopyVolumeAsync(sourceStorage, source, target, newId, bytes, ct);
            task.Log.Enqueue($"transferred {FormatSize(bytes)} of {FormatSize(bytes)} (100.00%)");
            lock (state.Gate)
            {
                vm.Config[disk] = newId + value[source.Length..];
                if (!r.Flag("delete"))
                {
                    var unused = 0;
                    while (vm.Config.ContainsKey($"unused{unused}"))
                    {
                        unused++;
                    }

                    vm.Config[$"unused{unused}"] = source;
                }
            }

            if (r.Flag("delete"))
            {
                await sourceStorage.FreeAsync(source, ct);
                lock (state.Gate)
                {
                    state.Volumes.Remove(source);
                }

                task.Log.Enqueue($"Removing image: 100% complete...done.");
            }
        }));
    }

    /// <summary>Copies the bytes of a volume to a new one on another storage (rbd import/export/cp, or a sparse file copy).</summary>
    private static async Task CopyVolumeAsync(SimStorage from, string fromId, SimStorage to, string toId, long bytes, CancellationToken ct)
    {
        switch (from, to)
        {
            case (RbdStorage a, RbdStorage b) when a.Ceph == b.Ceph:
                await a.CopyAsync(fromId, toId, ct);
                break;
            case (RbdStorage a, _):
                Directory.CreateDirectory(Path.GetDirectoryName(to.PathOf(toId))!);
                File.Delete(to.PathOf(toId));
                await a.ExportAsync(fromId, to.PathOf(toId), ct);
                break;
            case (_, RbdStorage b):
                await b.ImportAsync(from.PathOf(fromId), toId, ct);
                break;
            default:
                await to.AllocateAsync(toId, bytes, ct);
                await SparseCopyAsync(from.PathOf(fromId), to.PathOf(toId), ct);
                break;
        }
    }

    private static async Task SparseCopyAsync(string from, string to, CancellationToken ct)
    {
        await using var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        await using var target = new FileStream(to, FileMode.Open, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
        var buffer = new byte[1 << 20];
        int read;
        while ((read = await source.ReadAsync(buffer, ct)) > 0)
        {
            // Zero blocks stay holes, as qemu-img convert leaves them on a sparse target.
            if (buffer.AsSpan(0, read).ContainsAnyExcept((byte)0))
            {
                target.Position = source.Position - read;
                await target.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        }
    }

    private Task<SimResult> Migrate(SimRequest r)
    {
        var targetNode = r["target"];
        SimVm vm;
        lock (state.Gate)
        {
            vm = Vm(r);
            if (!state.Options.Nodes.Contains(targetNode))
            {
                throw new SimApiException(500, $"no such cluster node '{targetNode}'\n");
            }

            if (vm.Running && !r.Flag("online"))
            {
                throw new SimApiException(500, "can't migrate running VM without --online\n");
            }

            var local = vm.Config.Where(kv => DiskKey().IsMatch(kv.Key)).Select(kv => kv.Value.Split(',')[0])
                .Where(v => state.Storages.TryGetValue(v[..v.IndexOf(':', StringComparison.Ordinal)], out var s) && !s.Shared).ToList();
            if (local.Count > 0 && vm.Running && !r.Flag("with-local-disks"))
            {
                throw new SimApiException(500, $"can't migrate VM which uses local storage ({string.Join(", ", local)})\n");
            }

            if (local.Count > 0)
            {
                throw new SimApiException(501, "the simulator migrates VMs on shared storage only (local disk copy is not simulated)");
            }
        }

        return Ok(state.StartTask(vm.Node, "qmigrate", vm.VmId.ToString(CultureInfo.InvariantCulture), r.User, (task, _) =>
        {
            lock (state.Gate)
            {
                task.Log.Enqueue($"starting migration of VM {vm.VmId} to node '{targetNode}'");
                vm.Node = targetNode;
                task.Log.Enqueue("migration finished successfully");
            }

            return Task.CompletedTask;
        }));
    }

    // ------------------------------------------------------------------ tasks

    private Task<SimResult> TaskStatus(SimRequest r)
    {
        var task = FindTask(r);
        var data = new Dictionary<string, object>
        {
            ["upid"] = task.Upid,
            ["node"] = task.Node,
            ["pid"] = task.Pid,
            ["pstart"] = task.PStart,
            ["starttime"] = task.StartTime,
            ["type"] = task.Type,
            ["id"] = task.Id,
            ["user"] = task.User,
            ["status"] = task.Running ? "running" : "stopped",
        };
        if (task.ExitStatus is { } exit)
        {
            data["exitstatus"] = exit;
        }

        return Ok(data);
    }

    private Task<SimResult> TaskLog(SimRequest r)
    {
        var task = FindTask(r);
        var start = r.Optional("start") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : 0;
        var limit = r.Optional("limit") is { } l ? int.Parse(l, CultureInfo.InvariantCulture) : 50;
        var lines = task.Log.ToArray();
        var page = lines.Skip(start).Take(limit).Select((t, i) => new Dictionary<string, object> { ["n"] = start + i + 1, ["t"] = t }).ToList();
        return Ok(page, lines.Length);
    }

    private SimTask FindTask(SimRequest r)
        => state.Tasks.TryGetValue(r["upid"], out var t) && t.Node == r["node"] ? t : throw new SimApiException(500, $"no such task '{r["upid"]}'\n");

    // ------------------------------------------------------------------ storage

    private Task<SimResult> StorageConfig(SimRequest r)
    {
        lock (state.Gate)
        {
            return Ok(state.Storages.Values.Where(s => r.Optional("type") is not { } t || s.Type == t).Select(s =>
            {
                var entry = s.ConfigEntry();
                if (s.Nodes.Count > 0)
                {
                    entry["nodes"] = string.Join(',', s.Nodes);
                }

                entry["digest"] = "0000000000000000000000000000000000000000";
                return entry;
            }).ToList());
        }
    }

    private Task<SimResult> CreateStorage(SimRequest r)
    {
        var id = r["storage"];
        var type = r["type"];
        IReadOnlyList<string> nodes = r.Optional("nodes") is { } n ? n.Split(',', StringSplitOptions.RemoveEmptyEntries) : [];
        SimStorage storage = type switch
        {
            "dir" => new FolderStorage(id, "dir", nodes, r.Optional("path") ?? throw new SimApiException(400, "Parameter verification failed.", new() { ["path"] = "property is missing and it is not optional" })),
            "zfspool" => new FolderStorage(id, "zfspool", nodes, Path.Combine(state.Options.DataDirectory, "zfs-" + id)),
            "rbd" when state.Options.Ceph is { } ceph => new RbdStorage(id, nodes, ceph with { Pool = r.Optional("pool") ?? ceph.Pool }),
            _ => throw new SimApiException(501, $"the simulator has no backend for storage type '{type}'"),
        };
        lock (state.Gate)
        {
            if (!state.Storages.TryAdd(id, storage))
            {
                throw new SimApiException(500, $"create storage failed: storage ID '{id}' already defined\n");
            }
        }

        return Ok(new Dictionary<string, object> { ["storage"] = id, ["type"] = type });
    }

    private Task<SimResult> NodeStorages(SimRequest r)
    {
        var node = KnownNode(r);
        lock (state.Gate)
        {
            return Ok(state.Storages.Values.Where(s => s.IsOn(node) && (r.Optional("storage") is not { } only || s.Id == only))
                .Where(s => r.Optional("content") is not { } c || s.Content.Split(',').Contains(c))
                .Select(s => StorageStatusOf(s, withId: true)).ToList());
        }
    }

    private Task<SimResult> StorageStatus(SimRequest r)
    {
        var node = KnownNode(r);
        lock (state.Gate)
        {
            return Ok(StorageStatusOf(Storage(r["storage"], node), withId: false));
        }
    }

    private Dictionary<string, object> StorageStatusOf(SimStorage s, bool withId)
    {
        var used = state.Volumes.Where(v => v.Key.StartsWith(s.Id + ":", StringComparison.Ordinal)).Sum(v => v.Value);
        var total = state.Options.StorageCapacityBytes;
        var status = new Dictionary<string, object>
        {
            ["type"] = s.Type,
            ["content"] = s.Content,
            ["active"] = 1,
            ["enabled"] = 1,
            ["shared"] = s.Shared ? 1 : 0,
            ["total"] = total,
            ["used"] = used,
            ["avail"] = total - used,
            ["used_fraction"] = (double)used / total,
        };
        if (withId)
        {
            status["storage"] = s.Id;
        }

        return status;
    }

    private Task<SimResult> StorageContent(SimRequest r)
    {
        var node = KnownNode(r);
        lock (state.Gate)
        {
            var storage = Storage(r["storage"], node);
            var vmId = r.Optional("vmid");
            return Ok(state.Volumes.Where(v => v.Key.StartsWith(storage.Id + ":", StringComparison.Ordinal))
                .Select(v => (Id: v.Key, Size: v.Value, Vm: VmOfVolume(v.Key)))
                .Where(v => vmId is null || v.Vm == vmId)
                .Select(v => new Dictionary<string, object> { ["volid"] = v.Id, ["format"] = "raw", ["size"] = v.Size, ["vmid"] = v.Vm, ["content"] = "images" })
                .ToList());
        }
    }

    private Task<SimResult> VolumeInfo(SimRequest r)
    {
        var node = KnownNode(r);
        var volumeId = r["volume"];
        lock (state.Gate)
        {
            var storage = Storage(r["storage"], node);
            if (!volumeId.StartsWith(storage.Id + ":", StringComparison.Ordinal) || !state.Volumes.TryGetValue(volumeId, out var size))
            {
                throw new SimApiException(500, $"volume '{volumeId}' does not exist\n");
            }

            return Ok(new Dictionary<string, object> { ["path"] = storage.PathOf(volumeId), ["size"] = size, ["used"] = size, ["format"] = "raw" });
        }
    }

    private static string VmOfVolume(string volumeId) => VmOfVolumeRegex().Match(volumeId) is { Success: true } m ? m.Groups[1].Value : "0";

    // ------------------------------------------------------------------ network, ceph

    private Task<SimResult> Networks(SimRequest r)
    {
        KnownNode(r);
        var all = new List<Dictionary<string, object>>
        {
            new() { ["iface"] = "eno1", ["type"] = "eth", ["active"] = 1, ["autostart"] = 1, ["method"] = "manual", ["families"] = InetOnly },
            new()
            {
                ["iface"] = "vmbr0", ["type"] = "bridge", ["active"] = 1, ["autostart"] = 1, ["method"] = "static", ["families"] = InetOnly,
                ["bridge_ports"] = "eno1", ["bridge_stp"] = "off", ["bridge_fd"] = "0", ["bridge_vlan_aware"] = 1, ["bridge_vids"] = "2-4094",
                ["cidr"] = "192.0.2.10/24", ["address"] = "192.0.2.10", ["netmask"] = "24", ["gateway"] = "192.0.2.1",
            },
        };
        var type = r.Optional("type");
        return Ok(all.Where(n => type is null || (string)n["type"] == type || (type == "any_bridge" && (string)n["type"] == "bridge")).ToList());
    }

    private Task<SimResult> CephInit(SimRequest r)
    {
        KnownNode(r);
        lock (state.Gate)
        {
            state.CephInitialized = true;
        }

        return Ok(null);
    }

    private Task<SimResult> CephOsd(SimRequest r)
    {
        var node = KnownNode(r);
        lock (state.Gate)
        {
            if (!state.CephInitialized)
            {
                throw new SimApiException(500, "pveceph configuration not initialized\n");
            }
        }

        return Ok(state.StartTask(node, "cephcreateosd", Path.GetFileName(r["dev"]), r.User, (_, _) =>
        {
            lock (state.Gate)
            {
                state.CephOsdNodes.Add(node);
            }

            return Task.CompletedTask;
        }));
    }

    private Task<SimResult> CephPools(SimRequest r)
    {
        KnownNode(r);
        lock (state.Gate)
        {
            return Ok(state.CephPools.Select((p, i) => new Dictionary<string, object>
            {
                ["pool"] = i + 1,
                ["pool_name"] = p.Name,
                ["size"] = p.Size,
                ["min_size"] = Math.Max(1, p.Size - 1),
                ["pg_num"] = 32,
                ["crush_rule"] = 0,
                ["crush_rule_name"] = "replicated_rule",
                ["bytes_used"] = 0,
                ["percent_used"] = 0.0,
                ["type"] = "replicated",
            }).ToList());
        }
    }

    private Task<SimResult> CephCreatePool(SimRequest r)
    {
        var node = KnownNode(r);
        var name = r["name"];
        var size = r.Optional("size") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : 3;
        lock (state.Gate)
        {
            if (state.CephPools.Any(p => p.Name == name))
            {
                throw new SimApiException(500, $"pool '{name}' already exists\n");
            }
        }

        return Ok(state.StartTask(node, "cephcreatepool", name, r.User, (_, _) =>
        {
            lock (state.Gate)
            {
                if (state.CephOsdNodes.Count < size)
                {
                    throw new InvalidOperationException($"pool {name}: size {size} needs OSDs on {size} hosts, {state.CephOsdNodes.Count} have some");
                }

                state.CephPools.Add((name, size));
            }

            return Task.CompletedTask;
        }));
    }

    // ------------------------------------------------------------------ shared

    private string KnownNode(SimRequest r)
    {
        var node = r["node"];
        return state.Options.Nodes.Contains(node) ? node : throw new SimApiException(595, $"no such node '{node}'");
    }

    private SimVm Vm(SimRequest r)
    {
        var node = KnownNode(r);
        var vmId = r.Int("vmid");
        return state.Vms.TryGetValue(vmId, out var vm) && vm.Node == node
            ? vm
            : throw new SimApiException(500, $"Configuration file 'nodes/{node}/qemu-server/{vmId}.conf' does not exist\n");
    }

    private SimStorage Storage(string id, string node)
    {
        lock (state.Gate)
        {
            return state.Storages.TryGetValue(id, out var s) && s.IsOn(node) ? s : throw new SimApiException(500, $"storage '{id}' does not exist\n");
        }
    }

    /// <summary>"virtio,bridge=vmbr0" or "model=virtio,..." to PVE's canonical "virtio=MAC,bridge=vmbr0".</summary>
    private static string CanonicalNet(string value)
    {
        var parts = value.Split(',').ToList();
        var first = parts[0];
        var model = first.StartsWith("model=", StringComparison.Ordinal) ? first["model=".Length..] : first.Contains('=', StringComparison.Ordinal) ? null : first;
        if (model is null)
        {
            return value;
        }

        var mac = "BC:24:11:" + string.Join(':', RandomNumberGenerator.GetBytes(3).Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));
        parts[0] = $"{model}={mac}";
        return string.Join(',', parts);
    }

    private static long GiBToBytes(string gib) =>
        Math.Max(1L << 20, (long)Math.Ceiling(decimal.Parse(gib, CultureInfo.InvariantCulture) * 1024) << 20);

    private static string FormatSize(long bytes) =>
        bytes % (1L << 30) == 0 ? $"{bytes >> 30}G" : bytes % (1L << 20) == 0 ? $"{bytes >> 20}M" : $"{bytes >> 10}K";

    private static string WithoutSize(string options) =>
        string.Concat(options.Split(',').Where(o => o.Length > 0 && !o.StartsWith("size=", StringComparison.Ordinal)).Select(o => "," + o));

    [GeneratedRegex(@"^(scsi\d+|virtio\d+|sata\d+|ide\d+|efidisk0|tpmstate0)$")]
    private static partial Regex DiskKey();

    /// <summary>qemu-server's $NEW_DISK_RE: "STORAGE:SIZE_IN_GiB" (fractions allowed) allocates a new volume.</summary>
    [GeneratedRegex(@"^([^/:\s]+):(\d+(?:\.\d+)?)((?:,.*)?)$")]
    private static partial Regex NewDisk();

    /// <summary>PVE's RBDPlugin parse_volname: "vm-VMID-…" or "base-VMID-…" (optionally "base-…/vm-…").</summary>
    [GeneratedRegex(@"^((base-\d+-\S+)/)?((base)?(vm)?-\d+-\S+)$")]
    private static partial Regex RbdVolumeName();

    [GeneratedRegex(@"vm-(\d+)-disk-")]
    private static partial Regex VmOfVolumeRegex();
}
