using Microsoft.Extensions.Time.Testing;
using Taquin.Executors.Journal;

namespace Taquin.Executors.Tests.Journal;

/// <summary>The schema name is the one piece of SQL text not sent as a parameter, so it must be a plain identifier.</summary>
public sealed class PostgresRunJournalSchemaTests
{
    [Theory]
    [InlineData("taquin; DROP TABLE x")]
    [InlineData("Taquin")]
    [InlineData("\"quoted\"")]
    [InlineData("")]
    public void A_schema_name_that_is_not_a_plain_identifier_is_refused(string schema)
    {
        var error = Assert.Throws<ArgumentException>(() => new PostgresRunJournal("Host=127.0.0.1", new FakeTimeProvider(), schema));

        Assert.Contains($"'{schema}'", error.Message);
    }

    [Theory]
    [InlineData("taquin")]
    [InlineData("journal_test_0a1b")]
    public void A_plain_identifier_is_accepted(string schema)
    {
        using var journal = new PostgresRunJournal("Host=127.0.0.1", new FakeTimeProvider(), schema);

        Assert.Equal(schema, journal.Schema);
    }
}
