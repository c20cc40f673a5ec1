using System.Globalization;
using System.Text.RegularExpressions;
using Taquin.Planner.Network;

namespace Taquin.Executors.Steps;

/// <summary>
/// Cutover of the VM's network (docs/adr/0009): takes the VM's VLAN from the journal's allocation table (the one it
/// already holds, else the lowest free of the fleet's range), tags its PVE NICs with it (through the config digest,
/// so a concurrent edit is not lost), then moves its routes from the old tap to the router: networkd files and a
/// bird2 static protocol for the VLAN interface, old tap routes retired. Compensation puts back the NICs, the
/// router's previous files and link, and the old routes; the VLAN stays the VM's (released only when it is retired).
/// </summary>
public sealed partial class NetworkStep : StepBase
{
    private const string VlanKey = "vlan";

    public override string Type => StepTypes.Network;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(5), new RetryPolicy(4, TimeSpan.FromSeconds(5)), CanCompensate: true);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var tag = await VlanAsync(context);
        var vmId = await context.RequireTargetVmIdAsync();
        var node = VmStepHelpers.TargetNode(context);
        var config = await context.Pve.GetVmConfigAsync(node, vmId, context.CancellationToken)
            ?? throw Permanent($"target VM {vmId} does not exist on {node}");
        var changes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in config.Values.Where(kv => NetKey().IsMatch(kv.Key)))
        {
            if (context.Checkpoint("before." + key) is null)
            {
                await context.SaveAsync("before." + key, value);
            }

            changes[key] = WithTag(value, tag);
        }

        var tagged = changes.All(c => config.Values[c.Key] == c.Value) ? $"NICs already tagged {tag}" : $"{changes.Count} NIC(s) tagged VLAN {tag}";
        if (changes.Any(c => config.Values[c.Key] != c.Value))
        {
            await context.Pve.UpdateVmConfigAsync(node, vmId, changes, config.Digest, context.CancellationToken);
        }

        if (RouterChangeOf(context, tag) is not { } change)
        {
            return StepResult.Done(tagged + (context.Input.Router is null ? "; no router in fleet.yaml: router side not managed" : "; no routed address: router unchanged"));
        }

        await RouterCutover.ApplyAsync(context, change);
        return StepResult.Done($"{tagged}; {change.Router.Host} routes {string.Join(", ", change.Prefixes)} through {change.Interface}");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
    {
        var vmId = await context.TargetVmIdAsync();
        if (vmId is null || (context.Input.VlanTag ?? ParseVlan(context.Checkpoint(VlanKey))) is not { } tag)
        {
            return false;
        }

        var config = await context.Pve.GetVmConfigAsync(VmStepHelpers.TargetNode(context), vmId.Value, context.CancellationToken);
        if (config is null || !config.Values.Where(kv => NetKey().IsMatch(kv.Key)).All(kv => kv.Value == WithTag(kv.Value, tag)))
        {
            return false;
        }

        if (RouterChangeOf(context, tag) is { } change && await RouterCutover.CheckAsync(context, change) is { } problem)
        {
            await context.LogAsync("router side not in place: " + problem);
            return false;
        }

        return true;
    }

    public override async Task CompensateAsync(StepContext context)
    {
        if ((context.Input.VlanTag ?? ParseVlan(context.Checkpoint(VlanKey))) is { } tag && RouterChangeOf(context, tag) is { } change)
        {
            await RouterCutover.UndoAsync(context, change);
        }

        var vmId = await context.TargetVmIdAsync();
        var node = VmStepHelpers.TargetNode(context);
        if (vmId is null || await context.Pve.GetVmConfigAsync(node, vmId.Value, context.CancellationToken) is not { } config)
        {
            return;
        }

        var restore = context.CheckpointValues.Where(kv => kv.Key.StartsWith("before.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key["before.".Length..], kv => kv.Value, StringComparer.Ordinal);
        if (restore.Count > 0)
        {
            await context.Pve.UpdateVmConfigAsync(node, vmId.Value, restore, config.Digest, context.CancellationToken);
        }
    }

    internal static string WithTag(string netValue, int tag)
    {
        var parts = netValue.Split(',').Where(p => !p.StartsWith("tag=", StringComparison.Ordinal));
        return string.Join(',', parts.Append("tag=" + tag.ToString(CultureInfo.InvariantCulture)));
    }

    /// <summary>The fixed tag of the input, else the VM's allocated VLAN (checkpointed before anything uses it).</summary>
    private static async Task<int> VlanAsync(StepContext context)
    {
        if (context.Input.VlanTag is { } fixedTag)
        {
            return fixedTag;
        }

        if (ParseVlan(context.Checkpoint(VlanKey)) is { } saved)
        {
            return saved;
        }

        if (context.Input.VlanFrom is not { } from || context.Input.VlanTo is not { } to)
        {
            throw Permanent($"VM {context.Vm}: no VLAN tag and no VLAN range in the step input");
        }

        var vlan = await context.AllocateVlanAsync(from, to);
        await context.SaveAsync(VlanKey, vlan.ToString(CultureInfo.InvariantCulture));
        await context.LogAsync($"VLAN {vlan} allocated to {context.Vm}");
        return vlan;
    }

    private static RouterChange? RouterChangeOf(StepContext context, int vlan) =>
        context.Input.Router is { } router && context.Input.Addressing is { } addressing
            ? RouterConfigGenerator.Generate(router, addressing, vlan, context.Input.FromHost)
            : null;

    private static int? ParseVlan(string? text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var vlan) ? vlan : null;

    [GeneratedRegex(@"^net\d+$")]
    private static partial Regex NetKey();
}
