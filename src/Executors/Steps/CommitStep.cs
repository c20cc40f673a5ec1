using Taquin.Executors.Adapters;

namespace Taquin.Executors.Steps;

/// <summary>
/// The point of no return: moves attached disks off the old Ceph (attach-and-move), then retires the source —
/// domain undefined (its XML kept in the checkpoint), snapshots and RBD images removed so the old Ceph shrinks.
/// </summary>
public sealed class CommitStep : StepBase
{
    public override string Type => StepTypes.Commit;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromHours(12), new RetryPolicy(4, TimeSpan.FromSeconds(15)), CanCompensate: false, PointOfNoReturn: true);
    public override string PreconditionText => "the target VM is verified; nothing of the source is needed any more";

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var host = context.Input.FromHost!;
        if (AttachAndMove.Applies(context))
        {
            await AttachAndMove.MoveOffAsync(context, (node, upid, what) => WaitTaskAsync(context, node, upid, what));
        }

        if (await context.Libvirt.GetDomainStateAsync(host, context.Vm, ct) != DomainRunState.Undefined)
        {
            await MarkPastNoReturnAsync(context, $"undefining {context.Vm} on {host}");
            await context.SaveAsync("sourceXml", await context.Libvirt.DumpXmlAsync(host, context.Vm, ct));
            await context.Libvirt.UndefineAsync(host, context.Vm, ct);
        }

        foreach (var (disk, overlay) in await FileDiskWarm.OverlaysAsync(context))
        {
            // A warm file disk is its base plus its overlay: both stay together (like cold file disks, until the host
            // is reinstalled), so the saved XML, which names the overlay, can still be defined again.
            await context.SaveAsync("files." + disk.PveKey, $"{disk.Key};{overlay}");
            await context.LogAsync($"source files of {disk.PveKey} kept on {host}: base {disk.Key}, overlay {overlay}");
        }

        foreach (var disk in context.Input.Disks.Where(d => d.IsRbd))
        {
            if (!await context.Ceph.ImageExistsAsync(disk.Key, ct))
            {
                continue;
            }

            await MarkPastNoReturnAsync(context, $"removing {disk.Key}");
            foreach (var snapshot in await context.Ceph.ListSnapshotsAsync(disk.Key, ct))
            {
                await context.Ceph.RemoveSnapshotAsync(disk.Key, snapshot, ct);
            }

            await context.Ceph.RemoveImageAsync(disk.Key, ct);
            await context.LogAsync($"removed old image {disk.Key}");
        }

        return StepResult.Done($"{context.Vm} committed: source undefined on {host}, old images removed");
    }

    /// <summary>Saved before the first irreversible act: a failure from here on must not roll the VM back (ADR 0014).</summary>
    internal static async Task MarkPastNoReturnAsync(StepContext context, string what)
    {
        if (context.Checkpoint(PastNoReturnKey) is null)
        {
            await context.SaveAsync(PastNoReturnKey, what);
        }
    }

    public override async Task<bool> VerifyAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        if (await context.Libvirt.GetDomainStateAsync(context.Input.FromHost!, context.Vm, ct) != DomainRunState.Undefined)
        {
            return false;
        }

        foreach (var disk in context.Input.Disks.Where(d => d.IsRbd))
        {
            if (await context.Ceph.ImageExistsAsync(await AttachAndMove.CurrentImageAsync(context, disk), ct))
            {
                return false;
            }
        }

        return true;
    }
}
