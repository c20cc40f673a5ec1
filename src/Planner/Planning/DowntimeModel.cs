using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>How a VM's disks reach PVE. Names as written in plan.json and fleet.yaml.</summary>
public enum DiskStrategy
{
    /// <summary>Shut down, copy every disk, start on PVE.</summary>
    Cold,
    /// <summary>Bulk copy while running (external snapshot / RBD snapshot), then shut down and copy the changes.</summary>
    Warm,
    /// <summary>Start on PVE with the old RBD images attached, then move the disks online.</summary>
    AttachAndMove,
}

public static class DiskStrategies
{
    public static string Name(DiskStrategy strategy) => strategy switch
    {
        DiskStrategy.Cold => "cold",
        DiskStrategy.Warm => "warm",
        DiskStrategy.AttachAndMove => "attach-and-move",
        _ => throw new ArgumentOutOfRangeException(nameof(strategy)),
    };

    public static DiskStrategy? Parse(string? name) => name switch
    {
        "cold" => DiskStrategy.Cold,
        "warm" => DiskStrategy.Warm,
        "attach-and-move" => DiskStrategy.AttachAndMove,
        _ => null,
    };
}

/// <summary>Duration and downtime of moving one VM with one strategy.</summary>
public sealed record MoveEstimate(long Bytes, double Seconds, double DowntimeSeconds);

/// <summary>
/// Estimates of copy time and guest downtime. The rates are parameters because later issues
/// measure them on the real fleet; the defaults are conservative guesses.
/// </summary>
public sealed record DowntimeModel
{
    /// <summary>Disk copy rate, bytes per second (default 400 MB/s).</summary>
    public double CopyBytesPerSecond { get; init; } = 400e6;
    /// <summary>RAM transfer rate of a live migration, bytes per second.</summary>
    public double LiveMigrationBytesPerSecond { get; init; } = 1e9;
    /// <summary>Shutdown on libvirt plus boot on PVE, seconds.</summary>
    public double RebootSeconds { get; init; } = 60;
    /// <summary>Fraction of a disk written between the warm bulk copy and the cutover (about a day of changes).</summary>
    public double WarmChangeFraction { get; init; } = 0.05;

    /// <summary>Moving <paramref name="vm"/> to PVE with <paramref name="strategy"/>: bytes copied, total time, downtime.</summary>
    public MoveEstimate MoveToPve(VmRecord vm, DiskStrategy strategy)
    {
        var bytes = vm.DiskBytes;
        var copy = bytes / CopyBytesPerSecond;
        var reboot = vm.Running ? RebootSeconds : 0;
        return strategy switch
        {
            DiskStrategy.Cold => new MoveEstimate(bytes, copy + reboot, vm.Running ? copy + reboot : 0),
            DiskStrategy.Warm => new MoveEstimate(
                bytes + (long)(bytes * WarmChangeFraction),
                copy * (1 + WarmChangeFraction) + reboot,
                vm.Running ? (bytes * WarmChangeFraction / CopyBytesPerSecond) + reboot : 0),
            // The online disk move runs after the restart: it takes time but no downtime.
            DiskStrategy.AttachAndMove => new MoveEstimate(bytes, copy + reboot, reboot),
            _ => throw new ArgumentOutOfRangeException(nameof(strategy)),
        };
    }

    /// <summary>
    /// libvirt → libvirt live migration: RAM only for RBD disks; a VM with local file disks also sends their
    /// data (<c>virsh migrate --live --copy-storage-all</c>) at the copy rate. No downtime either way.
    /// </summary>
    public MoveEstimate LibvirtLiveMigration(VmRecord vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        return LiveMigration(vm, vm.Storage == SourceStorage.LocalFile ? vm.LocalFileBytes : 0);
    }

    /// <summary>libvirt → libvirt or PVE → PVE live migration: RAM crosses the network (and <paramref name="diskBytes"/> of disk data at the copy rate), no downtime.</summary>
    public MoveEstimate LiveMigration(VmRecord vm, long diskBytes = 0)
        => new(vm.RamBytes + diskBytes, (vm.RamBytes / LiveMigrationBytesPerSecond) + (diskBytes / CopyBytesPerSecond), 0);
}

/// <summary>The strategy chosen for a VM and why, in words an admin reads.</summary>
public sealed record StrategyChoice(DiskStrategy Strategy, string Reason);

/// <summary>Which disk strategy each VM gets: the policy's default where it applies, else the closest that works.</summary>
public static class StrategyChooser
{
    public static StrategyChoice Choose(VmRecord vm, PolicySpec policy, bool oldCephReachableFromPve)
    {
        var preferred = DiskStrategies.Parse(policy.DefaultStrategy) ?? DiskStrategy.Warm;
        if (!vm.Running)
        {
            return new StrategyChoice(DiskStrategy.Cold, "VM is shut off: a cold copy costs no downtime");
        }

        if (preferred == DiskStrategy.Cold)
        {
            return new StrategyChoice(DiskStrategy.Cold, "policy defaultStrategy is cold");
        }

        if (vm.Storage == SourceStorage.LocalFile)
        {
            var files = vm.Disks.Where(d => !d.Device.IsRbd && !d.Device.IsCdrom).Select(d => d.Device.Format ?? d.Volume?.Format ?? "raw").Distinct(StringComparer.Ordinal);
            var formats = string.Join("/", files);
            return preferred == DiskStrategy.AttachAndMove
                ? new StrategyChoice(DiskStrategy.Warm, $"local {formats} file disk cannot be attached from PVE: warm copy via an external snapshot instead of attach-and-move")
                : new StrategyChoice(DiskStrategy.Warm, $"local {formats} file disk: warm copy via an external snapshot, only the changes are copied during downtime");
        }

        if (preferred == DiskStrategy.AttachAndMove)
        {
            return oldCephReachableFromPve
                ? new StrategyChoice(DiskStrategy.AttachAndMove, "RBD disks, old Ceph reachable from PVE: restart on PVE with the images attached, then move the disks online")
                : new StrategyChoice(DiskStrategy.Warm, "RBD disks, but PVE cannot reach the old Ceph: warm copy via an RBD snapshot");
        }

        return new StrategyChoice(DiskStrategy.Warm, "RBD disks, policy defaultStrategy is warm: bulk copy from an RBD snapshot, then the changes during downtime");
    }
}
