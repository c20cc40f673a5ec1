using System.Reflection;
using Taquin.Executors.Engine;
using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Orchestration;

public sealed class StepJobRunnerTests
{
    [Fact]
    public async Task A_second_job_of_a_step_this_worker_is_already_running_is_dropped_not_run_concurrently()
    {
        var h = new TestFleet.Harness();
        var orchestrator = new RunOrchestrator(h.Journal, new RecordingDispatcher(), h.Clock);
        var run = await orchestrator.CreateRunAsync(h.PlanJson, h.Plan, h.Inventory, "test");
        var step = RunOrchestrator.ReadySteps(await h.Journal.GetStepsAsync(run.RunId, 1)).First();
        // The first job stalls on its first journal read, as a slow database would make it.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var journal = StallingJournal.Create(h.Journal, step.StepId, release.Task);
        var runner = new StepJobRunner(new StepEngine(journal, StepRegistry.CreateDefault(), h.Adapters, h.Clock,
            new EngineOptions { WorkerId = "w1", LeaseTtl = TimeSpan.FromMinutes(2), CopySlotsPerHost = 1 }));

        var first = runner.RunAsync(run.RunId, step.StepId);
        var second = await runner.RunAsync(run.RunId, step.StepId);

        Assert.Equal(StepRunOutcome.NotRunnable, second);
        Assert.False(first.IsCompleted);
        release.SetResult();
        Assert.Equal(StepRunOutcome.Succeeded, await first);
        var after = (await h.Journal.GetStepAsync(step.StepId))!;
        Assert.Equal(StepState.Succeeded, after.State);
        Assert.Equal(1, after.Attempts);
        Assert.Single(await h.Journal.GetTransitionsAsync(step.StepId), t => t.To == StepState.Running);
    }

    private sealed class RecordingDispatcher : IStepDispatcher
    {
        public List<long> Dispatched { get; } = [];

        public Task DispatchAsync(string runId, long stepId, CancellationToken ct = default)
        {
            Dispatched.Add(stepId);
            return Task.CompletedTask;
        }
    }

    /// <summary>A journal whose first read of one step waits for a signal; everything else goes straight through.</summary>
    public class StallingJournal : DispatchProxy
    {
        private IRunJournal _inner = null!;
        private long _stepId;
        private Task _release = Task.CompletedTask;
        private int _stalled;

        public static IRunJournal Create(IRunJournal inner, long stepId, Task release)
        {
            var proxy = Create<IRunJournal, StallingJournal>();
            var stalling = (StallingJournal)(object)proxy;
            (stalling._inner, stalling._stepId, stalling._release) = (inner, stepId, release);
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            var result = targetMethod!.Invoke(_inner, args);
            if (targetMethod.Name == nameof(IRunJournal.GetStepAsync) && args![0] is long id && id == _stepId && Interlocked.Exchange(ref _stalled, 1) == 0)
            {
                return AfterReleaseAsync((Task<StepRecord?>)result!);
            }

            return result;
        }

        private async Task<StepRecord?> AfterReleaseAsync(Task<StepRecord?> read)
        {
            await _release;
            return await read;
        }
    }
}
