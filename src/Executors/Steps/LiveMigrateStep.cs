using Taquin.Executors.Adapters;

namespace Taquin.Executors.Steps;

/// <summary>libvirt → libvirt live migration: RBD disks stay on the old Ceph, local file disks are copied along. A VM that is off moves offline.</summary>
public sealed class LiveMigrateStep : StepBase
{
    public override string Type => StepTypes.LiveMigrate;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromHours(1), new RetryPolicy(3, TimeSpan.FromSeconds(30)), CanCompensate: true);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var from = context.Input.FromHost!;
        var to = context.Input.ToHost!;
        return StepResult.Done(await MoveAsync(context, context.Vm, from, to));
    }

    public override async Task<bool> VerifyAsync(StepContext context)
        => await context.Libvirt.GetDomainStateAsync(context.Input.ToHost!, context.Vm, context.CancellationToken) != DomainRunState.Undefined
            && await context.Libvirt.GetDomainStateAsync(context.Input.FromHost!, context.Vm, context.CancellationToken) == DomainRunState.Undefined;

    public override async Task CompensateAsync(StepContext context)
    {
        if (await context.Libvirt.GetDomainStateAsync(context.Input.ToHost!, context.Vm, context.CancellationToken) != DomainRunState.Undefined)
        {
            await MoveAsync(context, context.Vm, context.Input.ToHost!, context.Input.FromHost!);
        }
    }

    /// <summary>Idempotent move of one domain between libvirt hosts.</summary>
    internal static async Task<string> MoveAsync(StepContext context, string vm, string from, string to)
    {
        var ct = context.CancellationToken;
        var there = await context.Libvirt.GetDomainStateAsync(to, vm, ct);
        var here = await context.Libvirt.GetDomainStateAsync(from, vm, ct);
        if (there != DomainRunState.Undefined && here == DomainRunState.Undefined)
        {
            return $"{vm} is already on {to}";
        }

        if (here == DomainRunState.Undefined)
        {
            throw new AdapterException($"{vm} is on neither {from} nor {to}", isTransient: false);
        }

        await context.Libvirt.LiveMigrateAsync(from, vm, to, ct);
        return here == DomainRunState.Running ? $"{vm} live-migrated {from} → {to}" : $"{vm} (shut off) migrated {from} → {to}";
    }
}
