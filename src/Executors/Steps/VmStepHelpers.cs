using System.IO.Pipelines;
using Taquin.Executors.Adapters;

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

    /// <summary>Full copy into the target volume, run on the target node (it reads the old Ceph or the file over SSH).</summary>
    public static async Task CopyFullAsync(StepContext context, DiskInput disk, string? snapshot, string volumeId)
    {
        var source = disk.IsRbd
            ? VolumePaths.RbdSource(disk.Key, snapshot ?? throw new ArgumentNullException(nameof(snapshot)))
            : VolumePaths.FileSource(context.Input.FromHost!, disk.Key);
        string[] argv = ["qemu-img", "convert", "-p", "-n", "-f", disk.Format ?? "raw", "-O", "raw", source, VolumePaths.TargetPath(volumeId)];
        var result = await context.Ssh.RunAsync(TargetNode(context), argv, ct: context.CancellationToken);
        if (!result.Succeeded)
        {
            throw new SshCommandException($"copy of {disk.Key} to {volumeId} failed: {result.Stderr.Trim()}", isTransient: true, result.ExitCode);
        }
    }

    /// <summary>Incremental copy: <c>rbd export-diff</c> on the old Ceph streamed into <c>rbd import-diff -</c> on the target node.</summary>
    public static async Task CopyDiffAsync(StepContext context, DiskInput disk, string fromSnapshot, string toSnapshot, string volumeId)
    {
        var pipe = new Pipe();
        var export = Task.Run(async () =>
        {
            await using var writer = pipe.Writer.AsStream();
            await context.Ceph.ExportDiffAsync(disk.Key, fromSnapshot, toSnapshot, writer, context.CancellationToken);
        }, context.CancellationToken);
        await using var reader = pipe.Reader.AsStream();
        var result = await context.Ssh.RunAsync(TargetNode(context), ["rbd", "import-diff", "-", VolumePaths.TargetPath(volumeId)], reader, context.CancellationToken);
        await export;
        if (!result.Succeeded)
        {
            throw new SshCommandException($"incremental sync of {disk.Key} to {volumeId} failed: {result.Stderr.Trim()}", isTransient: false, result.ExitCode);
        }
    }

    /// <summary>True when the target volume holds exactly the source (snapshot checksum on both sides).</summary>
    public static async Task<bool> TargetMatchesAsync(StepContext context, DiskInput disk, string volumeId)
    {
        string expected;
        if (disk.IsRbd)
        {
            if (!(await context.Ceph.ListSnapshotsAsync(disk.Key, context.CancellationToken)).Contains(FinalSnapshot))
            {
                return false;
            }

            expected = await context.Ceph.ChecksumAsync(disk.Key, FinalSnapshot, context.CancellationToken);
        }
        else
        {
            var source = await context.Ssh.RunAsync(context.Input.FromHost!, ["sha256sum", disk.Key], ct: context.CancellationToken);
            if (!source.Succeeded)
            {
                return false;
            }

            expected = source.Stdout.Split(' ')[0];
        }

        var target = await context.Ssh.RunAsync(TargetNode(context), ["sha256sum", VolumePaths.TargetPath(volumeId)], ct: context.CancellationToken);
        return target.Succeeded && target.Stdout.Split(' ')[0] == expected;
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
