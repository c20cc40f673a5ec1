using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Taquin.Cli.Commands;
using Taquin.Executors.Tests;

namespace Taquin.Cli.Tests.Commands;

public sealed class SimulateCommandsTests : IDisposable
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private readonly string _folder = Directory.CreateTempSubdirectory("taquin-simulate-").FullName;
    private readonly StringWriter _output = new();

    public void Dispose()
    {
        _output.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private async Task<int> InvokeAsync(params string[] args)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(_output),
        });
        console.Profile.Width = 400;
        var inputs = new SimulationInputs(SimulationInputs.ReadPlan, _ => TestFleet.Inventory());
        var root = new RootCommand { SimulateCommands.Build(inputs, console) };
        return await root.Parse(args).InvokeAsync();
    }

    private string WritePlan()
    {
        var path = Path.Combine(_folder, "plan.json");
        File.WriteAllText(path, JsonSerializer.Serialize(TestFleet.Plan(), Web));
        return path;
    }

    [Fact]
    public async Task Simulating_a_plan_prints_the_summary_and_writes_the_timeline_and_the_picture()
    {
        var timeline = Path.Combine(_folder, "timeline.json");
        var gantt = Path.Combine(_folder, "gantt.svg");

        var exit = await InvokeAsync("simulate", WritePlan(), "inventory", "--timeline", timeline, "--gantt", gantt);

        var text = _output.ToString();
        Assert.True(exit == 0, text);
        Assert.Matches(@"VMs moved to PVE\s*│?\s*5", text);
        Assert.Contains("3 of 3", text, StringComparison.Ordinal);
        Assert.Contains("steps/s", text, StringComparison.Ordinal);
        Assert.Contains("every VM runs exactly once", text, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(timeline));
        Assert.Equal(5, json.RootElement.GetProperty("vms").GetArrayLength());
        Assert.StartsWith("<svg", (await File.ReadAllTextAsync(gantt)).TrimStart(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Injected_faults_are_reported_with_the_rollbacks_they_caused()
    {
        var exit = await InvokeAsync("simulate", WritePlan(), "inventory",
            "--inject-fault", "create-target-vm@db-01:transient", "--inject-fault", "final-sync@web-01:permanent");

        var text = _output.ToString();
        Assert.Equal(1, exit);
        Assert.Contains("fault fired: create-target-vm@db-01:transient", text, StringComparison.Ordinal);
        Assert.Matches(@"rolled back VMs\s*│?\s*web-01", text);
        Assert.Contains("stopped: wave 1 did not complete", text, StringComparison.Ordinal);
        Assert.DoesNotContain("invariant broken", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_fault_is_a_user_error_with_the_expected_form()
    {
        var exit = await InvokeAsync("simulate", WritePlan(), "inventory", "--inject-fault", "copy-disks:web-01");

        Assert.Equal(2, exit);
        Assert.Contains("<step>@<vm or host>", _output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fault_on_an_unknown_VM_is_a_user_error_naming_it()
    {
        var exit = await InvokeAsync("simulate", WritePlan(), "inventory", "--inject-fault", "copy-disks@nope-99");

        Assert.Equal(2, exit);
        Assert.Contains("'nope-99' is neither a VM nor a host", _output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_plan_file_is_a_user_error_naming_the_file()
    {
        var missing = Path.Combine(_folder, "nope.json");

        var exit = await InvokeAsync("simulate", missing, "inventory");

        Assert.Equal(2, exit);
        Assert.Contains("nope.json", _output.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", _output.ToString(), StringComparison.Ordinal);
    }
}
