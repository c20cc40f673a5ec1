using System.CommandLine;
using global::Hangfire;
using Spectre.Console;
using Taquin.Executors.Access;
using Taquin.Executors.Engine;
using Taquin.Executors.Hangfire;
using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Executors.Simulation;
using Taquin.Executors.States;
using Taquin.Executors.Steps;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Cli.Commands;

/// <summary>
/// What `taquin run` works with for a plan: its journal, the adapters steps use, and the inventory; for a simulated
/// run also the twin (the operator's manual acts, such as reinstalling a host, happen on it) and what to release.
/// </summary>
internal sealed record RunEnvironment(IRunJournal Journal, AdapterSet Adapters, FleetInventory Inventory, TimeProvider Time, string Mode,
    ClusterTwin? Twin = null, IDisposable? Owned = null, StepSettings? Settings = null) : IAsyncDisposable
{
    /// <summary>The step implementations with this environment's settings (a real run's access file: shutdown grace time).</summary>
    public StepRegistry Registry() => StepRegistry.CreateDefault(Settings);

    public async ValueTask DisposeAsync()
    {
        Owned?.Dispose();
        if (Journal is IAsyncDisposable journal && Owned is not null)
        {
            await journal.DisposeAsync();
        }
    }
}

/// <summary>How a `run` or `worker` command was asked to open its plan's environment.</summary>
internal sealed record RunOptions(string PlanPath, string? Inventory, string? Postgres, bool Simulate, double TimeScale, string? Access = null)
{
    /// <summary>"simulated" (--simulate) or "real" (--access FILE): the run's mode in the journal.</summary>
    public string Mode => Simulate ? "simulated" : "real";

    public const string PostgresVariable = "TAQUIN_PG_CONNECTION";

    /// <summary>--postgres, else TAQUIN_PG_CONNECTION, else null (the SQLite file beside the plan).</summary>
    public string? PostgresConnection =>
        !string.IsNullOrWhiteSpace(Postgres) ? Postgres
        : Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
}

/// <summary>
/// How `taquin run` opens a plan's environment: the journal (PostgreSQL when configured, else SQLite beside the
/// plan) and the adapters: the real ones built from fleet.yaml and the access file (--access), or the simulated ones
/// over a twin persisted beside the plan (--simulate). Tests pass an in-memory environment.
/// </summary>
internal sealed record RunInputs(Func<string, (MigrationPlan Plan, string Json)> LoadPlan, Func<RunOptions, RunEnvironment> OpenEnvironment,
    Func<RunOptions, IRunJournal>? OpenJournal = null, Func<string, JobStorage>? OpenJobStorage = null)
{
    public static RunInputs Default { get; } = new(SimulationInputs.ReadPlan, Open, OpenDurableJournal, connection => HangfireSetup.CreateStorage(connection));

    /// <summary>The real environment with --access, the simulated twin with --simulate.</summary>
    public static RunEnvironment Open(RunOptions options) => options.Access is not null ? OpenReal(options) : OpenDurable(options);

    /// <summary>
    /// A real run: the journal beside the plan (or PostgreSQL) and the real adapters from fleet.yaml + the access file.
    /// Host names in the access file are checked against the plan's fleet.
    /// </summary>
    public static RunEnvironment OpenReal(RunOptions options)
    {
        var (_, inventory) = ReadCheckedInputs(options);
        var access = AccessFile.Load(options.Access!, inventory.Fleet);
        RealAdapters adapters;
        try
        {
            adapters = RealAdapters.Create(inventory.Fleet, access);
        }
        catch (AccessException ex)
        {
            throw new InputException(ex.Message);
        }

        var journal = JournalFactory.Open(options.PostgresConnection, JournalFactory.SqlitePathBesidePlan(options.PlanPath), TimeProvider.System);
        return new RunEnvironment(journal, adapters.Adapters, inventory, TimeProvider.System, "real", Owned: adapters, Settings: access.Libvirt.StepSettings());
    }

    public static IRunJournal OpenDurableJournal(RunOptions options) =>
        JournalFactory.Open(options.PostgresConnection, JournalFactory.SqlitePathBesidePlan(options.PlanPath), TimeProvider.System);

    /// <summary>The durable environment of a plan: journal + twin beside it, checked against the inventory given.</summary>
    public static RunEnvironment OpenDurable(RunOptions options)
    {
        var (plan, inventory) = ReadCheckedInputs(options);
        TwinStore store;
        try
        {
            store = TwinStore.Open(TwinStore.PathBesidePlan(options.PlanPath), inventory, plan, options.TimeScale);
        }
        catch (IOException ex)
        {
            throw new InputException($"another taquin process (a `taquin worker` or a `taquin run`) is running the simulated twin of '{options.PlanPath}' ({ex.Message}): "
                + "wait for it to end or stop it");
        }

        var journal = JournalFactory.Open(options.PostgresConnection, JournalFactory.SqlitePathBesidePlan(options.PlanPath), store.Clock);
        return new RunEnvironment(journal, store.Adapters, inventory, store.Clock, "simulated", store.Twin, store);
    }

    /// <summary>The plan and the inventory it was made from, with the options checked (exactly one of --simulate and --access, inventory given, time scale).</summary>
    public static (MigrationPlan Plan, FleetInventory Inventory) ReadCheckedInputs(RunOptions options)
    {
        if (options.Simulate == (options.Access is not null))
        {
            throw new InputException(options.Simulate
                ? "--simulate and --access exclude each other: --simulate runs the plan on a simulated twin, --access FILE on the real fleet. Give one"
                : "give --access FILE to run this plan on the real fleet (the access file says how to reach it: SSH key and host keys, PVE API token, Ceph; see docs/access.md), "
                    + "or --simulate to run it on a simulated twin of the fleet kept beside the plan in " + Path.GetFileName(TwinStore.PathBesidePlan(options.PlanPath)));
        }

        if (options.Inventory is null)
        {
            throw new InputException("--inventory <folder> is required: give the inventory folder the plan was made from");
        }

        if (!(options.TimeScale > 0))
        {
            throw new InputException($"--time-scale {options.TimeScale.ToString(System.Globalization.CultureInfo.InvariantCulture)}: give a positive number of simulated seconds per real second");
        }

        var (plan, _) = SimulationInputs.ReadPlan(options.PlanPath);
        var inventory = SimulationInputs.ReadInventory(options.Inventory);
        if (plan.InventoryDigest != inventory.Digest)
        {
            throw new InputException($"the plan '{options.PlanPath}' was made from inventory {plan.InventoryDigest}, but '{options.Inventory}' is {inventory.Digest}: "
                + "give the inventory the plan was made from, or re-run `taquin plan` on this one");
        }

        return (plan, inventory);
    }
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
        var environment = new EnvironmentOptions();
        var command = new Command("start", "Start a wave (or resume it) and run it until it completes or waits for an operator; "
            + "with --enqueue-only, queue its steps for `taquin worker` processes and return") { plan, wave, actor, environment.EnqueueOnly };
        environment.AddTo(command);
        command.SetAction((parse, ct) => GuardAsync(console, async ui =>
        {
            if (parse.GetValue(environment.EnqueueOnly))
            {
                return await EnqueueWaveAsync(inputs, ui, environment.Read(parse, parse.GetValue(plan)!), parse.GetValue(wave), parse.GetValue(actor)!, ct);
            }

            var (env, orchestrator, dispatcher, runId) = await OpenAsync(inputs, environment.Read(parse, parse.GetValue(plan)!), parse.GetValue(actor)!, null, ct);
            await using var owned = env;
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

    /// <summary>
    /// `run start --enqueue-only`: starts the wave in the journal and queues its ready steps as Hangfire jobs in
    /// PostgreSQL, then returns. `taquin worker` processes run them and queue what becomes ready. The twin is not
    /// opened here, so a worker may hold it meanwhile.
    /// </summary>
    private static async Task<int> EnqueueWaveAsync(RunInputs inputs, IAnsiConsole ui, RunOptions options, int wave, string actor, CancellationToken ct)
    {
        var storage = OpenQueue(inputs, options);
        var (plan, json) = inputs.LoadPlan(options.PlanPath);
        // The durable journal alone (not the twin: a worker may hold it); tests give an in-memory environment instead.
        FleetInventory inventory;
        IRunJournal journal;
        if (inputs.OpenJournal is { } openJournal)
        {
            inventory = RunInputs.ReadCheckedInputs(options).Inventory;
            journal = openJournal(options);
        }
        else
        {
            var env = inputs.OpenEnvironment(options);
            (inventory, journal) = (env.Inventory, env.Journal);
        }
        try
        {
            await journal.InitializeAsync(ct);
            var orchestrator = new RunOrchestrator(journal, new HangfireStepDispatcher(new BackgroundJobClient(storage)), TimeProvider.System);
            var runId = await FindRunAsync(journal, json, ct);
            if (runId is null)
            {
                runId = (await orchestrator.CreateRunAsync(json, plan, inventory, actor, options.Mode, options.PlanPath, ct)).RunId;
            }
            else
            {
                await orchestrator.ResumeAsync(runId, ct);
            }

            try
            {
                await orchestrator.StartWaveAsync(runId, wave, actor, ct);
            }
            catch (InvalidOperationException ex)
            {
                throw new InputException(ex.Message);
            }

            await PrintStatusAsync(ui, journal, runId, ct);
            var adapters = options.Access is null ? "--simulate" : "--access " + options.Access;
            ui.MarkupLineInterpolated($"wave {wave} started: its ready steps are queued as Hangfire jobs in PostgreSQL. `taquin worker --plan {options.PlanPath} {adapters} --inventory <folder>` runs them; `taquin run status {options.PlanPath}` shows the progress");
            return 0;
        }
        finally
        {
            if (inputs.OpenJournal is not null && journal is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The Hangfire.PostgreSql job storage `taquin worker` processes read from; --enqueue-only has no sense without
    /// it. It holds pooled connections only, so it is not disposed (tests inspect the one they inject).
    /// </summary>
    private static JobStorage OpenQueue(RunInputs inputs, RunOptions options)
    {
        var connection = options.PostgresConnection
            ?? throw new InputException($"--enqueue-only hands the steps to `taquin worker` processes through Hangfire.PostgreSql: give --postgres <connection string> or set {RunOptions.PostgresVariable}");
        return (inputs.OpenJobStorage ?? HangfireSetup.CreateStorage)(connection);
    }

    private static Command StatusCommand(RunInputs inputs, IAnsiConsole? console)
    {
        var plan = new Argument<string>("plan") { Description = "The plan.json of the run" };
        var postgres = new Option<string?>("--postgres") { Description = $"PostgreSQL journal connection string (default: ${RunOptions.PostgresVariable}, else the SQLite file beside the plan)" };
        var command = new Command("status", "Print the wave / VM pipeline table of the plan's run") { plan, postgres };
        command.SetAction((parse, ct) => GuardAsync(console, async ui =>
        {
            var (_, json) = inputs.LoadPlan(parse.GetValue(plan)!);
            var options = new RunOptions(parse.GetValue(plan)!, null, parse.GetValue(postgres), Simulate: false, TimeScale: 1);
            var journal = inputs.OpenJournal is { } openJournal ? openJournal(options) : inputs.OpenEnvironment(options).Journal;
            try
            {
                await journal.InitializeAsync(ct);
                var runId = await FindRunAsync(journal, json, ct) ?? throw new InputException($"no run of this plan yet: start one with `taquin run start {parse.GetValue(plan)} --wave 1`");
                await PrintStatusAsync(ui, journal, runId, ct);
                return 0;
            }
            finally
            {
                if (inputs.OpenJournal is not null && journal is IAsyncDisposable disposable)
                {
                    await disposable.DisposeAsync();
                }
            }
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
            var environment = new EnvironmentOptions();
            var command = new Command(confirm ? "confirm" : "deny", confirm ? "Confirm the gate and continue the wave" : "Deny the gate: the host's pipeline is rolled back")
            {
                plan, host, actor, reason,
            };
            if (confirm)
            {
                command.Options.Add(environment.EnqueueOnly);
            }

            environment.AddTo(command);
            command.SetAction((parse, ct) => GuardAsync(console, async ui =>
            {
                var options = environment.Read(parse, parse.GetValue(plan)!);
                var queue = parse.GetValue(environment.EnqueueOnly) ? OpenQueue(inputs, options) : null;
                var (env, orchestrator, dispatcher, runId) = await OpenAsync(inputs, options, parse.GetValue(actor)!, queue, ct);
                await using var owned = env;
                var subject = "host:" + parse.GetValue(host);
                var step = (await env.Journal.GetStepsAsync(runId, ct: ct)).FirstOrDefault(s => s.Subject == subject && s.State == StepState.WaitingForGate)
                    ?? throw new InputException($"{parse.GetValue(host)} has no gate waiting for confirmation (see `taquin run status`)");
                var engine = dispatcher.Engine();
                if (confirm)
                {
                    if (env.Twin is { } twin)
                    {
                        // Simulated run: the operator's manual act (the reinstall the gate asks for) happens on the twin.
                        twin.ReinstallAsPve(parse.GetValue(host)!);
                        ui.MarkupLineInterpolated($"simulated: {parse.GetValue(host)} reinstalled as PVE on the twin");
                    }

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

    /// <summary>
    /// Opens the plan's run (creating it the first time) and resumes what a dead process left. Steps go to
    /// <paramref name="queue"/> as Hangfire jobs when given (`taquin worker` runs them), else run in this process.
    /// </summary>
    private static async Task<(RunEnvironment Env, RunOrchestrator Orchestrator, InProcessStepDispatcher Dispatcher, string RunId)> OpenAsync(
        RunInputs inputs, RunOptions options, string actor, JobStorage? queue, CancellationToken ct)
    {
        var planPath = options.PlanPath;
        var (plan, json) = inputs.LoadPlan(planPath);
        var env = inputs.OpenEnvironment(options);
        await env.Journal.InitializeAsync(ct);
        var engine = new StepEngine(env.Journal, env.Registry(), env.Adapters, env.Time, EngineOptions.For(env.Inventory.Fleet, $"cli-{Environment.ProcessId}"));
        var runner = new StepJobRunner(engine);
        var dispatcher = new InProcessStepDispatcher(runner);
        var orchestrator = new RunOrchestrator(env.Journal, queue is null ? dispatcher : new HangfireStepDispatcher(new BackgroundJobClient(queue)), env.Time);
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

    /// <summary>The options every command that executes steps shares.</summary>
    internal sealed class EnvironmentOptions
    {
        public Option<string?> Inventory { get; } = new("--inventory") { Description = "The inventory folder the plan was made from" };
        public Option<string?> Postgres { get; } = new("--postgres") { Description = $"PostgreSQL journal connection string (default: ${RunOptions.PostgresVariable}, else the SQLite file beside the plan)" };
        public Option<bool> Simulate { get; } = new("--simulate") { Description = "Run on a simulated twin of the fleet kept beside the plan (or give --access)" };
        public Option<string?> Access { get; } = new("--access") { Description = "Run on the real fleet: the access file saying how to reach it (SSH, PVE API token, libvirt, Ceph, movers; docs/access.md)" };
        public Option<bool> EnqueueOnly { get; } = new("--enqueue-only")
        {
            Description = "Queue the ready steps as Hangfire jobs in PostgreSQL (--postgres or $" + RunOptions.PostgresVariable + ") for `taquin worker` processes, and return at once",
        };

        public Option<double> TimeScale { get; } = new("--time-scale") { Description = "Simulated seconds per real second (the engine's own overhead is sped up too: keep the shortest step timeout, 1-5 simulated minutes, far above it)", DefaultValueFactory = _ => 300 };

        public void AddTo(Command command)
        {
            command.Options.Add(Inventory);
            command.Options.Add(Postgres);
            command.Options.Add(Simulate);
            command.Options.Add(Access);
            command.Options.Add(TimeScale);
        }

        public RunOptions Read(ParseResult parse, string planPath) =>
            new(planPath, parse.GetValue(Inventory), parse.GetValue(Postgres), parse.GetValue(Simulate), parse.GetValue(TimeScale), parse.GetValue(Access));
    }

    /// <summary>The latest run of this exact plan (by digest).</summary>
    internal static async Task<string?> FindRunAsync(IRunJournal journal, string planJson, CancellationToken ct)
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
        catch (InvalidInputException ex)
        {
            DiagnosticsView.Write(ui, ex.Diagnostics);
            return 2;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ui.MarkupLineInterpolated($"[red]internal error:[/] {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
    }
}
