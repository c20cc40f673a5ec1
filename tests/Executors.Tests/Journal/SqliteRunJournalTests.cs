using Microsoft.Data.Sqlite;
using Taquin.Executors.Journal;

namespace Taquin.Executors.Tests.Journal;

/// <summary>The contract on the embedded store: a fresh SQLite file per test.</summary>
public sealed class SqliteRunJournalTests : SqlRunJournalContractTests
{
    private readonly string _directory = Directory.CreateTempSubdirectory("taquin-journal-").FullName;

    private string DatabasePath => Path.Combine(_directory, "plan.journal.db");

    protected override IRunJournal OpenJournalOnSameStore() => new SqliteRunJournal(DatabasePath, Clock);

    protected override Task DestroyStoreAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    protected override Task RewriteAuditEventsBehindTheJournalsBackAsync() => RawSql("UPDATE audit_events SET actor = 'mallory'");

    protected override Task DeleteTransitionsBehindTheJournalsBackAsync() => RawSql("DELETE FROM step_transitions");

    [Fact]
    public async Task The_file_is_in_WAL_mode_so_readers_and_the_writer_of_several_processes_coexist()
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";

        Assert.Equal("wal", await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Initializing_an_existing_file_again_keeps_its_data()
    {
        await Journal.CreateRunAsync(NewRun("run-1"));

        var again = OpenJournalOnSameStore();
        await again.InitializeAsync();

        Assert.NotNull(await again.GetRunAsync("run-1"));
        ((IDisposable)again).Dispose();
    }

    [Fact]
    public async Task A_writer_holding_the_file_makes_the_other_wait_instead_of_failing()
    {
        var step = await OnePendingStep();
        await using var blocker = new SqliteConnection($"Data Source={DatabasePath}");
        await blocker.OpenAsync();
        await using (var begin = blocker.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync();
        }

        var waiting = Task.Run(() => Journal.TryTransitionAsync(step.StepId, StepState.Pending, StepState.Running, "go", "worker-1"));
        await Task.Delay(200);
        Assert.False(waiting.IsCompleted);
        await using (var commit = blocker.CreateCommand())
        {
            commit.CommandText = "COMMIT";
            await commit.ExecuteNonQueryAsync();
        }

        Assert.True(await waiting);
    }

    private async Task RawSql(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
