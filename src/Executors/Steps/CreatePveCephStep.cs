namespace Taquin.Executors.Steps;

/// <summary>Creates the new PVE Ceph: init, OSDs on every listed node, the pool, and its RBD storage.</summary>
public sealed class CreatePveCephStep : StepBase
{
    public override string Type => StepTypes.CreatePveCeph;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromHours(2), new RetryPolicy(3, TimeSpan.FromSeconds(30)), CanCompensate: false);
    public override string PreconditionText => "at least the pool size's number of PVE nodes are in the cluster";

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var pool = context.Input.CephPool ?? "vm-pool";
        if (context.Checkpoint("init") is null)
        {
            await WaitTaskAsync(context, context.Host, await context.Pve.CephInitAsync(context.Host, ct), "pveceph init");
            await context.SaveAsync("init", "done");
        }

        foreach (var node in context.Input.CephNodes)
        {
            if (context.Checkpoint("osd." + node) is null)
            {
                var upid = await context.Pve.CephCreateOsdAsync(node, "/dev/disk/by-taquin/new-ceph-osd", ct);
                await context.SaveAsync("osd." + node, upid);
                await WaitTaskAsync(context, node, upid, $"create OSD on {node}");
            }
        }

        if (!(await context.Pve.CephListPoolsAsync(context.Host, ct)).Contains(pool))
        {
            await WaitTaskAsync(context, context.Host, await context.Pve.CephCreatePoolAsync(context.Host, pool, context.Input.CephPoolSize, ct), $"create pool {pool}");
        }

        if (await context.Pve.GetStorageStatusAsync(context.Host, Simulation.PveStorageIds.PveCeph, ct) is null)
        {
            await context.Pve.CreateStorageAsync(Simulation.PveStorageIds.PveCeph, "rbd", new Dictionary<string, string> { ["pool"] = pool, ["content"] = "images" }, ct);
        }

        return StepResult.Done($"PVE Ceph with pool {pool} on {context.Input.CephNodes.Count} node(s)");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
        => (await context.Pve.CephListPoolsAsync(context.Host, context.CancellationToken)).Contains(context.Input.CephPool ?? "vm-pool")
            && await context.Pve.GetStorageStatusAsync(context.Host, Simulation.PveStorageIds.PveCeph, context.CancellationToken) is not null;
}
