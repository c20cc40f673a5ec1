using Taquin.Executors.Engine;

namespace Taquin.Executors.Orchestration;

/// <summary>
/// What a worker does with a dispatched step id: run it through the engine, then dispatch whatever became ready.
/// Shared by the in-process and the Hangfire dispatchers.
/// </summary>
public sealed class StepJobRunner(StepEngine engine)
{
    /// <summary>Set once the orchestrator exists (it needs the dispatcher, which needs this runner).</summary>
    public RunOrchestrator? Orchestrator { get; set; }

    public StepEngine Engine => engine;

    public async Task<StepRunOutcome> RunAsync(string runId, long stepId, CancellationToken ct = default)
    {
        var outcome = await engine.RunStepAsync(stepId, ct);
        if (outcome != StepRunOutcome.Busy && Orchestrator is not null)
        {
            await Orchestrator.DispatchReadyAsync(runId, ct);
        }

        return outcome;
    }
}
