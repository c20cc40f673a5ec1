using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Taquin.Executors.Simulation;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Cli.Commands;

/// <summary>A user's input could not be read: the message names the file and what to do (exit code 2).</summary>
internal sealed class InputException(string message) : Exception(message);

/// <summary>How `simulate` (and `run`) read their inputs; tests pass their own.</summary>
internal sealed record SimulationInputs(Func<string, (MigrationPlan Plan, string Json)> LoadPlan, Func<string, FleetInventory> LoadInventory)
{
    public static SimulationInputs Default { get; } = new(ReadPlan, ReadInventory);

    public static (MigrationPlan Plan, string Json) ReadPlan(string path)
    {
        if (!File.Exists(path))
        {
            throw new InputException($"plan file '{path}' does not exist: give the plan.json written by `taquin plan`");
        }

        var json = File.ReadAllText(path);
        try
        {
            return (PlanJson.Deserialize(json, path), json);
        }
        catch (PlanFileException ex)
        {
            throw new InputException(ex.Message);
        }
    }

    /// <summary>Loads and validates an inventory folder; every error becomes part of one message.</summary>
    public static FleetInventory ReadInventory(string folder)
    {
        var (inventory, diagnostics) = PlanCommands.LoadAndValidate(folder);
        var errors = diagnostics.Where(d => d.Severity == Planner.Diagnostics.Severity.Error).ToList();
        if (inventory is null || errors.Count > 0)
        {
            throw new InputException($"the inventory '{folder}' is not valid:{Environment.NewLine}  "
                + string.Join(Environment.NewLine + "  ", errors.Select(e => e.ToString()))
                + $"{Environment.NewLine}`taquin inventory validate {folder}` lists every problem.");
        }

        return inventory;
    }
}

internal static class SimulateCommands
{
    internal static Command Build() => Build(SimulationInputs.Default, null);

    internal static Command Build(SimulationInputs inputs, IAnsiConsole? console)
    {
        var planArgument = new Argument<string>("plan") { Description = "plan.json to simulate" };
        var inventoryArgument = new Argument<string>("inventory") { Description = "Inventory folder the plan was made from" };
        var faultOption = new Option<string[]>("--inject-fault")
        {
            Description = "Make a step fail: \"<step>@<vm or host>[:transient|:permanent]\" (repeatable; default permanent)",
            DefaultValueFactory = _ => [],
        };
        var timelineOption = new Option<string?>("--timeline") { Description = "Write the timeline (per VM downtime, per wave duration) as JSON" };
        var ganttOption = new Option<string?>("--gantt") { Description = "Write a Gantt-like SVG picture of the run" };

        var command = new Command("simulate", "Dry run: the whole plan through the step engine on a simulated fleet, in accelerated time");
        command.Arguments.Add(planArgument);
        command.Arguments.Add(inventoryArgument);
        command.Options.Add(faultOption);
        command.Options.Add(timelineOption);
        command.Options.Add(ganttOption);
        command.SetAction(async (parseResult, ct) =>
        {
            var ui = console ?? AnsiConsole.Console;
            try
            {
                var faults = new List<FaultSpec>();
                foreach (var text in parseResult.GetValue(faultOption) ?? [])
                {
                    faults.Add(FaultSpec.TryParse(text, out var fault, out var error) ? fault : throw new InputException("--inject-fault " + error));
                }

                var (plan, json) = inputs.LoadPlan(parseResult.GetValue(planArgument)!);
                var inventory = inputs.LoadInventory(parseResult.GetValue(inventoryArgument)!);
                var unknown = faults.Where(f => inventory.Vms.All(v => v.Name != f.Target) && inventory.Fleet.Hosts.All(h => h.Name != f.Target)).ToList();
                if (unknown.Count > 0)
                {
                    throw new InputException($"--inject-fault {unknown[0]}: '{unknown[0].Target}' is neither a VM nor a host of the inventory");
                }

                var result = await RunWithProgressAsync(ui, plan, json, inventory, faults, ct);
                if (parseResult.GetValue(timelineOption) is { } timelinePath)
                {
                    await File.WriteAllTextAsync(timelinePath, result.Timeline.ToJson(), ct);
                }

                if (parseResult.GetValue(ganttOption) is { } ganttPath)
                {
                    await File.WriteAllTextAsync(ganttPath, GanttSvg.Render(result.Timeline), ct);
                }

                PrintSummary(ui, result);
                return result.Succeeded ? 0 : 1;
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
        });
        return command;
    }

    private static async Task<SimulationResult> RunWithProgressAsync(IAnsiConsole ui, MigrationPlan plan, string json, FleetInventory inventory,
        IReadOnlyList<FaultSpec> faults, CancellationToken ct)
    {
        SimulationResult? result = null;
        await ui.Progress().AutoClear(false).StartAsync(async context =>
        {
            var bars = new Dictionary<int, ProgressTask>();
            var progress = new SynchronousProgress<SimulationProgress>(p =>
            {
                if (!bars.TryGetValue(p.Wave, out var bar))
                {
                    bar = bars[p.Wave] = context.AddTask($"wave {p.Wave}", maxValue: Math.Max(1, p.StepsTotal));
                }

                bar.MaxValue = Math.Max(1, p.StepsTotal);
                bar.Value = p.StepsSettled;
            });
            result = await Simulator.RunAsync(plan, json, inventory, new SimulationOptions { Faults = faults }, progress, ct);
        });
        return result!;
    }

    private static void PrintSummary(IAnsiConsole ui, SimulationResult result)
    {
        var vms = result.Timeline.Vms;
        var worst = vms.OrderByDescending(v => v.DowntimeSeconds).FirstOrDefault();
        var table = new Table().AddColumn("").AddColumn("");
        table.HideHeaders();
        table.AddRow("waves", $"{result.WavesRun} of {result.WavesPlanned}");
        table.AddRow("VMs moved to PVE", result.VmsMoved.ToString(CultureInfo.InvariantCulture));
        table.AddRow("downtime total", Duration(vms.Sum(v => v.DowntimeSeconds)));
        table.AddRow("downtime max", worst is null ? "-" : $"{Duration(worst.DowntimeSeconds)} ({worst.Vm})");
        table.AddRow("rolled back VMs", result.RolledBackVms.Count == 0 ? "none" : string.Join(", ", result.RolledBackVms));
        table.AddRow("simulated duration", Duration(result.Timeline.TotalSeconds));
        foreach (var wave in result.Timeline.Waves)
        {
            table.AddRow($"  wave {wave.Wave}", $"{Duration(wave.DurationSeconds)}, {wave.Steps} steps{(wave.Completed ? "" : ", NOT completed")}");
        }

        var milestones = result.Milestones;
        table.AddRow("hosts converted", milestones.Conversions.Count == 0 ? "none"
            : string.Join(", ", milestones.Conversions.Select(c => $"{c.Host} (wave {c.Wave})")));
        table.AddRow("new Ceph", milestones.Ceph is { } ceph
            ? $"created in wave {ceph.Wave} on a {ceph.ClusterNodes.Count}-node PVE cluster ({string.Join(", ", ceph.ClusterNodes)})"
            : "not created");
        var vlans = milestones.Vlans.Select(v => v.Vlan).ToList();
        table.AddRow("VLANs", vlans.Count == 0 ? "no VM on PVE"
            : $"{vlans.Count} VMs on PVE, {vlans.Distinct().Count()} distinct VLANs ({vlans.Min()}..{vlans.Max()})");
        table.AddRow("steps run", $"{result.StepRuns} ({result.StepsPerSecond.ToString("0", CultureInfo.InvariantCulture)} steps/s, {result.WallSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s wall)");
        table.AddRow("invariant checks", $"{result.InvariantChecks}, {result.InvariantViolations.Count} violation(s)");
        ui.Write(table);
        foreach (var fault in result.FaultsFired)
        {
            ui.MarkupLineInterpolated($"[yellow]fault fired:[/] {fault}");
        }

        foreach (var failed in result.FailedSteps)
        {
            ui.MarkupLineInterpolated($"[yellow]failed:[/] {failed}");
        }

        foreach (var warning in result.ReserveWarnings)
        {
            ui.MarkupLineInterpolated($"[yellow]reserve:[/] {warning}");
        }

        foreach (var problem in milestones.Problems)
        {
            ui.MarkupLineInterpolated($"[red]plan not followed:[/] {problem}");
        }

        foreach (var problem in result.InvariantViolations.Concat(result.NotRunningExactlyOnce))
        {
            ui.MarkupLineInterpolated($"[red]invariant broken:[/] {problem}");
        }

        if (result.StoppedReason is not null)
        {
            ui.MarkupLineInterpolated($"[red]stopped:[/] {result.StoppedReason}");
        }
        else if (result.Succeeded)
        {
            ui.MarkupLine("[green]every VM runs exactly once; all invariants held after every step[/]");
        }
    }

    private static string Duration(double seconds) => TimeSpan.FromSeconds(Math.Round(seconds)).ToString(@"d\.hh\:mm\:ss", CultureInfo.InvariantCulture);

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
