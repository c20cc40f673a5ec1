using System.Diagnostics;
using global::Hangfire;
using Npgsql;
using Taquin.Cli.Commands;
using Taquin.Cli.Tests.Support;
using Taquin.Executors.Hangfire;
using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Executors.Tests.Support;
using Taquin.Tests.Shared;

namespace Taquin.Cli.Tests.Commands;

/// <summary>
/// `taquin run start --enqueue-only` hands a wave to a separate `taquin worker` process through Hangfire.PostgreSql:
/// the built `taquin` runs as real child processes on one PostgreSQL database (journal and job queue), the starting
/// process returns at once, and the worker runs every step and queues the next ones itself.
/// </summary>
public sealed class WorkerHangfireTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);
    private readonly string _folder = Directory.CreateTempSubdirectory("taquin-worker-").FullName;
    private readonly string _inventory = RepositoryPaths.Sample("fleet-tiny");
    private readonly string _plan;

    public WorkerHangfireTests() => _plan = Path.Combine(_folder, "plan.json");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [IntegrationFact]
    public async Task A_worker_process_runs_a_wave_enqueued_by_run_start_through_Hangfire_PostgreSql()
    {
        var database = $"taquin_worker_{Guid.NewGuid():N}";
        await using var admin = NpgsqlDataSource.Create(Testbed.RequirePostgres());
        await using (var create = admin.CreateCommand($"CREATE DATABASE \"{database}\""))
        {
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            await RunWaveThroughWorkerAsync(new NpgsqlConnectionStringBuilder(Testbed.RequirePostgres()) { Database = database, Pooling = false }.ConnectionString);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task Enqueue_only_without_PostgreSQL_is_refused_since_no_other_process_could_take_the_jobs()
    {
        TaquinProcess.ExpectSuccess(await RunToEndAsync(null, "plan", _inventory, "--greedy", "-o", _plan));

        var (exit, output) = await RunToEndAsync(null, "run", "start", _plan, "--wave", "1", "--enqueue-only", "--simulate", "--inventory", _inventory);

        Assert.True(exit == 2, output);
        Assert.Contains("--enqueue-only hands the steps to `taquin worker`", output, StringComparison.Ordinal);
        Assert.Contains("Hangfire.PostgreSql", output, StringComparison.Ordinal);
        Assert.Contains(RunOptions.PostgresVariable, output, StringComparison.Ordinal);
        Assert.False(File.Exists(JournalFactory.SqlitePathBesidePlan(_plan)), "no run may be created when nothing could execute it");
    }

    private async Task RunWaveThroughWorkerAsync(string postgres)
    {
        // The Hangfire schema is installed once, here, before two processes race to do it.
        var storage = HangfireSetup.CreateStorage(postgres);
        TaquinProcess.ExpectSuccess(await RunToEndAsync(postgres, "plan", _inventory, "--greedy", "-o", _plan));
        string[] environment = ["--simulate", "--inventory", _inventory, "--time-scale", "600"];

        // The worker holds the simulated twin; `run start --enqueue-only` does not need it and returns at once.
        var worker = Start(postgres, ["worker", "--plan", _plan, "--workers", "2", .. environment]);
        var journal = JournalFactory.Open(postgres, JournalFactory.SqlitePathBesidePlan(_plan), TimeProvider.System);
        try
        {
            var start = await RunToEndAsync(postgres, ["run", "start", _plan, "--wave", "1", "--enqueue-only", .. environment]);
            TaquinProcess.ExpectSuccess(start);
            Assert.Contains("queued as Hangfire jobs", start.Output, StringComparison.Ordinal);

            // Wave 1 converts hosts: the worker runs every pipeline to its manual gate.
            var atGates = await PollAsync(journal, worker, steps => steps.Any(s => s.State == StepState.WaitingForGate)
                && !steps.Any(s => s.State is StepState.Running or StepState.Compensating) && !RunOrchestrator.ReadySteps(steps).Any());
            Assert.All(atGates, s => Assert.True(s.State is StepState.WaitingForGate or StepState.Succeeded or StepState.Pending, $"{s.Subject} {s.StepType} is {s.State}: {s.LastReason}"));
            await StopAsync(worker);

            // The operator confirms each reinstall (on the twin, which needs the worker stopped: one process per simulated twin);
            // the steps this makes ready go to the queue, not to this process.
            foreach (var host in atGates.Where(s => s.State == StepState.WaitingForGate).Select(s => s.Subject["host:".Length..]))
            {
                TaquinProcess.ExpectSuccess(await RunToEndAsync(postgres, ["run", "gate", "confirm", _plan, host, "--enqueue-only", .. environment]));
            }

            worker = Start(postgres, ["worker", "--plan", _plan, "--workers", "2", .. environment]);
            var done = await PollAsync(journal, worker, steps => steps.All(s => s.State == StepState.Succeeded));
            await StopAsync(worker);

            Assert.All(done, s => Assert.Equal(StepState.Succeeded, s.State));
            foreach (var step in done)
            {
                // Every step was executed by a worker process, never by `run start` or `run gate` (actors cli-<pid>).
                var transitions = await journal.GetTransitionsAsync(step.StepId);
                Assert.Contains(transitions, t => t.Actor.StartsWith("worker-", StringComparison.Ordinal) && t.To is StepState.Succeeded or StepState.WaitingForGate);
                Assert.DoesNotContain(transitions, t => t.Actor.StartsWith("cli-", StringComparison.Ordinal) && t.To == StepState.Running);
            }

            var monitoring = storage.GetMonitoringApi();
            Assert.True(monitoring.SucceededListCount() >= done.Count, $"Hangfire recorded {monitoring.SucceededListCount()} succeeded jobs for {done.Count} steps");
            Assert.Equal(0, monitoring.FailedCount());
        }
        finally
        {
            if (!worker.Process.HasExited)
            {
                worker.Process.Kill();
            }

            worker.Process.Dispose();
            if (journal is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }

    /// <summary>Polls wave 1 in the journal (bounded) until the condition holds; fails with the worker's output if it ended first.</summary>
    private static async Task<IReadOnlyList<StepRecord>> PollAsync(IRunJournal journal, TaquinChild worker, Func<IReadOnlyList<StepRecord>, bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        IReadOnlyList<StepRecord> steps = [];
        while (deadline.Elapsed < Patience)
        {
            if ((await journal.ListRunsAsync()).SingleOrDefault() is { } run)
            {
                steps = await journal.GetStepsAsync(run.RunId, 1);
                if (steps.Count > 0 && condition(steps))
                {
                    return steps;
                }
            }

            if (worker.Process.HasExited)
            {
                Assert.Fail($"the worker ended (exit {worker.Process.ExitCode}): {await worker.OutputAsync()}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }

        Assert.Fail($"wave 1 did not get there within {Patience.TotalSeconds} s: "
            + string.Join(", ", steps.GroupBy(s => s.State).Select(g => $"{g.Count()} {g.Key}")) + $"; worker said: {(worker.Process.HasExited ? await worker.OutputAsync() : "(running)")}");
        return [];
    }

    /// <summary>Stops a worker as Ctrl+C or a service manager would (SIGTERM), and waits (bounded) for a clean exit.</summary>
    private static async Task StopAsync(TaquinChild worker)
    {
        using (var kill = Process.Start("kill", ["-TERM", worker.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await worker.Process.WaitForExitAsync(timeout.Token);
        var output = await worker.OutputAsync();
        Assert.True(worker.Process.ExitCode == 0, $"worker exit {worker.Process.ExitCode}: {output}");
        Assert.Contains("worker stopped", output, StringComparison.Ordinal);
    }

    private static TaquinChild Start(string? postgres, params string[] args) => TaquinProcess.Start(postgres, args);

    private static Task<(int Exit, string Output)> RunToEndAsync(string? postgres, params string[] args)
        => TaquinProcess.RunToEndAsync(Patience, postgres, args);
}
