using Taquin.Executors.Journal;

namespace Taquin.Executors.States;

/// <summary>
/// The one place that says which step state changes exist. The engine refuses any other; the journal's
/// compare-and-set makes each change atomic.
/// </summary>
/// <remarks>
/// Pending → Running (started) | Failed (precondition not met) | Skipped (operator).
/// Running → Succeeded (executed and verified) | Failed (permanent error, or retries exhausted) | Pending (transient
/// error, retry after backoff) | WaitingForGate (manual gate).
/// WaitingForGate → Pending (confirmed) | Failed (denied) | Skipped.
/// Failed → Pending (operator retry) | Skipped.
/// Succeeded → Compensating (rollback of a step that can undo itself) | RolledBack (nothing to undo).
/// Compensating → RolledBack | Failed (compensation failed: an operator takes over).
/// RolledBack → Pending (the operator retries the pipeline).
/// </remarks>
public static class StepStateMachine
{
    private static readonly Dictionary<StepState, StepState[]> Allowed = new()
    {
        [StepState.Pending] = [StepState.Running, StepState.Failed, StepState.Skipped],
        [StepState.Running] = [StepState.Succeeded, StepState.Failed, StepState.Pending, StepState.WaitingForGate],
        [StepState.WaitingForGate] = [StepState.Pending, StepState.Failed, StepState.Skipped],
        [StepState.Failed] = [StepState.Pending, StepState.Skipped],
        [StepState.Succeeded] = [StepState.Compensating, StepState.RolledBack],
        [StepState.Compensating] = [StepState.RolledBack, StepState.Failed],
        [StepState.RolledBack] = [StepState.Pending],
        [StepState.Skipped] = [],
    };

    public static bool CanMove(StepState from, StepState to) => Allowed[from].Contains(to);

    /// <summary>Counts as done for the steps that depend on it.</summary>
    public static bool IsDone(StepState state) => state is StepState.Succeeded or StepState.Skipped;

    /// <summary>Nothing more happens to it without an operator.</summary>
    public static bool IsSettled(StepState state) => state is StepState.Succeeded or StepState.Skipped or StepState.Failed or StepState.RolledBack;

    /// <summary>Someone is working on it (or it waits for a person).</summary>
    public static bool IsActive(StepState state) => state is StepState.Running or StepState.Compensating or StepState.WaitingForGate;
}
