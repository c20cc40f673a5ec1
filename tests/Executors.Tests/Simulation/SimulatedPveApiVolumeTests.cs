using Taquin.Executors.Adapters;
using Taquin.Executors.Simulation;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Tests.Simulation;

/// <summary>The twin answers the volume lookup the disk movers use, with the paths the copy commands write to.</summary>
public sealed class SimulatedPveApiVolumeTests
{
    [Fact]
    public async Task A_created_disk_is_found_with_its_zvol_path_and_size_and_a_missing_one_is_null()
    {
        var harness = new TestFleet.Harness();
        var host = harness.Twin.Hosts["h1"];
        host.State = HostState.Pve;
        host.PveOnline = true;
        harness.Twin.PveStorages[PveStorageIds.Zfs("h1")] = new TwinStorage(PveStorageIds.Zfs("h1"), "zfspool", ["h1"]);
        var pve = harness.Adapters.Pve;

        await pve.CreateVmAsync("h1", 100, new Dictionary<string, string> { ["name"] = "web-01", ["scsi0"] = "zfs-h1:8,iothread=1" });

        var volume = Assert.IsType<PveVolume>(await pve.GetVolumeAsync("h1", "zfs-h1:vm-100-disk-0"));
        Assert.Equal("/dev/zvol/rpool/data/vm-100-disk-0", volume.Path);
        Assert.Equal(8L << 30, volume.SizeBytes);
        Assert.Null(await pve.GetVolumeAsync("h1", "zfs-h1:vm-100-disk-1"));
    }
}
