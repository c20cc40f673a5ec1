using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;
using Taquin.Cli.Commands;
using Taquin.Cli.Tests.Support;
using Taquin.Executors.Journal;
using Taquin.Executors.Simulation;
using Taquin.Executors.Tests.Support;
using Taquin.Tests.Shared;

namespace Taquin.Cli.Tests.Commands;

/// <summary>
/// The crash-resume: the built `taquin` runs a wave of the tiny sample fleet as a real child process, is
/// killed with SIGKILL while steps are genuinely in progress (its simulated clock slowed down so they take real
/// time), and a second process on the same journal and persisted twin completes the wave. The journal and the
/// twin must then show a consistent run: nothing verified done was redone, nothing half-done was forgotten.
/// </summary>
public sealed class RunCrashResumeTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly string _folder = Directory.CreateTempSubdirectory("taquin-crash-").FullName;
    private readonly string _inventory = RepositoryPaths.Sample("fleet-tiny");
    private readonly string _plan;

    public RunCrashResumeTests() => _plan = Path.Combine(_folder, "plan.json");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public Task A_worker_killed_mid_step_is_resumed_by_a_second_process_on_the_SQLite_journal() => CrashAndResumeAsync(postgres: null);

    [IntegrationFact]
    public async Task A_worker_killed_mid_step_is_resumed_by_a_second_process_on_the_PostgreSQL_journal()
    {
        // A database of its own: the journal's schema is fixed, and a run of the same plan elsewhere must not be found.
        var database = $"taquin_crash_{Guid.NewGuid():N}";
        await using var admin = NpgsqlDataSource.Create(Testbed.RequirePostgres());
        await using (var create = admin.CreateCommand($"CREATE DATABASE \"{database}\""))
        {
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            await CrashAndResumeAsync(new NpgsqlConnectionStringBuilder(Testbed.RequirePostgres()) { Database = database, Pooling = false }.ConnectionString);
        }
        finally
        {
            await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }

    private async Task CrashAndResumeAsync(string? postgres)
    {
        TaquinProcess.ExpectSuccess(await RunToEndAsync(postgres, "plan", _inventory, "--greedy", "-o", _plan));
        string[] fast = ["--simulate", "--inventory", _inventory, "--time-scale", "600"];

        // Wave 1 (hosts h1 and h3 converted) runs to its gates; the operator confirms each reinstall.
        TaquinProcess.ExpectSuccess(await RunToEndAsync(postgres, ["run", "start", _plan, "--wave", "1", .. fast]));
        await ConfirmWaitingGatesAsync(postgres, fast);

        // Wave 2 moves VMs to PVE. This process runs slowly (5 simulated seconds per real second) and is killed once
        // PVE is creating a VM (the create task was sent, the step waits on it).
        var journal = OpenJournal(postgres);
        var slow = Start(postgres, ["run", "start", _plan, "--wave", "2", "--simulate", "--inventory", _inventory, "--time-scale", "5"]);
        IReadOnlyList<StepRecord> inFlight;
        try
        {
            inFlight = await PollAsync(journal, slow, steps =>
                steps.Any(s => s is { StepType: "create-target-vm", State: StepState.Running } && s.Checkpoint.ContainsKey("createTask")));
            slow.Process.Kill();
            await slow.Process.WaitForExitAsync();
        }
        finally
        {
            slow.Process.Dispose();
        }

        var killedWorker = $"cli-{slow.Pid}";
        var runId = Assert.Single(await journal.ListRunsAsync()).RunId;
        var running = (await journal.GetStepsAsync(runId, 2)).Where(s => s.State == StepState.Running).ToList();
        Assert.Contains(running, s => s.StepType == "create-target-vm" && s.Checkpoint.ContainsKey("createTask"));

        // A second process on the same journal and twin finishes the wave (to h4's gate, then past it).
        TaquinProcess.ExpectSuccess(await RunToEndAsync(postgres, ["run", "start", _plan, "--wave", "2", .. fast]));
        await ConfirmWaitingGatesAsync(postgres, fast);

        var steps = await journal.GetStepsAsync(runId);
        var waves12 = steps.Where(s => s.Wave <= 2).ToList();
        Assert.All(waves12, s => Assert.True(s.State == StepState.Succeeded, $"{s.Subject} {s.StepType} is {s.State}: {s.LastReason}"));
        foreach (var step in waves12)
        {
            var transitions = await journal.GetTransitionsAsync(step.StepId);
            Assert.NotEmpty(transitions);
            Assert.All(transitions, t => Assert.False(string.IsNullOrWhiteSpace(t.Reason) || string.IsNullOrWhiteSpace(t.Actor), $"{step.StepType} {t.From}->{t.To} has no reason or actor"));
        }

        // The steps the dead worker left Running were finished by the second process, never by a ghost of the first.
        foreach (var killed in running)
        {
            var after = (await journal.GetStepAsync(killed.StepId))!;
            var transitions = await journal.GetTransitionsAsync(killed.StepId);
            Assert.NotEqual(killedWorker, transitions[^1].Actor);
            Assert.InRange(after.Attempts, 1, 2);
            if (killed.StepType == "create-target-vm" && killed.Checkpoint.ContainsKey("createTask"))
            {
                // Verify found the VM the dead worker had created: the step was not executed again.
                Assert.Contains("postcondition verified, not redone", transitions[^1].Reason, StringComparison.Ordinal);
                Assert.Equal(killed.Attempts, after.Attempts);
            }
        }

        Assert.Contains(inFlight, s => s.StepType == "create-target-vm");
        await DisposeAsync(journal);

        // The twin as the second process left it: one target VM per moved VM, created once each; every VM runs exactly once.
        var moved = waves12.Where(s => s.StepType == "create-target-vm").Select(s => s.Subject["vm:".Length..]).ToList();
        var inventory = SimulationInputs.ReadInventory(_inventory);
        var (plan, _) = SimulationInputs.ReadPlan(_plan);
        using var store = TwinStore.Open(TwinStore.PathBesidePlan(_plan), inventory, plan, 600);
        var twin = store.Twin;
        Assert.All(moved, vm => Assert.Single(twin.PveVms.Values, v => v.Name == vm));
        Assert.Equal(moved.Count, twin.CallCount("pve.create-vm"));
        Assert.All(inventory.Vms.Where(v => v.Running), vm => Assert.Equal(1, twin.CountRunning(vm.Name)));
        Assert.Empty(twin.CheckInvariants());
    }

    private async Task ConfirmWaitingGatesAsync(string? postgres, string[] environment)
    {
        var journal = OpenJournal(postgres);
        var runId = Assert.Single(await journal.ListRunsAsync()).RunId;
        var gates = (await journal.GetStepsAsync(runId)).Where(s => s.State == StepState.WaitingForGate).Select(s => s.Subject["host:".Length..]).ToList();
        await DisposeAsync(journal);
        Assert.NotEmpty(gates);
        foreach (var host in gates)
        {
            TaquinProcess.ExpectSuccess(await RunToEndAsync(postgres, ["run", "gate", "confirm", _plan, host, .. environment]));
        }
    }

    private IRunJournal OpenJournal(string? postgres) => JournalFactory.Open(postgres, JournalFactory.SqlitePathBesidePlan(_plan), TimeProvider.System);

    private static async Task DisposeAsync(IRunJournal journal)
    {
        if (journal is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }

    /// <summary>Polls the journal (bounded) until the condition holds; fails with the child's output if it ended first.</summary>
    private static async Task<IReadOnlyList<StepRecord>> PollAsync(IRunJournal journal, TaquinChild child, Func<IReadOnlyList<StepRecord>, bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < Patience)
        {
            var run = (await journal.ListRunsAsync()).SingleOrDefault();
            if (run is not null)
            {
                var steps = await journal.GetStepsAsync(run.RunId, 2);
                if (condition(steps))
                {
                    return steps;
                }
            }

            if (child.Process.HasExited)
            {
                Assert.Fail($"the first process ended (exit {child.Process.ExitCode}) before a step was in progress: {await child.OutputAsync()}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }

        Assert.Fail($"no create-target-vm step was in progress within {Patience.TotalSeconds} s");
        return [];
    }

    private static TaquinChild Start(string? postgres, params string[] args) => TaquinProcess.Start(postgres, args);

    private static Task<(int Exit, string Output)> RunToEndAsync(string? postgres, params string[] args)
        => TaquinProcess.RunToEndAsync(Patience, postgres, args);
}
