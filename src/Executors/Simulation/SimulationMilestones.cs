using System.Text.RegularExpressions;
using Taquin.Executors.Journal;
using Taquin.Executors.States;
using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Simulation;

/// <summary>A host that became a PVE cluster node during the simulation (its join-cluster step succeeded).</summary>
public sealed record HostConversion(string Host, int Wave, int PlannedStage, DateTimeOffset JoinedAt);

/// <summary>When the new PVE Ceph was created, and on how many PVE cluster nodes it could count then.</summary>
public sealed record CephCreation(int Wave, DateTimeOffset At, IReadOnlyList<string> ClusterNodes);

/// <summary>A VM on PVE and the VLAN its NICs are tagged with.</summary>
public sealed record VmVlan(string Vm, int Vlan);

/// <summary>
/// What the taquin achieved, checked against the plan: every converted host in its planned wave and in plan order,
/// the new Ceph created only once the cluster has <see cref="NewCephSpec.MinHosts"/> nodes, every VM on PVE in its
/// own VLAN (the one the journal allocated to it). <see cref="Problems"/> lists every departure.
/// </summary>
public sealed partial record SimulationMilestones(IReadOnlyList<HostConversion> Conversions, CephCreation? Ceph, IReadOnlyList<VmVlan> Vlans, IReadOnlyList<string> Problems)
{
    public static SimulationMilestones Empty { get; } = new([], null, [], []);

    /// <param name="cephClusterNodes">The PVE cluster nodes when create-pve-ceph ran (captured by the simulator).</param>
    /// <param name="completed">False when the run stopped early: plan items not reached are then not problems.</param>
    public static SimulationMilestones Collect(MigrationPlan plan, FleetInventory inventory, IReadOnlyList<StepRecord> steps, IReadOnlyDictionary<long, StepSpan> spans,
        IReadOnlyList<string>? cephClusterNodes, ClusterTwin twin, IReadOnlyList<VlanAllocation> allocations, bool completed)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(twin);
        var problems = new List<string>();
        var plannedStage = plan.Stages.SelectMany(s => s.Actions.Where(a => a.Kind == ActionKind.ConvertHost && a.Host is not null).Select(a => (a.Host!, s.Index)))
            .GroupBy(x => x.Item1, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Min(x => x.Index), StringComparer.Ordinal);

        var conversions = steps.Where(s => s.StepType == StepTypes.JoinCluster && s.State == StepState.Succeeded && spans.ContainsKey(s.StepId))
            .Select(s => new HostConversion(s.Subject["host:".Length..], s.Wave, plannedStage.GetValueOrDefault(s.Subject["host:".Length..], -1), spans[s.StepId].End))
            .OrderBy(c => c.JoinedAt).ThenBy(c => c.Host, StringComparer.Ordinal).ToList();
        foreach (var c in conversions.Where(c => c.Wave != c.PlannedStage))
        {
            problems.Add($"host {c.Host} joined the PVE cluster in wave {c.Wave}, the plan converts it at stage {c.PlannedStage}");
        }

        for (var i = 1; i < conversions.Count; i++)
        {
            if (conversions[i].PlannedStage < conversions[i - 1].PlannedStage)
            {
                problems.Add($"host {conversions[i].Host} (stage {conversions[i].PlannedStage}) joined after {conversions[i - 1].Host} (stage {conversions[i - 1].PlannedStage}): not plan order");
            }
        }

        if (completed)
        {
            problems.AddRange(plannedStage.Keys.Where(h => conversions.All(c => c.Host != h)).Order(StringComparer.Ordinal)
                .Select(h => $"host {h} is converted by the plan but never joined the PVE cluster"));
        }

        CephCreation? ceph = null;
        var cephStep = steps.FirstOrDefault(s => s.StepType == StepTypes.CreatePveCeph && s.State == StepState.Succeeded && spans.ContainsKey(s.StepId));
        if (cephStep is not null)
        {
            ceph = new CephCreation(cephStep.Wave, spans[cephStep.StepId].End, cephClusterNodes ?? []);
            if (ceph.ClusterNodes.Count < inventory.Fleet.NewCeph.MinHosts)
            {
                problems.Add($"the new Ceph was created with {ceph.ClusterNodes.Count} PVE node(s) in the cluster; it needs {inventory.Fleet.NewCeph.MinHosts}");
            }
        }
        else if (completed && plan.Stages.Any(s => s.Actions.Any(a => a.Kind == ActionKind.CreatePveCeph)))
        {
            problems.Add("the plan creates the new Ceph but no create-pve-ceph step succeeded");
        }

        var allocated = allocations.ToDictionary(a => a.Vm, a => a.Vlan, StringComparer.Ordinal);
        var vlans = new List<VmVlan>();
        foreach (var vm in twin.PveVms.Values.OrderBy(v => v.Name, StringComparer.Ordinal))
        {
            var tags = vm.Config.Where(kv => NetKey().IsMatch(kv.Key)).Select(kv => TagOf(kv.Value)).Distinct().ToList();
            if (tags.Count == 0)
            {
                continue;
            }

            if (tags is not [{ } tag])
            {
                problems.Add($"VM {vm.Name}: its NICs are not all tagged with one VLAN ({string.Join(", ", vm.Config.Where(kv => NetKey().IsMatch(kv.Key)).Select(kv => kv.Key + "=" + kv.Value))})");
                continue;
            }

            if (allocated.GetValueOrDefault(vm.Name) != tag)
            {
                problems.Add($"VM {vm.Name} is tagged VLAN {tag} but the journal allocated it {(allocated.TryGetValue(vm.Name, out var a) ? a : "none")}");
            }

            vlans.Add(new VmVlan(vm.Name, tag));
        }

        problems.AddRange(vlans.GroupBy(v => v.Vlan).Where(g => g.Count() > 1)
            .Select(g => $"VLAN {g.Key} is shared by {string.Join(", ", g.Select(v => v.Vm))}"));
        return new SimulationMilestones(conversions, ceph, vlans, problems);
    }

    private static int? TagOf(string netValue) =>
        netValue.Split(',').FirstOrDefault(p => p.StartsWith("tag=", StringComparison.Ordinal)) is { } part
        && int.TryParse(part[4..], System.Globalization.CultureInfo.InvariantCulture, out var tag) ? tag : null;

    [GeneratedRegex(@"^net\d+$")]
    private static partial Regex NetKey();
}
