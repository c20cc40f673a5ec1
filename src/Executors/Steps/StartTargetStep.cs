namespace Taquin.Executors.Steps;

/// <summary>Starts the PVE VM — only when the source is off with autostart off (checked under the VM's lease).</summary>
public sealed class StartTargetStep : StepBase
{
    public override string Type => StepTypes.StartTarget;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(5), new RetryPolicy(3, TimeSpan.FromSeconds(10)), CanCompensate: true);
    public override string PreconditionText => "the source VM is shut off (or undefined) and its autostart is off; the copy verified; attach-and-move: no other client on the old images";

    public override Task<Precondition> CheckPreconditionAsync(StepContext context) => VmStepHelpers.CutoverGuardAsync(context);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var vmId = await context.RequireTargetVmIdAsync();
        var node = VmStepHelpers.TargetNode(context);
        if (!context.Input.WasRunning)
        {
            return StepResult.Done($"{context.Vm} was not running before the move: left stopped");
        }

        if (await context.Pve.FindVmAsync(vmId, context.CancellationToken) is { IsRunning: true })
        {
            return StepResult.Done($"VM {vmId} already running on {node}");
        }

        // Checked again right before the start: the precondition ran before Running, this is the last word.
        var safe = await VmStepHelpers.CutoverGuardAsync(context);
        if (!safe.Met)
        {
            throw Permanent(safe.Reason);
        }

        var upid = await context.Pve.StartVmAsync(node, vmId, context.CancellationToken);
        await context.SaveAsync("startTask", upid);
        await WaitTaskAsync(context, node, upid, $"start VM {vmId}");
        return StepResult.Done($"started VM {vmId} on {node}");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
    {
        if (!context.Input.WasRunning)
        {
            return true;
        }

        return await context.TargetVmIdAsync() is { } vmId && await context.Pve.FindVmAsync(vmId, context.CancellationToken) is { IsRunning: true };
    }

    public override async Task CompensateAsync(StepContext context)
    {
        if (await context.TargetVmIdAsync() is { } vmId && await context.Pve.FindVmAsync(vmId, context.CancellationToken) is { IsRunning: true } status)
        {
            await WaitTaskAsync(context, status.Node, await context.Pve.StopVmAsync(status.Node, vmId, context.CancellationToken), $"stop VM {vmId}");
        }
    }
}
