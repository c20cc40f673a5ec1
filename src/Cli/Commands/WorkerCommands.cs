using System.CommandLine;
using global::Hangfire;
using Spectre.Console;
using Taquin.Executors.Engine;
using Taquin.Executors.Hangfire;
using Taquin.Executors.Orchestration;
using Taquin.Executors.Steps;

namespace Taquin.Cli.Commands;

/// <summary>What a worker needs: the Hangfire storage shared with the dispatchers, and the run environment (journal, adapters).</summary>
internal sealed record WorkerInputs(Func<string?, JobStorage> OpenStorage, Func<RunEnvironment> OpenEnvironment)
{
    public static WorkerInputs Default { get; } = new(HangfireSetup.CreateStorage,
        () => throw new InputException("cannot start a worker: the shared journal (PostgreSQL) and real adapters are not wired into `worker` in this build"));
}

internal static class WorkerCommands
{
    internal static Command Build() => Build(WorkerInputs.Default, null);

    internal static Command Build(WorkerInputs inputs, IAnsiConsole? console)
    {
        var postgres = new Option<string?>("--postgres") { Description = "Hangfire.PostgreSql connection string (workers on several machines); in-memory when absent" };
        var workers = new Option<int>("--workers") { Description = "Steps run at once by this worker", DefaultValueFactory = _ => 4 };
        var command = new Command("worker", "Run step jobs only (no wave is started from here) until stopped") { postgres, workers };
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

                var storage = inputs.OpenStorage(parse.GetValue(postgres));
                var env = inputs.OpenEnvironment();
                var workerId = $"worker-{Environment.MachineName}-{Environment.ProcessId}";
                var engine = new StepEngine(env.Journal, StepRegistry.CreateDefault(), env.Adapters, env.Time, EngineOptions.For(env.Inventory.Fleet, workerId));
                var runner = new StepJobRunner(engine);
                runner.Orchestrator = new RunOrchestrator(env.Journal, new HangfireStepDispatcher(new BackgroundJobClient(storage)), env.Time);
                using (HangfireSetup.StartWorker(storage, runner, count, TimeSpan.FromSeconds(1)))
                {
                    ui.MarkupLineInterpolated($"worker [bold]{workerId}[/] running {count} step(s) at once; Ctrl+C stops it");
                    try
                    {
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
        });
        return command;
    }
}
