using System.Net;
using Taquin.Web.Tests.Support;

namespace Taquin.Web.Tests.Pages;

/// <summary>A plan runs only once approved, and only while its inventory is the one approved.</summary>
public sealed class ApprovalTests
{
    [Fact]
    public async Task A_plan_cannot_run_before_approval()
    {
        await using var server = await WebServer.StartAsync();
        var planId = server.AddGreedyPlan(server.CopySample("fleet-tiny"));
        using var operatorClient = await server.SignInAsync("operator");
        await operatorClient.GetAsync($"/plans/{planId}/run");

        using var start = await operatorClient.PostFormAsync($"/plans/{planId}/run/start", new() { ["wave"] = "1" });

        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        Assert.Contains("cannot run", PageClient.Location(start), StringComparison.Ordinal);
        Assert.Contains("No run yet", (await operatorClient.GetAsync($"/plans/{planId}/run")).Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_changed_inventory_invalidates_the_approval_and_stops_the_next_wave()
    {
        await using var server = await WebServer.StartAsync();
        var inventory = server.CopySample("fleet-tiny");
        var planId = server.AddGreedyPlan(inventory);
        using var admin = await server.SignInAsync("admin");
        await admin.GetAsync($"/plans/{planId}");
        using (await admin.PostFormAsync($"/plans/{planId}/approve", []))
        {
        }

        using var operatorClient = await server.SignInAsync("operator");
        await operatorClient.GetAsync($"/plans/{planId}/run");
        using (var started = await operatorClient.PostFormAsync($"/plans/{planId}/run/start", new() { ["wave"] = "1" }))
        {
            Assert.Contains("wave 1 started", PageClient.Location(started), StringComparison.Ordinal);
        }

        // Someone edits a domain XML after the approval (a comment is enough to change the digest).
        var xml = Directory.EnumerateFiles(Path.Combine(inventory, "domains"), "*.xml", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        await File.AppendAllTextAsync(xml, "\n<!-- edited after approval -->\n");

        var review = (await admin.GetAsync($"/plans/{planId}")).Body;
        Assert.Contains("approval invalidated: the inventory changed", review, StringComparison.Ordinal);
        Assert.Contains("data-testid=approve", review, StringComparison.Ordinal);
        using var next = await operatorClient.PostFormAsync($"/plans/{planId}/run/start", new() { ["wave"] = "2" });
        Assert.Contains("approval invalidated", PageClient.Location(next), StringComparison.Ordinal);
        using var reapprove = await admin.PostFormAsync($"/plans/{planId}/approve", []);
        Assert.Contains("changed since the plan was made", PageClient.Location(reapprove), StringComparison.Ordinal);
    }
}
