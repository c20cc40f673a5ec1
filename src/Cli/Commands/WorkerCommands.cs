using System.CommandLine;
using global::Hangfire;
using Spectre.Console;
using Taquin.Executors.Engine;
using Taquin.Executors.Hangfire;
using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Executors.Steps;

namespace Taquin.Cli.Commands;

/// <summary>What a worker needs: the Hangfire storage shared with the dispatchers, and the run environment (journal, adapters).</summary>
internal sealed record WorkerInputs(Func<string?, JobStorage> OpenStorage, Func<RunOptions?, RunEnvironment> OpenEnvironment)
{
    public static WorkerInputs Default { get; } = new(HangfireSetup.CreateStorage,
        options => RunInputs.Open(options ?? throw new InputException("--plan <plan.json> is required: the worker runs the steps of that plan's run")));
}

internal static class WorkerCommands
{
    internal static Command Build() => Build(WorkerInputs.Default, null);

    internal static Command Build(WorkerInputs inputs, IAnsiConsole? console)
    {
        var postgres = new Option<string?>("--postgres")
        {
            Description = $"PostgreSQL connection string of the journal and the Hangfire job queue (default: ${RunOptions.PostgresVariable}); Hangfire.InMemory when neither is given",
        };
        var workers = new Option<int>("--workers") { Description = "Steps run at once by this worker", DefaultValueFactory = _ => 4 };
        var plan = new Option<string?>("--plan") { Description = "The plan.json whose run this worker serves (its journal, and with --simulate its twin, sit beside it)" };
        var environment = new RunCommands.EnvironmentOptions();
        var command = new Command("worker", "Run step jobs only (no wave is started from here) until stopped") { postgres, workers, plan };
        command.Options.Add(environment.Inventory);
        command.Options.Add(environment.Simulate);
        command.Options.Add(environment.Access);
        command.Options.Add(environment.TimeScale);
        command.SetAction(async (parse, ct) =>
        {
            var ui = console ?? AnsiConsole.Console;
            try
            {
                var count = parse.GetValue(workers);
                if (count < 1)
                {
                    throw new InputException($"--workers {count}: give at least 1");
                }

                var options = parse.GetValue(plan) is { } planPath
                    ? new RunOptions(planPath, parse.GetValue(environment.Inventory), parse.GetValue(postgres), parse.GetValue(environment.Simulate), parse.GetValue(environment.TimeScale), parse.GetValue(environment.Access))
                    : null;
                // The job queue lives where the journal does: --postgres, else TAQUIN_PG_CONNECTION, else in memory.
                var storage = inputs.OpenStorage(options?.PostgresConnection ?? new RunOptions("", null, parse.GetValue(postgres), false, 1).PostgresConnection);
                await using var env = inputs.OpenEnvironment(options);
                var workerId = $"worker-{Environment.MachineName}-{Environment.ProcessId}";
                var engine = new StepEngine(env.Journal, env.Registry(), env.Adapters, env.Time, EngineOptions.For(env.Inventory.Fleet, workerId));
                var runner = new StepJobRunner(engine);
                var orchestrator = new RunOrchestrator(env.Journal, new HangfireStepDispatcher(new BackgroundJobClient(storage)), env.Time);
                runner.Orchestrator = orchestrator;
                using (HangfireSetup.StartWorker(storage, runner, count, TimeSpan.FromSeconds(1)))
                {
                    ui.MarkupLineInterpolated($"worker [bold]{workerId}[/] running {count} step(s) at once; Ctrl+C stops it");
                    try
                    {
                        if (options is not null)
                        {
                            await ResumePlanRunAsync(env.Journal, orchestrator, options.PlanPath, ui, ct);
                        }

                        await Task.Delay(Timeout.Infinite, ct);
                    }
                    catch (OperationCanceledException)
                    {
                        // Stopping: steps in flight stay Running and are resumed by the next worker (lease expiry).
                    }
                }

                ui.MarkupLine("worker stopped");
                return 0;
            }
            catch (InputException ex)
            {
                ui.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
                return 2;
            }
            catch (Taquin.Planner.Diagnostics.InvalidInputException ex)
            {
                DiagnosticsView.Write(ui, ex.Diagnostics);
                return 2;
            }
        });
        return command;
    }

    /// <summary>
    /// Queues again what the journal says is in progress or ready in the plan's run: jobs a dead worker had taken are
    /// lost to the queue until Hangfire's invisibility timeout, and the journal, not the queue, is the truth.
    /// A step queued twice runs once (lease, then NotRunnable).
    /// </summary>
    private static async Task ResumePlanRunAsync(IRunJournal journal, RunOrchestrator orchestrator, string planPath, IAnsiConsole ui, CancellationToken ct)
    {
        await journal.InitializeAsync(ct);
        var (_, json) = SimulationInputs.ReadPlan(planPath);
        if (await RunCommands.FindRunAsync(journal, json, ct) is { } runId)
        {
            await orchestrator.ResumeAsync(runId, ct);
            ui.MarkupLineInterpolated($"resumed run [bold]{runId}[/] from the journal");
        }
    }
}
