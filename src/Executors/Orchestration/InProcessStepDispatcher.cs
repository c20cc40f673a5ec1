using Taquin.Executors.Engine;

namespace Taquin.Executors.Orchestration;

/// <summary>
/// Runs dispatched steps on the thread pool of this process (tests, embedded runs). A step found busy (lease or
/// copy slot taken) is tried again after <see cref="BusyRetryDelay"/>.
/// </summary>
public sealed class InProcessStepDispatcher(StepJobRunner runner) : IStepDispatcher
{
    private readonly Lock _gate = new();
    private readonly HashSet<long> _inFlight = [];
    private readonly List<Task> _tasks = [];
    private readonly List<Exception> _errors = [];

    /// <summary>The engine the dispatched steps run through (operator actions go through it too).</summary>
    public StepEngine Engine() => runner.Engine;

    public TimeSpan BusyRetryDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    public IReadOnlyList<Exception> Errors
    {
        get
        {
            lock (_gate)
            {
                return [.. _errors];
            }
        }
    }

    public Task DispatchAsync(string runId, long stepId, CancellationToken ct = default)
    {
        lock (_gate)
        {
            if (!_inFlight.Add(stepId))
            {
                return Task.CompletedTask;
            }

            _tasks.Add(Task.Run(() => RunAsync(runId, stepId, ct), CancellationToken.None));
        }

        return Task.CompletedTask;
    }

    /// <summary>Waits until no dispatched step is running any more.</summary>
    public async Task WhenIdleAsync()
    {
        while (true)
        {
            Task[] pending;
            lock (_gate)
            {
                _tasks.RemoveAll(t => t.IsCompleted);
                pending = [.. _tasks];
            }

            if (pending.Length == 0)
            {
                return;
            }

            await Task.WhenAll(pending);
        }
    }

    private async Task RunAsync(string runId, long stepId, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var outcome = await runner.Engine.RunStepAsync(stepId, ct);
                if (outcome != StepRunOutcome.Busy)
                {
                    break;
                }

                await Task.Delay(BusyRetryDelay, ct);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            lock (_gate)
            {
                _errors.Add(ex);
            }
        }
        finally
        {
            lock (_gate)
            {
                _inFlight.Remove(stepId);
            }
        }

        if (runner.Orchestrator is not null && !ct.IsCancellationRequested)
        {
            await runner.Orchestrator.DispatchReadyAsync(runId, ct);
        }
    }
}
