namespace Taquin.Planner.Planning;

/// <summary>
/// What a planner decides, per host and per VM; <see cref="PlanBuilder"/> turns it into a full
/// <see cref="MigrationPlan"/> (stages, placements, actions, estimates, metrics). Stages are
/// numbered as in plan.json: an event at stage t happens in wave t (between stage t-1 and t).
/// </summary>
public sealed record PlanDecisions
{
    /// <summary>Host → the stage at which it is <c>converting</c> (it is <c>pve</c> from the next stage on).</summary>
    public IReadOnlyDictionary<string, int> ConversionStages { get; init; } = new Dictionary<string, int>();
    /// <summary>libvirt → PVE moves, exactly one per VM.</summary>
    public IReadOnlyList<MoveDecision> Moves { get; init; } = [];
    /// <summary>libvirt → libvirt live migrations (disks stay on the old Ceph).</summary>
    public IReadOnlyList<LiveMigrationDecision> LiveMigrations { get; init; } = [];
    /// <summary>PVE → PVE live migrations or online disk moves.</summary>
    public IReadOnlyList<PveRelocationDecision> PveRelocations { get; init; } = [];
    /// <summary>Wave in which the new Ceph is created; null = the first wave that places a VM on <c>pve-ceph</c>.</summary>
    public int? PveCephStage { get; init; }
}

/// <summary>VM moves to PVE host <paramref name="Host"/>, storage <paramref name="Storage"/> (<c>zfs:&lt;host&gt;</c> or <c>pve-ceph</c>), in wave <paramref name="Stage"/>.</summary>
public sealed record MoveDecision(string Vm, int Stage, string Host, string Storage);

/// <summary>VM live-migrates to libvirt host <paramref name="Host"/> in wave <paramref name="Stage"/>.</summary>
public sealed record LiveMigrationDecision(string Vm, int Stage, string Host);

/// <summary>VM (already on PVE) goes to <paramref name="Host"/>/<paramref name="Storage"/> in wave <paramref name="Stage"/>.</summary>
public sealed record PveRelocationDecision(string Vm, int Stage, string Host, string Storage);
