namespace Taquin.Executors.Steps;

/// <summary>Joins the node to the PVE cluster (or creates the cluster on the first node).</summary>
public sealed class JoinClusterStep : StepBase
{
    public override string Type => StepTypes.JoinCluster;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(10), new RetryPolicy(3, TimeSpan.FromSeconds(30)), CanCompensate: false);
    public override string PreconditionText => "the node is verified; the peer (if any) is in the cluster";

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var nodes = await context.Pve.GetClusterNodesAsync(context.CancellationToken);
        if (nodes.Contains(context.Host))
        {
            return StepResult.Done($"{context.Host} is already in the cluster");
        }

        var upid = await context.Pve.JoinClusterAsync(context.Host, context.Input.ClusterPeer, context.CancellationToken);
        await context.SaveAsync("joinTask", upid);
        await WaitTaskAsync(context, context.Host, upid, $"join {context.Host}");
        return StepResult.Done(context.Input.ClusterPeer is null ? $"cluster created on {context.Host}" : $"{context.Host} joined {context.Input.ClusterPeer}'s cluster");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
        => (await context.Pve.GetClusterNodesAsync(context.CancellationToken)).Contains(context.Host);
}
