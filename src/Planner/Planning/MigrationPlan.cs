using System.Text.Json.Serialization;

namespace Taquin.Planner.Planning;

/// <summary>
/// The plan: stages 0..T of the jeu de taquin. Stage 0 is the inventory as it is (no actions);
/// the actions of stage t lead from stage t-1 to stage t, and stage t's wave is those actions.
/// Semantics every producer and checker must share are written in docs/plan-format.md.
/// </summary>
public sealed record MigrationPlan
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    /// <summary>FleetInventory.Digest of the inventory the plan was made from.</summary>
    public required string InventoryDigest { get; init; }
    public required SolverReport Solver { get; init; }
    public required PlanMetrics Metrics { get; init; }
    /// <summary>Metrics of the greedy baseline computed on the same input.</summary>
    public PlanMetrics? Baseline { get; init; }
    /// <summary>Valid lower bounds on the metrics (each field a bound on its own).</summary>
    public PlanMetrics? LowerBound { get; init; }
    public required IReadOnlyList<PlanStage> Stages { get; init; }
    /// <summary>Per VM: chosen disk strategy, why, estimated downtime, translation warnings.</summary>
    public IReadOnlyDictionary<string, VmPlanInfo> Vms { get; init; } = new Dictionary<string, VmPlanInfo>();
    /// <summary>Hosts the planner was told to leave alone on top of fleet.yaml's <c>excluded</c> (never converted, never a target).</summary>
    public IReadOnlyList<string> ExcludedHosts { get; init; } = [];
    /// <summary>Where the copy rates behind every estimate come from (a rates file, or the defaults); null in plans written before it existed.</summary>
    public RatesProvenance? Rates { get; init; }
    /// <summary>Plan-level warnings (approximations, pins that could not be honoured...).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

[JsonConverter(typeof(JsonStringEnumConverter<HostState>))]
public enum HostState
{
    /// <summary>Runs libvirt; its OSDs are in the old Ceph.</summary>
    [JsonStringEnumMemberName("libvirt")]
    Libvirt,
    /// <summary>Empty, out of both clusters, being reinstalled as PVE during this stage.</summary>
    [JsonStringEnumMemberName("converting")]
    Converting,
    /// <summary>Runs Proxmox VE.</summary>
    [JsonStringEnumMemberName("pve")]
    Pve,
}

/// <summary>Where a VM is at a stage: a host and a storage id (see <see cref="StorageIds"/>).</summary>
public sealed record Placement(string Host, string Storage);

public static class StorageIds
{
    public const string OldCeph = "old-ceph";
    public const string PveCeph = "pve-ceph";
    public static string Zfs(string host) => "zfs:" + host;
    public static string File(string host) => "file:" + host;
    public static bool IsZfs(string storage) => storage.StartsWith("zfs:", StringComparison.Ordinal);
    public static bool IsFile(string storage) => storage.StartsWith("file:", StringComparison.Ordinal);
    /// <summary>The host of a zfs:/file: storage id; null for the clusters.</summary>
    public static string? HostOf(string storage)
    {
        var colon = storage.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? null : storage[(colon + 1)..];
    }
}

[JsonConverter(typeof(JsonStringEnumConverter<ActionKind>))]
public enum ActionKind
{
    /// <summary>libvirt to libvirt live migration, RBD disks stay on the old Ceph: no downtime.</summary>
    [JsonStringEnumMemberName("live-migrate")]
    LiveMigrate,
    /// <summary>libvirt to PVE: shut down, disks copied or attached, started on PVE: one reboot.</summary>
    [JsonStringEnumMemberName("move-to-pve")]
    MoveToPve,
    /// <summary>Host leaves libvirt and the old Ceph and is reinstalled as PVE (manual gate).</summary>
    [JsonStringEnumMemberName("convert-host")]
    ConvertHost,
    /// <summary>Create the new PVE Ceph (needs enough PVE hosts).</summary>
    [JsonStringEnumMemberName("create-pve-ceph")]
    CreatePveCeph,
    /// <summary>PVE to PVE live migration: no reboot.</summary>
    [JsonStringEnumMemberName("pve-live-migrate")]
    PveLiveMigrate,
    /// <summary>PVE online disk move between storages: no reboot.</summary>
    [JsonStringEnumMemberName("pve-move-disk")]
    PveMoveDisk,
}

public sealed record PlanAction
{
    public required ActionKind Kind { get; init; }
    /// <summary>The VM moved; null for host actions.</summary>
    public string? Vm { get; init; }
    /// <summary>The host acted on (convert-host) or the PVE node that runs create-pve-ceph.</summary>
    public string? Host { get; init; }
    public Placement? From { get; init; }
    public Placement? To { get; init; }
    /// <summary>Bytes that cross the network for this action (disk data, or RAM for a live migration).</summary>
    public long Bytes { get; init; }
    public double EstimatedSeconds { get; init; }
    /// <summary>Estimated guest downtime caused by this action (0 for live moves).</summary>
    public double DowntimeSeconds { get; init; }
    /// <summary>Disk strategy for move-to-pve: cold, warm, attach-and-move.</summary>
    public string? Strategy { get; init; }
    /// <summary>Why this action is here, in words an admin reads.</summary>
    public string? Reason { get; init; }
}

public sealed record PlanStage
{
    public required int Index { get; init; }
    public required IReadOnlyDictionary<string, HostState> Hosts { get; init; }
    /// <summary>Every VM of the inventory, at this stage.</summary>
    public required IReadOnlyDictionary<string, Placement> Placements { get; init; }
    public IReadOnlyList<PlanAction> Actions { get; init; } = [];
    /// <summary>True once the new PVE Ceph exists (created in this stage or before).</summary>
    public bool PveCephExists { get; init; }
}

public sealed record PlanMetrics
{
    /// <summary>Number of stages after stage 0 (waves).</summary>
    public int Stages { get; init; }
    public int Reboots { get; init; }
    public double DowntimeSeconds { get; init; }
    public long BytesCopied { get; init; }
    public int LiveMigrations { get; init; }
    /// <summary>All VM actions (moves to PVE + live migrations + PVE moves).</summary>
    public int Moves { get; init; }
    /// <summary>Max minus min RAM fill fraction over PVE hosts at the final stage (0 = perfectly even).</summary>
    public double RamImbalance { get; init; }
}

public sealed record SolverReport
{
    /// <summary>OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, or GREEDY when only the baseline ran.</summary>
    public required string Status { get; init; }
    public double? Gap { get; init; }
    public double WallSeconds { get; init; }
    public double? FirstFeasibleSeconds { get; init; }
    public int Seed { get; init; }
    public double? TimeLimitSeconds { get; init; }
    public int Workers { get; init; }
    /// <summary>Short description of the model/decomposition used, for the review.</summary>
    public string? Model { get; init; }

    /// <summary>
    /// True when the wall-clock limit (not the deterministic one) stopped a phase or a solve: the plan is valid,
    /// but the same seed and settings may give another one (docs/adr/0021-planning-budget.md).
    /// </summary>
    public bool WallLimitHit { get; init; }

    /// <summary>Where the wall time went, phase by phase (empty in plans written before it existed).</summary>
    public IReadOnlyList<PhaseTiming> Phases { get; init; } = [];

    /// <summary>
    /// The objectives whose value equals a proven lower bound, in lexicographic order ("stages", "reboots",
    /// "downtime", "live migrations"); the others are the best found. OPTIMAL means stages, reboots, downtime
    /// and live migrations are proven (docs/plan-format.md, "Solver status").
    /// </summary>
    public IReadOnlyList<string> Proven { get; init; } = [];

    /// <summary>The later objectives this status does not prove.</summary>
    public static readonly IReadOnlyList<string> LaterObjectives = ["bytes", "balance"];

    /// <summary>The status for people: "OPTIMAL (stages, reboots, downtime, live migrations); bytes, balance: best found".</summary>
    public string StatusLine()
    {
        var capped = WallLimitHit ? "; stopped by the wall-clock limit (not reproducible)" : "";
        if (Proven.Count == 0)
        {
            return Status + capped;
        }

        var open = LaterObjectives.Where(o => !Proven.Contains(o)).ToList();
        return $"{Status} ({string.Join(", ", Proven)}){(open.Count > 0 ? $"; {string.Join(", ", open)}: best found" : "")}{capped}";
    }
}

/// <summary>One phase of a planning run: wall seconds, CP-SAT solves and their deterministic time, and whether the wall clock cut it short.</summary>
public sealed record PhaseTiming(string Name, double WallSeconds, int Solves, double DeterministicSeconds, bool WallLimitHit);

public sealed record VmPlanInfo
{
    public string? Strategy { get; init; }
    public string? StrategyReason { get; init; }
    public double DowntimeSeconds { get; init; }
    /// <summary>The downtime part by part and the copy duration with the rate used; null in plans written before it existed.</summary>
    public DowntimeEstimate? Estimate { get; init; }
    /// <summary>The stage at which the VM crosses to PVE.</summary>
    public int? MoveStage { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = [];
}
