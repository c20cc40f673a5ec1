using System.Xml.Linq;
using Taquin.Planner.Planning;
using static Taquin.Planner.Tests.Planning.TestFleets;

namespace Taquin.Planner.Tests.Planning;

public sealed class PlanExportTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void Markdown_shows_the_summary_the_waves_and_the_capacity()
    {
        var inventory = Random(9, hostCount: 4, vmsPerHost: 5);
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());
        var moved = plan.Stages[^1].Actions.Concat(plan.Stages.SelectMany(s => s.Actions)).First(a => a.Kind == ActionKind.MoveToPve);

        var md = PlanMarkdown.Render(plan, inventory);

        Assert.Contains("| Stages | " + plan.Metrics.Stages + " | " + plan.Baseline!.Stages + " | " + plan.LowerBound!.Stages + " |", md, StringComparison.Ordinal);
        Assert.Contains("Solver status GREEDY", md, StringComparison.Ordinal);
        Assert.Contains("Verification: every rule", md, StringComparison.Ordinal);
        Assert.Contains("with 2 copies at once per host", md, StringComparison.Ordinal);
        Assert.Equal(plan.Metrics.Stages, md.Split('\n').Count(l => l.StartsWith("## Wave ", StringComparison.Ordinal)));
        Assert.Contains($"| {moved.Vm} | move-to-pve | {moved.From!.Host} ({moved.From.Storage}) | {moved.To!.Host} ({moved.To.Storage}) | {moved.Strategy} |", md, StringComparison.Ordinal);
        foreach (var host in inventory.Fleet.Hosts)
        {
            Assert.Contains($"| {host.Name} | ", md, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Markdown_flags_a_plan_that_does_not_verify()
    {
        var inventory = Random(9, hostCount: 4, vmsPerHost: 5);
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions()) with { InventoryDigest = "sha256:other" };

        var md = PlanMarkdown.Render(plan, inventory);

        Assert.Contains("1 VIOLATION(S) — do not approve this plan", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Svg_is_well_formed_with_one_panel_per_stage_and_every_host_and_vm()
    {
        var inventory = Random(9, hostCount: 4, vmsPerHost: 5);
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        var svg = XDocument.Parse(PlanSvg.Render(plan, inventory));

        var panels = svg.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "stage").ToList();
        Assert.Equal(plan.Stages.Count, panels.Count);
        var texts = svg.Descendants(Svg + "text").Select(t => t.Value).ToHashSet();
        Assert.All(inventory.Fleet.Hosts, h => Assert.Contains(h.Name, texts));
        var tooltips = svg.Descendants(Svg + "title").Select(t => t.Value).ToList();
        Assert.Contains(tooltips, t => t.StartsWith(inventory.Vms[0].Name + ":", StringComparison.Ordinal));
        Assert.Contains(tooltips, t => t.EndsWith("moving in this wave", StringComparison.Ordinal));
    }

    [Fact]
    public void Svg_aggregates_small_vms_on_crowded_hosts()
    {
        string[] names = ["h1", "h2", "h3", "h4"];
        var inventory = MakeInventory(
            [.. names.Select(n => Host(n, ramGib: 512))],
            [.. names.SelectMany(h => Enumerable.Range(0, 60).Select(i => RbdVm($"vm-{h}-{i:00}", h, 2 + (i % 3), 10)))]);
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        var svg = XDocument.Parse(PlanSvg.Render(plan, inventory));

        var blocksInStageZero = svg.Descendants(Svg + "g").First(g => (string?)g.Attribute("data-stage") == "0")
            .Elements(Svg + "rect").Count(r => r.Element(Svg + "title") is not null);
        Assert.True(blocksInStageZero <= 24 * inventory.Fleet.Hosts.Count, $"{blocksInStageZero} blocks");
        Assert.Contains(svg.Descendants(Svg + "title"), t => t.Value.Contains("smaller VMs", StringComparison.Ordinal));
    }

    [Fact]
    public void Html_is_self_contained_with_tables_and_the_inline_board()
    {
        var inventory = Random(9, hostCount: 4, vmsPerHost: 5);
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        var html = PlanHtml.Render(plan, inventory);

        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Contains("<table><thead><tr><th></th><th>This plan</th>", html, StringComparison.Ordinal);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script src", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<link", html, StringComparison.Ordinal);
    }
}
