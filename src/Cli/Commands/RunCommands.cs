using System.CommandLine;
using Spectre.Console;
using Taquin.Executors.Engine;
using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Executors.States;
using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Cli.Commands;

/// <summary>What `taquin run` works with for a plan: its journal, the adapters steps use, and the inventory.</summary>
internal sealed record RunEnvironment(IRunJournal Journal, AdapterSet Adapters, FleetInventory Inventory, TimeProvider Time, string Mode);

/// <summary>
/// How `taquin run` opens a plan's environment. The durable journal (SQLite beside the plan / PostgreSQL) and the
/// real adapters are written on other branches; the lead wires them here. Tests pass an in-memory environment.
/// </summary>
internal sealed record RunInputs(Func<string, (MigrationPlan Plan, string Json)> LoadPlan, Func<string, RunEnvironment> OpenEnvironment)
{
    public static RunInputs Default { get; } = new(SimulationInputs.ReadPlan,
        plan => throw new InputException($"cannot open the run journal of '{plan}': the journal store and real adapters are not wired into `run` in this build"));
}

internal static class RunCommands
{
    internal static Command Build() => Build(RunInputs.Default, null);

    internal static Command Build(RunInputs inputs, IAnsiConsole? console)
    {
        var run = new Command("run", "Execute an approved plan wave by wave, watch it, confirm gates");
        run.Subcommands.Add(StartCommand(inputs, console));
        run.Subcommands.Add(StatusCommand(inputs, console));
        run.Subcommands.Add(GateCommand(inputs, console));
        return run;
    }

    private static Command StartCommand(RunInputs inputs, IAnsiConsole? console)
    {
        var plan = new Argument<string>("plan") { Description = "The approved plan.json" };
        var wave = new Option<int>("--wave") { Description = "Wave to start (the previous one must be completed)", Required = true };
        var actor = new Option<string>("--by") { Description = "Who starts it (audit trail)", DefaultValueFactory = _ => Environment.UserName };
        var command = new Command("start", "Start a wave and run it until it completes or waits for an operator") { plan, wave, actor };
        command.SetAction((parse, ct) => GuardAsync(console, async ui =>
        {
            var (env, orchestrator, dispatcher, runId) = await OpenAsync(inputs, parse.GetValue(plan)!, parse.GetValue(actor)!, ct);
            try
            {
                await orchestrator.StartWaveAsync(runId, parse.GetValue(wave), parse.GetValue(actor)!, ct);
            }
            catch (InvalidOperationException ex)
            {
                throw new InputException(ex.Message);
            }

            await dispatcher.WhenIdleAsync();
            await PrintStatusAsync(ui, env.Journal, runId, ct);
            var status = await orchestrator.GetWaveStatusAsync(runId, parse.GetValue(wave), ct);
            return status.Completed || status.Counts.GetValueOrDefault(StepState.WaitingForGate) > 0 ? 0 : 1;
        }));
        return command;
    }

    private static Command StatusCommand(RunInputs inputs, IAnsiConsole? console)
    {
        var plan = new Argument<string>("plan") { Description = "The plan.json of the run" };
        var command = new Command("status", "Print the wave / VM pipeline table of the plan's run") { plan };
        command.SetAction((parse, ct) => GuardAsync(console, async ui =>
        {
            var (_, json) = inputs.LoadPlan(parse.GetValue(plan)!);
            var env = inputs.OpenEnvironment(parse.GetValue(plan)!);
            var runId = await FindRunAsync(env.Journal, json, ct) ?? throw new InputException($"no run of this plan yet: start one with `taquin run start {parse.GetValue(plan)} --wave 1`");
            await PrintStatusAsync(ui, env.Journal, runId, ct);
            return 0;
        }));
        return command;
    }

    private static Command GateCommand(RunInputs inputs, IAnsiConsole? console)
    {
        var gate = new Command("gate", "Confirm or deny a manual gate (e.g. a host reinstalled as PVE)");
        foreach (var confirm in new[] { true, false })
        {
            var plan = new Argument<string>("plan") { Description = "The plan.json of the run" };
            var host = new Argument<string>("host") { Description = "The host whose gate this is" };
            var actor = new Option<string>("--by") { Description = "Who confirms (audit trail)", DefaultValueFactory = _ => Environment.UserName };
            var reason = new Option<string?>("--reason") { Description = "Why the gate is denied", Required = !confirm };
            var command = new Command(confirm ? "confirm" : "deny", confirm ? "Confirm the gate and continue the wave" : "Deny the gate: the host's pipeline is rolled back")
            {
                plan, host, actor, reason,
            };
            command.SetAction((parse, ct) => GuardAsync(console, async ui =>
            {
                var (env, orchestrator, dispatcher, runId) = await OpenAsync(inputs, parse.GetValue(plan)!, parse.GetValue(actor)!, ct);
                var subject = "host:" + parse.GetValue(host);
                var step = (await env.Journal.GetStepsAsync(runId, ct: ct)).FirstOrDefault(s => s.Subject == subject && s.State == StepState.WaitingForGate)
                    ?? throw new InputException($"{parse.GetValue(host)} has no gate waiting for confirmation (see `taquin run status`)");
                var engine = dispatcher.Engine();
                if (confirm)
                {
                    await engine.ConfirmGateAsync(step.StepId, parse.GetValue(actor)!, ct);
                    await orchestrator.DispatchReadyAsync(runId, ct);
                    await dispatcher.WhenIdleAsync();
                }
                else
                {
                    await engine.DenyGateAsync(step.StepId, parse.GetValue(actor)!, parse.GetValue(reason)!, ct);
                }

                await PrintStatusAsync(ui, env.Journal, runId, ct);
                return 0;
            }));
            gate.Subcommands.Add(command);
        }

        return gate;
    }

    private static async Task<(RunEnvironment Env, RunOrchestrator Orchestrator, InProcessStepDispatcher Dispatcher, string RunId)> OpenAsync(
        RunInputs inputs, string planPath, string actor, CancellationToken ct)
    {
        var (plan, json) = inputs.LoadPlan(planPath);
        var env = inputs.OpenEnvironment(planPath);
        await env.Journal.InitializeAsync(ct);
        var engine = new StepEngine(env.Journal, StepRegistry.CreateDefault(), env.Adapters, env.Time, EngineOptions.For(env.Inventory.Fleet, $"cli-{Environment.ProcessId}"));
        var runner = new StepJobRunner(engine);
        var dispatcher = new InProcessStepDispatcher(runner);
        var orchestrator = new RunOrchestrator(env.Journal, dispatcher, env.Time);
        runner.Orchestrator = orchestrator;
        var runId = await FindRunAsync(env.Journal, json, ct);
        if (runId is null)
        {
            runId = (await orchestrator.CreateRunAsync(json, plan, env.Inventory, actor, env.Mode, planPath, ct)).RunId;
        }
        else
        {
            await orchestrator.ResumeAsync(runId, ct);
        }

        return (env, orchestrator, dispatcher, runId);
    }

    /// <summary>The latest run of this exact plan (by digest).</summary>
    private static async Task<string?> FindRunAsync(IRunJournal journal, string planJson, CancellationToken ct)
    {
        var digest = RunOrchestrator.Digest(planJson);
        return (await journal.ListRunsAsync(ct)).Where(r => r.PlanDigest == digest).OrderByDescending(r => r.CreatedAt).FirstOrDefault()?.RunId;
    }

    private static async Task PrintStatusAsync(IAnsiConsole ui, IRunJournal journal, string runId, CancellationToken ct)
    {
        var table = new Table().AddColumn("wave").AddColumn("subject").AddColumn("progress").AddColumn("current step").AddColumn("state").AddColumn("reason");
        foreach (var pipeline in (await journal.GetStepsAsync(runId, ct: ct)).GroupBy(s => (s.Wave, s.Subject)))
        {
            var steps = pipeline.OrderBy(s => s.Sequence).ToList();
            var current = steps.FirstOrDefault(s => !StepStateMachine.IsDone(s.State)) ?? steps[^1];
            table.AddRow(
                pipeline.Key.Wave.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(pipeline.Key.Subject),
                $"{steps.Count(s => StepStateMachine.IsDone(s.State))}/{steps.Count}",
                Markup.Escape(current.StepType),
                current.State.ToString(),
                Markup.Escape(current.LastReason ?? ""));
        }

        ui.MarkupLineInterpolated($"run [bold]{runId}[/]");
        ui.Write(table);
    }

    private static async Task<int> GuardAsync(IAnsiConsole? console, Func<IAnsiConsole, Task<int>> action)
    {
        var ui = console ?? AnsiConsole.Console;
        try
        {
            return await action(ui);
        }
        catch (InputException ex)
        {
            ui.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
            return 2;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ui.MarkupLineInterpolated($"[red]internal error:[/] {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
    }
}
