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

/// <summary>How copies are verified before cutover (fleet.yaml <c>policy.verify</c>, the movers' <c>VerifyMode</c>).</summary>
public enum VerificationMode
{
    /// <summary>Checksum of the whole snapshot on both sides: grows with the disk size.</summary>
    Full,
    /// <summary>Checksums of a fixed number of blocks per disk (and a warm file disk's overlay extents in full).</summary>
    Sampled,
}

/// <summary>
/// One VM's move to PVE, part by part: downtime = shutdown + copy during downtime + verification + switch + boot.
/// Written per VM into plan.json (<c>vms.&lt;name&gt;.estimate</c>).
/// </summary>
public sealed record DowntimeEstimate
{
    public double DowntimeSeconds { get; init; }
    /// <summary>Whole move: the copies (also those while the VM runs), verification, switch and reboot.</summary>
    public double TotalSeconds { get; init; }
    /// <summary>Bytes that cross the network (warm: the bulk copy plus the changes).</summary>
    public long Bytes { get; init; }
    public double ShutdownSeconds { get; init; }
    /// <summary>All copying of the move, including the bulk copy before the stop (warm) and the online move after the start (attach-and-move).</summary>
    public double CopySeconds { get; init; }
    /// <summary>The part of <see cref="CopySeconds"/> inside the downtime.</summary>
    public double DowntimeCopySeconds { get; init; }
    public double VerifySeconds { get; init; }
    public double SwitchSeconds { get; init; }
    public double BootSeconds { get; init; }
    /// <summary>The copy rate(s) used, in words ("diff at direct 5.4 MiB/s; bulk copy before the stop at direct 42 MiB/s").</summary>
    public string Rate { get; init; } = "";
    /// <summary>The verification counted, in words.</summary>
    public string Verification { get; init; } = "";

    public MoveEstimate ToMoveEstimate() => new(Bytes, TotalSeconds, DowntimeSeconds);
}

/// <summary>
/// Estimates of copy time and guest downtime per strategy. Without a rates file the defaults are
/// conservative guesses (copy 400 MB/s, reboot 60 s, warm change 5 %, verification not counted);
/// <see cref="FromRates"/> takes the figures measured on the real hosts (docs/rates-format.md).
/// </summary>
public sealed record DowntimeModel
{
    private const double MiB = ByteSize.MiB;

    /// <summary>Full copy rate of RBD disks on the fleet's data path, bytes per second (default 400 MB/s).</summary>
    public double CopyBytesPerSecond { get; init; } = 400e6;
    /// <summary>Incremental (snapshot diff) rate on the fleet's data path; null = <see cref="CopyBytesPerSecond"/>.</summary>
    public double? DiffBytesPerSecond { get; init; }
    /// <summary>Fixed cost of one incremental copy of one RBD disk (final snapshot, connection, diff scan), seconds.</summary>
    public double DiffFixedSeconds { get; init; }
    /// <summary>Fixed cost of one incremental copy of one file disk; null = <see cref="DiffFixedSeconds"/>.</summary>
    public double? FileDiffFixedSeconds { get; init; }
    /// <summary>Full copy rate of local file disks; null = <see cref="CopyBytesPerSecond"/>.</summary>
    public double? FileCopyBytesPerSecond { get; init; }
    /// <summary>Incremental rate of local file disks; null = the file full rate when given, else <see cref="DiffBytesPerSecond"/>.</summary>
    public double? FileDiffBytesPerSecond { get; init; }
    /// <summary>RAM transfer rate of a live migration, bytes per second.</summary>
    public double LiveMigrationBytesPerSecond { get; init; } = 1e9;
    /// <summary>Shutdown on libvirt plus boot on PVE, seconds, where they are not given one by one.</summary>
    public double RebootSeconds { get; init; } = 60;
    /// <summary>Guest shutdown, seconds; null = half of <see cref="RebootSeconds"/>.</summary>
    public double? ShutdownSeconds { get; init; }
    /// <summary>Guest boot on PVE, seconds; null = half of <see cref="RebootSeconds"/>.</summary>
    public double? BootSeconds { get; init; }
    /// <summary>Fraction of a disk written between the warm bulk copy and the cutover (about a day of changes).</summary>
    public double WarmChangeFraction { get; init; } = 0.05;
    public VerificationMode Verification { get; init; } = VerificationMode.Full;
    /// <summary>Full checksum rate (bytes of the disk per second, both sides at once); null = verification not counted.</summary>
    public double? VerifyBytesPerSecond { get; init; }
    /// <summary>Cost of one sampled block (both sides); null = sampled verification not counted.</summary>
    public double? VerifySampleSeconds { get; init; }
    /// <summary>Blocks per disk with sampled verification (the movers' SampleCount).</summary>
    public int VerifySamples { get; init; } = 16;
    /// <summary>attach-and-move with the source off: cutover guard + image rename + PVE drive config, seconds.</summary>
    public double SwitchSeconds { get; init; }
    /// <summary>Name of the data path the RBD rates belong to, as shown in the plan.</summary>
    public string DataPath { get; init; } = "default";
    /// <summary>Name of the path the file-disk rates belong to.</summary>
    public string FileDataPath => FileCopyBytesPerSecond is null ? DataPath : RatePaths.File;
    /// <summary>Where these figures come from.</summary>
    public RatesProvenance Provenance { get; init; } = RatesProvenance.Defaults;

    private double Shutdown => ShutdownSeconds ?? RebootSeconds / 2;
    private double Boot => BootSeconds ?? RebootSeconds / 2;
    private double Diff => DiffBytesPerSecond ?? CopyBytesPerSecond;
    private double FileCopy => FileCopyBytesPerSecond ?? CopyBytesPerSecond;
    private double FileDiff => FileDiffBytesPerSecond ?? FileCopyBytesPerSecond ?? Diff;

    /// <summary>
    /// The model for measured <paramref name="rates"/>: the RBD disks' rates of the fleet's <c>copyDataPath</c>, the
    /// <c>file</c> path's rates for file disks when given, the verification the policy asks for.
    /// Throws <see cref="RatesFileException"/> when the rates lack the fleet's data path.
    /// </summary>
    public static DowntimeModel FromRates(MeasuredRates rates, PolicySpec policy, string? file = null)
    {
        ArgumentNullException.ThrowIfNull(rates);
        ArgumentNullException.ThrowIfNull(policy);
        var where = file ?? "rates";
        var path = policy.CopyDataPath;
        if (!rates.Paths.TryGetValue(path, out var rbd))
        {
            throw new RatesFileException(where, $"paths.{path}", "(missing)",
                $"fleet.yaml policy.copyDataPath is {path}, but the rates file has no rates for that path (it has: {(rates.Paths.Count == 0 ? "none" : string.Join(", ", rates.Paths.Keys))})",
                $"measure the {path} path (Taquin.Bench movers --rates-out) and add paths.{path}.fullMiBps, or set copyDataPath to a measured path");
        }

        var files = rates.Paths.GetValueOrDefault(RatePaths.File);
        var defaults = new DowntimeModel();
        var verification = string.Equals(policy.Verify, "sampled", StringComparison.Ordinal) ? VerificationMode.Sampled : VerificationMode.Full;
        var model = defaults with
        {
            DataPath = path,
            CopyBytesPerSecond = rbd.FullMiBps * MiB,
            DiffBytesPerSecond = rbd.DiffMiBps * MiB,
            DiffFixedSeconds = rbd.DiffFixedSeconds ?? 0,
            FileCopyBytesPerSecond = files?.FullMiBps * MiB,
            FileDiffBytesPerSecond = files?.DiffMiBps * MiB,
            FileDiffFixedSeconds = files?.DiffFixedSeconds,
            LiveMigrationBytesPerSecond = rates.LiveMigrationMiBps * MiB ?? defaults.LiveMigrationBytesPerSecond,
            ShutdownSeconds = rates.ShutdownSeconds,
            BootSeconds = rates.BootSeconds,
            SwitchSeconds = rates.SwitchSeconds ?? 0,
            Verification = verification,
            VerifyBytesPerSecond = rates.Verification?.FullMiBps * MiB,
            VerifySampleSeconds = rates.Verification?.SampleSeconds,
        };
        return model with
        {
            Provenance = new RatesProvenance
            {
                Measured = true,
                File = file,
                Source = rates.Source,
                MeasuredOn = rates.MeasuredOn,
                MeasuredAt = rates.MeasuredAt,
                DataPath = path,
                Verification = verification == VerificationMode.Sampled ? "sampled" : "full",
            },
        };
    }

    /// <summary>The rates in one line, for the plan's header.</summary>
    public string Summary()
    {
        var parts = new List<string>
        {
            DiffBytesPerSecond is null ? $"{DataPath} copy {Rate(CopyBytesPerSecond)}" : $"{DataPath} full {Rate(CopyBytesPerSecond)}, diff {Rate(Diff)}",
        };
        if (DiffFixedSeconds > 0 || FileDiffFixedSeconds > 0)
        {
            parts.Add(Inv($"{DiffFixedSeconds:0.###} s per incremental copy of a disk{(FileDiffFixedSeconds is { } f ? $" ({f:0.###} s for file disks)" : "")}"));
        }
        if (FileCopyBytesPerSecond is not null)
        {
            parts.Add(FileDiffBytesPerSecond is null ? $"file disks {Rate(FileCopy)}" : $"file disks full {Rate(FileCopy)}, diff {Rate(FileDiff)}");
        }

        parts.Add(Verification == VerificationMode.Sampled
            ? VerifySampleSeconds is { } s ? Inv($"sampled verification {VerifySamples} blocks per RBD disk at {s:0.###} s each") : "sampled verification not counted (no measured cost)"
            : VerifyBytesPerSecond is { } v ? $"full verification {Rate(v)}" : "verification not counted");
        parts.Add(Inv($"shutdown {Shutdown:0.##} s + boot {Boot:0.##} s{(ShutdownSeconds is null && BootSeconds is null ? " (default)" : "")}"));
        parts.Add(Inv($"attach-and-move switch {SwitchSeconds:0.##} s"));
        parts.Add(Inv($"warm change {WarmChangeFraction * 100:0.#} % of the data"));
        return string.Join("; ", parts);
    }

    /// <summary>Moving <paramref name="vm"/> to PVE with <paramref name="strategy"/>: bytes copied, total time, downtime.</summary>
    public MoveEstimate MoveToPve(VmRecord vm, DiskStrategy strategy) => Estimate(vm, strategy, describe: false).ToMoveEstimate();

    /// <summary>
    /// Moving <paramref name="vm"/> to PVE with <paramref name="strategy"/>, part by part. A shut-off VM has no downtime.
    /// cold: shutdown + full copy + verification + boot. warm: the bulk copy while running, then shutdown + the
    /// changes at the diff rate + verification + boot. attach-and-move: shutdown + switch + boot; the online move
    /// runs after the start at the full rate.
    /// </summary>
    public DowntimeEstimate EstimateMoveToPve(VmRecord vm, DiskStrategy strategy) => Estimate(vm, strategy, describe: true);

    /// <summary>
    /// The estimate; with <paramref name="describe"/> false the figures only (the rate and verification texts stay empty):
    /// the planners ask for bytes and downtime of every VM several times, and the texts cost more than the figures.
    /// </summary>
    private DowntimeEstimate Estimate(VmRecord vm, DiskStrategy strategy, bool describe)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var bytes = vm.DiskBytes;
        var fileBytes = Math.Min(vm.LocalFileBytes, bytes);
        var pathBytes = bytes - fileBytes;
        var fullCopy = (pathBytes / CopyBytesPerSecond) + (fileBytes / FileCopy);
        var shutdown = vm.Running ? Shutdown : 0;
        var boot = vm.Running ? Boot : 0;
        switch (strategy)
        {
            case DiskStrategy.Cold:
                {
                    var (verify, how) = VerifyCost(vm, warm: false, describe);
                    return new DowntimeEstimate
                    {
                        Bytes = bytes,
                        ShutdownSeconds = shutdown,
                        CopySeconds = fullCopy,
                        DowntimeCopySeconds = fullCopy,
                        VerifySeconds = verify,
                        BootSeconds = boot,
                        TotalSeconds = shutdown + fullCopy + verify + boot,
                        DowntimeSeconds = vm.Running ? shutdown + fullCopy + verify + boot : 0,
                        Rate = describe ? "full copy " + Rates(pathBytes, fileBytes, CopyBytesPerSecond, FileCopy) : "",
                        Verification = how,
                    };
                }

            case DiskStrategy.Warm:
                {
                    var (verify, how) = VerifyCost(vm, warm: true, describe);
                    var (rbdDisks, fileDisks) = DiskCounts(vm);
                    var fixedCost = (rbdDisks * DiffFixedSeconds) + (fileDisks * (FileDiffFixedSeconds ?? DiffFixedSeconds));
                    var diff = (pathBytes * WarmChangeFraction / Diff) + (fileBytes * WarmChangeFraction / FileDiff) + fixedCost;
                    return new DowntimeEstimate
                    {
                        Bytes = bytes + (long)(bytes * WarmChangeFraction),
                        ShutdownSeconds = shutdown,
                        CopySeconds = fullCopy + diff,
                        DowntimeCopySeconds = diff,
                        VerifySeconds = verify,
                        BootSeconds = boot,
                        TotalSeconds = fullCopy + shutdown + diff + verify + boot,
                        DowntimeSeconds = vm.Running ? shutdown + diff + verify + boot : 0,
                        Rate = describe ? Inv($"changes ({WarmChangeFraction * 100:0.#} %) {Rates(pathBytes, fileBytes, Diff, FileDiff)}{(fixedCost > 0 ? $" + {fixedCost:0.###} s fixed" : "")}; bulk copy before the stop {Rates(pathBytes, fileBytes, CopyBytesPerSecond, FileCopy)}") : "",
                        Verification = how,
                    };
                }

            case DiskStrategy.AttachAndMove:
                {
                    // No byte moves while the guest is down; the online move after the start is not downtime.
                    var online = bytes / CopyBytesPerSecond;
                    var switchSeconds = vm.Running ? SwitchSeconds : 0;
                    return new DowntimeEstimate
                    {
                        Bytes = bytes,
                        ShutdownSeconds = shutdown,
                        CopySeconds = online,
                        SwitchSeconds = switchSeconds,
                        BootSeconds = boot,
                        TotalSeconds = shutdown + switchSeconds + boot + online,
                        DowntimeSeconds = vm.Running ? shutdown + switchSeconds + boot : 0,
                        Rate = describe ? $"online move after the start at {DataPath} {Rate(CopyBytesPerSecond)} (not downtime)" : "",
                        Verification = describe ? "none during downtime: the online move is checked structurally (task, drive, volume size)" : "",
                    };
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(strategy));
        }
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

    private static (int Rbd, int File) DiskCounts(VmRecord vm)
    {
        int rbd = 0, file = 0;
        foreach (var d in vm.Disks)
        {
            if (!d.Device.IsCdrom)
            {
                if (d.Device.IsRbd)
                {
                    rbd++;
                }
                else
                {
                    file++;
                }
            }
        }

        return (rbd, file);
    }

    /// <summary>
    /// Verification with the source off, per the policy, as the movers do it: full = the provisioned size of every disk at
    /// the checksum rate; sampled = <see cref="VerifySamples"/> blocks per disk (RBD and file alike), plus, for warm file
    /// disks, the overlay's extents (the change) at the checksum rate — the movers hash those in full (docs/adr/0020).
    /// </summary>
    private (double Seconds, string How) VerifyCost(VmRecord vm, bool warm, bool describe)
    {
        // One pass without allocations: every plan asks this of every VM more than once.
        var count = 0;
        long size = 0;
        foreach (var d in vm.Disks)
        {
            if (!d.Device.IsCdrom)
            {
                count++;
                size += d.Volume?.SizeBytes ?? 0;
            }
        }

        if (Verification == VerificationMode.Sampled && count > 0)
        {
            var sampled = VerifySampleSeconds is { } each ? count * VerifySamples * each : 0;
            var overlayBytes = warm ? (long)(Math.Min(vm.LocalFileBytes, vm.DiskBytes) * WarmChangeFraction) : 0;
            var overlay = VerifyBytesPerSecond is { } rate ? overlayBytes / rate : 0;
            if (!describe)
            {
                return (sampled + overlay, "");
            }

            var how = VerifySampleSeconds is { } s
                ? Inv($"sampled: {VerifySamples} blocks x {count} disk(s) at {s:0.###} s")
                : "sampled, not counted (no measured cost per block)";
            return (sampled + overlay, overlayBytes > 0 ? how + "; warm file disks' overlay extents in full: " + FullVerification(overlayBytes) : how);
        }

        return (VerifyBytesPerSecond is { } r ? size / r : 0, describe ? FullVerification(size) : "");
    }

    private string FullVerification(long size) => VerifyBytesPerSecond is { } rate
        ? $"full checksum of {ByteSize.Format(size)} at {Rate(rate)}"
        : "full, not counted (no measured verification rate)";

    private string Rates(long pathBytes, long fileBytes, double pathRate, double fileRate)
        => fileBytes == 0 ? $"at {DataPath} {Rate(pathRate)}"
            : pathBytes == 0 ? $"at {FileDataPath} {Rate(fileRate)}"
            : $"at {DataPath} {Rate(pathRate)} (RBD), {FileDataPath} {Rate(fileRate)} (files)";

    /// <summary>A rate as the bench prints it.</summary>
    public static string Rate(double bytesPerSecond) => Inv($"{bytesPerSecond / MiB:0.#} MiB/s");

    private static string Inv(FormattableString text) => FormattableString.Invariant(text);
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
