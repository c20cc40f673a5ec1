namespace Taquin.Executors.Steps;

/// <summary>
/// Bulk copy while the source still runs (warm: snapshot, full copy of the snapshot). Cold copies wait for the
/// shutdown (final-sync does them); attach-and-move copies nothing now; file disks are always copied cold.
/// </summary>
public sealed class CopyDisksStep : StepBase
{
    public override string Type => StepTypes.CopyDisks;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromHours(12), new RetryPolicy(3, TimeSpan.FromSeconds(30)), CanCompensate: true, UsesCopySlots: true);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        if (context.Input.Strategy != "warm")
        {
            await context.SaveAsync("mode", context.Input.Strategy ?? "cold");
            return StepResult.Done($"{context.Input.Strategy}: nothing to copy while the VM runs");
        }

        var vmId = await context.RequireTargetVmIdAsync();
        var copied = 0;
        foreach (var disk in context.Input.Disks.Where(d => d.IsRbd))
        {
            if (context.Checkpoint("copied." + disk.PveKey) is not null)
            {
                continue;
            }

            var volume = await VmStepHelpers.TargetVolumeAsync(context, vmId, disk.PveKey);
            await VmStepHelpers.EnsureSnapshotAsync(context, disk.Key, VmStepHelpers.BaseSnapshot);
            await VmStepHelpers.CopyAsync(context, disk, null, VmStepHelpers.BaseSnapshot, volume);
            await context.SaveAsync("copied." + disk.PveKey, VmStepHelpers.BaseSnapshot);
            await context.LogAsync($"copied {disk.Key}@{VmStepHelpers.BaseSnapshot} to {volume}");
            copied++;
        }

        await context.SaveAsync("mode", "warm");
        return StepResult.Done($"warm: {copied} RBD disk(s) copied from snapshot {VmStepHelpers.BaseSnapshot}");
    }

    public override Task<bool> VerifyAsync(StepContext context)
        => Task.FromResult(context.Checkpoint("mode") is not null
            && (context.Input.Strategy != "warm" || context.Input.Disks.Where(d => d.IsRbd).All(d => context.Checkpoint("copied." + d.PveKey) is not null)));

    public override async Task CompensateAsync(StepContext context)
    {
        foreach (var disk in context.Input.Disks.Where(d => d.IsRbd))
        {
            await VmStepHelpers.RemoveSnapshotIfPresentAsync(context, disk.Key, VmStepHelpers.BaseSnapshot);
        }
    }
}
