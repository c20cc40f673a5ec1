using Npgsql;
using Taquin.Executors.Journal;
using Taquin.Executors.Tests.Support;
using Taquin.Web.Audit;
using Taquin.Web.Tests.Support;

namespace Taquin.Web.Tests.Pages;

/// <summary>With a PostgreSQL connection string the approval, the run and its audit trail live in PostgreSQL.</summary>
public sealed class PostgresStoreTests
{
    [IntegrationFact]
    public async Task Approval_wave_start_and_sign_in_are_audited_in_PostgreSQL()
    {
        // A database of its own: the journal's schema is fixed.
        var database = $"taquin_web_{Guid.NewGuid():N}";
        await using var admin = NpgsqlDataSource.Create(Testbed.RequirePostgres());
        await using (var create = admin.CreateCommand($"CREATE DATABASE \"{database}\""))
        {
            await create.ExecuteNonQueryAsync();
        }

        var connection = new NpgsqlConnectionStringBuilder(Testbed.RequirePostgres()) { Database = database, Pooling = false }.ConnectionString;
        try
        {
            string planId;
            await using (var server = await WebServer.StartAsync(postgres: connection))
            {
                planId = server.AddGreedyPlan(server.CopySample("fleet-tiny"));
                using var adminClient = await server.SignInAsync("admin");
                await adminClient.GetAsync($"/plans/{planId}");
                using (await adminClient.PostFormAsync($"/plans/{planId}/approve", []))
                {
                }

                using var operatorClient = await server.SignInAsync("operator");
                await operatorClient.GetAsync($"/plans/{planId}/run");
                using var started = await operatorClient.PostFormAsync($"/plans/{planId}/run/start", new() { ["wave"] = "1" });
                Assert.Contains("wave 1 started", PageClient.Location(started), StringComparison.Ordinal);
            }

            await using var journal = new PostgresRunJournal(connection, TimeProvider.System);
            var planEvents = await journal.GetEventsAsync(AuditTrail.PlanRunId(planId));
            Assert.Contains(planEvents, e => e.Kind == AuditTrail.PlanApproved && e.Actor == "admin");
            var run = Assert.Single(await journal.ListRunsAsync());
            Assert.Contains(await journal.GetEventsAsync(run.RunId), e => e.Kind == "wave-started" && e.Actor == "operator");
            Assert.Contains(await journal.GetEventsAsync(JournalHub.ServerRunId), e => e.Kind == "signed-in" && e.Actor == "operator");
        }
        finally
        {
            await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }
}
