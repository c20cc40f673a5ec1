using Taquin.Planner.Planning;

namespace Taquin.Planner.Solving;

/// <summary>
/// The wall-clock budget of one planning run (docs/adr/0021-planning-budget.md): <c>--time-limit</c> seconds
/// from the start for everything, greedy, bounds, every CP-SAT solve, window search, placement and the final checks.
/// Each phase gets a share of what is left (<see cref="Enter"/>); a CP-SAT solve gets the phase's remaining time
/// as <c>max_time_in_seconds</c> beside its deterministic limit, which stays the primary limit (reproducible);
/// the wall cap only stops runs on a slow or loaded machine, and then <see cref="WallCapHit"/> says so.
/// The clock comes from the caller (a <see cref="TimeProvider"/>): the planner itself reads none.
/// </summary>
internal sealed class PlanningBudget
{
    private readonly TimeProvider clock;
    private readonly long start;
    private readonly List<PhaseTiming> phases = [];
    private readonly List<string> capped = [];
    private string? phase;
    private long phaseStart;
    // The end of the phase last started with Enter: the steps started with EnterWithin share it.
    private double parentEnd;
    private bool atParent;
    private int solves;
    private double deterministic;

    public PlanningBudget(TimeProvider clock, double totalSeconds)
    {
        this.clock = clock;
        TotalSeconds = Math.Max(0, totalSeconds);
        start = clock.GetTimestamp();
        phaseStart = start;
        PhaseEndSeconds = TotalSeconds;
        parentEnd = TotalSeconds;
    }

    public double TotalSeconds { get; }

    /// <summary>Seconds since the run started.</summary>
    public double Elapsed => clock.GetElapsedTime(start).TotalSeconds;

    /// <summary>Seconds left of the whole run (never negative).</summary>
    public double Remaining => Math.Max(0, TotalSeconds - Elapsed);

    /// <summary>Seconds since the run started at which the current phase must stop.</summary>
    public double PhaseEndSeconds { get; private set; }

    /// <summary>Seconds left of the current phase (never negative, never beyond the run's end).</summary>
    public double PhaseRemaining => Math.Max(0, Math.Min(PhaseEndSeconds, TotalSeconds) - Elapsed);

    /// <summary>True once the current phase's wall time is spent.</summary>
    public bool PhaseOver => PhaseRemaining <= 0;

    /// <summary>True when some step was cut short by the wall clock: the result may differ from run to run.</summary>
    public bool WallCapHit => capped.Count > 0;

    /// <summary>The phases cut short by the wall clock, in order.</summary>
    public IReadOnlyList<string> CappedPhases => capped;

    /// <summary>The finished phases and their wall time.</summary>
    public IReadOnlyList<PhaseTiming> Phases => phases;

    /// <summary>
    /// Ends the current phase (its time is recorded) and starts <paramref name="name"/> with <paramref name="share"/>
    /// of the time left after <paramref name="reserveSeconds"/> are kept for the phases after it.
    /// </summary>
    public void Enter(string name, double share, double reserveSeconds = 0)
    {
        Close();
        phase = name;
        phaseStart = clock.GetTimestamp();
        atParent = true;
        var now = Elapsed;
        var available = Math.Max(0, TotalSeconds - now - Math.Max(0, reserveSeconds));
        PhaseEndSeconds = now + Share(share, available);
        parentEnd = PhaseEndSeconds;
    }

    /// <summary>
    /// Starts a step of the current phase: <paramref name="share"/> of the time up to the current phase's end
    /// (the steps after it keep the rest, and the phases after it keep their reserve).
    /// </summary>
    public void EnterWithin(string name, double share)
    {
        var end = parentEnd;
        if (atParent && solves == 0 && phase is not null && !capped.Contains(phase))
        {
            // The phase's first step: it takes the phase's place (and its time so far) rather than leave an empty row.
            phase = name;
        }
        else
        {
            Close();
            phase = name;
            phaseStart = clock.GetTimestamp();
        }

        atParent = false;
        var now = Elapsed;
        PhaseEndSeconds = now + Share(share, Math.Max(0, end - now));
    }

    // An unlimited budget (infinite seconds) stays unlimited for every share but 0.
    private static double Share(double share, double seconds) => share <= 0 ? 0 : Math.Min(1, share) * seconds;

    /// <summary>Seconds from the start to the first valid plan (heuristic or solver), if any yet.</summary>
    public double? FirstPlanSeconds { get; private set; }

    /// <summary>Notes that a valid plan exists at <paramref name="seconds"/> (the earliest note counts); null: now.</summary>
    public void NoteFirstPlan(double? seconds = null)
    {
        var at = seconds ?? Elapsed;
        if (FirstPlanSeconds is null || at < FirstPlanSeconds)
        {
            FirstPlanSeconds = at;
        }
    }

    /// <summary>Counts one CP-SAT solve and its deterministic time against the current phase.</summary>
    public void CountSolve(double deterministicSeconds)
    {
        solves++;
        deterministic += deterministicSeconds;
    }

    /// <summary>Records the current phase's time; call once at the end of the run.</summary>
    public void Close()
    {
        if (phase is not null)
        {
            phases.Add(new PhaseTiming(phase, clock.GetElapsedTime(phaseStart).TotalSeconds, solves, deterministic, capped.Contains(phase)));
        }

        phase = null;
        solves = 0;
        deterministic = 0;
    }

    /// <summary>Notes that the current phase stopped (or a solve in it stopped) because its wall time ran out.</summary>
    public void MarkCapped()
    {
        var name = phase ?? "planning";
        if (!capped.Contains(name))
        {
            capped.Add(name);
        }
    }

    /// <summary>
    /// True when the current phase's time is spent: a loop checks this between steps and stops, keeping its best
    /// so far. Marks the phase as cut short by the wall clock.
    /// </summary>
    public bool StopNow()
    {
        if (!PhaseOver)
        {
            return false;
        }

        MarkCapped();
        return true;
    }
}
