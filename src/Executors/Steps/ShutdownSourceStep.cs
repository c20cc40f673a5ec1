using Taquin.Executors.Adapters;

namespace Taquin.Executors.Steps;

/// <summary>Autostart off, ACPI shutdown, and a hard power-off when the guest ignores it past the grace time.</summary>
/// <param name="acpiGrace">How long a guest gets to honour ACPI before it is destroyed (default <see cref="AcpiGrace"/>).</param>
/// <param name="poll">How often the domain state is read while waiting (at most the grace time).</param>
/// <param name="hostGrace">The grace time per source host (access file <c>libvirt: shutdownGraceSeconds</c>); null answers fall back to <paramref name="acpiGrace"/>.</param>
public sealed class ShutdownSourceStep(TimeSpan? acpiGrace = null, TimeSpan? poll = null, Func<string, TimeSpan?>? hostGrace = null) : StepBase
{
    /// <summary>Default grace time for ACPI shutdown.</summary>
    public static readonly TimeSpan AcpiGrace = TimeSpan.FromMinutes(3);
    private readonly TimeSpan _grace = acpiGrace ?? AcpiGrace;
    private readonly TimeSpan _poll = poll ?? TimeSpan.FromSeconds(5);

    public override string Type => StepTypes.ShutdownSource;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(10), new RetryPolicy(3, TimeSpan.FromSeconds(10)), CanCompensate: true);

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var host = context.Input.FromHost!;
        if (context.Checkpoint("autostartWas") is null)
        {
            var autostart = await context.Libvirt.GetAutostartAsync(host, context.Vm, ct);
            var state = await context.Libvirt.GetDomainStateAsync(host, context.Vm, ct);
            await context.SaveAsync("autostartWas", autostart ? "on" : "off");
            await context.SaveAsync("wasRunning", state == DomainRunState.Running ? "yes" : "no");
        }

        await context.Libvirt.SetAutostartAsync(host, context.Vm, false, ct);
        if (await context.Libvirt.GetDomainStateAsync(host, context.Vm, ct) != DomainRunState.Running)
        {
            return StepResult.Done($"{context.Vm} is off on {host}, autostart off");
        }

        var grace = hostGrace?.Invoke(host) ?? _grace;
        var poll = _poll < grace ? _poll : grace;
        await context.Libvirt.ShutdownAsync(host, context.Vm, ct);
        var giveUp = context.Time.GetUtcNow() + grace;
        while (context.Time.GetUtcNow() < giveUp)
        {
            await context.Time.WaitAsync(poll, ct);
            if (await context.Libvirt.GetDomainStateAsync(host, context.Vm, ct) == DomainRunState.ShutOff)
            {
                return StepResult.Done($"{context.Vm} shut down cleanly on {host}");
            }
        }

        await context.LogAsync($"{context.Vm} ignored ACPI for {grace.TotalSeconds:0.#} s: powering it off");
        await context.Libvirt.DestroyAsync(host, context.Vm, ct);
        return StepResult.Done($"{context.Vm} powered off on {host} after the ACPI grace time");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
        => (await VmStepHelpers.SourceIsOffAsync(context)).Met;

    public override async Task CompensateAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var host = context.Input.FromHost!;
        if (await context.Libvirt.GetDomainStateAsync(host, context.Vm, ct) == DomainRunState.Undefined)
        {
            return;
        }

        if (context.Checkpoint("wasRunning") == "yes")
        {
            // Never two places: the target must be off before the source comes back.
            if (await context.TargetVmIdAsync() is { } vmId && await context.Pve.FindVmAsync(vmId, ct) is { IsRunning: true } target)
            {
                throw Permanent($"refusing to restart {context.Vm} on {host}: the target VM {vmId} runs on {target.Node}");
            }

            // attach-and-move: the old image must have no other client (a PVE qemu still attached) either.
            var clients = await VmStepHelpers.OtherRbdClientsAsync(context);
            if (clients is not null)
            {
                throw Permanent($"refusing to restart {context.Vm} on {host}: {clients}");
            }

            await context.Libvirt.StartAsync(host, context.Vm, ct);
        }

        await context.Libvirt.SetAutostartAsync(host, context.Vm, context.Checkpoint("autostartWas") != "off", ct);
    }
}
