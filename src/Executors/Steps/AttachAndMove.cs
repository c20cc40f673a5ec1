using Taquin.Executors.Adapters;
using Taquin.Executors.Simulation;

namespace Taquin.Executors.Steps;

/// <summary>
/// attach-and-move's PVE half (docs/adr/0010): with the source off, each old-Ceph image gets the PVE-valid name
/// <c>vm-VMID-disk-N</c> and the target VM's drive points at it on the external rbd storage; after the start, an online
/// <c>move_disk</c> carries it to the target storage and the old image is removed only once the move is verified.
/// Rollback renames the image back, so the source domain's disk reference is valid again and nothing else changed.
/// </summary>
internal static class AttachAndMove
{
    public const string Strategy = "attach-and-move";

    public static bool Applies(StepContext context) => context.Input.Strategy == Strategy;

    /// <summary>"pool/vm-VMID-disk-N": the name PVE's rbd plugin accepts for disk <paramref name="index"/> of the VM.</summary>
    public static string AttachedImage(DiskInput disk, int vmId, int index)
    {
        var slash = disk.Key.IndexOf('/', StringComparison.Ordinal);
        return $"{(slash < 0 ? "" : disk.Key[..(slash + 1)])}vm-{vmId}-disk-{index}";
    }

    /// <summary>The volume id of an attached image on the external storage ("old-ceph:vm-VMID-disk-N").</summary>
    public static string VolumeId(string image) => $"{PveStorageIds.OldCeph}:{image[(image.IndexOf('/', StringComparison.Ordinal) + 1)..]}";

    /// <summary>The image an RBD disk is under right now: its attached name once final-sync renamed it, else its own.</summary>
    public static async Task<string> CurrentImageAsync(StepContext context, DiskInput disk)
        => await context.FindSubjectCheckpointAsync(StepTypes.FinalSync, "renamed." + disk.PveKey) is { } renamed
           && !await context.Ceph.ImageExistsAsync(disk.Key, context.CancellationToken)
            ? renamed
            : disk.Key;

    private static IEnumerable<(DiskInput Disk, int Index)> RbdDisks(StepContext context)
        => context.Input.Disks.Select((d, i) => (d, i)).Where(x => x.d.IsRbd);

    /// <summary>Renames every RBD image to its PVE name and points the target VM's drive at it (config update with digest).</summary>
    public static async Task AttachAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var vmId = await context.RequireTargetVmIdAsync();
        var node = VmStepHelpers.TargetNode(context);
        foreach (var (disk, index) in RbdDisks(context))
        {
            var attached = AttachedImage(disk, vmId, index);
            var hasOriginal = await context.Ceph.ImageExistsAsync(disk.Key, ct);
            var hasAttached = await context.Ceph.ImageExistsAsync(attached, ct);
            if (hasOriginal && hasAttached)
            {
                throw new AdapterException($"VM {context.Vm}: both {disk.Key} and {attached} exist on the old Ceph: refusing to rename over another image", isTransient: false);
            }

            if (!hasOriginal && !hasAttached)
            {
                throw new AdapterException($"VM {context.Vm}: image {disk.Key} does not exist on the old Ceph", isTransient: false);
            }

            // The reference of the move's verification: the image as the source left it (a snapshot follows a rename).
            await VmStepHelpers.EnsureSnapshotAsync(context, hasOriginal ? disk.Key : attached, VmStepHelpers.FinalSnapshot);
            if (hasOriginal)
            {
                // Saved first: a crash between the two leaves a checkpoint the rollback can act on.
                await context.SaveAsync("renamed." + disk.PveKey, attached);
                await context.Ceph.RenameImageAsync(disk.Key, attached, ct);
                await context.LogAsync($"renamed {disk.Key} to {attached}");
            }

            var volume = VolumeId(attached);
            var config = await context.Pve.GetVmConfigAsync(node, vmId, ct)
                ?? throw new AdapterException($"VM {context.Vm}: target VM {vmId} does not exist on {node}", isTransient: false);
            if (config.Values.GetValueOrDefault(disk.PveKey)?.Split(',')[0] == volume)
            {
                continue;
            }

            await context.Pve.UpdateVmConfigAsync(node, vmId, new Dictionary<string, string> { [disk.PveKey] = volume + TranslatedOptions(context.Input, disk.PveKey) }, config.Digest, ct);
            await context.LogAsync($"drive {disk.PveKey} of VM {vmId} now {volume}");
        }
    }

    /// <summary>
    /// Rollback of <see cref="AttachAsync"/>: the target VM (stopped) lets go of the images, which get their names back.
    /// Refuses while the target VM runs on them.
    /// </summary>
    public static async Task DetachAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        if (await context.TargetVmIdAsync() is { } vmId && await context.Pve.FindVmAsync(vmId, ct) is { } status)
        {
            if (status.IsRunning)
            {
                throw new AdapterException($"VM {context.Vm}: target VM {vmId} runs on {status.Node}: refusing to take its disks away", isTransient: false);
            }

            var volumes = RbdDisks(context).Select(x => VolumeId(AttachedImage(x.Disk, vmId, x.Index))).ToHashSet(StringComparer.Ordinal);
            await DropReferencesAsync(context, status.Node, vmId, volumes, key => true);
            // Real PVE turns a deleted drive whose volume the VM owns into unusedN: that reference goes too.
            await DropReferencesAsync(context, status.Node, vmId, volumes, key => key.StartsWith("unused", StringComparison.Ordinal));
        }

        foreach (var disk in context.Input.Disks.Where(d => d.IsRbd))
        {
            if (context.Checkpoint("renamed." + disk.PveKey) is { } attached
                && !await context.Ceph.ImageExistsAsync(disk.Key, ct) && await context.Ceph.ImageExistsAsync(attached, ct))
            {
                await context.Ceph.RenameImageAsync(attached, disk.Key, ct);
                await context.LogAsync($"renamed {attached} back to {disk.Key}");
            }
        }
    }

    /// <summary>
    /// Commit's first part: <c>move_disk</c> (source kept) of every attached drive to the target storage, then the
    /// check that the drive is on a target volume of at least the image's size, and only then the old image goes.
    /// </summary>
    public static async Task MoveOffAsync(StepContext context, Func<string, string, string, Task> waitTask)
    {
        var ct = context.CancellationToken;
        var vmId = await context.RequireTargetVmIdAsync();
        var node = VmStepHelpers.TargetNode(context);
        var storage = PveStorageIds.FromPlan(context.Input.ToStorage ?? "");
        foreach (var (disk, index) in RbdDisks(context))
        {
            var attached = AttachedImage(disk, vmId, index);
            var oldVolume = VolumeId(attached);
            var volume = await VmStepHelpers.TargetVolumeAsync(context, vmId, disk.PveKey);
            var seconds = 0.0;
            if (!volume.StartsWith(storage + ":", StringComparison.Ordinal))
            {
                var started = context.Time.GetTimestamp();
                var upid = await context.Pve.MoveDiskAsync(node, vmId, disk.PveKey, storage, deleteSource: false, ct);
                await context.SaveAsync("move." + disk.PveKey, upid);
                await waitTask(node, upid, $"move {disk.PveKey} of VM {vmId} to {storage}");
                seconds = context.Time.GetElapsedTime(started).TotalSeconds;
                volume = await VmStepHelpers.TargetVolumeAsync(context, vmId, disk.PveKey);
            }

            var oldExists = await context.Ceph.ImageExistsAsync(attached, ct);
            if (oldExists)
            {
                var moved = await context.Pve.GetVolumeAsync(node, volume, ct);
                var size = (await context.Ceph.GetImageUsageAsync(attached, ct)).ProvisionedBytes;
                if (!volume.StartsWith(storage + ":", StringComparison.Ordinal) || moved is null || moved.SizeBytes < size)
                {
                    throw new AdapterException($"VM {context.Vm}: after the move, {disk.PveKey} is '{volume}' ({moved?.SizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "missing"} bytes), not a volume of {size} bytes on {storage}: keeping {attached}", isTransient: false);
                }

                if (context.Checkpoint("moved." + disk.PveKey) is null)
                {
                    await context.SaveAsync("moved." + disk.PveKey, FormattableString.Invariant($"{volume};bytes={moved.SizeBytes};seconds={seconds:F3}"));
                }

                await VerifyMovedAsync(context, disk, attached, volume);
            }

            await DropReferencesAsync(context, node, vmId, new HashSet<string>(StringComparer.Ordinal) { oldVolume }, key => key.StartsWith("unused", StringComparison.Ordinal));
            if (oldExists)
            {
                await CommitStep.MarkPastNoReturnAsync(context, $"removing {attached}");
                foreach (var snapshot in await context.Ceph.ListSnapshotsAsync(attached, ct))
                {
                    await context.Ceph.RemoveSnapshotAsync(attached, snapshot, ct);
                }

                await context.Ceph.RemoveImageAsync(attached, ct);
                await context.LogAsync($"moved {disk.PveKey} to {volume}; removed old image {attached}");
            }
        }
    }

    /// <summary>
    /// The same proof as the copying strategies before the old image is retired: checksums of the moved volume and of
    /// the image's stop-time snapshot (final-sync's <see cref="VmStepHelpers.FinalSnapshot"/>), saved as
    /// "verify.&lt;drive&gt;"; a mismatch keeps the image. Exact only while the guest has not written since its start on PVE
    /// (see docs/adr/0010, attach-and-move's known gaps); an RBD target has no snapshot to read and is not compared.
    /// </summary>
    private static async Task VerifyMovedAsync(StepContext context, DiskInput disk, string attached, string volume)
    {
        var ct = context.CancellationToken;
        var target = await VmStepHelpers.TargetOfAsync(context, volume);
        if (target is not Movers.RawVolumeTarget)
        {
            await context.SaveAsync("verify." + disk.PveKey, $"skipped;{volume} is an RBD volume without a snapshot to compare");
            return;
        }

        if (!(await context.Ceph.ListSnapshotsAsync(attached, ct)).Contains(VmStepHelpers.FinalSnapshot))
        {
            throw new AdapterException($"VM {context.Vm}: {attached} has no snapshot {VmStepHelpers.FinalSnapshot} (taken at final-sync) to verify the move against: keeping it", isTransient: false);
        }

        var host = context.Input.FromHost ?? throw new AdapterException($"VM {context.Vm}: step input has no source host to read {attached} from", isTransient: false);
        var report = await context.Mover.VerifyAsync(new Movers.DiskCopyRequest(new Movers.RbdImageSource(host, attached), null, VmStepHelpers.FinalSnapshot, target), ct);
        await context.SaveAsync("verify." + disk.PveKey, report.ToCheckpoint());
        if (!report.Match)
        {
            throw new AdapterException($"VM {context.Vm}: the moved {volume} differs from {attached}@{VmStepHelpers.FinalSnapshot} ({report.ToCheckpoint()}: source {report.SourceDigest}, target {report.TargetDigest}); refusing to retire {attached}", isTransient: false);
        }
    }

    /// <summary>Removes the config keys (drives or unusedN) that still reference one of <paramref name="volumes"/>.</summary>
    private static async Task DropReferencesAsync(StepContext context, string node, int vmId, IReadOnlySet<string> volumes, Func<string, bool> keyFilter)
    {
        var config = await context.Pve.GetVmConfigAsync(node, vmId, context.CancellationToken);
        if (config is null)
        {
            return;
        }

        var keys = config.Values.Where(kv => keyFilter(kv.Key) && volumes.Contains(kv.Value.Split(',')[0])).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
        if (keys.Count > 0)
        {
            await context.Pve.UpdateVmConfigAsync(node, vmId, new Dictionary<string, string> { ["delete"] = string.Join(',', keys) }, config.Digest, context.CancellationToken);
        }
    }

    /// <summary>The translator's per-drive options (",iothread=1,discard=on"), without a size (PVE reads it from the image).</summary>
    private static string TranslatedOptions(StepInput input, string pveKey)
        => input.CreateParameters?.GetValueOrDefault(pveKey) is { } value
            ? string.Concat(value.Split(',').Skip(1).Where(o => o.Length > 0 && !o.StartsWith("size=", StringComparison.Ordinal)).Select(o => "," + o))
            : "";
}
