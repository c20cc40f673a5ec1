using Taquin.Executors.Adapters;
using Taquin.Executors.Pve;
using Taquin.Planner.Pve;
using Taquin.PveSimulator;

namespace Taquin.Executors.Tests.Pve;

/// <summary>The PVE API client against the simulator over HTTPS, with an API token and a pinned certificate.</summary>
public sealed class PveHttpClientTests(SimulatedPveCluster pve) : IClassFixture<SimulatedPveCluster>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly PveHttpClient client = pve.TokenClient();

    public void Dispose() => client.Dispose();

    private async Task<int> CreateVmAsync(Dictionary<string, string> parameters)
    {
        var vmId = await client.GetNextVmIdAsync();
        var status = await client.WaitForTaskAsync("pve1", await client.CreateVmAsync("pve1", vmId, parameters), Patience);
        Assert.True(status.Succeeded, $"create ended with {status.ExitStatus}: {string.Join(" | ", status.LogTail)}");
        return vmId;
    }

    [Fact]
    public async Task A_created_vm_has_its_disk_as_a_real_raw_file_and_a_canonical_nic()
    {
        var vmId = await client.GetNextVmIdAsync();

        var upid = await client.CreateVmAsync("pve1", vmId, new Dictionary<string, string>
        {
            ["name"] = "web-1",
            ["memory"] = "256",
            ["scsihw"] = "virtio-scsi-single",
            ["scsi0"] = "local:0.5,iothread=1",
            ["net0"] = "virtio,bridge=vmbr0,tag=20",
        });

        Assert.Matches(@"^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmcreate:" + vmId + ":root@pam:$", upid);
        var status = await client.WaitForTaskAsync("pve1", upid, Patience);
        Assert.Equal("OK", status.ExitStatus);

        var config = Assert.IsType<PveVmConfig>(await client.GetVmConfigAsync("pve1", vmId));
        Assert.Equal($"local:{vmId}/vm-{vmId}-disk-0.raw,iothread=1,size=512M", config.Values["scsi0"]);
        Assert.Matches("^virtio=BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2},bridge=vmbr0,tag=20$", config.Values["net0"]);
        Assert.Matches("^[0-9a-f]{40}$", config.Digest);
        Assert.False(config.Values.ContainsKey("digest"));

        var volume = Assert.IsType<PveVolume>(await client.GetVolumeAsync("pve1", $"local:{vmId}/vm-{vmId}-disk-0.raw"));
        Assert.StartsWith(pve.DataDirectory, volume.Path, StringComparison.Ordinal);
        Assert.Equal(512L << 20, new FileInfo(volume.Path).Length);
        Assert.Equal(512L << 20, volume.SizeBytes);

        var vm = Assert.IsType<PveVmStatus>(await client.FindVmAsync(vmId));
        Assert.Equal(("pve1", "web-1", false), (vm.Node, vm.Name, vm.IsRunning));
        Assert.Null(await client.GetVmConfigAsync("pve1", 999_999));
        Assert.Null(await client.GetVolumeAsync("pve1", "local:1/vm-1-disk-9.raw"));
    }

    [Fact]
    public async Task A_config_update_sends_the_digest_and_a_stale_digest_is_refused_as_transient()
    {
        var vmId = await CreateVmAsync(new() { ["name"] = "db-1", ["cores"] = "1" });
        var read = (await client.GetVmConfigAsync("pve1", vmId))!;

        await client.UpdateVmConfigAsync("pve1", vmId, new Dictionary<string, string> { ["cores"] = "2" }, read.Digest);
        var changed = (await client.GetVmConfigAsync("pve1", vmId))!;
        Assert.Equal("2", changed.Values["cores"]);
        Assert.NotEqual(read.Digest, changed.Digest);

        var stale = await Assert.ThrowsAsync<PveApiException>(() =>
            client.UpdateVmConfigAsync("pve1", vmId, new Dictionary<string, string> { ["cores"] = "4" }, read.Digest));
        Assert.Equal(500, stale.StatusCode);
        Assert.True(stale.IsTransient);
        Assert.Contains("detected modified configuration - file changed by other user? Try again.", stale.Message, StringComparison.Ordinal);
        Assert.Equal("2", (await client.GetVmConfigAsync("pve1", vmId))!.Values["cores"]);
    }

    [Fact]
    public async Task An_invalid_value_comes_back_as_pves_per_parameter_errors()
    {
        var parameters = new Dictionary<string, string> { ["net0"] = "virtio,bridge=vmbr0,tag=5000", ["cores"] = "0" };

        var error = await Assert.ThrowsAsync<PveApiException>(() => client.CreateVmAsync("pve1", 4242, parameters));

        Assert.Equal(400, error.StatusCode);
        Assert.False(error.IsTransient);
        var schema = PveApiSchema.LoadFile(Path.Combine(AppContext.BaseDirectory, "pve-api", "pve-apidata.json"));
        var expected = schema.ValidateParameters("/nodes/pve1/qemu", "POST", new Dictionary<string, string>(parameters) { ["vmid"] = "4242" });
        Assert.Equal(["cores", "net0"], error.ParameterErrors.Keys.Order(StringComparer.Ordinal));
        foreach (var problem in expected)
        {
            Assert.Equal(problem.Message.TrimEnd('\n'), error.ParameterErrors[problem.Parameter]);
        }

        Assert.Contains("net0.tag", error.ParameterErrors["net0"], StringComparison.Ordinal);
        Assert.Contains("cores: value must have a minimum value of 1", error.Message, StringComparison.Ordinal);
        Assert.Null(await client.FindVmAsync(4242));
    }

    [Fact]
    public async Task A_parameter_the_schema_lacks_is_refused_with_pves_wording()
    {

        var error = await Assert.ThrowsAsync<PveApiException>(() =>
            client.CreateVmAsync("pve1", 4243, new Dictionary<string, string> { ["name"] = "x", ["hotplug-everything"] = "1" }));

        Assert.Equal(400, error.StatusCode);
        Assert.Equal("property is not defined in schema and the schema does not allow additional properties", error.ParameterErrors["hotplug-everything"]);
    }

    [Fact]
    public async Task The_waiter_sees_a_running_task_and_returns_once_it_ended()
    {
        var vmId = await CreateVmAsync(new() { ["name"] = "app-1" });

        Task<PveTaskStatus> waiting;
        string upid;
        using (pve.Server.State.HoldTasks())
        {
            upid = await client.StartVmAsync("pve1", vmId);
            Assert.True((await client.GetTaskStatusAsync("pve1", upid)).Running);
            waiting = client.WaitForTaskAsync("pve1", upid, Patience);
            Assert.True((await client.GetTaskStatusAsync("pve1", upid)).Running);
            Assert.False(waiting.IsCompleted);
        }

        var status = await waiting;
        Assert.True(status.Succeeded);
        Assert.Equal("OK", status.ExitStatus);
        Assert.True((await client.FindVmAsync(vmId))!.IsRunning);
    }

    [Fact]
    public async Task A_task_still_running_past_the_timeout_is_a_transient_failure()
    {
        var vmId = await CreateVmAsync(new() { ["name"] = "slow-1" });
        using var hold = pve.Server.State.HoldTasks();
        var upid = await client.StartVmAsync("pve1", vmId);

        var error = await Assert.ThrowsAsync<PveApiException>(() => client.WaitForTaskAsync("pve1", upid, TimeSpan.FromMilliseconds(100)));

        Assert.True(error.IsTransient);
        Assert.Contains("still running", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_task_with_warnings_counts_as_success_and_carries_its_log()
    {
        var vmId = await CreateVmAsync(new() { ["name"] = "warn-1" });
        pve.Server.State.InjectTaskFault("qmstop", new SimTaskFault(Warnings: 2));

        var status = await client.WaitForTaskAsync("pve1", await client.StopVmAsync("pve1", vmId), Patience);

        Assert.True(status.Succeeded);
        Assert.True(status.HasWarnings);
        Assert.Equal("WARNINGS: 2", status.ExitStatus);
        Assert.Equal(["WARN: simulated warning 1", "WARN: simulated warning 2", "TASK WARNINGS: 2"], status.LogTail);
    }

    [Fact]
    public async Task Only_the_last_lines_of_a_long_task_log_come_back()
    {
        var vmId = await CreateVmAsync(new() { ["name"] = "chatty-1" });
        pve.Server.State.InjectTaskFault("qmstop", new SimTaskFault(Warnings: 45));

        var status = await client.WaitForTaskAsync("pve1", await client.StopVmAsync("pve1", vmId), Patience);

        Assert.Equal("WARNINGS: 45", status.ExitStatus);
        Assert.Equal(20, status.LogTail.Count);
        Assert.Equal("WARN: simulated warning 27", status.LogTail[0]);
        Assert.Equal("TASK WARNINGS: 45", status.LogTail[^1]);
    }

    [Fact]
    public async Task A_failed_task_carries_pves_error_and_the_tail_of_its_log()
    {
        var vmId = await CreateVmAsync(new() { ["name"] = "busy-1", ["scsi0"] = "local:0.01" });
        Assert.True((await client.WaitForTaskAsync("pve1", await client.StartVmAsync("pve1", vmId), Patience)).Succeeded);

        var status = await client.WaitForTaskAsync("pve1", await client.DeleteVmAsync("pve1", vmId), Patience);

        Assert.False(status.Succeeded);
        Assert.Equal($"VM {vmId} is running - destroy failed", status.ExitStatus);
        Assert.Equal($"TASK ERROR: VM {vmId} is running - destroy failed", status.LogTail[^1]);
        Assert.NotNull(await client.GetVmConfigAsync("pve1", vmId));
    }

    [Fact]
    public async Task Stopping_and_deleting_a_vm_frees_its_volumes()
    {
        var vmId = await CreateVmAsync(new() { ["name"] = "gone-1", ["virtio0"] = "local-zfs-pve1:0.01" });
        var volume = (await client.GetVolumeAsync("pve1", $"local-zfs-pve1:vm-{vmId}-disk-0"))!;
        Assert.True(File.Exists(volume.Path));

        Assert.True((await client.WaitForTaskAsync("pve1", await client.DeleteVmAsync("pve1", vmId), Patience)).Succeeded);

        Assert.Null(await client.FindVmAsync(vmId));
        Assert.False(File.Exists(volume.Path));
        Assert.Null(await client.GetVolumeAsync("pve1", volume.VolumeId));
    }

    [Fact]
    public async Task Move_disk_copies_the_bytes_to_the_target_storage_and_drops_the_source()
    {
        var vmId = await CreateVmAsync(new() { ["name"] = "mover-1", ["scsi0"] = "local:0.01,discard=on" });
        var source = (await client.GetVolumeAsync("pve1", $"local:{vmId}/vm-{vmId}-disk-0.raw"))!;
        var pattern = Enumerable.Range(0, 4096).Select(i => (byte)(i * 7 % 251 + 1)).ToArray();
        await using (var file = new FileStream(source.Path, FileMode.Open, FileAccess.Write))
        {
            file.Position = 3 << 20;
            await file.WriteAsync(pattern);
        }

        var status = await client.WaitForTaskAsync("pve1", await client.MoveDiskAsync("pve1", vmId, "scsi0", "local-zfs-pve1", deleteSource: true), Patience);

        Assert.True(status.Succeeded);
        var config = (await client.GetVmConfigAsync("pve1", vmId))!;
        Assert.Equal($"local-zfs-pve1:vm-{vmId}-disk-0,discard=on,size=11M", config.Values["scsi0"]);
        var target = (await client.GetVolumeAsync("pve1", $"local-zfs-pve1:vm-{vmId}-disk-0"))!;
        var copied = await File.ReadAllBytesAsync(target.Path);
        Assert.Equal(source.SizeBytes, copied.LongLength);
        Assert.Equal(pattern, copied.AsSpan(3 << 20, pattern.Length).ToArray());
        Assert.False(File.Exists(source.Path));
        Assert.DoesNotContain(config.Values, kv => kv.Key.StartsWith("unused", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_vm_without_local_disks_migrates_to_the_other_node()
    {
        var vmId = await CreateVmAsync(new() { ["name"] = "roam-1" });

        Assert.True((await client.WaitForTaskAsync("pve1", await client.MigrateVmAsync("pve1", vmId, "pve2", online: false), Patience)).Succeeded);

        Assert.Equal("pve2", (await client.FindVmAsync(vmId))!.Node);
        Assert.Null(await client.GetVmConfigAsync("pve1", vmId));
        Assert.NotNull(await client.GetVmConfigAsync("pve2", vmId));
    }

    [Fact]
    public async Task Nodes_storages_networks_and_the_cluster_read_like_pve()
    {

        Assert.Equal("pve-manager/9.1.1", await client.GetVersionAsync("pve1"));
        var node = await client.GetNodeStatusAsync("pve2");
        Assert.True(node.Online);
        Assert.Equal(64L << 30, node.MemoryTotalBytes);
        Assert.StartsWith("pve-manager/9.1.1/", node.PveVersion, StringComparison.Ordinal);
        Assert.Equal(["pve1", "pve2"], await client.GetClusterNodesAsync());

        var storages = await client.ListStoragesAsync("pve1");
        Assert.Contains(storages, s => s is { Id: "local", Type: "dir", Active: true } && s.Nodes.Count == 0);
        Assert.Contains(storages, s => s.Id == "local-zfs-pve1" && s.Type == "zfspool" && s.Nodes.SequenceEqual(["pve1"]));
        Assert.DoesNotContain(storages, s => s.Id == "local-zfs-pve2");
        Assert.Equal(100L << 30, (await client.GetStorageStatusAsync("pve1", "local"))!.TotalBytes);
        Assert.Null(await client.GetStorageStatusAsync("pve1", "no-such-storage"));

        var bridge = Assert.Single(await client.ListNetworksAsync("pve1"), n => n.Type == "bridge");
        Assert.Equal(("vmbr0", true), (bridge.Iface, bridge.VlanAware));
    }

    [Fact]
    public async Task A_new_dir_storage_is_created_once_and_listed()
    {
        var folder = Path.Combine(pve.DataDirectory, "extra");

        await client.CreateStorageAsync("extra", "dir", new Dictionary<string, string> { ["path"] = folder, ["content"] = "images", ["nodes"] = "pve2" }, default);

        var created = Assert.Single(await client.ListStoragesAsync("pve2"), s => s.Id == "extra");
        Assert.Equal(["pve2"], created.Nodes);
        Assert.DoesNotContain(await client.ListStoragesAsync("pve1"), s => s.Id == "extra");
        var again = await Assert.ThrowsAsync<PveApiException>(() => client.CreateStorageAsync("extra", "dir", new Dictionary<string, string> { ["path"] = folder }));
        Assert.Contains("storage ID 'extra' already defined", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pve_ceph_is_initialised_given_osds_and_a_pool()
    {

        var init = await client.CephInitAsync("pve1");
        Assert.Equal(PveTaskStatus.CompletedSynchronously, init);
        Assert.True((await client.WaitForTaskAsync("pve1", init, Patience)).Succeeded);
        foreach (var node in new[] { "pve1", "pve2" })
        {
            Assert.True((await client.WaitForTaskAsync(node, await client.CephCreateOsdAsync(node, "/dev/sdb"), Patience)).Succeeded);
        }

        var tooBig = await client.WaitForTaskAsync("pve1", await client.CephCreatePoolAsync("pve1", "big-pool", 3), Patience);
        Assert.False(tooBig.Succeeded);
        Assert.True((await client.WaitForTaskAsync("pve1", await client.CephCreatePoolAsync("pve1", "vm-pool", 2), Patience)).Succeeded);
        Assert.Equal(["vm-pool"], await client.CephListPoolsAsync("pve1"));
    }

    [Fact]
    public async Task A_wrong_token_secret_is_refused_with_401_for_good()
    {
        using var intruder = pve.TokenClient(secret: "not-the-secret");

        var error = await Assert.ThrowsAsync<PveApiException>(() => intruder.GetClusterNodesAsync());

        Assert.Equal(401, error.StatusCode);
        Assert.False(error.IsTransient);
        Assert.DoesNotContain("not-the-secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Secrets_never_show_in_the_client_options_or_credentials()
    {
        var token = new PveApiToken("root@pam", "taquin", SimulatedPveCluster.TokenSecret);
        var password = new PvePassword("root@pam", SimulatedPveCluster.RootPassword);
        var join = new PveClusterJoin(pve.Server.CertificateFingerprint, SimulatedPveCluster.RootPassword);

        foreach (var text in new[] { token.ToString(), password.ToString(), client.ToString(), join.ToString() })
        {
            Assert.DoesNotContain(SimulatedPveCluster.TokenSecret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(SimulatedPveCluster.RootPassword, text, StringComparison.Ordinal);
        }

        Assert.Contains("root@pam!taquin", client.ToString(), StringComparison.Ordinal);
    }
}
