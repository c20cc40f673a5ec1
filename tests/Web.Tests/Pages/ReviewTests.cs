using System.Net;
using System.Text.RegularExpressions;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Samples;
using Taquin.Tests.Shared;
using Taquin.Web.Tests.Support;

namespace Taquin.Web.Tests.Pages;

/// <summary>The review page: summary, waves, a VM table that stays usable for 5,000 VMs, the VM page, planning in the background.</summary>
public sealed partial class ReviewTests
{
    [Fact]
    public async Task A_5000_VM_plan_is_paged_searched_filtered_and_sorted_on_the_server()
    {
        await using var server = await WebServer.StartAsync();
        var folder = Path.Combine(server.Data, "inventories", "fleet-5000");
        FleetGenerator.Generate(new FleetGeneratorOptions { Vms = 5000, Hosts = 40, Seed = 3 }).WriteTo(folder);
        var inventory = InventoryLoader.Load(folder).Inventory!;
        var planId = server.AddGreedyPlan(folder, inventory, "fleet-5000");
        using var viewer = await server.SignInAsync("viewer");

        var first = (await viewer.GetAsync($"/plans/{planId}")).Body;
        Assert.Contains("5,000 of 5,000 VMs, page 1 of 100", first, StringComparison.Ordinal);
        Assert.Equal(50, VmRows(first).Count);
        // More than 4,094 VMs cannot each get a VLAN: the review says so instead of hiding the plan.
        Assert.Contains("data-testid=inventory-errors", first, StringComparison.Ordinal);

        var last = (await viewer.GetAsync($"/plans/{planId}?page=100")).Body;
        Assert.Equal(50, VmRows(last).Count);
        Assert.Empty(VmRows(first).Intersect(VmRows(last)));

        var biggest = inventory.Vms.OrderByDescending(v => v.DiskBytes).ThenBy(v => v.Name, StringComparer.Ordinal).First();
        var byDisk = (await viewer.GetAsync($"/plans/{planId}?sort=disk&desc=1")).Body;
        Assert.Equal(biggest.Name, VmRows(byDisk)[0]);

        // The host filter keeps the VMs that are on h7 now or end on it.
        var plan = PlanJson.Load(Path.Combine(server.Options.PlansDirectory, planId, "plan.json"));
        var final = plan.Stages[^1].Placements;
        var expected = inventory.Vms.Where(v => v.Host == "h7" || final[v.Name].Host == "h7").Select(v => v.Name).Order(StringComparer.Ordinal).ToList();
        var filtered = (await viewer.GetAsync($"/plans/{planId}?host=h7&page=1")).Body;
        Assert.Contains($"{expected.Count:N0} of 5,000 VMs", filtered, StringComparison.Ordinal);
        Assert.Equal(expected.Take(50), VmRows(filtered));

        var search = inventory.Vms[1234].Name;
        var found = (await viewer.GetAsync($"/plans/{planId}?q={Uri.EscapeDataString(search)}")).Body;
        Assert.Contains(search, VmRows(found));
    }

    [Fact]
    public async Task The_review_shows_solver_summary_waves_and_the_VM_page_shows_XML_beside_the_PVE_config()
    {
        await using var server = await WebServer.StartAsync();
        var planId = server.AddGreedyPlan(server.CopySample("fleet-tiny"));
        using var viewer = await server.SignInAsync("viewer");
        var review = (await viewer.GetAsync($"/plans/{planId}")).Body;
        Assert.Contains("Solver <b>GREEDY</b>", review, StringComparison.Ordinal);
        Assert.Contains("Greedy baseline", review, StringComparison.Ordinal);
        Assert.Contains("Lower bound", review, StringComparison.Ordinal);
        Assert.Contains("/board.svg", review, StringComparison.Ordinal);
        Assert.Contains("convert-host", review, StringComparison.Ordinal);

        var (svgStatus, svg, _) = await viewer.GetAsync($"/plans/{planId}/board.svg");
        Assert.Equal(HttpStatusCode.OK, svgStatus);
        Assert.StartsWith("<svg", svg.TrimStart(), StringComparison.Ordinal);

        var vm = VmRows(review)[0];
        var page = (await viewer.GetAsync($"/plans/{planId}/vms/{vm}")).Body;
        Assert.Contains("data-testid=libvirt-xml>&lt;domain", page, StringComparison.Ordinal);
        Assert.Matches(new Regex("data-testid=pve-config>[^<]*net0: virtio="), page);
    }

    [Fact]
    public async Task An_admin_plans_an_inventory_in_the_background_and_the_plan_becomes_ready()
    {
        await using var server = await WebServer.StartAsync();
        var inventory = server.CopySample("fleet-tiny");
        using var admin = await server.SignInAsync("admin");
        await admin.GetAsync("/plans");
        using var created = await admin.PostFormAsync("/plans", new() { ["inventory"] = inventory, ["planner"] = "greedy", ["name"] = "tiny" });
        Assert.Equal(HttpStatusCode.Redirect, created.StatusCode);
        var planPath = PageClient.Location(created);

        string body;
        var polls = 0;
        do
        {
            await Task.Delay(200);
            body = (await admin.GetAsync(planPath)).Body;
        }
        while (body.Contains("planning", StringComparison.Ordinal) && body.Contains("http-equiv=refresh", StringComparison.Ordinal) && ++polls < 300);

        Assert.Contains("Solver <b>GREEDY</b>", body, StringComparison.Ordinal);
        Assert.Contains("plan-created", body, StringComparison.Ordinal);
        Assert.Contains("data-testid=rates>Estimates use default rates (not measured)", body, StringComparison.Ordinal);

        using var operatorClient = await server.SignInAsync("operator");
        await operatorClient.GetAsync("/plans");
        using var refused = await operatorClient.PostFormAsync("/plans", new() { ["inventory"] = inventory, ["planner"] = "greedy" });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task A_plan_made_with_the_fleets_measured_rates_says_where_they_come_from_on_the_review()
    {
        await using var server = await WebServer.StartAsync();
        var inventory = server.CopySample("fleet-tiny");
        File.Copy(RepositoryPaths.Sample(Path.Combine("rates", "testbed-2026-11-24.yaml")), Path.Combine(inventory, "rates.yaml"));
        var fleet = Path.Combine(inventory, "fleet.yaml");
        await File.WriteAllTextAsync(fleet, (await File.ReadAllTextAsync(fleet)).Replace("policy:\n", "policy:\n  rates: rates.yaml\n", StringComparison.Ordinal));
        using var admin = await server.SignInAsync("admin");
        await admin.GetAsync("/plans");
        using var created = await admin.PostFormAsync("/plans", new() { ["inventory"] = inventory, ["planner"] = "greedy", ["name"] = "measured" });
        var planPath = PageClient.Location(created);

        string body;
        var polls = 0;
        do
        {
            await Task.Delay(200);
            body = (await admin.GetAsync(planPath)).Body;
        }
        while (body.Contains("http-equiv=refresh", StringComparison.Ordinal) && ++polls < 300);

        var rates = Regex.Match(body, "data-testid=rates>([^<]*)<").Groups[1].Value;
        Assert.StartsWith("Estimates use measured rates from " + Path.Combine(inventory, "rates.yaml"), rates, StringComparison.Ordinal);
        Assert.DoesNotContain("default rates", rates, StringComparison.Ordinal);
    }

    private static List<string> VmRows(string html)
        => [.. VmLink().Matches(html[html.IndexOf("data-testid=vm-table", StringComparison.Ordinal)..]).Select(m => Uri.UnescapeDataString(m.Groups[1].Value))];

    [GeneratedRegex("<tr><td><a href=\"/plans/[^/]+/vms/([^\"]+)\">")]
    private static partial Regex VmLink();
}
