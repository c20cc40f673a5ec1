using System.Globalization;
using System.Text;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Planner.Network;

/// <summary>A VM's network cutover as the plan will perform it.</summary>
/// <param name="Allocated">True when the VLAN is the VM's allocation in the journal; false for a preview (see <see cref="NetworkPlan.Build"/>).</param>
/// <param name="Change">The router change; null when the VM has no routed address or the fleet has no router.</param>
public sealed record VmNetworkCutover(string Vm, int Stage, string FromHost, string ToHost, int Vlan, bool Allocated, RouterChange? Change);

/// <summary>The network side of a plan (docs/adr/0009): every VM moved to PVE, its VLAN and its router change.</summary>
public static class NetworkPlan
{
    /// <summary>
    /// One entry per VM the plan moves to PVE, in plan order. A VM with a VLAN in <paramref name="allocated"/> keeps it;
    /// the others get a preview: the lowest ids of the policy range nobody holds, in plan order, which is what the
    /// network steps will allocate if they run in that order (concurrent waves may hand them out differently).
    /// </summary>
    public static IReadOnlyList<VmNetworkCutover> Build(MigrationPlan plan, FleetInventory inventory, IReadOnlyDictionary<string, int> allocated)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(inventory);
        ArgumentNullException.ThrowIfNull(allocated);
        var vms = inventory.Vms.ToDictionary(v => v.Name, StringComparer.Ordinal);
        var held = new SortedSet<int>(allocated.Values);
        var range = inventory.Fleet.Policy.VlanRange;
        var next = range.From;
        var entries = new List<VmNetworkCutover>();
        PlanStage? previous = null;
        foreach (var stage in plan.Stages.OrderBy(s => s.Index))
        {
            foreach (var action in stage.Actions.Where(a => a.Kind == ActionKind.MoveToPve && a.Vm is not null).OrderBy(a => a.Vm, StringComparer.Ordinal))
            {
                if (!vms.TryGetValue(action.Vm!, out var vm))
                {
                    continue;
                }

                var isAllocated = allocated.TryGetValue(vm.Name, out var vlan);
                if (!isAllocated)
                {
                    while (held.Contains(next))
                    {
                        next++;
                    }

                    vlan = next;
                    held.Add(vlan);
                }

                var from = action.From?.Host ?? previous?.Placements.GetValueOrDefault(vm.Name)?.Host ?? vm.Host;
                var to = action.To?.Host ?? stage.Placements.GetValueOrDefault(vm.Name)?.Host ?? "?";
                var change = inventory.Fleet.Router is { } router && vlan <= 4094
                    ? RouterConfigGenerator.Generate(router, VmAddressing.FromDomain(vm.Domain), vlan, from)
                    : null;
                entries.Add(new VmNetworkCutover(vm.Name, stage.Index, from, to, vlan, isAllocated, change));
            }

            previous = stage;
        }

        return entries;
    }

    /// <summary>The review text: a table of VLANs, then each VM's router diff.</summary>
    public static string ToMarkdown(IReadOnlyList<VmNetworkCutover> entries, FleetInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(inventory);
        var range = inventory.Fleet.Policy.VlanRange;
        var text = new StringBuilder();
        text.Append("# Network cutover\n\n");
        text.Append(CultureInfo.InvariantCulture, $"VLAN range {range.From}..{range.To}; {entries.Count(e => e.Allocated)} VLAN(s) already allocated in the journal, {entries.Count(e => !e.Allocated)} preview(s) (allocated at cutover, lowest free id first).\n");
        text.Append(inventory.Fleet.Router is { } router
            ? $"Router {router.Host}: VLAN interfaces on {router.Trunk}, networkd files in {router.NetworkdDirectory}, bird2 includes in {router.BirdDirectory} (apply: {router.Apply.ToString().ToLowerInvariant()}).\n\n"
            : "No `router:` section in fleet.yaml: the router side is not managed; only the PVE NICs are tagged.\n\n");
        text.Append("| Stage | VM | From | To | VLAN | Routed prefixes |\n|---|---|---|---|---|---|\n");
        foreach (var e in entries)
        {
            var prefixes = e.Change is null ? "-" : string.Join(", ", e.Change.Prefixes);
            text.Append(CultureInfo.InvariantCulture, $"| {e.Stage} | {e.Vm} | {e.FromHost} | {e.ToHost} | {e.Vlan}{(e.Allocated ? "" : " (preview)")} | {prefixes} |\n");
        }

        foreach (var e in entries.Where(e => e.Change is not null))
        {
            text.Append(CultureInfo.InvariantCulture, $"\n## {e.Vm} (stage {e.Stage})\n\n```diff\n{e.Change!.ToDiff()}```\n");
        }

        return text.ToString();
    }
}
