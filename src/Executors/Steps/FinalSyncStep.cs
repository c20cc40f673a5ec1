using Taquin.Executors.Adapters;

namespace Taquin.Executors.Steps;

/// <summary>
/// With the source off: snapshot, then bring every target volume to that exact snapshot — incremental for warm
/// RBD disks (export-diff/import-diff) and warm file disks (their overlay only, docs/adr/0012), full for cold disks.
/// Verified by checksums on both sides.
/// </summary>
public sealed class FinalSyncStep : StepBase
{
    public override string Type => StepTypes.FinalSync;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromHours(12), new RetryPolicy(3, TimeSpan.FromSeconds(30)), CanCompensate: true, UsesCopySlots: true);
    public override string PreconditionText => "the source is shut off (its disks no longer change)";

    public override Task<Precondition> CheckPreconditionAsync(StepContext context) => VmStepHelpers.SourceIsOffAsync(context);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        if (AttachAndMove.Applies(context))
        {
            // The source is off: its images get PVE names and the target VM's drives point at them (ADR 0010).
            await AttachAndMove.AttachAsync(context);
            await context.SaveAsync("mode", AttachAndMove.Strategy);
            return StepResult.Done("attach-and-move: the target VM's drives point at the renamed old-Ceph images; commit moves them");
        }

        var vmId = await context.RequireTargetVmIdAsync();
        foreach (var disk in context.Input.Disks)
        {
            if (context.Checkpoint("synced." + disk.PveKey) is not null)
            {
                continue;
            }

            var volume = await VmStepHelpers.TargetVolumeAsync(context, vmId, disk.PveKey);
            if (disk.IsRbd)
            {
                await VmStepHelpers.EnsureSnapshotAsync(context, disk.Key, VmStepHelpers.FinalSnapshot);
                var warm = context.Input.Strategy == "warm";
                await VmStepHelpers.CopyAsync(context, disk, warm ? VmStepHelpers.BaseSnapshot : null, VmStepHelpers.FinalSnapshot, volume);
            }
            else if (!await FileDiskWarm.SyncOverlayAsync(context, disk, volume))
            {
                await VmStepHelpers.CopyAsync(context, disk, null, null, volume);
            }

            // Nothing starts on a copy that differs from its source: a mismatch fails the step for good.
            var verified = await VmStepHelpers.VerifyCopyAsync(context, disk, volume);
            if (!verified.Match)
            {
                await context.SaveAsync("verified", "mismatch");
                throw new AdapterException($"VM {context.Vm}: {disk.Key} and {volume} differ after the copy ({verified.ToCheckpoint()}: source {verified.SourceDigest}, target {verified.TargetDigest}); refusing cutover", isTransient: false);
            }

            await context.SaveAsync("synced." + disk.PveKey, "yes");
            await context.LogAsync($"synced {disk.Key} to {volume} ({verified.ToCheckpoint()})");
        }

        await context.SaveAsync("verified", "yes");
        await context.SaveAsync("mode", context.Input.Strategy ?? "cold");
        return StepResult.Done($"{context.Input.Disks.Count} disk(s) synced to the final state");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
    {
        if (context.Input.Strategy == "attach-and-move")
        {
            return context.Checkpoint("mode") is not null;
        }

        var vmId = await context.TargetVmIdAsync();
        if (vmId is null)
        {
            return false;
        }

        foreach (var disk in context.Input.Disks)
        {
            var volume = await VmStepHelpers.TargetVolumeAsync(context, vmId.Value, disk.PveKey);
            if (!await VmStepHelpers.TargetMatchesAsync(context, disk, volume))
            {
                return false;
            }
        }

        return true;
    }

    public override async Task CompensateAsync(StepContext context)
    {
        if (AttachAndMove.Applies(context))
        {
            await AttachAndMove.DetachAsync(context);
        }

        foreach (var disk in context.Input.Disks.Where(d => d.IsRbd))
        {
            await VmStepHelpers.RemoveSnapshotIfPresentAsync(context, disk.Key, VmStepHelpers.FinalSnapshot);
        }
    }
}
