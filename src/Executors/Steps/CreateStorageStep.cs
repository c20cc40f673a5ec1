namespace Taquin.Executors.Steps;

/// <summary>Registers the node's ZFS pool as PVE storage, and the old Ceph as external RBD storage (for attach-and-move) once.</summary>
public sealed class CreateStorageStep : StepBase
{
    public override string Type => StepTypes.CreateStorage;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(5), new RetryPolicy(3, TimeSpan.FromSeconds(10)), CanCompensate: false);
    public override string PreconditionText => "the node is in the cluster";

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var zfs = Simulation.PveStorageIds.Zfs(context.Host);
        var existing = (await context.Pve.ListStoragesAsync(context.Host, ct)).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        if (!existing.Contains(zfs))
        {
            await context.Pve.CreateStorageAsync(zfs, "zfspool", new Dictionary<string, string>
            {
                ["pool"] = "rpool/data",
                ["nodes"] = context.Host,
                ["content"] = "images,rootdir",
                ["sparse"] = "1",
            }, ct);
        }

        if (!existing.Contains(Simulation.PveStorageIds.OldCeph) && context.Input.OldCephMonitors.Count > 0)
        {
            await context.Pve.CreateStorageAsync(Simulation.PveStorageIds.OldCeph, "rbd", new Dictionary<string, string>
            {
                ["monhost"] = string.Join(' ', context.Input.OldCephMonitors),
                ["pool"] = context.Input.OldCephPool ?? "rbd",
                ["content"] = "images",
                ["krbd"] = "0",
                ["username"] = "admin",
            }, ct);
        }

        return StepResult.Done($"storage {zfs} ready on {context.Host}");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
        => await context.Pve.GetStorageStatusAsync(context.Host, Simulation.PveStorageIds.Zfs(context.Host), context.CancellationToken) is not null;
}
