using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Tests.Solving;

namespace Taquin.Planner.Tests.Planning;

/// <summary>
/// Generated fleets and planner options on which the greedy baseline's decisions are pinned (docs/adr/0025), and the
/// digest of those decisions: every stage's host states, every VM's placement, every action's kind, VM, host, source and
/// target. Estimates, texts and timings are left out, so that only a change in what the greedy decides moves a digest.
/// </summary>
internal static class GreedyScenarios
{
    public static readonly IReadOnlyList<string> Names =
    [
        "fleet-216 seed 1",
        "fleet-216 seed 2",
        "fleet-216 seed 3",
        "fleet-216 seed 1, RBD only",
        "fleet-216 seed 2, fixed order: last host, then first",
        "fleet-216 seed 2, second host excluded",
        "fleet-216 seed 2, first VM pinned to wave 3, second VM to the third host",
        "fleet-216 seed 3, first VM pinned to wave 1 (infeasible)",
        "fleet-300 on 9 hosts seed 9",
        "fleet-1000 on 20 hosts seed 1",
    ];

    public static (FleetInventory Inventory, PlannerOptions Options) Build(string name)
    {
        var seed = int.Parse(name.Split(" seed ")[1].Split(',')[0], CultureInfo.InvariantCulture);
        var (vms, hosts) = name.StartsWith("fleet-1000", StringComparison.Ordinal) ? (1000, 20)
            : name.StartsWith("fleet-300", StringComparison.Ordinal) ? (300, 9)
            : (216, 7);
        var inventory = SolverFleets.Generated(seed, vms, hosts, keepFileDisks: !name.Contains("RBD only", StringComparison.Ordinal));
        var hostNames = inventory.Fleet.Hosts.Select(h => h.Name).ToList();
        var vmNames = inventory.Vms.Select(v => v.Name).ToList();
        var options = name.Contains("fixed order", StringComparison.Ordinal) ? new PlannerOptions { ConversionOrder = [hostNames[^1], hostNames[0]] }
            : name.Contains("excluded", StringComparison.Ordinal) ? new PlannerOptions { ExcludedHosts = [hostNames[1]] }
            : name.Contains("wave 3", StringComparison.Ordinal) ? new PlannerOptions
            {
                PinnedStages = new Dictionary<string, int> { [vmNames[0]] = 3 },
                PinnedHosts = new Dictionary<string, string> { [vmNames[1]] = hostNames[2] },
            }
            : name.Contains("wave 1", StringComparison.Ordinal) ? new PlannerOptions { PinnedStages = new Dictionary<string, int> { [vmNames[0]] = 1 } }
            : new PlannerOptions();
        return (inventory, options);
    }

    /// <summary>Digest of the plan's decisions, or of the blockers when the greedy finds no plan.</summary>
    public static string Outcome(FleetInventory inventory, PlannerOptions options)
    {
        try
        {
            return DecisionDigest(GreedyPlanner.Plan(inventory, options));
        }
        catch (PlanInfeasibleException e)
        {
            return "infeasible " + Sha(string.Join("\n", e.Blockers));
        }
    }

    public static string DecisionDigest(MigrationPlan plan)
    {
        var text = new StringBuilder();
        foreach (var stage in plan.Stages)
        {
            text.Append(CultureInfo.InvariantCulture, $"stage {stage.Index} new-ceph {stage.PveCephExists}\n");
            foreach (var (host, state) in stage.Hosts.OrderBy(h => h.Key, StringComparer.Ordinal))
            {
                text.Append(CultureInfo.InvariantCulture, $"host {host} {state}\n");
            }

            foreach (var (vm, p) in stage.Placements.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                text.Append(CultureInfo.InvariantCulture, $"vm {vm} {p.Host} {p.Storage}\n");
            }

            foreach (var a in stage.Actions)
            {
                text.Append(CultureInfo.InvariantCulture, $"action {a.Kind} {a.Vm} {a.Host} {a.From?.Host}/{a.From?.Storage} {a.To?.Host}/{a.To?.Storage} {a.Strategy}\n");
            }
        }

        return Sha(text.ToString());
    }

    private static string Sha(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
}
