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
    {
        if (string.IsNullOrWhiteSpace(postgresConnectionString))
        {
            return new InMemoryStorage();
        }

        // Jobs enqueued by another process (`run start --enqueue-only`, a peer worker) are seen within a second,
        // not the default 15: a wave's pipelines are chains of short steps handed from worker to worker.
        var options = new PostgreSqlStorageOptions { QueuePollInterval = QueuePollInterval };
        return new PostgreSqlStorage(new NpgsqlConnectionFactory(postgresConnectionString, options), options);
    }

    /// <summary>How often a worker on PostgreSQL looks for jobs queued elsewhere.</summary>
    public static TimeSpan QueuePollInterval { get; } = TimeSpan.FromSeconds(1);

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
