using Taquin.Executors.Journal;
using Taquin.Web.Audit;
using Taquin.Web.Plans;
using Taquin.Web.Tests.Support;

namespace Taquin.Web.Tests.Plans;

/// <summary>A plan never stays "planning" for good: an unexpected error or a restart of the embedded server ends it as failed, with the reason.</summary>
public sealed class PlanningServiceTests
{
    [Fact]
    public async Task A_planning_job_stopped_by_an_unexpected_error_leaves_the_plan_failed_with_the_reason()
    {
        await using var server = await WebServer.StartAsync();
        var inventory = server.CopySample("fleet-tiny");
        var catalog = new PlanCatalog(server.Options);
        await using var journals = new JournalHub(server.Options);
        var planning = new PlanningService(catalog, new InventoryCache(), new AuditTrail(journals, catalog, TimeProvider.System), TimeProvider.System);
        var meta = catalog.Create("broken journal", inventory, "admin", "planned", PlanStatus.Planning, DateTimeOffset.UtcNow, "greedy", 5);
        // The audit journal cannot be opened: a folder stands where its SQLite file goes. Not the admin's mistake.
        Directory.CreateDirectory(JournalFactory.SqlitePathBesidePlan(catalog.PlanPath(meta.Id)));

        Assert.ThrowsAny<Exception>(() => planning.Plan(meta.Id));

        var failed = catalog.FindMeta(meta.Id)!;
        Assert.Equal(PlanStatus.Failed, failed.Status);
        Assert.StartsWith("planning stopped on an unexpected error (", failed.Error, StringComparison.Ordinal);
        Assert.Null(planning.Progress(meta.Id));
        using var admin = await server.SignInAsync("admin");
        var page = (await admin.GetAsync("/plans/" + meta.Id)).Body;
        Assert.DoesNotContain("http-equiv=refresh", page, StringComparison.Ordinal);
        Assert.Contains("planning stopped on an unexpected error", page, StringComparison.Ordinal);

        // Once the folder is out of the way the same plan can be made: the failed journal was not kept.
        Directory.Delete(JournalFactory.SqlitePathBesidePlan(catalog.PlanPath(meta.Id)));
        planning.Plan(meta.Id);
        Assert.Equal(PlanStatus.Ready, catalog.FindMeta(meta.Id)!.Status);
    }

    [Fact]
    public async Task A_plan_still_planning_when_the_embedded_server_restarts_is_failed_with_a_word_to_plan_again()
    {
        var first = await WebServer.StartAsync();
        var inventory = first.CopySample("fleet-tiny");
        var catalog = new PlanCatalog(first.Options);
        // Its job was queued in the embedded store, which a restart empties.
        var lost = catalog.Create("lost", inventory, "admin", "planned", PlanStatus.Planning, DateTimeOffset.UtcNow, "greedy", 5);
        var ready = first.AddGreedyPlan(inventory);
        var data = await first.StopKeepingDataAsync();

        await using var restarted = await WebServer.StartAsync(data: data);

        var after = new PlanCatalog(restarted.Options);
        Assert.Equal(PlanStatus.Failed, after.FindMeta(lost.Id)!.Status);
        Assert.Contains("plan the inventory again", after.FindMeta(lost.Id)!.Error, StringComparison.Ordinal);
        Assert.Equal(PlanStatus.Ready, after.FindMeta(ready)!.Status);
        using var admin = await restarted.SignInAsync("admin");
        Assert.DoesNotContain("http-equiv=refresh", (await admin.GetAsync("/plans/" + lost.Id)).Body, StringComparison.Ordinal);
    }
}
