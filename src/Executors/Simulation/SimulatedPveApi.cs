using System.Globalization;
using System.Text.RegularExpressions;
using Taquin.Executors.Adapters;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Simulation;

/// <summary>The PVE API of the twin's PVE nodes. Mutations take effect at once; their tasks end after a plausible time.</summary>
public sealed partial class SimulatedPveApi(ClusterTwin twin) : IPveApi
{
    public async Task<string> GetVersionAsync(string node, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.version", ct);
        lock (twin.Gate)
        {
            OnlineNode(node);
            return "pve-manager/8.2.4";
        }
    }

    public async Task<PveNodeStatus> GetNodeStatusAsync(string node, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.node-status", ct);
        lock (twin.Gate)
        {
            var h = OnlineNode(node);
            var used = twin.PveVms.Values.Where(v => v.Node == node && v.Running).Sum(v => v.RamBytes);
            return new PveNodeStatus(node, true, h.Spec.RamBytes, used, "8.2.4");
        }
    }

    public async Task<IReadOnlyList<string>> GetClusterNodesAsync(CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.cluster-nodes", ct);
        lock (twin.Gate)
        {
            return [.. twin.Hosts.Values.Where(h => h.InPveCluster).Select(h => h.Name).Order(StringComparer.Ordinal)];
        }
    }

    public async Task<string> JoinClusterAsync(string node, string? peer, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.cluster-join", ct);
        twin.Count("pve.cluster-join");
        lock (twin.Gate)
        {
            var h = OnlineNode(node);
            if (peer is not null && !(twin.Hosts.TryGetValue(peer, out var p) && p.InPveCluster))
            {
                throw new PveApiException($"cannot join {node} to {peer}: {peer} is not in a cluster", isTransient: false);
            }

            if (peer is null && twin.Hosts.Values.Any(x => x.InPveCluster && x.Name != node))
            {
                throw new PveApiException($"a cluster already exists; {node} must join it", isTransient: false);
            }

            h.InPveCluster = true;
            return twin.NewTask(node, peer is null ? "clustercreate" : "clusterjoin", TimeSpan.FromSeconds(30));
        }
    }

    public async Task<int> GetNextVmIdAsync(CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.nextid", ct);
        lock (twin.Gate)
        {
            return twin.AllocateVmId();
        }
    }

    public async Task<string> CreateVmAsync(string node, int vmId, IReadOnlyDictionary<string, string> parameters, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.create-vm", ct);
        twin.Count("pve.create-vm");
        lock (twin.Gate)
        {
            OnlineNode(node);
            if (twin.PveVms.ContainsKey(vmId))
            {
                throw new PveApiException($"unable to create VM {vmId} - VM {vmId} already exists", isTransient: false);
            }

            var memoryMiB = long.Parse(parameters.GetValueOrDefault("memory", "512"), CultureInfo.InvariantCulture);
            var vm = new TwinPveVm(vmId, node, parameters.GetValueOrDefault("name", $"vm{vmId}"), memoryMiB * ByteSize.MiB);
            var diskIndex = 0;
            foreach (var (key, value) in parameters)
            {
                var disk = NewDisk().Match(value);
                if (DiskKey().IsMatch(key) && disk.Success)
                {
                    var storage = disk.Groups[1].Value;
                    if (!twin.PveStorages.TryGetValue(storage, out var s) || !(s.Nodes.Count == 0 || s.Nodes.Contains(node)))
                    {
                        throw new PveApiException($"storage '{storage}' does not exist on node {node}", isTransient: false);
                    }

                    var sizeGiB = long.Parse(disk.Groups[2].Value, CultureInfo.InvariantCulture);
                    var volumeId = $"{storage}:vm-{vmId}-disk-{diskIndex++}";
                    twin.Volumes[volumeId] = new TwinVolume(volumeId, storage, sizeGiB * ByteSize.GiB);
                    vm.Config[key] = volumeId + $",size={sizeGiB}G" + disk.Groups[3].Value;
                }
                else
                {
                    vm.Config[key] = value;
                }
            }

            twin.PveVms[vmId] = vm;
            return twin.NewTask(node, "qmcreate", TimeSpan.FromSeconds(5));
        }
    }

    public async Task<PveVmConfig?> GetVmConfigAsync(string node, int vmId, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.get-config", ct);
        lock (twin.Gate)
        {
            return twin.PveVms.TryGetValue(vmId, out var vm) && vm.Node == node
                ? new PveVmConfig(new Dictionary<string, string>(vm.Config, StringComparer.Ordinal), vm.Digest)
                : null;
        }
    }

    public async Task UpdateVmConfigAsync(string node, int vmId, IReadOnlyDictionary<string, string> changes, string digest, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.put-config", ct);
        lock (twin.Gate)
        {
            var vm = Vm(node, vmId);
            if (vm.Digest != digest)
            {
                throw new PveApiException($"VM {vmId}: config digest changed since it was read (someone else edited it)", isTransient: true);
            }

            foreach (var (key, value) in changes)
            {
                if (key == "delete")
                {
                    foreach (var deleted in value.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries))
                    {
                        vm.Config.Remove(deleted);
                    }
                }
                else
                {
                    vm.Config[key] = value;
                }
            }

            vm.ConfigVersion++;
        }
    }

    public async Task<PveVmStatus?> FindVmAsync(int vmId, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.vm-status", ct);
        lock (twin.Gate)
        {
            return twin.PveVms.TryGetValue(vmId, out var vm) ? new PveVmStatus(vmId, vm.Node, vm.Name, vm.Running ? "running" : "stopped") : null;
        }
    }

    public async Task<string> StartVmAsync(string node, int vmId, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.start", ct);
        twin.Count("pve.start");
        lock (twin.Gate)
        {
            var vm = Vm(node, vmId);
            if (!vm.Running)
            {
                vm.Running = true;
                twin.NoteRunChange(vm.Name, true);
            }

            return twin.NewTask(node, "qmstart", TimeSpan.FromSeconds(10));
        }
    }

    public async Task<string> ShutdownVmAsync(string node, int vmId, TimeSpan timeout, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.shutdown", ct);
        lock (twin.Gate)
        {
            var vm = Vm(node, vmId);
            var took = twin.AcpiShutdownTime is { } acpi && acpi <= timeout ? acpi : timeout;
            var ok = twin.AcpiShutdownTime is { } a && a <= timeout;
            if (ok && vm.Running)
            {
                vm.Running = false;
                twin.NoteRunChange(vm.Name, false);
            }

            return twin.NewTask(node, "qmshutdown", took, ok ? "OK" : "VM quit/powerdown failed - got timeout");
        }
    }

    public async Task<string> StopVmAsync(string node, int vmId, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.stop", ct);
        twin.Count("pve.stop");
        lock (twin.Gate)
        {
            var vm = Vm(node, vmId);
            if (vm.Running)
            {
                vm.Running = false;
                twin.NoteRunChange(vm.Name, false);
            }

            return twin.NewTask(node, "qmstop", TimeSpan.FromSeconds(3));
        }
    }

    public async Task<string> DeleteVmAsync(string node, int vmId, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.delete", ct);
        twin.Count("pve.delete");
        lock (twin.Gate)
        {
            var vm = Vm(node, vmId);
            if (vm.Running)
            {
                throw new PveApiException($"VM {vmId} is running - destroy failed", isTransient: false);
            }

            foreach (var volume in twin.Volumes.Keys.Where(k => k.Contains($":vm-{vmId}-disk-", StringComparison.Ordinal)).ToList())
            {
                twin.Volumes.Remove(volume);
            }

            twin.PveVms.Remove(vmId);
            return twin.NewTask(node, "qmdestroy", TimeSpan.FromSeconds(3));
        }
    }

    public async Task<string> MoveDiskAsync(string node, int vmId, string disk, string storage, bool deleteSource, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.move-disk", ct);
        twin.Count("pve.move-disk");
        lock (twin.Gate)
        {
            var vm = Vm(node, vmId);
            if (!vm.Config.TryGetValue(disk, out var value))
            {
                throw new PveApiException($"VM {vmId} has no disk {disk}", isTransient: false);
            }

            var volumeId = value.Split(',')[0];
            var volume = twin.Volumes.GetValueOrDefault(volumeId);
            if (volume is null && volumeId.StartsWith(PveStorageIds.OldCeph + ":", StringComparison.Ordinal))
            {
                // An image of the old Ceph attached as is (attach-and-move): the move copies its data.
                var imageName = volumeId[(PveStorageIds.OldCeph.Length + 1)..];
                var image = twin.RbdImages.Values.FirstOrDefault(i => i.Name.EndsWith("/" + imageName, StringComparison.Ordinal))
                    ?? throw new PveApiException($"volume {volumeId} does not exist", isTransient: false);
                // The twin's guests never write: the data is the image as final-sync's stop-time snapshot holds it.
                var content = image.Snapshots.ContainsKey(Steps.VmStepHelpers.FinalSnapshot) ? $"{image.Name}@{Steps.VmStepHelpers.FinalSnapshot}" : image.Name;
                volume = new TwinVolume(volumeId, PveStorageIds.OldCeph, image.SizeBytes) { Content = content };
            }
            var bytes = volume?.SizeBytes ?? 0;
            var newId = storage.StartsWith("zfs-", StringComparison.Ordinal) || storage == PveStorageIds.PveCeph
                ? $"{storage}:vm-{vmId}-disk-{disk}"
                : storage + volumeId[volumeId.IndexOf(':', StringComparison.Ordinal)..];
            if (volume is not null && newId != volumeId)
            {
                twin.Volumes.Remove(volumeId);
                volume.Storage = storage;
                twin.Volumes[newId] = new TwinVolume(newId, storage, volume.SizeBytes) { Content = volume.Content };
            }

            vm.Config[disk] = newId + value[volumeId.Length..];
            vm.ConfigVersion++;
            return twin.NewTask(node, "qmmove", TimeSpan.FromSeconds(bytes / twin.NicRate(node)));
        }
    }

    public async Task<string> MigrateVmAsync(string node, int vmId, string target, bool online, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.migrate", ct);
        twin.Count("pve.migrate");
        lock (twin.Gate)
        {
            var vm = Vm(node, vmId);
            OnlineNode(target);
            vm.Node = target;
            return twin.NewTask(node, "qmigrate", TimeSpan.FromSeconds(vm.RamBytes / Math.Min(twin.NicRate(node), twin.NicRate(target))));
        }
    }

    public async Task<PveTaskStatus> GetTaskStatusAsync(string node, string upid, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.task-status", ct);
        lock (twin.Gate)
        {
            var task = Task(upid);
            var running = twin.Clock.GetUtcNow() < task.EndsAt;
            return new PveTaskStatus(upid, running, running ? null : task.ExitStatus);
        }
    }

    public async Task<PveTaskStatus> WaitForTaskAsync(string node, string upid, TimeSpan timeout, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.wait-task", ct);
        TwinTask task;
        lock (twin.Gate)
        {
            task = Task(upid);
        }

        var remaining = task.EndsAt - twin.Clock.GetUtcNow();
        if (remaining > timeout)
        {
            await twin.Clock.WaitAsync(timeout, ct);
            throw new PveApiException($"task {upid} still running after {timeout}", isTransient: true);
        }

        await twin.Clock.WaitAsync(remaining, ct);
        return new PveTaskStatus(upid, false, task.ExitStatus);
    }

    public async Task<IReadOnlyList<PveStorage>> ListStoragesAsync(string node, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.storage-list", ct);
        lock (twin.Gate)
        {
            return [.. twin.PveStorages.Values.Where(s => s.Nodes.Count == 0 || s.Nodes.Contains(node)).Select(s => Status(s))];
        }
    }

    public async Task<PveStorage?> GetStorageStatusAsync(string node, string storage, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.storage-status", ct);
        lock (twin.Gate)
        {
            return twin.PveStorages.TryGetValue(storage, out var s) && (s.Nodes.Count == 0 || s.Nodes.Contains(node)) ? Status(s) : null;
        }
    }

    public async Task CreateStorageAsync(string storage, string type, IReadOnlyDictionary<string, string> parameters, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.storage-create", ct);
        twin.Count("pve.storage-create");
        lock (twin.Gate)
        {
            if (twin.PveStorages.ContainsKey(storage))
            {
                throw new PveApiException($"create storage failed: storage ID '{storage}' already defined", isTransient: false);
            }

            IReadOnlyList<string> nodes = parameters.TryGetValue("nodes", out var n) ? n.Split(',') : [];
            twin.PveStorages[storage] = new TwinStorage(storage, type, nodes);
        }
    }

    public async Task<PveVolume?> GetVolumeAsync(string node, string volumeId, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.volume", ct);
        lock (twin.Gate)
        {
            OnlineNode(node);
            return twin.Volumes.TryGetValue(volumeId, out var v)
                ? new PveVolume(volumeId, VolumePaths.TargetPath(volumeId), v.SizeBytes, "raw")
                : null;
        }
    }

    public async Task<IReadOnlyList<PveNetwork>> ListNetworksAsync(string node, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.network-list", ct);
        lock (twin.Gate)
        {
            OnlineNode(node);
            return [new PveNetwork(twin.Inventory.Fleet.Policy.Bridge, "bridge", VlanAware: true)];
        }
    }

    public async Task<string> CephInitAsync(string node, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.ceph-init", ct);
        lock (twin.Gate)
        {
            OnlineNode(node);
            twin.PveCephInitialized = true;
            return twin.NewTask(node, "cephinit", TimeSpan.FromSeconds(20));
        }
    }

    public async Task<string> CephCreateOsdAsync(string node, string device, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.ceph-osd", ct);
        lock (twin.Gate)
        {
            var h = OnlineNode(node);
            if (!twin.PveCephInitialized)
            {
                throw new PveApiException("ceph not initialized (pveceph init first)", isTransient: false);
            }

            h.HasPveCephOsds = true;
            return twin.NewTask(node, "cephcreateosd", TimeSpan.FromSeconds(60));
        }
    }

    public async Task<string> CephCreatePoolAsync(string node, string pool, int size, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.ceph-pool", ct);
        lock (twin.Gate)
        {
            OnlineNode(node);
            var withOsds = twin.Hosts.Values.Count(h => h.HasPveCephOsds);
            if (withOsds < size)
            {
                throw new PveApiException($"pool {pool} of size {size} needs OSDs on {size} hosts, {withOsds} have some", isTransient: false);
            }

            twin.PvePools.Add(pool);
            return twin.NewTask(node, "cephcreatepool", TimeSpan.FromSeconds(10));
        }
    }

    public async Task<IReadOnlyList<string>> CephListPoolsAsync(string node, CancellationToken ct = default)
    {
        await twin.EnterAsync("pve.ceph-pools", ct);
        lock (twin.Gate)
        {
            return [.. twin.PvePools];
        }
    }

    private PveStorage Status(TwinStorage s)
    {
        var used = twin.Volumes.Values.Where(v => v.Storage == s.Id).Sum(v => v.SizeBytes);
        var total = s.Type == "zfspool" && s.Nodes.Count == 1 ? twin.Hosts[s.Nodes[0]].Spec.ZfsUsableBytes
            : twin.Hosts.Values.Where(h => h.HasPveCephOsds).Sum(h => h.Spec.NewCephOsdRawBytes) / Math.Max(1, twin.Inventory.Fleet.NewCeph.PoolSize);
        return new PveStorage(s.Id, s.Type, s.Nodes, total, used, Active: true);
    }

    private TwinHost OnlineNode(string node)
    {
        if (!twin.Hosts.TryGetValue(node, out var h) || h.State != HostState.Pve || !h.PveOnline)
        {
            throw new PveApiException($"node {node} is not an online PVE node", isTransient: true);
        }

        return h;
    }

    private TwinPveVm Vm(string node, int vmId)
        => twin.PveVms.TryGetValue(vmId, out var vm) && vm.Node == node ? vm
            : throw new PveApiException($"VM {vmId} does not exist on node {node}", isTransient: false);

    private TwinTask Task(string upid)
        => twin.Tasks.TryGetValue(upid, out var t) ? t : throw new PveApiException($"no such task {upid}", isTransient: false);

    [GeneratedRegex(@"^(virtio|scsi|sata|ide|efidisk)\d+$")]
    private static partial Regex DiskKey();

    /// <summary>"storage:SIZE_GIB[,options]": PVE's syntax to allocate a new volume.</summary>
    [GeneratedRegex(@"^([a-z][a-z0-9-]*):(\d+)((?:,.*)?)$")]
    private static partial Regex NewDisk();
}
