using System.Collections.Concurrent;
using Taquin.Executors.Engine;

namespace Taquin.Executors.Orchestration;

/// <summary>
/// What a worker does with a dispatched step id: run it through the engine, then dispatch whatever became ready.
/// Shared by the in-process and the Hangfire dispatchers.
/// </summary>
public sealed class StepJobRunner(StepEngine engine)
{
    // The subject lease is held per worker process, so it does not stop two jobs of this process from running
    // one step at once: a step queued twice (two steps finishing together both find it ready, a resume) would be
    // taken again as "left Running" by its own worker and executed concurrently.
    private readonly ConcurrentDictionary<long, byte> _inFlight = new();

    /// <summary>Set once the orchestrator exists (it needs the dispatcher, which needs this runner).</summary>
    public RunOrchestrator? Orchestrator { get; set; }

    public StepEngine Engine => engine;

    /// <summary>Runs the step; a duplicate of a step this process is already running is dropped (the running one dispatches what follows).</summary>
    public async Task<StepRunOutcome> RunAsync(string runId, long stepId, CancellationToken ct = default)
    {
        if (!_inFlight.TryAdd(stepId, 0))
        {
            return StepRunOutcome.NotRunnable;
        }

        StepRunOutcome outcome;
        try
        {
            outcome = await engine.RunStepAsync(stepId, ct);
        }
        finally
        {
            _inFlight.TryRemove(stepId, out _);
        }

        if (outcome != StepRunOutcome.Busy && Orchestrator is not null)
        {
            await Orchestrator.DispatchReadyAsync(runId, ct);
        }

        return outcome;
    }
}
