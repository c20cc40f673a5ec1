using Taquin.Executors.Adapters;
using Taquin.Executors.Movers;

namespace Taquin.Executors.Steps;

/// <summary>What several VM steps share: target volumes, snapshots, copies and their verification.</summary>
internal static class VmStepHelpers
{
    /// <summary>Snapshot taken while the VM runs (warm) — the base of the incremental sync.</summary>
    public const string BaseSnapshot = "taquin-base";
    /// <summary>Snapshot taken once the VM is off: what the target must hold exactly.</summary>
    public const string FinalSnapshot = "taquin-final";

    public static string TargetNode(StepContext context)
        => context.Input.ToHost ?? throw new AdapterException($"VM {context.Vm}: step input has no target host", isTransient: false);

    public static async Task<string> TargetVolumeAsync(StepContext context, int vmId, string pveKey)
    {
        var config = await context.Pve.GetVmConfigAsync(TargetNode(context), vmId, context.CancellationToken)
            ?? throw new AdapterException($"VM {context.Vm}: target VM {vmId} does not exist on {TargetNode(context)}", isTransient: false);
        return config.Values.TryGetValue(pveKey, out var value) ? value.Split(',')[0]
            : throw new AdapterException($"VM {context.Vm}: target VM {vmId} has no drive {pveKey}", isTransient: false);
    }

    public static async Task EnsureSnapshotAsync(StepContext context, string image, string snapshot)
    {
        var existing = await context.Ceph.ListSnapshotsAsync(image, context.CancellationToken);
        if (!existing.Contains(snapshot))
        {
            await context.Ceph.CreateSnapshotAsync(image, snapshot, context.CancellationToken);
        }
    }

    public static async Task RemoveSnapshotIfPresentAsync(StepContext context, string image, string snapshot)
    {
        if (await context.Ceph.ImageExistsAsync(image, context.CancellationToken)
            && (await context.Ceph.ListSnapshotsAsync(image, context.CancellationToken)).Contains(snapshot))
        {
            await context.Ceph.RemoveSnapshotAsync(image, snapshot, context.CancellationToken);
        }
    }

    public static DiskSource SourceOf(StepContext context, DiskInput disk)
    {
        var host = context.Input.FromHost ?? throw new AdapterException($"VM {context.Vm}: step input has no source host", isTransient: false);
        return disk.IsRbd ? new RbdImageSource(host, disk.Key) : new FileImageSource(host, disk.Key, disk.Format ?? "raw");
    }

    /// <summary>
    /// The target of a PVE volume id: an RBD image of the new Ceph, or a raw block device (zvol) or file. Where the bytes
    /// live is PVE's own answer (the volume's path on the node), so a storage laid out differently from PVE's defaults
    /// (another pool, a dir storage) is still written where PVE reads it; the naming convention is the fallback when
    /// PVE does not know the volume.
    /// </summary>
    public static async Task<DiskTarget> TargetOfAsync(StepContext context, string volumeId)
    {
        var volume = await context.Pve.GetVolumeAsync(TargetNode(context), volumeId, context.CancellationToken);
        var path = volume is { Path.Length: > 0 } ? volume.Path : VolumePaths.TargetPath(volumeId);
        if (path.StartsWith("rbd:", StringComparison.Ordinal))
        {
            // rbd:pool/image[:conf=...:id=...]: qemu's URI; the image spec ends at the first option.
            var spec = path["rbd:".Length..];
            var colon = spec.IndexOf(':', StringComparison.Ordinal);
            return new RbdVolumeTarget(TargetNode(context), colon < 0 ? spec : spec[..colon]);
        }

        return new RawVolumeTarget(TargetNode(context), path);
    }

    /// <summary>
    /// Copies a disk through the mover: <paramref name="fromSnapshot"/> null = everything allocated up to
    /// <paramref name="toSnapshot"/> (null for file images), else the difference. Progress (bytes, rate, ETA) and the
    /// outcome (bytes, duration, data path, attempts) go to the step's checkpoint. <paramref name="source"/> overrides the
    /// disk's own source (a warm file disk's overlay, whose base the target holds).
    /// </summary>
    public static async Task<CopyReport> CopyAsync(StepContext context, DiskInput disk, string? fromSnapshot, string? toSnapshot, string volumeId, DiskSource? source = null)
    {
        var request = new DiskCopyRequest(source ?? SourceOf(context, disk), fromSnapshot, toSnapshot, await TargetOfAsync(context, volumeId));
        var report = await context.Mover.CopyAsync(request, progress => context.SaveAsync("progress." + disk.PveKey, progress.ToCheckpoint()), context.CancellationToken);
        await context.SaveAsync("copy." + disk.PveKey + (fromSnapshot is null ? ".full" : ".diff"), FormattableString.Invariant(
            $"bytes={report.BytesSent};data={report.DataBytes};seconds={report.Duration.TotalSeconds:F3};rate={report.BytesPerSecond:F0};path={report.Path.ToString().ToLowerInvariant()};attempts={report.Attempts}"));
        await context.LogAsync(FormattableString.Invariant($"{report.Copy}: {report.BytesSent} bytes in {report.Duration.TotalSeconds:F1}s ({report.Method}, {report.Path}, attempt {report.Attempts})"));
        return report;
    }

    /// <summary>Checksums of the final state on both sides (file disks: content compare); saved as "verify.&lt;drive&gt;".</summary>
    public static async Task<VerifyReport> VerifyCopyAsync(StepContext context, DiskInput disk, string volumeId)
    {
        // A warm file disk is compared as its overlay chain (base + what the guest wrote since); "since the base" tells a
        // sampled verification to hash the overlay's extents in full (docs/adr/0020).
        var overlay = await FileDiskWarm.OverlayOfAsync(context, disk);
        var request = new DiskCopyRequest(overlay ?? SourceOf(context, disk), overlay is null ? null : BaseSnapshot, disk.IsRbd ? FinalSnapshot : null, await TargetOfAsync(context, volumeId));
        var report = await context.Mover.VerifyAsync(request, context.CancellationToken);
        await context.SaveAsync("verify." + disk.PveKey, report.ToCheckpoint());
        return report;
    }

    /// <summary>True when the target volume holds exactly the source's final state.</summary>
    public static async Task<bool> TargetMatchesAsync(StepContext context, DiskInput disk, string volumeId)
        => (await VerifyCopyAsync(context, disk, volumeId)).Match;

    /// <summary>
    /// The cutover guard, before the target starts: the source is off with autostart off, the final sync's checksums
    /// matched, and for attach-and-move nobody else (watchers, lock holders) has the old images open.
    /// </summary>
    public static async Task<Precondition> CutoverGuardAsync(StepContext context)
    {
        var source = await SourceIsOffAsync(context);
        if (!source.Met)
        {
            return source;
        }

        if (context.Input.Strategy != "attach-and-move")
        {
            return await context.FindSubjectCheckpointAsync(StepTypes.FinalSync, "verified") == "mismatch"
                ? Precondition.NotMet($"the copy of {context.Vm} does not match its source (final-sync checksums): refusing cutover")
                : Precondition.Ok;
        }

        return await OtherRbdClientsAsync(context) is { } clients ? Precondition.NotMet(clients) : Precondition.Ok;
    }

    /// <summary>attach-and-move: a sentence naming the clients that still hold an old-Ceph image, or null when none does.</summary>
    public static async Task<string?> OtherRbdClientsAsync(StepContext context)
    {
        if (context.Input.Strategy != "attach-and-move" || context.Input.FromHost is not { } host)
        {
            return null;
        }

        foreach (var disk in context.Input.Disks.Where(d => d.IsRbd))
        {
            var image = await AttachAndMove.CurrentImageAsync(context, disk);
            var clients = await context.Mover.RbdClientsAsync(host, image, oldCluster: true, context.CancellationToken);
            if (clients.Count > 0)
            {
                return $"RBD image {image} still has clients ({string.Join(", ", clients)}): the VM would run twice";
            }
        }

        return null;
    }

    /// <summary>Safety check before anything starts a VM: its source is off and will not come back by itself.</summary>
    public static async Task<Precondition> SourceIsOffAsync(StepContext context)
    {
        var host = context.Input.FromHost;
        if (host is null)
        {
            return Precondition.Ok;
        }

        var state = await context.Libvirt.GetDomainStateAsync(host, context.Vm, context.CancellationToken);
        if (state == DomainRunState.Undefined)
        {
            return Precondition.Ok;
        }

        if (state != DomainRunState.ShutOff)
        {
            return Precondition.NotMet($"source {context.Vm} on {host} is {state}, not shut off: starting the target would run the VM twice");
        }

        return await context.Libvirt.GetAutostartAsync(host, context.Vm, context.CancellationToken)
            ? Precondition.NotMet($"source {context.Vm} on {host} still has autostart on: a host reboot would run the VM twice")
            : Precondition.Ok;
    }
}
