namespace Taquin.Executors.Steps;

/// <summary>
/// Bulk copy while the source still runs (warm: snapshot, full copy of the snapshot). Cold copies wait for the
/// shutdown (final-sync does them); attach-and-move copies nothing now. Warm file disks go onto an external overlay
/// and their base is copied (<see cref="FileDiskWarm"/>, docs/adr/0012).
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

        var bases = await FileDiskWarm.CopyBasesAsync(context, vmId);
        await context.SaveAsync("mode", "warm");
        return StepResult.Done($"warm: {copied} RBD disk(s) copied from snapshot {VmStepHelpers.BaseSnapshot}, {bases} file disk base(s) copied under an overlay");
    }

    public override Task<bool> VerifyAsync(StepContext context)
        => Task.FromResult(context.Checkpoint("mode") is not null
            && (context.Input.Strategy != "warm" || (context.Input.Disks.Where(d => d.IsRbd).All(d => context.Checkpoint("copied." + d.PveKey) is not null)
                && (context.Input.Disks.All(d => d.IsRbd) || FileDiskWarm.AllCopied(context)))));

    public override async Task CompensateAsync(StepContext context)
    {
        foreach (var disk in context.Input.Disks.Where(d => d.IsRbd))
        {
            await VmStepHelpers.RemoveSnapshotIfPresentAsync(context, disk.Key, VmStepHelpers.BaseSnapshot);
        }

        await FileDiskWarm.RollbackAsync(context);
    }
}
