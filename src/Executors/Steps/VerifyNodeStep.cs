using Taquin.Executors.Adapters;

namespace Taquin.Executors.Steps;

/// <summary>The reinstalled host answers as a PVE node, with a VLAN-aware bridge for the VMs.</summary>
public sealed class VerifyNodeStep : StepBase
{
    public override string Type => StepTypes.VerifyNode;
    // A freshly reinstalled node may still be booting: many patient retries.
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(5), new RetryPolicy(10, TimeSpan.FromSeconds(30), 1.5), CanCompensate: false);
    public override string PreconditionText => "the operator confirmed the reinstall";

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var problem = await FindProblemAsync(context);
        if (problem is not null)
        {
            throw new PveApiException(problem, isTransient: true);
        }

        var version = await context.Pve.GetVersionAsync(context.Host, context.CancellationToken);
        await context.SaveAsync("version", version);
        return StepResult.Done($"{context.Host} runs {version}");
    }

    public override async Task<bool> VerifyAsync(StepContext context) => await FindProblemAsync(context) is null;

    private static async Task<string?> FindProblemAsync(StepContext context)
    {
        var version = await context.Pve.GetVersionAsync(context.Host, context.CancellationToken);
        if (!version.StartsWith("pve-manager/", StringComparison.Ordinal))
        {
            return $"{context.Host} answers '{version}', not a PVE node";
        }

        var networks = await context.Pve.ListNetworksAsync(context.Host, context.CancellationToken);
        return networks.Any(n => n.Iface == context.Input.Bridge && n.VlanAware) ? null
            : $"{context.Host} has no VLAN-aware bridge {context.Input.Bridge}";
    }
}
