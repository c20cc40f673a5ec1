using System.Globalization;
using System.Text.RegularExpressions;

namespace Taquin.Executors.Steps;

/// <summary>
/// Puts the VM's NICs in its VLAN (tag=N on netN, through the config digest so a concurrent edit is not lost).
/// The router side (networkd/bird) comes with VLAN allocation in a later issue.
/// </summary>
public sealed partial class NetworkStep : StepBase
{
    public override string Type => StepTypes.Network;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(5), new RetryPolicy(4, TimeSpan.FromSeconds(5)), CanCompensate: true);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var tag = context.Input.VlanTag ?? throw Permanent($"VM {context.Vm}: no VLAN tag in the step input");
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

        if (changes.All(c => config.Values[c.Key] == c.Value))
        {
            return StepResult.Done($"NICs already tagged {tag}");
        }

        await context.Pve.UpdateVmConfigAsync(node, vmId, changes, config.Digest, context.CancellationToken);
        return StepResult.Done($"{changes.Count} NIC(s) tagged VLAN {tag}");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
    {
        var vmId = await context.TargetVmIdAsync();
        if (vmId is null || context.Input.VlanTag is not { } tag)
        {
            return false;
        }

        var config = await context.Pve.GetVmConfigAsync(VmStepHelpers.TargetNode(context), vmId.Value, context.CancellationToken);
        return config is not null && config.Values.Where(kv => NetKey().IsMatch(kv.Key)).All(kv => kv.Value == WithTag(kv.Value, tag));
    }

    public override async Task CompensateAsync(StepContext context)
    {
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

    [GeneratedRegex(@"^net\d+$")]
    private static partial Regex NetKey();
}
