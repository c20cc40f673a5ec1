namespace Taquin.Planner.Planning;

/// <summary>
/// What the movers bench measures (bench/Taquin.Bench/MoversBench.cs), turned into a rates file's figures by
/// <see cref="ToRates"/>: throughput per data path on a fully written image, and per disk size the warm cutover
/// split into its diff copy and its verification, and attach-and-move's switch.
/// </summary>
public sealed record MoversMeasurements
{
    public required string MeasuredOn { get; init; }
    public required DateTimeOffset MeasuredAt { get; init; }
    public string Source { get; init; } = "taquin bench movers";
    /// <summary>Mover direct path (export-diff | ssh | import-diff), full copy, MiB/s.</summary>
    public double? DirectMiBps { get; init; }
    /// <summary>Mover relayed path (through the orchestrator), full copy, MiB/s.</summary>
    public double? RelayedMiBps { get; init; }
    /// <summary>Mover target-client path (the PVE node reads both clusters), full copy, MiB/s.</summary>
    public double? TargetClientMiBps { get; init; }
    /// <summary>Mover direct-tcp path (export-diff | plain TCP | import-diff), full copy, MiB/s.</summary>
    public double? DirectTcpMiBps { get; init; }
    /// <summary><c>qemu-img convert</c> as file disks are copied, MiB/s.</summary>
    public double? FileMiBps { get; init; }
    /// <summary>Cutover runs on the direct path, one per disk size.</summary>
    public IReadOnlyList<CutoverRun> Cutovers { get; init; } = [];

    /// <summary>
    /// The rates: full copy rates as measured; the diff as the changed MiB at the full rate plus a fixed cost per
    /// disk (the rest of the diff's time, mean over the sizes); full verification at the largest size (least fixed cost per MiB); the cost of one sampled block as the
    /// mean; the switch as the slowest run (a cutover estimate should not be optimistic).
    /// </summary>
    public MeasuredRates ToRates()
    {
        var runs = Cutovers.Where(c => c.DiffSeconds > 0).ToList();
        // One change size cannot split a diff's time into bytes and fixed cost: its bytes go at the full rate (same
        // pipe), the rest is the fixed cost. Without a full rate, the whole time is charged per MiB.
        double? fixedCost = DirectMiBps is { } f && runs.Count > 0 ? Math.Max(0, runs.Average(c => c.DiffSeconds - (c.ChangedMiB / f))) : null;
        double? diff = fixedCost is null && runs.Count > 0 ? runs.Average(c => c.ChangedMiB / c.DiffSeconds) : null;
        var largest = runs.Where(c => c.FullVerifySeconds > 0).MaxBy(c => c.SizeMiB);
        var sampled = runs.Where(c => c.Samples > 0 && c.SampledVerifySeconds > 0).ToList();
        var paths = new Dictionary<string, PathRates>(StringComparer.Ordinal);
        if (DirectMiBps is { } direct)
        {
            paths[RatePaths.Direct] = new PathRates(direct, diff, fixedCost);
        }

        if (RelayedMiBps is { } relayed)
        {
            paths[RatePaths.Relayed] = new PathRates(relayed);
        }

        if (TargetClientMiBps is { } targetClient)
        {
            paths[RatePaths.TargetClient] = new PathRates(targetClient);
        }

        if (DirectTcpMiBps is { } directTcp)
        {
            paths[RatePaths.DirectTcp] = new PathRates(directTcp);
        }

        if (FileMiBps is { } file)
        {
            paths[RatePaths.File] = new PathRates(file);
        }

        return new MeasuredRates
        {
            Source = Source,
            MeasuredOn = MeasuredOn,
            MeasuredAt = MeasuredAt,
            Note = "full rates: best of the throughput runs on a fully written image; direct diff: the changed MiB at the full rate plus diffFixedSeconds, the rest of the cutover runs' diff time (final snapshot, ssh, diff scan); "
                + "verification: full checksum at the largest size, sampled per block; switchSeconds: guard + rename (the PVE drive update and start are not in it). Shutdown and boot are not measured by the bench.",
            Paths = paths,
            Verification = largest is null && sampled.Count == 0 ? null : new VerificationRates(
                largest is null ? null : largest.SizeMiB / largest.FullVerifySeconds,
                sampled.Count == 0 ? null : sampled.Average(c => c.SampledVerifySeconds / c.Samples)),
            SwitchSeconds = Cutovers.Count == 0 ? null : Cutovers.Max(c => c.SwitchSeconds),
        };
    }
}

/// <summary>
/// One disk size's cutover figures: the diff of <paramref name="ChangedMiB"/> after the base copy took
/// <paramref name="DiffSeconds"/> (final snapshot included), sampled verification of <paramref name="Samples"/> blocks
/// <paramref name="SampledVerifySeconds"/>, full verification of <paramref name="SizeMiB"/> <paramref name="FullVerifySeconds"/>,
/// attach-and-move's guard + rename <paramref name="SwitchSeconds"/>.
/// </summary>
public sealed record CutoverRun(int SizeMiB, int ChangedMiB, double DiffSeconds, int Samples, double SampledVerifySeconds, double FullVerifySeconds, double SwitchSeconds);
