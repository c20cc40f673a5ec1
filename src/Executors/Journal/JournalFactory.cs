namespace Taquin.Executors.Journal;

/// <summary>Chooses the journal store: PostgreSQL when a connection string is given, else the SQLite file.</summary>
public static class JournalFactory
{
    /// <summary>
    /// Opens (does not initialise) a journal. A blank <paramref name="postgresConnectionString"/> means the embedded
    /// SQLite store at <paramref name="sqlitePath"/>. Call <see cref="IRunJournal.InitializeAsync"/> before use.
    /// </summary>
    public static IRunJournal Open(string? postgresConnectionString, string sqlitePath, TimeProvider clock) =>
        string.IsNullOrWhiteSpace(postgresConnectionString)
            ? new SqliteRunJournal(sqlitePath, clock)
            : new PostgresRunJournal(postgresConnectionString, clock);

    /// <summary>The embedded journal's conventional place: beside the plan, <c>plan.json</c> → <c>plan.journal.db</c>.</summary>
    public static string SqlitePathBesidePlan(string planPath) => Path.ChangeExtension(planPath, ".journal.db");
}
