using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Taquin.Executors.Journal;
using Taquin.Executors.States;
using Taquin.Executors.Steps;
using Taquin.Web.Accounts;
using Taquin.Web.Audit;
using Taquin.Web.Plans;
using Taquin.Web.Runs;
using static Taquin.Web.Pages.Html;

namespace Taquin.Web.Pages;

/// <summary>The run page: waves and their state, per-subject pipelines, gates, operator actions, live via SSE.</summary>
internal static class RunPages
{
    private const int PipelinesPerPage = 100;
    private static readonly string[] CopySteps = [StepTypes.CopyDisks, StepTypes.FinalSync];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/plans/{id}/run", RunPage);
        app.MapGet("/plans/{id}/run/live", async (string id, HttpContext context, PlanCatalog catalog, RunManager runs, InventoryCache inventories, AuditTrail audit) =>
        {
            var plan = catalog.Get(id);
            return plan is null ? Results.NotFound() : Results.Content(await LiveAsync(context, plan, runs, inventories, audit), "text/html; charset=utf-8");
        });
        app.MapGet("/plans/{id}/run/events", Events);
        Action(app, "start", async (plan, form, actor, runs) =>
        {
            var wave = Int(form["wave"], "wave");
            await runs.StartWaveAsync(plan, wave, actor);
            return $"wave {wave} started";
        });
        Action(app, "confirm", async (plan, form, actor, runs) =>
        {
            await runs.ConfirmGateAsync(plan, Long(form["step"]), actor);
            return "gate confirmed";
        });
        Action(app, "deny", async (plan, form, actor, runs) =>
        {
            await runs.DenyGateAsync(plan, Long(form["step"]), actor, form["reason"].ToString());
            return "gate denied: the host's pipeline is rolled back";
        });
        Action(app, "retry", async (plan, form, actor, runs) =>
        {
            await runs.RetryAsync(plan, Long(form["step"]), actor);
            return "step retried";
        });
        Action(app, "skip", async (plan, form, actor, runs) =>
        {
            await runs.SkipAsync(plan, Long(form["step"]), actor, form["reason"].ToString());
            return "step skipped";
        });
        Action(app, "rollback", async (plan, form, actor, runs) =>
        {
            var subject = form["subject"].ToString();
            await runs.RollBackAsync(plan, Int(form["wave"], "wave"), subject, actor, form["reason"].ToString());
            return $"{subject} rolled back";
        });
        Action(app, "fault", async (plan, form, actor, runs) =>
        {
            await runs.InjectFaultAsync(plan, form["fault"].ToString(), actor);
            return $"fault {form["fault"]} armed on the twin";
        });
    }

    private static void Action(IEndpointRouteBuilder app, string name, Func<PlanEntry, IFormCollection, string, RunManager, Task<string>> act)
        => app.MapPost($"/plans/{{id}}/run/{name}", async (string id, HttpContext context, PlanCatalog catalog, RunManager runs) =>
        {
            var plan = catalog.Get(id);
            if (plan is null)
            {
                return Results.NotFound();
            }

            var form = await context.Request.ReadFormAsync();
            var back = $"/plans/{id}/run" + (form["view"].ToString() is { Length: > 0 } view && view.StartsWith('?') ? view : "");
            try
            {
                return Back(back, await act(plan, form, UserName(context), runs));
            }
            catch (WebUserException ex)
            {
                return Back(back, error: ex.Message);
            }
        }).RequireAuthorization(Roles.CanOperate);

    private static int Int(Microsoft.Extensions.Primitives.StringValues value, string name)
        => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw new WebUserException($"{name} '{value}' is not a number");

    private static long Long(Microsoft.Extensions.Primitives.StringValues value)
        => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw new WebUserException($"step '{value}' is not a step id");

    private static async Task<IResult> RunPage(string id, HttpContext context, PlanCatalog catalog, RunManager runs, InventoryCache inventories, AuditTrail audit, WebOptions options)
    {
        var plan = catalog.Get(id);
        if (plan is null)
        {
            return Page(context, "Not found", "<h1>No such plan (or still planning)</h1>", 404);
        }

        var html = new StringBuilder($"<h1>Run: {E(plan.Meta.Name)}</h1><p><a href=\"/plans/{E(id)}\">plan review</a> · mode: <b>{(options.Simulate ? "simulated twin" : "real (not available yet)")}</b></p>");
        html.Append(PlanPages.ApprovalBox(context, plan, await audit.ApprovalAsync(plan, inventories.Get(plan.Meta.InventoryFolder))));
        html.Append("<div data-live=\"/plans/").Append(E(id)).Append("/run/events").Append(E(context.Request.QueryString.Value ?? "")).Append("\" data-testid=live>")
            .Append(await LiveAsync(context, plan, runs, inventories, audit)).Append("</div>");
        if (options.Simulate && CanOperate(context))
        {
            html.Append("<h2>Rehearse a failure</h2>").Append(Form(context, $"/plans/{id}/run/fault",
                "<label>Fault <input name=fault size=40 placeholder=\"copy-disks@web-01:permanent\" data-testid=fault-input></label> <button type=submit data-testid=inject-fault>Inject on the twin</button>"
                + " <span class=muted>&lt;step&gt;@&lt;vm or host&gt;[:transient|:permanent]: the simulated adapters fail that step</span>", "class=card"));
        }

        return Page(context, "Run " + plan.Meta.Name, html.ToString());
    }

    /// <summary>Server-sent events: the live region's HTML each time the journal changes (checked twice a second).</summary>
    private static async Task Events(string id, HttpContext context, PlanCatalog catalog, RunManager runs, InventoryCache inventories, AuditTrail audit, JournalHub hub)
    {
        var plan = catalog.Get(id);
        if (plan is null)
        {
            context.Response.StatusCode = 404;
            return;
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        var journal = await hub.ForPlanAsync(plan.PlanPath);
        var ct = context.RequestAborted;
        string? last = null;
        var quiet = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var stamp = await StampAsync(journal, plan, runs);
                if (stamp != last)
                {
                    last = stamp;
                    quiet = 0;
                    var html = await LiveAsync(context, plan, runs, inventories, audit);
                    var message = new StringBuilder("event: update\n");
                    foreach (var line in html.Split('\n'))
                    {
                        message.Append("data: ").Append(line).Append('\n');
                    }

                    await context.Response.WriteAsync(message.Append('\n').ToString(), ct);
                    await context.Response.Body.FlushAsync(ct);
                }
                else if (++quiet % 30 == 0)
                {
                    await context.Response.WriteAsync(": keep-alive\n\n", ct);
                    await context.Response.Body.FlushAsync(ct);
                }

                await Task.Delay(500, ct);
            }
        }
        catch (OperationCanceledException)
        {
            // The browser left.
        }
    }

    /// <summary>Changes whenever a step or the audit trail of the run changes (every journal write bumps a version).</summary>
    private static async Task<string> StampAsync(IRunJournal journal, PlanEntry plan, RunManager runs)
    {
        var run = await runs.FindRunAsync(plan);
        if (run is null)
        {
            return "none";
        }

        var steps = await journal.GetStepsAsync(run.RunId);
        var events = await journal.GetEventsAsync(run.RunId);
        return $"{run.RunId}:{steps.Sum(s => s.Version)}:{steps.Count}:{events.Count}";
    }

    /// <summary>The live part of the run page (also sent as-is by the event stream).</summary>
    internal static async Task<string> LiveAsync(HttpContext context, PlanEntry plan, RunManager runs, InventoryCache inventories, AuditTrail audit)
    {
        var id = plan.Meta.Id;
        var run = await runs.FindRunAsync(plan);
        var steps = run is null ? [] : await runs.StepsAsync(plan, run.RunId);
        var events = run is null ? [] : (await audit.ForPlanAsync(id, plan.Digest)).Where(e => e.RunId == run.RunId).ToList();
        var started = events.Where(e => e.Kind == "wave-started" && e.Subject is not null).Select(e => int.Parse(e.Subject!["wave:".Length..], CultureInfo.InvariantCulture)).ToHashSet();
        var query = context.Request.Query;
        var waves = plan.Plan.Stages.Where(s => s.Index > 0).Select(s => s.Index).ToList();
        var selected = int.TryParse(query["wave"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var w) && waves.Contains(w) ? w
            : waves.FirstOrDefault(x => started.Contains(x) && steps.Where(s => s.Wave == x).Any(s => !StepStateMachine.IsDone(s.State)),
                started.Count == 0 ? waves.FirstOrDefault() : waves.Where(started.Contains).DefaultIfEmpty(waves.FirstOrDefault()).Max());
        var view = $"?wave={selected}";
        var canOperate = CanOperate(context);
        var html = new StringBuilder(16 * 1024);
        html.Append("<p class=muted>").Append(run is null ? "No run yet: starting wave 1 creates it." : $"Run {E(run.RunId)}, created by {E(run.CreatedBy)} at {Time(run.CreatedAt)}.").Append("</p>");

        html.Append("<h2>Waves</h2><table data-testid=run-waves><tr><th>Wave</th><th>State</th><th>Steps</th><th>Progress</th><th>Data</th><th></th></tr>");
        foreach (var wave in waves)
        {
            var waveSteps = steps.Where(s => s.Wave == wave).ToList();
            var done = waveSteps.Count(s => StepStateMachine.IsDone(s.State));
            var state = !started.Contains(wave) ? "not started"
                : waveSteps.Count > 0 && done == waveSteps.Count ? "completed"
                : waveSteps.Any(s => s.State == StepState.Failed) ? "needs an operator"
                : waveSteps.Any(s => s.State == StepState.WaitingForGate) ? "waiting for a gate" : "running";
            var (bytesDone, bytesTotal, eta) = DataProgress(waveSteps);
            html.Append("<tr data-testid=\"wave-").Append(wave).Append("\"><td><a href=\"/plans/").Append(E(id)).Append("/run?wave=").Append(wave).Append("\">wave ").Append(wave).Append("</a>")
                .Append(wave == selected ? " ◀" : "").Append("</td><td class=state data-testid=\"wave-state-").Append(wave).Append("\">").Append(state).Append("</td><td>")
                .Append(string.Join(", ", waveSteps.GroupBy(s => s.State).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key}"))).Append("</td><td>")
                .Append(waveSteps.Count == 0 ? "" : Bar(done / (double)waveSteps.Count, Percent(done / (double)waveSteps.Count), $"wave-progress-{wave}"))
                .Append("</td><td>").Append(bytesTotal == 0 ? "" : $"{Bytes(bytesDone)} of {Bytes(bytesTotal)}{eta}").Append("</td><td>");
            // Only the next wave can start (the orchestrator refuses one whose predecessor is not completed).
            if (canOperate && wave == waves.FirstOrDefault(x => !started.Contains(x)))
            {
                html.Append(Form(context, $"/plans/{id}/run/start", $"<input type=hidden name=wave value={wave}><input type=hidden name=view value=\"?wave={wave}\"><button type=submit data-testid=\"start-wave-{wave}\">Start wave {wave}</button>", "class=inline"));
            }

            html.Append("</td></tr>");
        }

        html.Append("</table>");

        var gates = steps.Where(s => s.State == StepState.WaitingForGate).ToList();
        if (gates.Count > 0)
        {
            html.Append("<h2>Gates waiting for an operator</h2><table data-testid=gates>");
            foreach (var gate in gates)
            {
                html.Append("<tr><td>wave ").Append(gate.Wave).Append("</td><td>").Append(E(gate.Subject)).Append("</td><td>").Append(E(gate.StepType)).Append("</td><td>").Append(E(gate.LastReason)).Append("</td><td>");
                if (canOperate)
                {
                    html.Append(Form(context, $"/plans/{id}/run/confirm", $"<input type=hidden name=step value={gate.StepId}><input type=hidden name=view value=\"{view}\"><button type=submit data-testid=\"confirm-{E(gate.Subject)}\">Confirm</button>", "class=inline"))
                        .Append(Form(context, $"/plans/{id}/run/deny", $"<input type=hidden name=step value={gate.StepId}><input type=hidden name=view value=\"{view}\"><input name=reason placeholder=reason required> <button type=submit>Deny</button>", "class=inline"));
                }

                html.Append("</td></tr>");
            }

            html.Append("</table>");
        }

        Pipelines(context, html, plan, steps.Where(s => s.Wave == selected).ToList(), selected, view, canOperate);

        html.Append("<h2>Recent events</h2><table data-testid=run-events><tr><th>When</th><th>Who</th><th>What</th><th>Subject</th><th>Details</th></tr>");
        foreach (var e in events.Take(15))
        {
            html.Append("<tr><td>").Append(Time(e.At)).Append("</td><td>").Append(E(e.Actor)).Append("</td><td>").Append(E(e.Kind)).Append("</td><td>").Append(E(e.Subject)).Append("</td><td>").Append(E(e.Details)).Append("</td></tr>");
        }

        return html.Append("</table>").ToString();
    }

    private static void Pipelines(HttpContext context, StringBuilder html, PlanEntry plan, IReadOnlyList<StepRecord> steps, int wave, string view, bool canOperate)
    {
        var id = plan.Meta.Id;
        var pipelines = steps.GroupBy(s => s.Subject).Select(g => g.OrderBy(s => s.Sequence).ToList()).ToList();
        html.Append("<h2>Wave ").Append(wave).Append(": pipelines</h2>");
        if (pipelines.Count == 0)
        {
            html.Append("<p class=muted>This wave has not been started.</p>");
            return;
        }

        var pages = (pipelines.Count + PipelinesPerPage - 1) / PipelinesPerPage;
        var page = Math.Clamp(int.TryParse(context.Request.Query["page"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : 1, 1, pages);
        html.Append("<table data-testid=pipelines><tr><th>Subject</th><th>Steps</th><th>Progress</th><th>Current step</th><th>Log</th><th>Actions</th></tr>");
        foreach (var pipeline in pipelines.Skip((page - 1) * PipelinesPerPage).Take(PipelinesPerPage))
        {
            var subject = pipeline[0].Subject;
            var current = pipeline.FirstOrDefault(s => !StepStateMachine.IsDone(s.State)) ?? pipeline[^1];
            var done = pipeline.Count(s => StepStateMachine.IsDone(s.State));
            var (bytesDone, bytesTotal, _) = DataProgress(pipeline);
            html.Append("<tr data-testid=\"pipeline-").Append(E(subject)).Append("\"><td>").Append(E(subject)).Append("</td><td>");
            foreach (var step in pipeline)
            {
                html.Append("<span class=\"chip s-").Append(step.State).Append("\" title=\"").Append(E(step.StepType)).Append(": ").Append(step.State).Append(step.Attempts > 1 ? $", {step.Attempts} attempts" : "").Append("\"></span>");
            }

            html.Append("</td><td>").Append(Bar(done / (double)pipeline.Count, $"{done}/{pipeline.Count} steps" + (bytesTotal > 0 ? $", {Bytes(bytesDone)} of {Bytes(bytesTotal)}" : "")))
                .Append("</td><td>").Append(E(current.StepType)).Append(" <span class=\"state\" data-testid=\"state-").Append(E(subject)).Append("\">").Append(current.State).Append("</span><br><span class=muted>")
                .Append(E(current.LastReason)).Append("</span></td><td>");
            var log = pipeline.SelectMany(s => s.LogTail.Select(l => $"{s.StepType}: {l}")).TakeLast(8).ToList();
            if (log.Count > 0)
            {
                html.Append("<details><summary>").Append(log.Count).Append(" lines</summary><pre>").Append(E(string.Join('\n', log))).Append("</pre></details>");
            }

            html.Append("</td><td>");
            if (canOperate)
            {
                if (pipeline.FirstOrDefault(s => s.State == StepState.Failed) is { } failed)
                {
                    html.Append(Form(context, $"/plans/{id}/run/retry", $"<input type=hidden name=step value={failed.StepId}><input type=hidden name=view value=\"{view}\"><button type=submit data-testid=\"retry-{E(subject)}\">Retry</button>", "class=inline"));
                }

                if (current.State is StepState.Pending or StepState.Failed or StepState.WaitingForGate)
                {
                    html.Append(Form(context, $"/plans/{id}/run/skip", $"<input type=hidden name=step value={current.StepId}><input type=hidden name=view value=\"{view}\"><input name=reason placeholder=\"why skip\" required size=10> <button type=submit>Skip</button>", "class=inline"));
                }

                if (pipeline.Any(s => s.State == StepState.Succeeded) && !pipeline.Any(s => s.State is StepState.Running or StepState.Compensating))
                {
                    html.Append(Form(context, $"/plans/{id}/run/rollback", $"<input type=hidden name=wave value={wave}><input type=hidden name=subject value=\"{E(subject)}\"><input type=hidden name=view value=\"{view}\"><input name=reason placeholder=\"why roll back\" required size=10 data-testid=\"rollback-reason-{E(subject)}\"> <button type=submit data-testid=\"rollback-{E(subject)}\">Roll back</button>", "class=inline"));
                }
            }

            html.Append("</td></tr>");
        }

        html.Append("</table>");
        if (pages > 1)
        {
            html.Append("<p class=pager>");
            for (var i = 1; i <= pages; i++)
            {
                html.Append(i == page ? $"<span>{i}</span>" : $"<a href=\"/plans/{E(id)}/run?wave={wave}&page={i}\">{i}</a>");
            }

            html.Append("</p>");
        }
    }

    /// <summary>
    /// Disk data of the VM pipelines: a VM's bytes count as copied once its copy steps (copy-disks, final-sync) are
    /// done; rate and ETA come from the journal's own timestamps (simulated time on a twin).
    /// </summary>
    private static (long Done, long Total, string Eta) DataProgress(IReadOnlyList<StepRecord> steps)
    {
        long done = 0, total = 0;
        foreach (var pipeline in steps.Where(s => s.Subject.StartsWith("vm:", StringComparison.Ordinal)).GroupBy(s => s.Subject))
        {
            var copies = pipeline.Where(s => CopySteps.Contains(s.StepType)).ToList();
            if (copies.Count == 0)
            {
                continue;
            }

            var bytes = StepInput.Cached(copies[0].InputJson).Disks.Sum(d => d.UsedBytes);
            total += bytes;
            done += (long)(bytes * copies.Count(s => StepStateMachine.IsDone(s.State)) / (double)copies.Count);
        }

        var first = steps.Where(s => s.StartedAt is not null).Select(s => s.StartedAt!.Value).DefaultIfEmpty().Min();
        var last = steps.Select(s => s.UpdatedAt).DefaultIfEmpty().Max();
        var elapsed = (last - first).TotalSeconds;
        if (done == 0 || done >= total || elapsed <= 0)
        {
            return (done, total, "");
        }

        var rate = done / elapsed;
        return (done, total, $", {Bytes((long)rate)}/s, ETA {Duration((total - done) / rate)}");
    }
}
