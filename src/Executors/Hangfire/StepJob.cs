using global::Hangfire;
using Taquin.Executors.Engine;
using Taquin.Executors.Orchestration;

namespace Taquin.Executors.Hangfire;

/// <summary>
/// The Hangfire job: runs one step through the engine (which decides retries; Hangfire's own are off), then
/// dispatches what became ready. A step found busy (lease or copy slot taken) is scheduled again a little later.
/// </summary>
public sealed class StepJob(StepJobRunner runner, IBackgroundJobClient client)
{
    public static readonly TimeSpan BusyDelay = TimeSpan.FromSeconds(5);

    [AutomaticRetry(Attempts = 0)]
    public async Task RunAsync(string runId, long stepId, CancellationToken cancellationToken)
    {
        var outcome = await runner.RunAsync(runId, stepId, cancellationToken);
        if (outcome == StepRunOutcome.Busy)
        {
            client.Schedule<StepJob>(job => job.RunAsync(runId, stepId, CancellationToken.None), BusyDelay);
        }
    }
}

/// <summary>Builds <see cref="StepJob"/> with the process's runner (Hangfire's default activator needs a parameterless constructor).</summary>
public sealed class StepJobActivator(StepJobRunner runner, IBackgroundJobClient client) : JobActivator
{
    public override object ActivateJob(Type jobType)
        => jobType == typeof(StepJob) ? new StepJob(runner, client) : base.ActivateJob(jobType);
}
