using Microsoft.Extensions.Time.Testing;
using Taquin.Executors.Journal;

namespace Taquin.Executors.Tests.Journal;

public sealed class JournalFactoryTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void Without_a_PostgreSQL_connection_string_the_journal_is_the_SQLite_file(string? connectionString)
    {
        using var journal = Assert.IsType<SqliteRunJournal>(JournalFactory.Open(connectionString, "runs/plan.journal.db", new FakeTimeProvider()));

        Assert.Equal(Path.GetFullPath("runs/plan.journal.db"), journal.DatabasePath);
    }

    [Fact]
    public void With_a_PostgreSQL_connection_string_the_journal_is_the_shared_taquin_schema()
    {
        using var journal = Assert.IsType<PostgresRunJournal>(
            JournalFactory.Open("Host=127.0.0.1;Port=5432;Username=taquin;Database=taquin", "plan.journal.db", new FakeTimeProvider()));

        Assert.Equal("taquin", journal.Schema);
    }

    [Theory]
    [InlineData("plan.json", "plan.journal.db")]
    [InlineData("/srv/fleet/plan.json", "/srv/fleet/plan.journal.db")]
    [InlineData("wave-plan", "wave-plan.journal.db")]
    public void The_embedded_journal_lives_beside_the_plan(string planPath, string journalPath)
    {
        Assert.Equal(journalPath, JournalFactory.SqlitePathBesidePlan(planPath));
    }
}
