using System.Globalization;

namespace Taquin.Executors.Steps;

/// <summary>Marks the host's OSDs out of the old Ceph and waits until the data has moved (HEALTH_OK).</summary>
public sealed class CephOsdsOutStep : StepBase
{
    public override string Type => StepTypes.CephOsdsOut;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromHours(24), new RetryPolicy(3, TimeSpan.FromMinutes(5)), CanCompensate: true);
    public override string PreconditionText => "the host is drained and the old Ceph can hold its data without these OSDs (checked by the plan)";

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var osds = await context.Ceph.ListOsdsAsync(context.Host, ct);
        if (context.Checkpoint("osds") is null)
        {
            await context.SaveAsync("osds", string.Join(',', osds.Select(o => o.Id.ToString(CultureInfo.InvariantCulture))));
        }

        foreach (var osd in osds.Where(o => o.In))
        {
            await context.Ceph.MarkOsdOutAsync(osd.Id, ct);
        }

        var health = await context.Ceph.WaitHealthyAsync(context.Remaining, ct);
        return StepResult.Done($"{osds.Count} OSD(s) of {context.Host} out; old Ceph {health.Status}");
    }

    public override async Task<bool> VerifyAsync(StepContext context)
    {
        var osds = await context.Ceph.ListOsdsAsync(context.Host, context.CancellationToken);
        return osds.All(o => !o.In) && (await context.Ceph.GetHealthAsync(context.CancellationToken)).IsOk;
    }

    public override async Task CompensateAsync(StepContext context)
    {
        var ids = (context.Checkpoint("osds") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture));
        foreach (var id in ids)
        {
            await context.Ceph.MarkOsdInAsync(id, context.CancellationToken);
        }
    }
}
