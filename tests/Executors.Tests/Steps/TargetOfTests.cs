using System.Reflection;
using Taquin.Executors.Adapters;
using Taquin.Executors.Journal;
using Taquin.Executors.Movers;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Steps;

/// <summary>Where a copy writes: PVE's own answer for the volume's path, the naming convention only when PVE has none.</summary>
public sealed class TargetOfTests
{
    [Fact]
    public async Task An_rbd_path_becomes_an_rbd_target_without_qemu_options()
    {
        var target = await TargetAsync(new PveVolume("ceph:vm-100-disk-0", "rbd:rbd/vm-100-disk-0:conf=/etc/pve/ceph.conf:id=admin", 1 << 30, "raw"), "ceph:vm-100-disk-0");

        Assert.Equal(new RbdVolumeTarget("pve1", "rbd/vm-100-disk-0"), target);
    }

    [Fact]
    public async Task A_file_path_is_written_where_PVE_keeps_it_not_where_the_storage_name_suggests()
    {
        var target = await TargetAsync(new PveVolume("zfs-pve1:vm-100-disk-0", "/srv/pve/zfs-pve1/vm-100-disk-0", 1 << 30, "raw"), "zfs-pve1:vm-100-disk-0");

        Assert.Equal(new RawVolumeTarget("pve1", "/srv/pve/zfs-pve1/vm-100-disk-0"), target);
    }

    [Fact]
    public async Task Without_an_answer_from_PVE_the_naming_convention_decides()
    {
        Assert.Equal(new RawVolumeTarget("pve1", "/dev/zvol/rpool/data/vm-100-disk-0"), await TargetAsync(null, "zfs-pve1:vm-100-disk-0"));
        Assert.Equal(new RbdVolumeTarget("pve1", VolumePaths.PveCephPool + "/vm-100-disk-0"), await TargetAsync(null, "pve-ceph:vm-100-disk-0"));
    }

    private static async Task<DiskTarget> TargetAsync(PveVolume? answer, string volumeId)
    {
        var journal = new InMemoryRunJournal();
        await journal.CreateRunAsync(new RunRecord { RunId = "r", PlanDigest = "-", InventoryDigest = "-", CreatedAt = DateTimeOffset.UnixEpoch, Mode = "real" });
        await journal.AddStepsAsync("r", [new NewStep { Wave = 1, Subject = "vm:web", StepType = StepTypes.FinalSync, Sequence = 1, InputJson = new StepInput { Vm = "web", ToHost = "pve1" }.ToJson() }]);
        var step = (await journal.GetStepsAsync("r")).Single();
        var pve = DispatchProxy.Create<IPveApi, VolumeOnlyPve>();
        ((VolumeOnlyPve)(object)pve).Answer = answer;
        var context = new StepContext(step, new AdapterSet(Unused<ISshRunner>(), pve, Unused<ILibvirtHost>(), Unused<ICephCluster>()), journal, TimeProvider.System, DateTimeOffset.MaxValue, CancellationToken.None);
        return await VmStepHelpers.TargetOfAsync(context, volumeId);
    }

    private static T Unused<T>() where T : class => DispatchProxy.Create<T, FailingProxy>();

    /// <summary>A PVE API that only knows one volume answer; any other call fails the test.</summary>
    public class VolumeOnlyPve : DispatchProxy
    {
        public PveVolume? Answer { get; set; }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
            => targetMethod?.Name == nameof(IPveApi.GetVolumeAsync) && (string?)args![0] == "pve1"
                ? Task.FromResult(Answer)
                : throw new InvalidOperationException($"unexpected IPveApi.{targetMethod?.Name}");
    }

    public class FailingProxy : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
            => throw new InvalidOperationException($"unexpected call {targetMethod?.Name}");
    }
}
