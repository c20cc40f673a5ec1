namespace Taquin.Executors.Steps;

/// <summary>
/// The manual gate: an operator reinstalls the host as PVE and confirms. Until then the step waits (WaitingForGate);
/// the confirmation (actor, time) is in its checkpoint and the audit trail.
/// </summary>
public sealed class GateReinstallStep : StepBase
{
    public override string Type => StepTypes.GateReinstall;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(1), new RetryPolicy(1, TimeSpan.Zero), CanCompensate: false, PointOfNoReturn: true);
    public override string PreconditionText => "the host is empty and its OSDs are out of the old Ceph";

    public override Task<StepResult> ExecuteAsync(StepContext context)
        => Task.FromResult(context.Checkpoint("confirmedBy") is { } who
            ? StepResult.Done($"reinstall of {context.Host} as PVE confirmed by {who}")
            : StepResult.WaitForGate($"reinstall {context.Host} as Proxmox VE, then confirm the gate"));

    public override Task<bool> VerifyAsync(StepContext context) => Task.FromResult(context.Checkpoint("confirmedBy") is not null);
}
