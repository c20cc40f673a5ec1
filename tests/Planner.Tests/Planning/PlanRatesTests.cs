using System.Text.Json;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using static Taquin.Planner.Tests.Planning.TestFleets;

namespace Taquin.Planner.Tests.Planning;

/// <summary>A plan says which rates its estimates use, and per VM the strategy, why, and the downtime.</summary>
public sealed class PlanRatesTests
{
    private static readonly MeasuredRates Measured = new()
    {
        Source = "taquin bench movers",
        MeasuredOn = "pve lab, 25 GbE",
        MeasuredAt = new DateTimeOffset(2026, 11, 24, 6, 10, 0, TimeSpan.Zero),
        Paths = new Dictionary<string, PathRates> { ["direct"] = new(200, 20), ["file"] = new(100) },
        Verification = new VerificationRates(100, 0.25),
        SwitchSeconds = 1,
    };

    private static FleetInventory Inventory(string strategy = "warm") => MakeInventory(
        [Host("h1", localImagesGib: 500), Host("h2", localImagesGib: 500), Host("h3", localImagesGib: 500)],
        [RbdVm("web-1", "h1", 8, 100, 40), FileVm("legacy-2", "h2", 8, 50, 20), RbdVm("db-3", "h3", 16, 400, 300)],
        p => p with { DefaultStrategy = strategy });

    private static PlannerOptions Options(FleetInventory inventory) => new() { Downtime = DowntimeModel.FromRates(Measured, inventory.Fleet.Policy, "rates/lab.yaml") };

    [Fact]
    public void Plan_json_carries_the_rates_provenance_and_each_vms_estimate_with_its_rate()
    {
        var inventory = Inventory();
        var plan = GreedyPlanner.Plan(inventory, Options(inventory));

        var back = PlanJson.Deserialize(PlanJson.Serialize(plan));
        using var json = JsonDocument.Parse(PlanJson.Serialize(plan));

        Assert.Equal(("rates/lab.yaml", "pve lab, 25 GbE", "direct"), (back.Rates!.File, back.Rates.MeasuredOn, back.Rates.DataPath));
        Assert.True(json.RootElement.GetProperty("rates").GetProperty("measured").GetBoolean());
        Assert.Equal("2026-11-24T06:10:00+00:00", json.RootElement.GetProperty("rates").GetProperty("measuredAt").GetString());
        var db = json.RootElement.GetProperty("vms").GetProperty("db-3");
        Assert.Equal("warm", db.GetProperty("strategy").GetString());
        // 5 % of 300 GiB at 20 MiB/s, 400 GiB checksummed at 100 MiB/s, 30 s + 30 s.
        var expected = 30 + (300 * 1024 * 0.05 / 20) + (400 * 1024 / 100.0) + 30;
        Assert.Equal(expected, db.GetProperty("downtimeSeconds").GetDouble(), 6);
        Assert.Equal(expected, db.GetProperty("estimate").GetProperty("downtimeSeconds").GetDouble(), 6);
        Assert.Contains("at direct 20 MiB/s", db.GetProperty("estimate").GetProperty("rate").GetString(), StringComparison.Ordinal);
        Assert.Contains("at file 100 MiB/s", back.Vms["legacy-2"].Estimate!.Rate, StringComparison.Ordinal);
        // The move action and the VM entry agree.
        var move = plan.Stages.SelectMany(s => s.Actions).Single(a => a.Vm == "db-3" && a.Kind == ActionKind.MoveToPve);
        Assert.Equal(expected, move.DowntimeSeconds, 6);
    }

    [Fact]
    public void A_plan_without_rates_says_default_rates_not_measured()
    {
        var inventory = Inventory();
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        Assert.False(plan.Rates!.Measured);
        Assert.Contains("Estimates use default rates (not measured)", PlanMarkdown.Render(plan, inventory), StringComparison.Ordinal);
        Assert.Contains("rates not recorded", PlanReport.RatesLine(plan with { Rates = null }), StringComparison.Ordinal);
    }

    [Fact]
    public void Markdown_names_the_rates_and_shows_per_vm_strategy_reason_and_downtime()
    {
        var inventory = Inventory("attach-and-move");
        var plan = GreedyPlanner.Plan(inventory, Options(inventory));

        var md = PlanMarkdown.Render(plan, inventory);

        Assert.Contains("Estimates use measured rates from rates/lab.yaml (taquin bench movers, measured on pve lab, 25 GbE, 2026-11-24 06:10Z)", md, StringComparison.Ordinal);
        Assert.Contains("## VMs — strategy, why, estimated downtime", md, StringComparison.Ordinal);
        foreach (var (name, info) in plan.Vms)
        {
            var row = md.Split('\n').Single(l => l.StartsWith($"| {name} | {info.MoveStage} | {info.Strategy} | ", StringComparison.Ordinal));
            Assert.Contains(PlanReport.Duration(info.DowntimeSeconds), row, StringComparison.Ordinal);
            Assert.Contains(info.StrategyReason!, row, StringComparison.Ordinal);
        }

        // attach-and-move: 30 s + 1 s switch + 30 s, the same for the 400 GiB disk as for the 100 GiB one.
        Assert.Equal("attach-and-move", plan.Vms["db-3"].Strategy);
        Assert.Equal(61, plan.Vms["db-3"].DowntimeSeconds, 9);
        Assert.Equal(plan.Vms["web-1"].DowntimeSeconds, plan.Vms["db-3"].DowntimeSeconds);
        Assert.Contains("shutdown 30 s + switch 1 s + boot 30 s", md, StringComparison.Ordinal);
        // The file-disk VM cannot be attached: warm, and the reason says why.
        Assert.Equal("warm", plan.Vms["legacy-2"].Strategy);
        Assert.Contains("cannot be attached from PVE", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Html_names_the_rates_and_lists_each_vm()
    {
        var inventory = Inventory();
        var plan = GreedyPlanner.Plan(inventory, Options(inventory));

        var html = PlanHtml.Render(plan, inventory);

        Assert.Contains("measured rates from rates/lab.yaml", html, StringComparison.Ordinal);
        Assert.Contains("<td>db-3</td>", html, StringComparison.Ordinal);
        Assert.Contains(PlanReport.Duration(plan.Vms["db-3"].DowntimeSeconds), html, StringComparison.Ordinal);
    }
}
