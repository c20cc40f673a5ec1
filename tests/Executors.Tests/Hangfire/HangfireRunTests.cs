using global::Hangfire;
using global::Hangfire.InMemory;
using Taquin.Executors.Hangfire;
using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Tests.Hangfire;

public sealed class HangfireRunTests
{
    [Fact]
    public async Task A_real_Hangfire_server_on_InMemory_storage_runs_a_wave_to_completion()
    {
        var full = TestFleet.Plan();
        // Wave 1 without the host conversion: two VM moves onto the PVE host h4, no manual gate.
        var plan = full with
        {
            Stages = [full.Stages[0], full.Stages[1] with { Actions = [.. full.Stages[1].Actions.Where(a => a.Kind == ActionKind.MoveToPve)] }],
        };
        var h = new TestFleet.Harness(plan);
        using var storage = new InMemoryStorage();
        var client = new BackgroundJobClient(storage);
        var runner = new StepJobRunner(h.Engine("hangfire-worker"));
        var orchestrator = new RunOrchestrator(h.Journal, new HangfireStepDispatcher(client), h.Clock);
        runner.Orchestrator = orchestrator;
        var run = await orchestrator.CreateRunAsync(h.PlanJson, plan, h.Inventory, "test");

        using (HangfireSetup.StartWorker(storage, runner, workerCount: 2, schedulePolling: TimeSpan.FromMilliseconds(200)))
        {
            Assert.True(HangfireSetup.AutomaticRetriesAreOff());
            await orchestrator.StartWaveAsync(run.RunId, 1, "test");

            // Polls the journal, the source of truth, until the wave settles (bounded so a bug cannot hang the suite).
            for (var i = 0; i < 600 && !(await orchestrator.GetWaveStatusAsync(run.RunId, 1)).Quiescent; i++)
            {
                await Task.Delay(50);
            }
        }

        var steps = await h.Journal.GetStepsAsync(run.RunId, 1);
        Assert.Equal(18, steps.Count);
        Assert.All(steps, s => Assert.Equal(StepState.Succeeded, s.State));
        Assert.Equal(["pve:h4"], h.Twin.WhereRunning("web-01"));
        Assert.Equal(["pve:h4"], h.Twin.WhereRunning("db-01"));
        Assert.Empty(h.Twin.CheckInvariants());
        Assert.All(steps, s => Assert.Contains(h.Journal.GetTransitionsAsync(s.StepId).Result, t => t.Actor == "hangfire-worker"));
    }
}
