using System.Globalization;
using Taquin.Executors.Adapters;
using Taquin.Planner.Inventory;

namespace Taquin.Executors.Steps;

/// <summary>Marks the host's OSDs out of the old Ceph and waits until the data has moved (HEALTH_OK).</summary>
public sealed class CephOsdsOutStep : StepBase
{
    public override string Type => StepTypes.CephOsdsOut;
    public override StepPolicy Policy { get; } = new(TimeSpan.FromHours(24), new RetryPolicy(3, TimeSpan.FromMinutes(5)), CanCompensate: true);
    /// <summary>At most one recovery progress line per interval in the step log.</summary>
    public static readonly TimeSpan RecoveryLogInterval = TimeSpan.FromSeconds(30);

    public override string PreconditionText => "the host is drained and the old Ceph can hold its data without these OSDs (checked by the plan)";

    public override async Task<StepResult> ExecuteAsync(StepContext context)
    {
        var ct = context.CancellationToken;
        var osds = await context.Ceph.ListOsdsAsync(context.Host, ct);
        if (context.Checkpoint("osds") is null)
        {
            await context.SaveAsync("osds", string.Join(',', osds.Select(o => o.Id.ToString(CultureInfo.InvariantCulture))));
        }

        var stillIn = osds.Where(o => o.In).ToList();
        if (stillIn.Count > 0)
        {
            // The plan predicted the old Ceph keeps room; the live cluster has the last word before any data moves.
            var forecast = await context.Ceph.ForecastOsdsOutAsync([.. osds.Select(o => o.Id)], ct);
            // Kept as a checkpoint too: a long recovery's progress lines roll the log tail over.
            await context.SaveAsync("forecast", Describe(forecast));
            await context.LogAsync(Describe(forecast));
            if (!forecast.StaysUnderNearfull)
            {
                throw Permanent($"refusing to set the OSDs of {context.Host} out: {Describe(forecast)}");
            }
        }

        foreach (var osd in stillIn)
        {
            await context.Ceph.MarkOsdOutAsync(osd.Id, ct);
        }

        // A recovery polls every few seconds for hours: one progress line per interval keeps the log tail readable.
        DateTimeOffset? lastLine = null;
        var health = await context.Ceph.WaitHealthyAsync(context.Remaining, p =>
        {
            var now = context.Time.GetUtcNow();
            if (lastLine is { } last && now - last < RecoveryLogInterval)
            {
                return Task.CompletedTask;
            }

            lastLine = now;
            return context.LogAsync("recovery: " + p.Describe());
        }, ct);
        return StepResult.Done($"{osds.Count} OSD(s) of {context.Host} out; old Ceph {health.Status}");
    }

    /// <summary>The forecast in numbers, for the step log and the refusal.</summary>
    public static string Describe(OsdsOutForecast f) => string.Create(CultureInfo.InvariantCulture,
        $"without osd.{string.Join(", osd.", f.OsdIds)} the remaining OSDs would hold {ByteSize.Format(f.RemainingUsedBytesAfter)} of {ByteSize.Format(f.RemainingRawBytes)} raw ({f.ProjectedRatio:P2}), nearfull is {f.NearfullRatio:P2}");

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
