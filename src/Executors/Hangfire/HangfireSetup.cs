using global::Hangfire;
using global::Hangfire.InMemory;
using global::Hangfire.PostgreSql;
using global::Hangfire.PostgreSql.Factories;
using Taquin.Executors.Orchestration;

namespace Taquin.Executors.Hangfire;

/// <summary>Hangfire wiring: storage choice, retries off, a worker server running step jobs.</summary>
public static class HangfireSetup
{
    /// <summary>Hangfire.InMemory by default; Hangfire.PostgreSql when a connection string is given (workers on several machines).</summary>
    public static JobStorage CreateStorage(string? postgresConnectionString)
        => string.IsNullOrWhiteSpace(postgresConnectionString)
            ? new InMemoryStorage()
            : new PostgreSqlStorage(new NpgsqlConnectionFactory(postgresConnectionString, new PostgreSqlStorageOptions()), new PostgreSqlStorageOptions());

    /// <summary>The engine decides retries: Hangfire's automatic retry filter is replaced by one with zero attempts.</summary>
    public static void DisableAutomaticRetries()
    {
        foreach (var filter in GlobalJobFilters.Filters.Where(f => f.Instance is AutomaticRetryAttribute).ToList())
        {
            GlobalJobFilters.Filters.Remove(filter.Instance);
        }

        GlobalJobFilters.Filters.Add(new AutomaticRetryAttribute { Attempts = 0 });
    }

    /// <summary>Starts a worker server executing step jobs from <paramref name="storage"/>.</summary>
    public static BackgroundJobServer StartWorker(JobStorage storage, StepJobRunner runner, int workerCount = 4, TimeSpan? schedulePolling = null)
    {
        DisableAutomaticRetries();
        var client = new BackgroundJobClient(storage);
        return new BackgroundJobServer(new BackgroundJobServerOptions
        {
            WorkerCount = workerCount,
            Activator = new StepJobActivator(runner, client),
            SchedulePollingInterval = schedulePolling ?? TimeSpan.FromSeconds(5),
            ServerName = "taquin-" + runner.Engine.WorkerId,
        }, storage);
    }

    /// <summary>True when Hangfire will not retry a failed job on its own.</summary>
    public static bool AutomaticRetriesAreOff()
        => GlobalJobFilters.Filters.Select(f => f.Instance).OfType<AutomaticRetryAttribute>().All(a => a.Attempts == 0);
}
