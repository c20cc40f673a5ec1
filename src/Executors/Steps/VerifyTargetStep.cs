namespace Taquin.Executors.Steps;

/// <summary>After the start: the VM runs on its target node, in its VLAN, with every disk on the target storage; the source stays off.</summary>
public sealed class VerifyTargetStep : StepBase
{
    public override string Type => StepTypes.Verify;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(10), new RetryPolicy(5, TimeSpan.FromSeconds(15)), CanCompensate: false);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var problem = await FindProblemAsync(context);
        if (problem is not null)
        {
            throw new Adapters.AdapterException(problem, isTransient: true);
        }

        await context.SaveAsync("verifiedAt", context.Time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        return StepResult.Done($"{context.Vm} runs on {context.Input.ToHost} as planned");
    }

    public override async Task<bool> VerifyAsync(StepContext context) => await FindProblemAsync(context) is null;

    private static async Task<string?> FindProblemAsync(StepContext context)
    {
        var vmId = await context.RequireTargetVmIdAsync();
        var status = await context.Pve.FindVmAsync(vmId, context.CancellationToken);
        if (status is null || status.Node != context.Input.ToHost)
        {
            return $"VM {vmId} is not on {context.Input.ToHost}";
        }

        if (context.Input.WasRunning && !status.IsRunning)
        {
            return $"VM {vmId} is not running";
        }

        var safe = await VmStepHelpers.SourceIsOffAsync(context);
        if (!safe.Met)
        {
            return safe.Reason;
        }

        var config = await context.Pve.GetVmConfigAsync(status.Node, vmId, context.CancellationToken);
        if (config is null)
        {
            return $"VM {vmId} has no config";
        }

        if (context.Input.Strategy != "attach-and-move")
        {
            if (await context.FindSubjectCheckpointAsync(StepTypes.FinalSync, "verified") == "mismatch")
            {
                return $"the disks of VM {vmId} did not match their source at the final sync";
            }

            var storage = Simulation.PveStorageIds.FromPlan(context.Input.ToStorage ?? "");
            var misplaced = context.Input.Disks.FirstOrDefault(d => !config.Values.GetValueOrDefault(d.PveKey, "").StartsWith(storage + ":", StringComparison.Ordinal));
            if (misplaced is not null)
            {
                return $"drive {misplaced.PveKey} of VM {vmId} is not on {storage}";
            }
        }

        return null;
    }
}
