using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Taquin.Cli.Commands;
using Taquin.Executors.Journal;
using Taquin.Executors.Tests;
using Taquin.Tests.Shared;

namespace Taquin.Cli.Tests.Commands;

/// <summary>`taquin run` against one in-memory environment shared by successive invocations (as a journal file would be).</summary>
public sealed class RunCommandsTests : IDisposable
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private readonly string _folder = Directory.CreateTempSubdirectory("taquin-run-").FullName;
    private readonly TestFleet.Harness _h = new();
    private readonly string _plan;
    private StringWriter _output = new();

    public RunCommandsTests()
    {
        _plan = Path.Combine(_folder, "plan.json");
        File.WriteAllText(_plan, JsonSerializer.Serialize(_h.Plan, Web));
    }

    public void Dispose()
    {
        _output.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private Task<(int Exit, string Text)> InvokeAsync(params string[] args) =>
        InvokeAsync(new RunInputs(SimulationInputs.ReadPlan, _ => new RunEnvironment(_h.Journal, _h.Adapters, _h.Inventory, _h.Clock, "simulated")), args);

    private async Task<(int Exit, string Text)> InvokeAsync(RunInputs inputs, params string[] args)
    {
        _output.Dispose();
        _output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(_output),
        });
        console.Profile.Width = 400;
        var exit = await new RootCommand { RunCommands.Build(inputs, console) }.Parse(args).InvokeAsync();
        return (exit, _output.ToString());
    }

    [Fact]
    public async Task A_wave_runs_to_its_gate_then_completes_once_the_operator_confirms_the_reinstall()
    {
        var (exit, text) = await InvokeAsync("run", "start", _plan, "--wave", "1", "--by", "alice");
        Assert.Equal(0, exit);
        Assert.Contains("WaitingForGate", text, StringComparison.Ordinal);

        _h.Twin.ReinstallAsPve("h1");
        (exit, _) = await InvokeAsync("run", "gate", "confirm", _plan, "h1", "--by", "alice");
        Assert.Equal(0, exit);

        (exit, text) = await InvokeAsync("run", "status", _plan);
        Assert.Equal(0, exit);
        Assert.Matches(@"host:h1\s*│\s*7/7", text);
        Assert.Matches(@"vm:web-01\s*│\s*9/9", text);
        var run = Assert.Single(await _h.Journal.ListRunsAsync());
        Assert.Contains(await _h.Journal.GetEventsAsync(run.RunId), e => e.Kind == "gate-confirmed" && e.Actor == "alice");
        Assert.Contains(await _h.Journal.GetEventsAsync(run.RunId), e => e.Kind == "wave-started" && e.Actor == "alice");
    }

    [Fact]
    public async Task A_wave_cannot_start_before_the_previous_one_completed()
    {
        await InvokeAsync("run", "start", _plan, "--wave", "1");

        var (exit, text) = await InvokeAsync("run", "start", _plan, "--wave", "2");

        Assert.Equal(2, exit);
        Assert.Contains("wave 1 is not completed", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Denying_a_gate_rolls_the_host_back_and_is_audited()
    {
        await InvokeAsync("run", "start", _plan, "--wave", "1");

        var (exit, _) = await InvokeAsync("run", "gate", "deny", _plan, "h1", "--by", "bob", "--reason", "RAID controller failed");

        Assert.Equal(0, exit);
        Assert.All(_h.Twin.Osds.Where(o => o.Host == "h1"), o => Assert.True(o.In));
        var run = Assert.Single(await _h.Journal.ListRunsAsync());
        Assert.Contains(await _h.Journal.GetEventsAsync(run.RunId), e => e.Kind == "gate-denied" && e.Actor == "bob");
        Assert.Equal(StepState.Failed, (await _h.Journal.GetStepsAsync(run.RunId, 1)).Single(s => s.StepType == "gate-reinstall").State);
    }

    [Fact]
    public async Task Status_before_any_run_tells_how_to_start_one()
    {
        var (exit, text) = await InvokeAsync("run", "status", _plan);

        Assert.Equal(2, exit);
        Assert.Contains("taquin run start", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_simulate_or_access_the_run_asks_for_one_of_them_and_touches_nothing()
    {
        var (exit, text) = await InvokeAsync(RunInputs.Default, "run", "start", _plan, "--wave", "1", "--inventory", RepositoryPaths.Sample("fleet-tiny"));

        Assert.Equal(2, exit);
        Assert.Contains("--access FILE", text, StringComparison.Ordinal);
        Assert.Contains("--simulate", text, StringComparison.Ordinal);
        Assert.Equal(["plan.json"], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_durable_run_refuses_an_inventory_the_plan_was_not_made_from()
    {
        var (exit, text) = await InvokeAsync(RunInputs.Default, "run", "start", _plan, "--wave", "1", "--simulate", "--inventory", RepositoryPaths.Sample("fleet-tiny"));

        Assert.Equal(2, exit);
        Assert.Contains(_h.Plan.InventoryDigest, text, StringComparison.Ordinal);
        Assert.Contains("re-run `taquin plan`", text, StringComparison.Ordinal);
        Assert.Equal(["plan.json"], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }
}
