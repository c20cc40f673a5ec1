using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Cli.Commands;

/// <summary>
/// <c>taquin plan &lt;inventory&gt; -o plan.json</c>, <c>plan show</c>, <c>plan export</c>, <c>plan verify</c>.
/// Exit codes: 0 ok, 1 plan infeasible or not verified, 2 invalid input.
/// </summary>
internal static class PlanCommands
{
    /// <summary>Wall seconds kept from the planner's budget for writing and verifying the plan after it.</summary>
    private const double WriteReserveSeconds = 0.3;

    /// <summary>The plan command with the real inventory loader and the given solver (greedy when null).</summary>
    internal static Command Build(IPlanSolver? solver) => Build(LoadAndValidate, solver);

    /// <summary>Loads an inventory folder and validates it: loader and validator diagnostics together.</summary>
    internal static (FleetInventory? Inventory, IReadOnlyList<Diagnostic> Diagnostics) LoadAndValidate(string folder)
    {
        if (!Directory.Exists(folder))
        {
            return (null, [Diagnostic.Error(folder, "inventory", $"inventory folder '{folder}' does not exist", "pass the folder that holds fleet.yaml, volumes.json and domains/<host>/*.xml")]);
        }

        var loaded = InventoryLoader.Load(folder);
        var diagnostics = loaded.Diagnostics.ToList();
        if (loaded.Inventory is { } inventory)
        {
            diagnostics.AddRange(InventoryValidator.Validate(inventory));
        }

        return (loaded.Inventory, diagnostics);
    }

    internal static Command Build(Func<string, (FleetInventory? Inventory, IReadOnlyList<Diagnostic> Diagnostics)> loadInventory, IPlanSolver? solver)
    {
        var plan = new Command("plan", "Plan the migration of an inventory: stages, moves, capacity at every stage");
        var inventoryArg = new Argument<string>("inventory") { Description = "Inventory folder (fleet.yaml, volumes.json, domains/)" };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the plan", DefaultValueFactory = _ => "plan.json" };
        var timeLimit = new Option<double>("--time-limit") { Description = "Wall-clock budget of the whole planning run in seconds (the solver's deterministic limits are derived from it)", DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { Description = "Solver random seed" };
        var workers = new Option<int>("--workers") { Description = "Solver worker threads", DefaultValueFactory = _ => 2 };
        var gap = new Option<double>("--gap") { Description = "Stop at this relative gap to the bound (0 = prove optimal)" };
        var greedy = new Option<bool>("--greedy") { Description = "Use the greedy baseline only" };
        var exclude = new Option<string[]>("--exclude") { Description = "Host to leave alone (repeatable)", AllowMultipleArgumentsPerToken = true };
        var order = new Option<string?>("--conversion-order") { Description = "Fixed conversion order, comma-separated host names" };
        var pin = new Option<string[]>("--pin") { Description = "vm=host: the PVE host a VM must end on (repeatable)" };
        var pinStage = new Option<string[]>("--pin-stage") { Description = "vm=N: the wave in which a VM moves to PVE (repeatable)" };
        var rates = new Option<string?>("--rates") { Description = "Measured rates file (docs/rates-format.md) for the downtime estimates; wins over fleet.yaml policy.rates" };
        plan.Arguments.Add(inventoryArg);
        foreach (var option in new Option[] { output, timeLimit, seed, workers, gap, greedy, exclude, order, pin, pinStage, rates })
        {
            plan.Options.Add(option);
        }

        plan.SetAction(parse =>
        {
            // --time-limit covers the command: loading the inventory counts against the planner's wall budget.
            var started = TimeProvider.System.GetTimestamp();
            var console = Console(parse);
            var folder = parse.GetRequiredValue(inventoryArg);
            var inventory = Load(console, loadInventory, folder);
            if (inventory is null)
            {
                return 2;
            }

            var ratesFlag = parse.GetValue(rates);
            DowntimeModel downtime;
            try
            {
                downtime = RatesFile.ModelFor(inventory.Fleet, folder, ratesFlag);
            }
            catch (RatesFileException e)
            {
                var origin = string.IsNullOrEmpty(ratesFlag) ? RatesFile.FromFleet : RatesFile.FromFlag;
                console.MarkupLine($"[red]error:[/] rates file named by {Markup.Escape(origin)}: {Markup.Escape(e.Message)}");
                return 2;
            }

            var pins = ParsePins(parse.GetValue(pin) ?? [], parse.GetValue(pinStage) ?? [], out var pinError);
            if (pinError is not null)
            {
                console.MarkupLine($"[red]error:[/] {Markup.Escape(pinError)}");
                return 2;
            }

            var options = new PlannerOptions
            {
                TimeLimitSeconds = parse.GetValue(timeLimit),
                WallBudgetSeconds = Math.Max(0, parse.GetValue(timeLimit) - TimeProvider.System.GetElapsedTime(started).TotalSeconds - WriteReserveSeconds),
                Seed = parse.GetValue(seed),
                Workers = parse.GetValue(workers),
                RelativeGap = parse.GetValue(gap),
                ExcludedHosts = parse.GetValue(exclude) ?? [],
                ConversionOrder = parse.GetValue(order)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
                PinnedHosts = pins.Hosts,
                PinnedStages = pins.Stages,
                Downtime = downtime,
            };
            var unknownHosts = options.ExcludedHosts.Concat(options.ConversionOrder).Concat(options.PinnedHosts.Values)
                .Where(h => inventory.Fleet.FindHost(h) is null).Distinct(StringComparer.Ordinal).ToList();
            var unknownVms = options.PinnedHosts.Keys.Concat(options.PinnedStages.Keys)
                .Where(v => inventory.Vms.All(x => x.Name != v)).Distinct(StringComparer.Ordinal).ToList();
            if (unknownHosts.Count > 0 || unknownVms.Count > 0)
            {
                foreach (var h in unknownHosts)
                {
                    console.MarkupLine($"[red]error:[/] host '{Markup.Escape(h)}' is not in fleet.yaml. Fix: use one of {Markup.Escape(string.Join(", ", inventory.Fleet.Hosts.Select(x => x.Name)))}");
                }

                foreach (var v in unknownVms)
                {
                    console.MarkupLine($"[red]error:[/] VM '{Markup.Escape(v)}' is not in the inventory. Fix: check the name in domains/<host>/<vm>.xml");
                }

                return 2;
            }

            var planner = parse.GetValue(greedy) || solver is null ? new GreedyPlanner() : solver;
            MigrationPlan result;
            try
            {
                result = planner.Solve(inventory, options, CancellationToken.None);
            }
            catch (PlanInfeasibleException e)
            {
                console.MarkupLine("[red]No plan:[/] what blocks:");
                foreach (var blocker in e.Blockers)
                {
                    console.MarkupLine("  - " + Markup.Escape(blocker));
                }

                return 1;
            }

            result = WithBaselineAndBound(result, inventory, options);
            var path = parse.GetValue(output)!;
            try
            {
                File.WriteAllText(path, PlanJson.Serialize(result));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                console.MarkupLine($"[red]error:[/] cannot write {Markup.Escape(path)}: {Markup.Escape(e.Message)}. Fix: choose another -o path");
                return 2;
            }

            ShowSummary(console, result);
            console.MarkupLine("Estimates use " + Markup.Escape(PlanReport.RatesLine(result)));
            var violations = PlanVerifier.Verify(result, inventory);
            ShowViolations(console, violations);
            console.MarkupLine($"Plan written to [bold]{Markup.Escape(path)}[/].");
            return violations.Count == 0 ? 0 : 1;
        });

        plan.Subcommands.Add(ShowCommand());
        plan.Subcommands.Add(ExportCommand(loadInventory));
        plan.Subcommands.Add(VerifyCommand(loadInventory));
        plan.Subcommands.Add(NetworkCommands.Build());
        return plan;
    }

    private static Command ShowCommand()
    {
        var show = new Command("show", "Print a plan as tables");
        var planArg = new Argument<string>("plan") { Description = "plan.json" };
        show.Arguments.Add(planArg);
        show.SetAction(parse =>
        {
            var console = Console(parse);
            var plan = LoadPlan(console, parse.GetRequiredValue(planArg));
            if (plan is null)
            {
                return 2;
            }

            ShowSummary(console, plan);
            console.MarkupLine("Estimates use " + Markup.Escape(PlanReport.RatesLine(plan)));
            var waves = new Table().Title("Waves");
            waves.AddColumns("Stage", "Converts", "New Ceph", "Moves to PVE", "Live migrations", "Bytes", "Downtime (sum)");

            foreach (var stage in plan.Stages.Skip(1))
            {
                var vmActions = stage.Actions.Where(a => a.Vm is not null).ToList();
                waves.AddRow(
                    stage.Index.ToString(CultureInfo.InvariantCulture),
                    Markup.Escape(string.Join(", ", stage.Actions.Where(a => a.Kind == ActionKind.ConvertHost).Select(a => a.Host))),
                    stage.Actions.Any(a => a.Kind == ActionKind.CreatePveCeph) ? "created" : stage.PveCephExists ? "yes" : "—",
                    vmActions.Count(a => a.Kind == ActionKind.MoveToPve).ToString(CultureInfo.InvariantCulture),
                    vmActions.Count(a => a.Kind is ActionKind.LiveMigrate or ActionKind.PveLiveMigrate).ToString(CultureInfo.InvariantCulture),
                    ByteSize.Format(vmActions.Sum(a => a.Bytes)),
                    PlanReport.Duration(vmActions.Sum(a => a.DowntimeSeconds)));
            }

            console.Write(waves);
            // One line per VM (a table's narrow cells would chop the reasons): wave, strategy, downtime and its parts, why.
            console.MarkupLine("[bold]VMs — strategy, why, estimated downtime[/]");
            foreach (var row in PlanReport.VmTable(plan).Rows)
            {
                console.MarkupLine($"  [bold]{Markup.Escape(row[0])}[/] wave {row[1]} · {Markup.Escape(row[2])} · downtime {Markup.Escape(row[3])} ({Markup.Escape(row[4])}) · why: {Markup.Escape(row[7])}");
            }

            return 0;
        });
        return show;
    }

    private static Command ExportCommand(Func<string, (FleetInventory? Inventory, IReadOnlyList<Diagnostic> Diagnostics)> loadInventory)
    {
        var export = new Command("export", "Write the plan review as Markdown, self-contained HTML or an SVG board");
        var planArg = new Argument<string>("plan") { Description = "plan.json" };
        var inventoryArg = new Argument<string>("inventory") { Description = "The inventory folder the plan was made from (VM sizes, host capacities)" };
        var format = new Option<string>("--format") { Description = "md, html or svg", DefaultValueFactory = _ => "md" };
        format.AcceptOnlyFromAmong("md", "html", "svg");
        var output = new Option<string?>("--output", "-o") { Description = "Output file (default: standard output)" };
        export.Arguments.Add(planArg);
        export.Arguments.Add(inventoryArg);
        export.Options.Add(format);
        export.Options.Add(output);
        export.SetAction(parse =>
        {
            var console = Console(parse);
            var plan = LoadPlan(console, parse.GetRequiredValue(planArg));
            var inventory = plan is null ? null : Load(console, loadInventory, parse.GetRequiredValue(inventoryArg));
            if (plan is null || inventory is null)
            {
                return 2;
            }

            var text = parse.GetValue(format) switch
            {
                "html" => PlanHtml.Render(plan, inventory),
                "svg" => PlanSvg.Render(plan, inventory),
                _ => PlanMarkdown.Render(plan, inventory),
            };
            if (parse.GetValue(output) is { } path)
            {
                try
                {
                    File.WriteAllText(path, text);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    console.MarkupLine($"[red]error:[/] cannot write {Markup.Escape(path)}: {Markup.Escape(e.Message)}. Fix: choose another -o path");
                    return 2;
                }
            }
            else
            {
                parse.InvocationConfiguration.Output.Write(text);
            }

            return 0;
        });
        return export;
    }

    private static Command VerifyCommand(Func<string, (FleetInventory? Inventory, IReadOnlyList<Diagnostic> Diagnostics)> loadInventory)
    {
        var verify = new Command("verify", "Re-check every rule of a plan against its inventory, stage by stage");
        var planArg = new Argument<string>("plan") { Description = "plan.json" };
        var inventoryArg = new Argument<string>("inventory") { Description = "The inventory folder" };
        verify.Arguments.Add(planArg);
        verify.Arguments.Add(inventoryArg);
        verify.SetAction(parse =>
        {
            var console = Console(parse);
            var plan = LoadPlan(console, parse.GetRequiredValue(planArg));
            var inventory = plan is null ? null : Load(console, loadInventory, parse.GetRequiredValue(inventoryArg));
            if (plan is null || inventory is null)
            {
                return 2;
            }

            var violations = PlanVerifier.Verify(plan, inventory);
            ShowViolations(console, violations);
            if (violations.Count == 0)
            {
                console.MarkupLine($"[green]OK[/]: {plan.Stages.Count - 1} stage(s), every rule holds at every stage.");
            }

            return violations.Count == 0 ? 0 : 1;
        });
        return verify;
    }

    /// <summary>The review shows the gain and the gap: fill in the baseline and the bound when the planner did not.</summary>
    private static MigrationPlan WithBaselineAndBound(MigrationPlan plan, FleetInventory inventory, PlannerOptions options)
    {
        var baseline = plan.Baseline;
        if (baseline is null)
        {
            try
            {
                baseline = GreedyPlanner.Plan(inventory, options).Metrics;
            }
            catch (PlanInfeasibleException)
            {
                // The solver found a plan the greedy cannot: no baseline to show.
            }
        }

        return plan with { Baseline = baseline, LowerBound = plan.LowerBound ?? LowerBounds.Compute(inventory, options) };
    }

    private static IAnsiConsole Console(ParseResult parse)
        => AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(parse.InvocationConfiguration.Output),
            Ansi = parse.InvocationConfiguration.Output == System.Console.Out ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = parse.InvocationConfiguration.Output == System.Console.Out ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });

    private static FleetInventory? Load(IAnsiConsole console, Func<string, (FleetInventory? Inventory, IReadOnlyList<Diagnostic> Diagnostics)> loadInventory, string folder)
    {
        var (inventory, diagnostics) = loadInventory(folder);
        var errors = diagnostics.Where(d => d.Severity == Severity.Error).ToList();
        if (errors.Count > 0 || inventory is null)
        {
            // Warnings are for `inventory validate`; a plan only stops on errors, and then shows them all.
            DiagnosticsView.Write(console, diagnostics);
            return null;
        }

        return inventory;
    }

    private static MigrationPlan? LoadPlan(IAnsiConsole console, string path)
    {
        try
        {
            return PlanJson.Load(path);
        }
        catch (PlanFileException e)
        {
            console.MarkupLine("[red]error:[/] " + Markup.Escape(e.Message));
            return null;
        }
    }

    private static void ShowSummary(IAnsiConsole console, MigrationPlan plan)
    {
        var table = new Table().Title($"Plan — solver {Markup.Escape(plan.Solver.StatusLine())}{(plan.Solver.Gap is { } g ? $", gap {PlanReport.Percent(g)}" : "")}");
        table.AddColumn("");
        table.AddColumn("This plan");
        table.AddColumn("Greedy baseline");
        table.AddColumn("Lower bound");
        void Row(string name, Func<PlanMetrics, string> f)
            => table.AddRow(name, f(plan.Metrics), plan.Baseline is null ? "—" : f(plan.Baseline), plan.LowerBound is null ? "—" : f(plan.LowerBound));
        Row("Stages", m => m.Stages.ToString(CultureInfo.InvariantCulture));
        Row("Reboots", m => m.Reboots.ToString(CultureInfo.InvariantCulture));
        Row("Downtime (sum)", m => PlanReport.Duration(m.DowntimeSeconds));
        Row("Bytes copied", m => ByteSize.Format(m.BytesCopied));
        Row("Live migrations", m => m.LiveMigrations.ToString(CultureInfo.InvariantCulture));
        Row("Moves", m => m.Moves.ToString(CultureInfo.InvariantCulture));
        console.Write(table);
        if (PlanReport.TimingLine(plan) is { } timing)
        {
            console.MarkupLine(Markup.Escape(timing));
        }
    }

    private static void ShowViolations(IAnsiConsole console, IReadOnlyList<PlanViolation> violations)
    {
        foreach (var v in violations)
        {
            console.MarkupLine("[red]violation:[/] " + Markup.Escape(v.ToString()));
        }
    }

    private static (Dictionary<string, string> Hosts, Dictionary<string, int> Stages) ParsePins(string[] hostPins, string[] stagePins, out string? error)
    {
        error = null;
        var hosts = new Dictionary<string, string>(StringComparer.Ordinal);
        var stages = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in hostPins)
        {
            var parts = p.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                error = $"--pin '{p}': expected vm=host, e.g. --pin vm-web-01=h3";
                return (hosts, stages);
            }

            hosts[parts[0]] = parts[1];
        }

        foreach (var p in stagePins)
        {
            var parts = p.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var stage) || stage < 1)
            {
                error = $"--pin-stage '{p}': expected vm=N with N ≥ 1, e.g. --pin-stage vm-web-01=3";
                return (hosts, stages);
            }

            stages[parts[0]] = stage;
        }

        return (hosts, stages);
    }
}
