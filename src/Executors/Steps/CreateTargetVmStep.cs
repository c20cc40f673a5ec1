using System.Globalization;
using Taquin.Executors.Simulation;

namespace Taquin.Executors.Steps;

/// <summary>Creates the PVE VM (stopped) with its disks allocated on the target storage.</summary>
public sealed class CreateTargetVmStep : StepBase
{
    public override string Type => StepTypes.CreateTargetVm;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(10), new RetryPolicy(4, TimeSpan.FromSeconds(10)), CanCompensate: true);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var node = VmStepHelpers.TargetNode(context);
        var vmId = await context.TargetVmIdAsync();
        if (vmId is null)
        {
            vmId = await context.Pve.GetNextVmIdAsync(ct);
            // The id is ours from now on: saved before anything is created so a crash cannot orphan a VM.
            await context.SaveAsync("vmid", vmId.Value.ToString(CultureInfo.InvariantCulture));
        }

        var existing = await context.Pve.FindVmAsync(vmId.Value, ct);
        if (existing is not null)
        {
            if (existing.Name != context.Vm)
            {
                throw Permanent($"VMID {vmId} is taken by '{existing.Name}': another tool created a VM with our id");
            }

            return StepResult.Done($"VM {vmId} ({context.Vm}) already exists on {existing.Node}");
        }

        var upid = await context.Pve.CreateVmAsync(node, vmId.Value, BuildParameters(context.Input), ct);
        await context.SaveAsync("createTask", upid);
        await WaitTaskAsync(context, node, upid, $"create VM {vmId}");
        return StepResult.Done($"created VM {vmId} ({context.Vm}) on {node}");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
    {
        var vmId = await context.TargetVmIdAsync();
        if (vmId is null)
        {
            return false;
        }

        var config = await context.Pve.GetVmConfigAsync(VmStepHelpers.TargetNode(context), vmId.Value, context.CancellationToken);
        return config is not null && config.Values.GetValueOrDefault("name") == context.Vm;
    }

    public override async Task CompensateAsync(StepContext context)
    {
        var vmId = await context.TargetVmIdAsync();
        if (vmId is null)
        {
            return;
        }

        var status = await context.Pve.FindVmAsync(vmId.Value, context.CancellationToken);
        if (status is null || status.Name != context.Vm)
        {
            return;
        }

        if (status.IsRunning)
        {
            await WaitTaskAsync(context, status.Node, await context.Pve.StopVmAsync(status.Node, vmId.Value, context.CancellationToken), $"stop VM {vmId}");
        }

        await WaitTaskAsync(context, status.Node, await context.Pve.DeleteVmAsync(status.Node, vmId.Value, context.CancellationToken), $"delete VM {vmId}");
        await context.LogAsync($"deleted target VM {vmId}");
    }

    /// <summary>
    /// The create request: the translator's parameters (compiled into the input: firmware, CPU, buses, MACs with the
    /// VLAN tag, SMBIOS uuid...) with the disks allocated the way the copy strategy needs (empty volumes of the
    /// source size on the target storage; attach-and-move RBD drives come at final-sync), keeping the
    /// translator's per-disk options. Without a translation, a minimal config of the same identity.
    /// </summary>
    internal static Dictionary<string, string> BuildParameters(StepInput input)
    {
        var minimal = MinimalParameters(input);
        if (input.CreateParameters is not { Count: > 0 } translated)
        {
            return minimal;
        }

        var merged = new Dictionary<string, string>(translated, StringComparer.Ordinal);
        foreach (var disk in input.Disks)
        {
            if (!minimal.ContainsKey(disk.PveKey))
            {
                merged.Remove(disk.PveKey);
                continue;
            }

            var options = translated.TryGetValue(disk.PveKey, out var value) && value.IndexOf(',', StringComparison.Ordinal) is var comma and >= 0
                ? value[comma..]
                : "";
            merged[disk.PveKey] = minimal[disk.PveKey] + options;
        }

        return merged;
    }

    private static Dictionary<string, string> MinimalParameters(StepInput input)
    {
        var storage = PveStorageIds.FromPlan(input.ToStorage ?? "");
        var p = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["name"] = input.Vm ?? "",
            ["memory"] = Math.Max(1, input.RamBytes / (1024 * 1024)).ToString(CultureInfo.InvariantCulture),
            ["cores"] = input.Cores.ToString(CultureInfo.InvariantCulture),
            ["scsihw"] = "virtio-scsi-single",
            ["onboot"] = "0",
        };
        if (input.Uuid is { } uuid)
        {
            p["smbios1"] = "uuid=" + uuid.ToString("D");
        }

        for (var i = 0; i < input.Macs.Count; i++)
        {
            p[$"net{i}"] = $"virtio={input.Macs[i]},bridge={input.Bridge}";
        }

        // attach-and-move RBD drives are left out: PVE accepts only vm-VMID-… image names, which the images get at
        // final-sync once the source is off (AttachAndMove.AttachAsync points the drives at them then).
        foreach (var disk in input.Disks.Where(d => !(input.Strategy == AttachAndMove.Strategy && d.IsRbd)))
        {
            var gib = Math.Max(1, (disk.SizeBytes + (1L << 30) - 1) >> 30);
            p[disk.PveKey] = $"{storage}:{gib.ToString(CultureInfo.InvariantCulture)}";
        }

        return p;
    }
}
