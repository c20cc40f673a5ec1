using Taquin.Executors.Simulation;

namespace Taquin.Executors.Steps;

/// <summary>PVE online disk move to another storage (e.g. ZFS → PVE Ceph): no reboot.</summary>
public sealed class PveMoveDiskStep : StepBase
{
    public override string Type => StepTypes.PveMoveDisk;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromHours(12), new RetryPolicy(3, TimeSpan.FromSeconds(30)), CanCompensate: false, UsesCopySlots: true);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var vmId = await context.RequireTargetVmIdAsync();
        var status = await context.Pve.FindVmAsync(vmId, context.CancellationToken) ?? throw Permanent($"VM {vmId} ({context.Vm}) does not exist");
        var storage = PveStorageIds.FromPlan(context.Input.ToStorage ?? "");
        var config = await context.Pve.GetVmConfigAsync(status.Node, vmId, context.CancellationToken) ?? throw Permanent($"VM {vmId} has no config");
        foreach (var disk in context.Input.Disks)
        {
            if (!config.Values.GetValueOrDefault(disk.PveKey, "").StartsWith(storage + ":", StringComparison.Ordinal))
            {
                var upid = await context.Pve.MoveDiskAsync(status.Node, vmId, disk.PveKey, storage, deleteSource: true, context.CancellationToken);
                await context.SaveAsync("move." + disk.PveKey, upid);
                await WaitTaskAsync(context, status.Node, upid, $"move {disk.PveKey} of VM {vmId}");
            }
        }

        return StepResult.Done($"disks of VM {vmId} on {storage}");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
    {
        if (await context.TargetVmIdAsync() is not { } vmId || await context.Pve.FindVmAsync(vmId, context.CancellationToken) is not { } status)
        {
            return false;
        }

        var storage = PveStorageIds.FromPlan(context.Input.ToStorage ?? "");
        var config = await context.Pve.GetVmConfigAsync(status.Node, vmId, context.CancellationToken);
        return config is not null && context.Input.Disks.All(d => config.Values.GetValueOrDefault(d.PveKey, "").StartsWith(storage + ":", StringComparison.Ordinal));
    }
}
