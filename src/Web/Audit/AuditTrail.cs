using System.Text.Json;
using Taquin.Executors.Journal;
using Taquin.Web.Plans;

namespace Taquin.Web.Audit;

/// <summary>The approval of a plan as it stands now.</summary>
public sealed record ApprovalState(bool Approved, string? By, DateTimeOffset? At, string? Problem)
{
    public static ApprovalState None { get; } = new(false, null, null, "not approved yet");
}

/// <summary>
/// Every action taken on the web goes to the journal's append-only audit trail: plan-level events under the run id
/// "plan:&lt;id&gt;", run events under the run's id (the engine writes gate, retry, skip and rollback events itself).
/// </summary>
public sealed class AuditTrail(JournalHub hub, PlanCatalog catalog, TimeProvider time)
{
    public const string PlanApproved = "plan-approved";

    public static string PlanRunId(string planId) => "plan:" + planId;

    public async Task RecordPlanEventAsync(string planId, string actor, string kind, string? details = null)
    {
        var journal = await hub.ForPlanAsync(catalog.PlanPath(planId));
        await journal.AppendEventAsync(new AuditEvent { RunId = PlanRunId(planId), At = time.GetUtcNow(), Actor = actor, Kind = kind, Subject = "plan:" + planId, Details = details });
    }

    public async Task RecordServerEventAsync(string actor, string kind, string? details = null)
    {
        var journal = await hub.ForServerAsync();
        await journal.AppendEventAsync(new AuditEvent { RunId = JournalHub.ServerRunId, At = time.GetUtcNow(), Actor = actor, Kind = kind, Details = details });
    }

    /// <summary>The plan's own events and those of its runs, newest first.</summary>
    public async Task<IReadOnlyList<AuditEvent>> ForPlanAsync(string planId, string? planDigest)
    {
        var journal = await hub.ForPlanAsync(catalog.PlanPath(planId));
        var events = (await journal.GetEventsAsync(PlanRunId(planId))).ToList();
        if (planDigest is not null)
        {
            foreach (var run in (await journal.ListRunsAsync()).Where(r => r.PlanDigest == planDigest))
            {
                events.AddRange(await journal.GetEventsAsync(run.RunId));
            }
        }

        return [.. events.OrderByDescending(e => e.At).ThenByDescending(e => e.EventId)];
    }

    public async Task ApproveAsync(PlanEntry plan, InventoryState inventory, string actor)
    {
        if (inventory.Usable is null)
        {
            throw new WebUserException($"the inventory '{inventory.Folder}' is not valid ({string.Join("; ", inventory.Errors.Take(3))}): fix it before approving");
        }

        if (inventory.Digest != plan.Plan.InventoryDigest)
        {
            throw new WebUserException($"the inventory in '{inventory.Folder}' changed since the plan was made ({Short(plan.Plan.InventoryDigest)} then, {Short(inventory.Digest)} now): re-plan it before approving");
        }

        await RecordPlanEventAsync(plan.Meta.Id, actor, PlanApproved, JsonSerializer.Serialize(new ApprovalDetails(plan.Digest, plan.Plan.InventoryDigest)));
    }

    /// <summary>
    /// Approved when an approval names this exact plan.json and the inventory folder still has the digest the plan
    /// was made from; a changed inventory invalidates the approval.
    /// </summary>
    public async Task<ApprovalState> ApprovalAsync(PlanEntry plan, InventoryState inventory)
    {
        var journal = await hub.ForPlanAsync(plan.PlanPath);
        var approval = (await journal.GetEventsAsync(PlanRunId(plan.Meta.Id)))
            .Where(e => e.Kind == PlanApproved)
            .Select(e => (Event: e, Details: Parse(e.Details)))
            .LastOrDefault(a => a.Details?.PlanDigest == plan.Digest);
        if (approval.Event is null)
        {
            return ApprovalState.None;
        }

        if (inventory.Usable is null || inventory.Digest != approval.Details?.InventoryDigest)
        {
            return new ApprovalState(false, approval.Event.Actor, approval.Event.At,
                inventory.Usable is null
                    ? $"approval invalidated: the inventory '{inventory.Folder}' is no longer valid"
                    : $"approval invalidated: the inventory changed since it was approved ({Short(approval.Details?.InventoryDigest)} then, {Short(inventory.Digest)} now); re-plan and approve again");
        }

        return new ApprovalState(true, approval.Event.Actor, approval.Event.At, null);
    }

    private static string Short(string? digest) => digest is null ? "none" : digest[..Math.Min(12, digest.Length)];

    private static ApprovalDetails? Parse(string? details)
    {
        try
        {
            return details is null ? null : JsonSerializer.Deserialize<ApprovalDetails>(details);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed record ApprovalDetails(string PlanDigest, string InventoryDigest);
}
