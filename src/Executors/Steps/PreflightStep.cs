using Taquin.Executors.Adapters;

namespace Taquin.Executors.Steps;

/// <summary>Checks before touching anything: the source VM is where the plan says, the target node and storage are ready.</summary>
public sealed class PreflightStep : StepBase
{
    public override string Type => StepTypes.Preflight;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(5), new RetryPolicy(3, TimeSpan.FromSeconds(15)), CanCompensate: false);
    public override string PreconditionText => "none: it is the first step of a VM's move";

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var from = context.Input.FromHost ?? throw Permanent($"VM {context.Vm}: no source host in the plan");
        var node = VmStepHelpers.TargetNode(context);
        var state = await context.Libvirt.GetDomainStateAsync(from, context.Vm, ct);
        if (state == DomainRunState.Undefined)
        {
            throw Permanent($"VM {context.Vm} is not defined on {from}, where the plan expects it");
        }

        var status = await context.Pve.GetNodeStatusAsync(node, ct);
        if (!status.Online)
        {
            throw new PveApiException($"target node {node} is offline", isTransient: true);
        }

        var storage = Simulation.PveStorageIds.FromPlan(context.Input.ToStorage ?? "");
        if (await context.Pve.GetStorageStatusAsync(node, storage, ct) is null)
        {
            throw Permanent($"storage {storage} does not exist on {node}: run create-storage for that node first");
        }

        foreach (var disk in context.Input.Disks.Where(d => d.IsRbd))
        {
            if (!await context.Ceph.ImageExistsAsync(disk.Key, ct))
            {
                throw Permanent($"VM {context.Vm}: RBD image {disk.Key} does not exist in the old Ceph");
            }
        }

        await context.SaveAsync("sourceState", state.ToString());
        return StepResult.Done($"{context.Vm} found {state} on {from}; {node} online with storage {storage}");
    }

    public override Task<bool> VerifyAsync(StepContext context) => Task.FromResult(context.Checkpoint("sourceState") is not null);
}
