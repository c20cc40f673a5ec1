using Taquin.Executors.Adapters;

namespace Taquin.Executors.Steps;

/// <summary>
/// Tells the fleet's own placement scripts to stop putting VMs on the host (a flag file they honour), so nothing
/// lands on it while it drains.
/// </summary>
public sealed class DisablePlacementStep : StepBase
{
    public const string FlagFile = "/var/lib/taquin/placement-disabled";

    public override string Type => StepTypes.DisablePlacement;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(2), new RetryPolicy(3, TimeSpan.FromSeconds(10)), CanCompensate: true);
    public override string PreconditionText => "the host runs libvirt";

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        await RunAsync(context, ["touch", FlagFile]);
        return StepResult.Done($"placement disabled on {context.Host}");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
        => (await context.Ssh.RunAsync(context.Host, ["test", "-e", FlagFile], ct: context.CancellationToken)).Succeeded;

    public override async Task CompensateAsync(StepContext context) => await RunAsync(context, ["rm", "-f", FlagFile]);

    private static async Task RunAsync(StepContext context, string[] argv)
    {
        var result = await context.Ssh.RunAsync(context.Host, argv, ct: context.CancellationToken);
        if (!result.Succeeded)
        {
            throw new SshCommandException($"{string.Join(' ', argv)} on {context.Host} failed: {result.Stderr.Trim()}", isTransient: true, result.ExitCode);
        }
    }
}
