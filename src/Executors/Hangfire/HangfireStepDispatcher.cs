using global::Hangfire;
using Taquin.Executors.Orchestration;

namespace Taquin.Executors.Hangfire;

/// <summary>Dispatches steps as Hangfire jobs that carry ids only (run id, step id): the journal holds the rest.</summary>
public sealed class HangfireStepDispatcher(IBackgroundJobClient client) : IStepDispatcher
{
    public Task DispatchAsync(string runId, long stepId, CancellationToken ct = default)
    {
        client.Enqueue<StepJob>(job => job.RunAsync(runId, stepId, CancellationToken.None));
        return Task.CompletedTask;
    }
}
