namespace Taquin.Executors.Steps;

/// <summary>PVE → PVE online migration: no reboot.</summary>
public sealed class PveLiveMigrateStep : StepBase
{
    public override string Type => StepTypes.PveLiveMigrate;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromHours(2), new RetryPolicy(3, TimeSpan.FromSeconds(30)), CanCompensate: true);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var vmId = await context.RequireTargetVmIdAsync();
        var status = await context.Pve.FindVmAsync(vmId, context.CancellationToken) ?? throw Permanent($"VM {vmId} ({context.Vm}) does not exist");
        if (status.Node == context.Input.ToHost)
        {
            return StepResult.Done($"VM {vmId} already on {status.Node}");
        }

        var upid = await context.Pve.MigrateVmAsync(status.Node, vmId, context.Input.ToHost!, online: status.IsRunning, context.CancellationToken);
        await context.SaveAsync("migrateTask", upid);
        await WaitTaskAsync(context, status.Node, upid, $"migrate VM {vmId}");
        return StepResult.Done($"VM {vmId} migrated {status.Node} → {context.Input.ToHost}");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
        => await context.TargetVmIdAsync() is { } vmId && (await context.Pve.FindVmAsync(vmId, context.CancellationToken))?.Node == context.Input.ToHost;

    public override async Task CompensateAsync(StepContext context)
    {
        if (await context.TargetVmIdAsync() is { } vmId && await context.Pve.FindVmAsync(vmId, context.CancellationToken) is { } status
            && status.Node != context.Input.FromHost)
        {
            await WaitTaskAsync(context, status.Node,
                await context.Pve.MigrateVmAsync(status.Node, vmId, context.Input.FromHost!, status.IsRunning, context.CancellationToken), $"migrate VM {vmId} back");
        }
    }
}
