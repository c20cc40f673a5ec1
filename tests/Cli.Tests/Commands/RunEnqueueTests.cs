using System.CommandLine;
using System.Text.Json;
using global::Hangfire.Common;
using global::Hangfire.InMemory;
using global::Hangfire.Storage;
using Spectre.Console;
using Taquin.Cli.Commands;
using Taquin.Executors.Hangfire;
using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Executors.Tests;

namespace Taquin.Cli.Tests.Commands;

/// <summary>`taquin run start --enqueue-only`: the wave's ready steps become Hangfire jobs that carry ids only, and nothing runs here.</summary>
public sealed class RunEnqueueTests : IDisposable
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private readonly string _folder = Directory.CreateTempSubdirectory("taquin-enqueue-").FullName;
    private readonly TestFleet.Harness _h = new();
    private readonly InMemoryStorage _storage = new();
    private readonly string _plan;

    public RunEnqueueTests()
    {
        _plan = Path.Combine(_folder, "plan.json");
        File.WriteAllText(_plan, JsonSerializer.Serialize(_h.Plan, Web));
    }

    public void Dispose()
    {
        _storage.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Enqueue_only_queues_the_ready_steps_as_jobs_carrying_the_run_id_and_the_step_id_only()
    {
        using var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(output) });
        var inputs = new RunInputs(SimulationInputs.ReadPlan, _ => new RunEnvironment(_h.Journal, _h.Adapters, _h.Inventory, _h.Clock, "simulated"),
            OpenJobStorage: connection => connection == "Host=queue.example" ? _storage : throw new InvalidOperationException($"unexpected connection {connection}"));

        var exit = await new RootCommand { RunCommands.Build(inputs, console) }
            .Parse(["run", "start", _plan, "--wave", "1", "--enqueue-only", "--postgres", "Host=queue.example"]).InvokeAsync();

        Assert.True(exit == 0, output.ToString());
        var run = Assert.Single(await _h.Journal.ListRunsAsync());
        var steps = await _h.Journal.GetStepsAsync(run.RunId);
        // Nothing ran in this process: the workers will.
        Assert.All(steps, s => Assert.Equal(StepState.Pending, s.State));
        var ready = RunOrchestrator.ReadySteps([.. steps.Where(s => s.Wave == 1)]).Select(s => s.StepId).Order().ToList();
        Assert.NotEmpty(ready);

        var jobs = _storage.GetMonitoringApi().EnqueuedJobs("default", 0, 1000).Select(j => j.Value.Job).ToList();
        Assert.Equal(ready, jobs.Select(j => (long)j.Args[1]).Order().ToList());
        Assert.All(jobs, job =>
        {
            Assert.Equal(typeof(StepJob), job.Type);
            Assert.Equal(nameof(StepJob.RunAsync), job.Method.Name);
            Assert.Equal(run.RunId, job.Args[0]);
            // The serialized arguments are the run id, the step id and Hangfire's placeholder for the cancellation token: no step data.
            var serialized = JsonSerializer.Deserialize<JsonElement[]>(InvocationData.SerializeJob(job).Arguments)!;
            Assert.Equal(3, serialized.Length);
            Assert.All(serialized, a => Assert.NotEqual(JsonValueKind.Object, a.ValueKind));
            Assert.Contains(run.RunId, serialized[0].GetString(), StringComparison.Ordinal);
        });
        Assert.Contains("taquin worker", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enqueue_only_refuses_a_wave_the_plan_does_not_have()
    {
        using var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(output) });
        var inputs = new RunInputs(SimulationInputs.ReadPlan, _ => new RunEnvironment(_h.Journal, _h.Adapters, _h.Inventory, _h.Clock, "simulated"), OpenJobStorage: _ => _storage);

        var exit = await new RootCommand { RunCommands.Build(inputs, console) }
            .Parse(["run", "start", _plan, "--wave", "99", "--enqueue-only", "--postgres", "Host=queue.example"]).InvokeAsync();

        Assert.Equal(2, exit);
        Assert.Contains("has no wave 99", output.ToString(), StringComparison.Ordinal);
        Assert.Empty(_storage.GetMonitoringApi().EnqueuedJobs("default", 0, 10));
    }
}
