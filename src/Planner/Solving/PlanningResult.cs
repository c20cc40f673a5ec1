using Taquin.Planner.Planning;

namespace Taquin.Planner.Solving;

/// <summary>Knobs of the CP-SAT planner that are not planning options (benchmarks switch them).</summary>
public sealed record CpSatTuning
{
    /// <summary>Give the greedy plan to CP-SAT as a starting point.</summary>
    public bool UseGreedyHint { get; init; } = true;
    /// <summary>Largest VM×host×stage product solved by the exact model; bigger fleets use the decomposition.</summary>
    public long ExactModelLimit { get; init; } = 6_000;
    /// <summary>
    /// The run's wall-clock budget when it is not the time limit: benchmarks give the deterministic limits alone a
    /// chance with a large one (null: the time limit, docs/adr/0021-planning-budget.md).
    /// </summary>
    public double? WallLimitSeconds { get; init; }
}

/// <summary>Why no plan exists: each reason names the VM, host, capacity or pin that blocks, with numbers.</summary>
public sealed record Infeasibility(IReadOnlyList<string> Reasons);

/// <summary>Either a verified-by-construction plan or an explanation of why none exists.</summary>
public sealed record PlanningResult
{
    public MigrationPlan? Plan { get; init; }
    public Infeasibility? Infeasibility { get; init; }
    /// <summary>How each phase went, for benchmarks and the review (stage probes, objective values).</summary>
    public IReadOnlyList<string> Log { get; init; } = [];

    /// <summary>The stage lower bound the search started from (a plan with this many stages is optimal in stages).</summary>
    public int StageLowerBound { get; init; }

    public bool IsFeasible => Plan is not null;
}
