using System.Diagnostics;
using System.Security.Cryptography;
using Taquin.Executors.Adapters;
using Taquin.Executors.Tests.Support;
using Taquin.PveSimulator;

namespace Taquin.Executors.Tests.Pve;

/// <summary>The simulator's rbd storage is the test bed's real Ceph pool (scripts/testbed up --only ceph).</summary>
[Collection(TestbedCollections.Ceph)]
public sealed class PveSimulatorRbdTests(SimulatedPveCluster pve) : IClassFixture<SimulatedPveCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private CephAccess Ceph => pve.Server.State.Options.Ceph ?? throw new InvalidOperationException(
        $"TAQUIN_CEPH_CONF is not set, so the simulator has no rbd storage: {Testbed.StartHint} (with ceph)");

    [IntegrationFact]
    public async Task A_vm_disk_on_the_rbd_storage_is_a_real_rbd_image_and_goes_with_the_vm()
    {
        var ceph = Ceph;
        using var client = pve.TokenClient();
        var vmId = await client.GetNextVmIdAsync();
        var image = $"vm-{vmId}-disk-0";
        await RbdAsync(ceph, "rm", "--no-progress", $"{ceph.Pool}/{image}").ContinueWith(_ => { }, TaskScheduler.Default);

        var created = await client.WaitForTaskAsync("pve1", await client.CreateVmAsync("pve1", vmId,
            new Dictionary<string, string> { ["name"] = "rbd-1", ["scsi0"] = "ceph:0.03" }), Patience);

        Assert.True(created.Succeeded, string.Join(" | ", created.LogTail));
        Assert.Contains("\"size\":32505856", (await RbdAsync(ceph, "info", "--format", "json", $"{ceph.Pool}/{image}")).Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
        var volume = (await client.GetVolumeAsync("pve2", $"ceph:{image}"))!;
        Assert.StartsWith($"rbd:{ceph.Pool}/{image}:conf={ceph.ConfPath}", volume.Path, StringComparison.Ordinal);

        Assert.True((await client.WaitForTaskAsync("pve1", await client.DeleteVmAsync("pve1", vmId), Patience)).Succeeded);
        Assert.DoesNotContain(image, (await RbdAsync(ceph, "ls", ceph.Pool)).Split('\n'));
    }

    [IntegrationFact]
    public async Task Move_disk_between_a_folder_and_rbd_carries_the_bytes_both_ways()
    {
        var ceph = Ceph;
        using var client = pve.TokenClient();
        var vmId = await client.GetNextVmIdAsync();
        await RbdAsync(ceph, "rm", "--no-progress", $"{ceph.Pool}/vm-{vmId}-disk-0").ContinueWith(_ => { }, TaskScheduler.Default);
        Assert.True((await client.WaitForTaskAsync("pve1", await client.CreateVmAsync("pve1", vmId,
            new Dictionary<string, string> { ["name"] = "rbd-2", ["scsi0"] = "local:0.01" }), Patience)).Succeeded);
        var local = (await client.GetVolumeAsync("pve1", $"local:{vmId}/vm-{vmId}-disk-0.raw"))!;
        var data = RandomNumberGenerator.GetBytes((int)local.SizeBytes);
        await File.WriteAllBytesAsync(local.Path, data);

        Assert.True((await client.WaitForTaskAsync("pve1", await client.MoveDiskAsync("pve1", vmId, "scsi0", "ceph", deleteSource: true), Patience)).Succeeded);
        var exported = Path.Combine(pve.DataDirectory, $"export-{vmId}.raw");
        await RbdAsync(ceph, "export", "--no-progress", $"{ceph.Pool}/vm-{vmId}-disk-0", exported);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await File.ReadAllBytesAsync(exported)));
        Assert.False(File.Exists(local.Path));

        var moveBack = await client.WaitForTaskAsync("pve1", await client.MoveDiskAsync("pve1", vmId, "scsi0", "local-zfs-pve1", deleteSource: true), Patience);
        Assert.True(moveBack.Succeeded, string.Join(" | ", moveBack.LogTail));
        var back = (await client.GetVolumeAsync("pve1", $"local-zfs-pve1:vm-{vmId}-disk-0"))!;
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await File.ReadAllBytesAsync(back.Path)));
        Assert.DoesNotContain($"vm-{vmId}-disk-0", (await RbdAsync(ceph, "ls", ceph.Pool)).Split('\n'));
        Assert.True((await client.WaitForTaskAsync("pve1", await client.DeleteVmAsync("pve1", vmId), Patience)).Succeeded);
    }

    private static async Task<string> RbdAsync(CephAccess ceph, params string[] args)
    {
        var start = new ProcessStartInfo("rbd") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--conf", ceph.ConfPath, "--keyring", ceph.KeyringPath, "--id", ceph.User }.Concat(args))
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? await output : throw new InvalidOperationException($"rbd {string.Join(' ', args)}: {error}");
    }
}
