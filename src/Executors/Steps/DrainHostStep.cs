namespace Taquin.Executors.Steps;

/// <summary>
/// Empties a libvirt host: live-migrates the VMs the plan sends to other libvirt hosts, then checks nothing is
/// left (the VMs moving to PVE from this host have ended their pipelines before drain runs).
/// </summary>
public sealed class DrainHostStep : StepBase
{
    public override string Type => StepTypes.Drain;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromHours(4), new RetryPolicy(3, TimeSpan.FromSeconds(30)), CanCompensate: false);
    public override string PreconditionText => "placement is disabled and the VM moves leaving this host in this wave have ended";

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var moved = 0;
        foreach (var move in context.Input.Drain)
        {
            if (context.Checkpoint("moved." + move.Vm) is not null)
            {
                continue;
            }

            var line = await LiveMigrateStep.MoveAsync(context, move.Vm, context.Host, move.ToHost);
            await context.SaveAsync("moved." + move.Vm, move.ToHost);
            await context.LogAsync(line);
            moved++;
        }

        var left = await context.Libvirt.ListDomainsAsync(context.Host, context.CancellationToken);
        if (left.Count > 0)
        {
            throw Permanent($"host {context.Host} still holds {string.Join(", ", left)}: the plan moves them elsewhere in this wave, their pipelines did not finish");
        }

        return StepResult.Done($"{context.Host} drained ({moved} live migration(s))");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
        => (await context.Libvirt.ListDomainsAsync(context.Host, context.CancellationToken)).Count == 0;
}
