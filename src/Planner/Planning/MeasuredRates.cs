namespace Taquin.Planner.Planning;

/// <summary>
/// Copy, verification and cutover figures measured on real hosts (a rates file, docs/rates-format.md),
/// e.g. by <c>Taquin.Bench movers --rates-out</c>. Rates are MiB/s as the bench prints them.
/// </summary>
public sealed record MeasuredRates
{
    /// <summary>What produced the figures, e.g. "taquin bench movers".</summary>
    public required string Source { get; init; }
    /// <summary>Where they were measured (hosts, cluster, network), in words.</summary>
    public required string MeasuredOn { get; init; }
    public required DateTimeOffset MeasuredAt { get; init; }
    /// <summary>Free text: how the figures were derived, caveats.</summary>
    public string? Note { get; init; }
    /// <summary>Data path name (<see cref="RatePaths"/>) → its copy rates.</summary>
    public IReadOnlyDictionary<string, PathRates> Paths { get; init; } = new Dictionary<string, PathRates>();
    public VerificationRates? Verification { get; init; }
    /// <summary>attach-and-move with the source off: cutover guard + image rename + PVE drive config, seconds.</summary>
    public double? SwitchSeconds { get; init; }
    /// <summary>Guest shutdown on libvirt (ACPI until off), seconds.</summary>
    public double? ShutdownSeconds { get; init; }
    /// <summary>Guest boot on PVE until it serves again, seconds.</summary>
    public double? BootSeconds { get; init; }
    /// <summary>RAM transfer rate of a live migration.</summary>
    public double? LiveMigrationMiBps { get; init; }
}

/// <summary>
/// Rates of one data path: a full copy (every allocated byte) and an incremental one (a snapshot diff), whose
/// fixed cost per disk (final snapshot, connection, diff scan) <paramref name="DiffFixedSeconds"/> comes on top
/// of the changed bytes at <paramref name="DiffMiBps"/> (the full rate when absent).
/// </summary>
public sealed record PathRates(double FullMiBps, double? DiffMiBps = null, double? DiffFixedSeconds = null);

/// <summary>Verification cost: a full checksum of both sides, or per sampled block.</summary>
public sealed record VerificationRates(double? FullMiBps, double? SampleSeconds);

/// <summary>The data path names a rates file may describe.</summary>
public static class RatePaths
{
    /// <summary>Source host pipes to the target host over SSH (fleet.yaml <c>copyDataPath: direct</c>).</summary>
    public const string Direct = "direct";
    /// <summary>Through the orchestrator (<c>copyDataPath: relayed</c>).</summary>
    public const string Relayed = "relayed";
    /// <summary>The PVE node reads the old Ceph itself, no SSH hop in the data (<c>copyDataPath: target-client</c>).</summary>
    public const string TargetClient = "target-client";
    /// <summary>Source host sends to the target host over plain TCP on a migration network (<c>copyDataPath: direct-tcp</c>).</summary>
    public const string DirectTcp = "direct-tcp";
    /// <summary>qcow2/raw file disks (<c>qemu-img convert</c>); when absent file disks use the fleet's path.</summary>
    public const string File = "file";

    public static IReadOnlyList<string> All { get; } = [Direct, Relayed, TargetClient, DirectTcp, File];
}

/// <summary>Where the estimates of a plan come from: a rates file, or the built-in defaults.</summary>
public sealed record RatesProvenance
{
    public static RatesProvenance Defaults { get; } = new() { Measured = false, Source = "defaults" };

    /// <summary>False: the built-in defaults ("default rates (not measured)").</summary>
    public bool Measured { get; init; }
    /// <summary>The rates file as given (flag or fleet.yaml); null for defaults.</summary>
    public string? File { get; init; }
    /// <summary>What measured them ("taquin bench movers"), or "defaults".</summary>
    public required string Source { get; init; }
    public string? MeasuredOn { get; init; }
    public DateTimeOffset? MeasuredAt { get; init; }
    /// <summary>fleet.yaml copyDataPath the RBD disks' rates were taken for.</summary>
    public string? DataPath { get; init; }
    /// <summary>Verification the estimates count: full, sampled, or none (defaults).</summary>
    public string? Verification { get; init; }

    /// <summary>The rates in one line, for a plan's header (written by <see cref="DowntimeModel"/>).</summary>
    public string? Summary { get; init; }

    /// <summary>One line for a plan's header: where the rates come from and what they are.</summary>
    public string Describe()
    {
        var origin = Measured
            ? FormattableString.Invariant($"measured rates from {File ?? "(not from a file)"} ({Source}, measured on {MeasuredOn}, {MeasuredAt?.UtcDateTime:yyyy-MM-dd HH:mm}Z)")
            : "default rates (not measured)";
        return Summary is null ? origin : $"{origin}: {Summary}";
    }
}
