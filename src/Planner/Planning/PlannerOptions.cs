using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>Anything that turns an inventory into a plan: the CP-SAT solver, or the greedy baseline.</summary>
public interface IPlanSolver
{
    /// <summary>Plans the migration. Throws <see cref="PlanInfeasibleException"/> with the blockers when no plan exists.</summary>
    MigrationPlan Solve(FleetInventory inventory, PlannerOptions options, CancellationToken cancellationToken);
}

/// <summary>Settings of one planning run, and the admin's pins.</summary>
public sealed record PlannerOptions
{
    /// <summary>
    /// Wall-clock budget of the whole planning run, in seconds; the solver's deterministic limits (which make runs
    /// reproducible) are shares of it, the wall clock only a safety cap (docs/adr/0021-planning-budget.md).
    /// </summary>
    public double TimeLimitSeconds { get; init; } = 30;
    /// <summary>
    /// The wall-clock budget when it is less than <see cref="TimeLimitSeconds"/> (the CLI deducts the time it spent
    /// loading the inventory); the deterministic limits still derive from <see cref="TimeLimitSeconds"/>. Null: the same.
    /// </summary>
    public double? WallBudgetSeconds { get; init; }
    public int Seed { get; init; }
    public int Workers { get; init; } = 2;
    /// <summary>Stop when the objective is proven within this fraction of the bound (0 = prove optimal).</summary>
    public double RelativeGap { get; init; }
    /// <summary>VM name → PVE host it must end on.</summary>
    public IReadOnlyDictionary<string, string> PinnedHosts { get; init; } = new Dictionary<string, string>();
    /// <summary>VM name → wave in which it must move to PVE.</summary>
    public IReadOnlyDictionary<string, int> PinnedStages { get; init; } = new Dictionary<string, int>();
    /// <summary>When set, hosts convert in exactly this order (a prefix is allowed: the rest follow in the planner's order).</summary>
    public IReadOnlyList<string> ConversionOrder { get; init; } = [];
    /// <summary>Hosts excluded on top of fleet.yaml's <c>excluded: true</c>: never converted, never a target.</summary>
    public IReadOnlyList<string> ExcludedHosts { get; init; } = [];
    /// <summary>Whether PVE nodes can reach the old Ceph monitors (needed for attach-and-move).</summary>
    public bool OldCephReachableFromPve { get; init; } = true;
    /// <summary>Copy rates and reboot time used for durations and downtime.</summary>
    public DowntimeModel Downtime { get; init; } = new();

    public bool IsExcluded(HostSpec host) => host.Excluded || ExcludedHosts.Contains(host.Name, StringComparer.Ordinal);
}

/// <summary>No plan exists for the input (or the planner could not find one); each blocker names what blocks.</summary>
public sealed class PlanInfeasibleException(IReadOnlyList<string> blockers)
    : Exception("No migration plan found: " + string.Join("; ", blockers))
{
    public IReadOnlyList<string> Blockers { get; } = blockers;
}
