using System.Xml.Linq;
using Taquin.Executors.Adapters;
using Taquin.Executors.Movers;

namespace Taquin.Executors.Steps;

/// <summary>
/// Warm copy of file disks (qcow2 / raw files, docs/adr/0012). copy-disks, with the VM running, puts every file disk
/// on an external overlay (<c>virsh snapshot-create-as --disk-only --no-metadata</c>) so its base file stops changing,
/// then copies the base. final-sync, with the VM off, moves only the overlay's clusters onto the target. Rollback
/// merges the overlay back into the base (<c>blockcommit --active --pivot</c> while running, <c>qemu-img commit</c>
/// and a redefinition on the base when off) and removes it.
/// Checkpoints of copy-disks, per drive: <c>dev.&lt;drive&gt;</c> (libvirt target), <c>overlay.&lt;drive&gt;</c> (saved
/// BEFORE the snapshot), <c>copied.&lt;drive&gt;</c> (base copied); <c>sourceXml</c>: the domain before the snapshot.
/// </summary>
internal static class FileDiskWarm
{
    /// <summary>Name of the disk-only snapshot (no libvirt metadata is kept; the name only shows in libvirt's log).</summary>
    public const string SnapshotName = "taquin-warm";

    /// <summary>The overlay next to its base: "/images/vm.qcow2" → "/images/vm.taquin-overlay.qcow2".</summary>
    public static string OverlayPathFor(string basePath)
    {
        var slash = basePath.LastIndexOf('/');
        var folder = slash < 0 ? "" : basePath[..(slash + 1)];
        var name = basePath[(slash + 1)..];
        var dot = name.LastIndexOf('.');
        return folder + (dot > 0 ? name[..dot] : name) + ".taquin-overlay.qcow2";
    }

    private static IEnumerable<DiskInput> FileDisks(StepContext context) => context.Input.Disks.Where(d => !d.IsRbd);

    private static string SourceHost(StepContext context)
        => context.Input.FromHost ?? throw new AdapterException($"VM {context.Vm}: step input has no source host", isTransient: false);

    /// <summary>A copy-disks checkpoint, from the step itself or, for later steps, from the journal.</summary>
    private static async Task<string?> CopyDisksCheckpointAsync(StepContext context, string key)
        => context.Step.StepType == StepTypes.CopyDisks ? context.Checkpoint(key) : await context.FindSubjectCheckpointAsync(StepTypes.CopyDisks, key);

    /// <summary>copy-disks: overlays under the running VM's file disks, then their bases copied. Returns how many bases were copied.</summary>
    public static async Task<int> CopyBasesAsync(StepContext context, int vmId)
    {
        var disks = FileDisks(context).ToList();
        if (disks.Count == 0)
        {
            return 0;
        }

        var host = SourceHost(context);
        var state = await context.Libvirt.GetDomainStateAsync(host, context.Vm, context.CancellationToken);
        if (state is not (DomainRunState.Running or DomainRunState.Paused) && disks.All(d => context.Checkpoint("overlay." + d.PveKey) is null))
        {
            // Nothing writes to the files of a VM that is off: final-sync copies them whole (cold), no overlay needed.
            await context.SaveAsync("files", "cold: the domain is not running");
            return 0;
        }

        await EnsureOverlaysAsync(context, host, disks);
        var copied = 0;
        foreach (var disk in disks.Where(d => context.Checkpoint("copied." + d.PveKey) is null))
        {
            var volume = await VmStepHelpers.TargetVolumeAsync(context, vmId, disk.PveKey);
            // The base is read-only now (qemu writes into the overlay): copied while the guest runs.
            await VmStepHelpers.CopyAsync(context, disk, null, null, volume);
            await context.SaveAsync("copied." + disk.PveKey, "base");
            await context.LogAsync($"copied base {disk.Key} to {volume}; {context.Vm} writes into {context.Checkpoint("overlay." + disk.PveKey)}");
            copied++;
        }

        await context.SaveAsync("files", "warm");
        return copied;
    }

    /// <summary>Every file disk of the domain is on its overlay, created once: a resumed step finds it via domblklist.</summary>
    private static async Task EnsureOverlaysAsync(StepContext context, string host, IReadOnlyList<DiskInput> disks)
    {
        var ct = context.CancellationToken;
        var blocks = await context.Libvirt.DomainBlockListAsync(host, context.Vm, ct: ct);
        var pending = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var disk in disks)
        {
            var overlay = context.Checkpoint("overlay." + disk.PveKey);
            if (overlay is not null)
            {
                var dev = context.Checkpoint("dev." + disk.PveKey)!;
                var current = blocks.FirstOrDefault(b => b.Target == dev)?.Source;
                if (current == overlay)
                {
                    continue;
                }

                if (current != disk.Key)
                {
                    throw new AdapterException($"VM {context.Vm}: disk {dev} is on {current ?? "nothing"}, neither its base {disk.Key} nor the overlay {overlay}; refusing to snapshot it", isTransient: false);
                }

                // Checkpointed, then the step died before the snapshot: the domain never used the overlay. A file left by a
                // snapshot that failed half-way holds no guest write, so it goes before the snapshot is taken (once).
                await RemoveFileAsync(context, host, overlay);
                pending[dev] = overlay;
                continue;
            }

            var block = blocks.FirstOrDefault(b => b.Source == disk.Key)
                ?? throw new AdapterException($"VM {context.Vm}: no disk of the domain on {host} uses {disk.Key} (it has {string.Join(", ", blocks.Select(b => $"{b.Target}={b.Source}"))})", isTransient: false);
            overlay = OverlayPathFor(disk.Key);
            if (context.Checkpoint("sourceXml") is null)
            {
                await context.SaveAsync("sourceXml", await context.Libvirt.DumpXmlAsync(host, context.Vm, ct));
            }

            // Saved BEFORE the snapshot: a crash right after it still knows the overlay (and the rollback can merge it).
            await context.SaveAsync("dev." + disk.PveKey, block.Target);
            await context.SaveAsync("overlay." + disk.PveKey, overlay);
            await RemoveFileAsync(context, host, overlay);
            pending[block.Target] = overlay;
        }

        if (pending.Count > 0)
        {
            await context.Libvirt.CreateDiskOnlySnapshotAsync(host, context.Vm, SnapshotName, pending, ct);
            await context.LogAsync($"{context.Vm} now writes into overlay(s) {string.Join(", ", pending.Select(p => $"{p.Key}={p.Value}"))}");
        }
    }

    /// <summary>Warm file disks: every base copied (or the VM was off and the files go cold).</summary>
    public static bool AllCopied(StepContext context)
        => context.Checkpoint("files") is { } files && (files.StartsWith("cold", StringComparison.Ordinal)
            || FileDisks(context).All(d => context.Checkpoint("copied." + d.PveKey) is not null));

    /// <summary>The overlay a warm file disk writes into, once copy-disks copied its base; null for a cold file disk.</summary>
    public static async Task<FileImageSource?> OverlayOfAsync(StepContext context, DiskInput disk)
    {
        if (disk.IsRbd || await CopyDisksCheckpointAsync(context, "copied." + disk.PveKey) is null
            || await CopyDisksCheckpointAsync(context, "overlay." + disk.PveKey) is not { } overlay)
        {
            return null;
        }

        return new FileImageSource(SourceHost(context), overlay, "qcow2");
    }

    /// <summary>
    /// final-sync of a warm file disk: only the overlay's clusters go onto the target, which holds the base. False when
    /// the disk is not warm (copied whole by the caller).
    /// </summary>
    public static async Task<bool> SyncOverlayAsync(StepContext context, DiskInput disk, string volumeId)
    {
        if (await OverlayOfAsync(context, disk) is not { } overlay)
        {
            return false;
        }

        var dev = await CopyDisksCheckpointAsync(context, "dev." + disk.PveKey);
        var current = (await context.Libvirt.DomainBlockListAsync(overlay.Host, context.Vm, inactive: true, context.CancellationToken)).FirstOrDefault(b => b.Target == dev)?.Source;
        if (current != overlay.Path)
        {
            throw new AdapterException($"VM {context.Vm}: disk {dev} is defined on {current ?? "nothing"}, not on the overlay {overlay.Path} whose base was copied; refusing a sync that would miss writes", isTransient: false);
        }

        await VmStepHelpers.CopyAsync(context, disk, VmStepHelpers.BaseSnapshot, null, volumeId, overlay);
        return true;
    }

    /// <summary>
    /// copy-disks' rollback: each file disk back on its base with everything the guest wrote, the overlay removed.
    /// Running: <c>blockcommit --active --pivot</c>. Off: <c>qemu-img commit</c> of the overlay into the base and the
    /// definition redefined on the base. Resumable: a disk already on its base only has its overlay file removed.
    /// </summary>
    public static async Task RollbackAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var disks = FileDisks(context).Where(d => context.Checkpoint("overlay." + d.PveKey) is not null).ToList();
        if (disks.Count == 0 || context.Input.FromHost is not { } host)
        {
            return;
        }

        var state = await context.Libvirt.GetDomainStateAsync(host, context.Vm, ct);
        if (state == DomainRunState.Undefined)
        {
            throw new AdapterException($"VM {context.Vm} is not defined on {host}: its file disks stay on their overlays ({string.Join(", ", disks.Select(d => context.Checkpoint("overlay." + d.PveKey)))}); nothing merged", isTransient: false);
        }

        var live = state is DomainRunState.Running or DomainRunState.Paused;
        foreach (var disk in disks)
        {
            var overlay = context.Checkpoint("overlay." + disk.PveKey)!;
            var dev = context.Checkpoint("dev." + disk.PveKey)!;
            var current = (await context.Libvirt.DomainBlockListAsync(host, context.Vm, inactive: !live, ct)).FirstOrDefault(b => b.Target == dev)?.Source;
            if (current == overlay)
            {
                if (live)
                {
                    await context.Libvirt.BlockCommitAsync(host, context.Vm, dev, ct);
                }
                else
                {
                    var commit = await context.Ssh.RunAsync(host, ["qemu-img", "commit", "-q", overlay], ct: ct);
                    if (!commit.Succeeded)
                    {
                        throw new AdapterException($"VM {context.Vm}: qemu-img commit of {overlay} into {disk.Key} failed: {commit.Stderr.Trim()}", isTransient: commit.ExitCode == 255);
                    }

                    await context.Libvirt.DefineAsync(host, OnBase(await context.Libvirt.DumpXmlAsync(host, context.Vm, ct), overlay, disk.Key, disk.Format ?? "raw"), ct);
                }

                await context.LogAsync($"{context.Vm}: {overlay} merged into {disk.Key} ({(live ? "blockcommit --active --pivot" : "qemu-img commit, redefined on the base")})");
            }
            else if (current != disk.Key)
            {
                throw new AdapterException($"VM {context.Vm}: disk {dev} is on {current ?? "nothing"}, neither its base {disk.Key} nor the overlay {overlay}", isTransient: false);
            }

            await RemoveFileAsync(context, host, overlay);
            await context.SaveAsync("copied." + disk.PveKey, null);
            await context.SaveAsync("overlay." + disk.PveKey, null);
        }
    }

    /// <summary>The domain XML with the disk on <paramref name="overlay"/> put back on <paramref name="basePath"/> (its format, no backing chain).</summary>
    internal static string OnBase(string xml, string overlay, string basePath, string baseFormat)
    {
        var doc = XDocument.Parse(xml);
        foreach (var disk in doc.Descendants("disk").Where(d => (string?)d.Element("source")?.Attribute("file") == overlay))
        {
            disk.Element("source")!.SetAttributeValue("file", basePath);
            disk.Element("source")!.SetAttributeValue("index", null);
            disk.Element("driver")?.SetAttributeValue("type", baseFormat);
            disk.Elements("backingStore").Remove();
        }

        return doc.ToString();
    }

    /// <summary>commit: the files a retired warm file disk leaves on the source host (kept, like cold file disks, until the host is reinstalled).</summary>
    public static async Task<IReadOnlyList<(DiskInput Disk, string Overlay)>> OverlaysAsync(StepContext context)
    {
        var list = new List<(DiskInput, string)>();
        foreach (var disk in FileDisks(context))
        {
            if (await CopyDisksCheckpointAsync(context, "overlay." + disk.PveKey) is { } overlay)
            {
                list.Add((disk, overlay));
            }
        }

        return list;
    }

    private static async Task RemoveFileAsync(StepContext context, string host, string path)
    {
        var result = await context.Ssh.RunAsync(host, ["rm", "-f", path], ct: context.CancellationToken);
        if (!result.Succeeded)
        {
            throw new AdapterException($"rm -f {path} on {host} failed: {result.Stderr.Trim()}", isTransient: result.ExitCode == 255);
        }
    }
}
