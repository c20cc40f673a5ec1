using Npgsql;
using Taquin.Executors.Journal;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Journal;

/// <summary>
/// The contract on a real PostgreSQL (TAQUIN_PG_CONNECTION, from scripts/testbed): a fresh schema per test, dropped
/// afterwards. Every journal instance gets its own data source, i.e. its own connections, as another worker would.
/// </summary>
[RequiresTestbed]
public sealed class PostgresRunJournalTests : SqlRunJournalContractTests
{
    private readonly string _schema = $"journal_test_{Guid.NewGuid():N}";
    private NpgsqlDataSource? _admin;

    protected override IRunJournal OpenJournalOnSameStore() =>
        new PostgresRunJournal(Testbed.RequirePostgres(), Clock, _schema);

    protected override Task CreateStoreAsync()
    {
        _admin = NpgsqlDataSource.Create(Testbed.RequirePostgres());
        return Task.CompletedTask;
    }

    protected override async Task DestroyStoreAsync()
    {
        if (_admin is null)
        {
            return;
        }

        await using (var drop = _admin.CreateCommand($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await _admin.DisposeAsync();
    }

    protected override Task RewriteAuditEventsBehindTheJournalsBackAsync() =>
        RawSql($"UPDATE \"{_schema}\".audit_events SET actor = 'mallory'");

    protected override Task DeleteTransitionsBehindTheJournalsBackAsync() =>
        RawSql($"DELETE FROM \"{_schema}\".step_transitions");

    [IntegrationFact]
    public async Task Workers_initializing_the_same_fresh_schema_at_once_all_succeed()
    {
        var schema = $"journal_test_{Guid.NewGuid():N}";
        var journals = Enumerable.Range(0, 4).Select(_ => new PostgresRunJournal(Testbed.RequirePostgres(), Clock, schema)).ToList();
        try
        {
            await Task.WhenAll(journals.Select(j => Task.Run(() => j.InitializeAsync())));

            await journals[0].CreateRunAsync(NewRun("run-1"));
            Assert.NotNull(await journals[3].GetRunAsync("run-1"));
        }
        finally
        {
            foreach (var journal in journals)
            {
                await journal.DisposeAsync();
            }

            await RawSql($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        }
    }

    private async Task RawSql(string sql)
    {
        await using var command = _admin!.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
