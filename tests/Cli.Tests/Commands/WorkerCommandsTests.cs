using System.CommandLine;
using System.Text.Json;
using global::Hangfire;
using global::Hangfire.InMemory;
using Spectre.Console;
using Taquin.Cli.Commands;
using Taquin.Executors.Hangfire;
using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Executors.Tests;
using Taquin.Planner.Planning;

namespace Taquin.Cli.Tests.Commands;

public sealed class WorkerCommandsTests
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task A_worker_runs_the_step_jobs_a_started_wave_enqueues_until_it_is_stopped()
    {
        var full = TestFleet.Plan();
        var plan = full with { Stages = [full.Stages[0], full.Stages[1] with { Actions = [.. full.Stages[1].Actions.Where(a => a.Kind == ActionKind.MoveToPve)] }] };
        var h = new TestFleet.Harness(plan);
        using var storage = new InMemoryStorage();
        var env = new RunEnvironment(h.Journal, h.Adapters, h.Inventory, h.Clock, "simulated");
        // The operator's side: a run whose wave 1 jobs go to Hangfire.
        var orchestrator = new RunOrchestrator(h.Journal, new HangfireStepDispatcher(new BackgroundJobClient(storage)), h.Clock);
        var run = await orchestrator.CreateRunAsync(JsonSerializer.Serialize(plan), plan, h.Inventory, "test");
        await orchestrator.StartWaveAsync(run.RunId, 1, "test");

        using var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(output) });
        var root = new RootCommand { WorkerCommands.Build(new WorkerInputs(_ => storage, _ => env), console) };
        using var stop = new CancellationTokenSource();
        var worker = root.Parse(["worker", "--workers", "2"]).InvokeAsync(null, stop.Token);
        for (var i = 0; i < 600 && !(await orchestrator.GetWaveStatusAsync(run.RunId, 1)).Quiescent; i++)
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        Assert.Equal(0, await worker);
        Assert.All(await h.Journal.GetStepsAsync(run.RunId, 1), s => Assert.Equal(StepState.Succeeded, s.State));
        Assert.True(HangfireSetup.AutomaticRetriesAreOff());
        Assert.Contains("worker stopped", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_worker_given_a_plan_queues_again_what_the_journal_says_is_ready_when_the_queue_lost_the_jobs()
    {
        var full = TestFleet.Plan();
        var plan = full with { Stages = [full.Stages[0], full.Stages[1] with { Actions = [.. full.Stages[1].Actions.Where(a => a.Kind == ActionKind.MoveToPve)] }] };
        var h = new TestFleet.Harness(plan);
        var folder = Directory.CreateTempSubdirectory("taquin-worker-resume-").FullName;
        try
        {
            var planPath = Path.Combine(folder, "plan.json");
            await File.WriteAllTextAsync(planPath, JsonSerializer.Serialize(plan, Web));
            var (_, planJson) = SimulationInputs.ReadPlan(planPath);
            // The wave was started and its jobs queued in a storage that is gone (a lost queue, a dead worker's fetched jobs).
            using var lost = new InMemoryStorage();
            var starter = new RunOrchestrator(h.Journal, new HangfireStepDispatcher(new BackgroundJobClient(lost)), h.Clock);
            var run = await starter.CreateRunAsync(planJson, plan, h.Inventory, "test");
            await starter.StartWaveAsync(run.RunId, 1, "test");

            using var storage = new InMemoryStorage();
            var env = new RunEnvironment(h.Journal, h.Adapters, h.Inventory, h.Clock, "simulated");
            using var output = new StringWriter();
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(output) });
            var root = new RootCommand { WorkerCommands.Build(new WorkerInputs(_ => storage, _ => env), console) };
            using var stop = new CancellationTokenSource();
            var worker = root.Parse(["worker", "--plan", planPath, "--workers", "2"]).InvokeAsync(null, stop.Token);
            for (var i = 0; i < 600 && !(await starter.GetWaveStatusAsync(run.RunId, 1)).Quiescent; i++)
            {
                await Task.Delay(50);
            }

            await stop.CancelAsync();
            Assert.Equal(0, await worker);
            Assert.All(await h.Journal.GetStepsAsync(run.RunId, 1), s => Assert.Equal(StepState.Succeeded, s.State));
            Assert.Contains($"resumed run {run.RunId}", output.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Zero_workers_is_a_user_error()
    {
        using var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(output) });
        var root = new RootCommand { WorkerCommands.Build(new WorkerInputs(_ => throw new InvalidOperationException("not reached"), _ => throw new InvalidOperationException("not reached")), console) };

        Assert.Equal(2, await root.Parse(["worker", "--workers", "0"]).InvokeAsync());
        Assert.Contains("--workers 0", output.ToString(), StringComparison.Ordinal);
    }
}
