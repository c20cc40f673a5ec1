using System.Collections.Concurrent;
using Taquin.Executors.Journal;

namespace Taquin.Web.Audit;

/// <summary>
/// The journals the web reads and writes: with PostgreSQL one shared store; otherwise the SQLite file beside each
/// plan (where `taquin run` finds it) and one for the server itself (sign-ins), in the data folder.
/// </summary>
public sealed class JournalHub(WebOptions options) : IAsyncDisposable
{
    public const string ServerRunId = "web";
    private readonly ConcurrentDictionary<string, Lazy<Task<IRunJournal>>> _journals = new(StringComparer.Ordinal);

    /// <summary>The journal of a plan (its runs, its approvals), stamped with the system clock.</summary>
    public Task<IRunJournal> ForPlanAsync(string planPath) => GetAsync(Path.GetFullPath(planPath), TimeProvider.System);

    /// <summary>Where server-wide events go (sign-in, sign-out).</summary>
    public Task<IRunJournal> ForServerAsync() => GetAsync(Path.Combine(Path.GetFullPath(options.DataDirectory), "web.json"), TimeProvider.System);

    /// <summary>A new journal on the same store with another clock (a simulated run's engine uses the twin's clock).</summary>
    public async Task<IRunJournal> OpenWithClockAsync(string planPath, TimeProvider clock)
    {
        var journal = JournalFactory.Open(options.PostgresConnection, JournalFactory.SqlitePathBesidePlan(planPath), clock);
        await journal.InitializeAsync();
        return journal;
    }

    private async Task<IRunJournal> GetAsync(string anchor, TimeProvider clock)
    {
        var key = string.IsNullOrWhiteSpace(options.PostgresConnection) ? anchor : "postgres";
        var lazy = _journals.GetOrAdd(key, _ => new Lazy<Task<IRunJournal>>(async () =>
        {
            var journal = JournalFactory.Open(options.PostgresConnection, JournalFactory.SqlitePathBesidePlan(anchor), clock);
            await journal.InitializeAsync();
            return journal;
        }));
        try
        {
            return await lazy.Value;
        }
        catch
        {
            // A journal that failed to open (database down, file in the way) is tried again on the next request.
            _journals.TryRemove(new KeyValuePair<string, Lazy<Task<IRunJournal>>>(key, lazy));
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lazy in _journals.Values.Where(l => l.IsValueCreated && l.Value.IsCompletedSuccessfully))
        {
            if (await lazy.Value is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }
}
