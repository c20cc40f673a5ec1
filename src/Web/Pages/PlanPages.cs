using System.Diagnostics;
using System.Globalization;
using System.Text;
using global::Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Taquin.Planner.Planning;
using Taquin.Web.Accounts;
using Taquin.Web.Audit;
using Taquin.Web.Plans;
using static Taquin.Web.Pages.Html;

namespace Taquin.Web.Pages;

/// <summary>Plans: the list, creating one (background planning) or uploading one, and approving.</summary>
internal static class PlanPages
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/plans", (HttpContext context, PlanCatalog catalog, PlanningService planning) => List(context, catalog, planning));
        app.MapPost("/plans", async (HttpContext context, PlanningService planning, IBackgroundJobClient jobs) =>
        {
            var form = await context.Request.ReadFormAsync();
            try
            {
                var limit = double.TryParse(form["timeLimit"], NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : 30;
                var id = planning.Queue(jobs, form["name"].ToString(), form["inventory"].ToString().Trim(), form["planner"].ToString() is { Length: > 0 } p ? p : "cp-sat", limit, UserName(context));
                return Back($"/plans/{id}", "planning started in the background");
            }
            catch (WebUserException ex)
            {
                return Back("/plans", error: ex.Message);
            }
        }).RequireAuthorization(Roles.CanApprove);
        app.MapPost("/plans/upload", Upload).RequireAuthorization(Roles.CanApprove);
        app.MapPost("/plans/{id}/approve", async (string id, HttpContext context, PlanCatalog catalog, InventoryCache inventories, AuditTrail audit) =>
        {
            var plan = catalog.Get(id);
            if (plan is null)
            {
                return Results.NotFound();
            }

            try
            {
                await audit.ApproveAsync(plan, inventories.Get(plan.Meta.InventoryFolder), UserName(context));
                return Back($"/plans/{id}", $"plan approved by {UserName(context)}");
            }
            catch (WebUserException ex)
            {
                return Back($"/plans/{id}", error: ex.Message);
            }
        }).RequireAuthorization(Roles.CanApprove);
    }

    private static IResult List(HttpContext context, PlanCatalog catalog, PlanningService planning)
    {
        var plans = catalog.List();
        var html = new StringBuilder("<h1>Plans</h1>");
        if (plans.Any(p => p.Status == PlanStatus.Planning))
        {
            html.Append("<meta http-equiv=refresh content=2>");
        }

        html.Append("<table data-testid=plans><tr><th>Plan</th><th>Inventory</th><th>Status</th><th>Created</th></tr>");
        foreach (var meta in plans)
        {
            html.Append("<tr><td><a href=\"/plans/").Append(E(meta.Id)).Append("\">").Append(E(meta.Name)).Append("</a></td><td>").Append(E(meta.InventoryFolder))
                .Append("</td><td>").Append(StatusCell(meta, planning)).Append("</td><td>").Append(E(meta.CreatedBy)).Append(", ").Append(Time(meta.CreatedAt)).Append("</td></tr>");
        }

        html.Append("</table>");
        if (plans.Count == 0)
        {
            html.Append("<p class=muted>No plan yet.</p>");
        }

        if (CanApprove(context))
        {
            html.Append("<h2>Plan an inventory</h2>").Append(Form(context, "/plans",
                "<p><label>Inventory folder on the server <input name=inventory size=60 required placeholder=\"/srv/inventory\"></label></p>"
                + "<p><label>Name <input name=name placeholder=\"(folder name)\"></label> "
                + "<label>Planner <select name=planner><option value=cp-sat>CP-SAT (optimising)</option><option value=greedy>greedy (fast)</option></select></label> "
                + "<label>Time limit (s) <input name=timeLimit type=number min=1 max=3600 value=30></label></p>"
                + "<p><button type=submit>Plan in the background</button></p>", "class=card data-testid=create-plan"));
            html.Append("<h2>Upload a plan.json</h2>").Append(Form(context, "/plans/upload",
                "<p><label>plan.json <input type=file name=plan accept=\".json,application/json\" required></label></p>"
                + "<p><label>Inventory folder it was made from <input name=inventory size=60 required></label> <label>Name <input name=name></label></p>"
                + "<p><button type=submit>Upload</button></p>", "class=card enctype=multipart/form-data"));
        }

        return Page(context, "Plans", html.ToString());
    }

    internal static string StatusCell(PlanMeta meta, PlanningService planning)
    {
        switch (meta.Status)
        {
            case PlanStatus.Planning:
                var progress = planning.Progress(meta.Id);
                if (progress is null)
                {
                    return "<span class=state data-testid=plan-status>planning</span>";
                }

                var elapsed = (DateTimeOffset.UtcNow - progress.PhaseStarted).TotalSeconds;
                var fraction = progress.ExpectedSeconds is { } expected ? Math.Min(0.99, elapsed / expected) : 0.5;
                return $"<span class=state data-testid=plan-status>planning</span> {Bar(fraction, $"{progress.Phase}, {Duration(elapsed)}" + (progress.ExpectedSeconds is { } e ? $" of at most {Duration(e)}" : ""))}";
            case PlanStatus.Failed:
                return $"<span class=\"state bad\" data-testid=plan-status>failed</span> {E(meta.Error)}";
            default:
                return "<span class=\"state ok\" data-testid=plan-status>ready</span>";
        }
    }

    private static async Task<IResult> Upload(HttpContext context, PlanCatalog catalog, InventoryCache inventories, AuditTrail audit, TimeProvider time)
    {
        var form = await context.Request.ReadFormAsync();
        var file = form.Files["plan"];
        var folder = form["inventory"].ToString().Trim();
        try
        {
            if (file is null || file.Length == 0)
            {
                throw new WebUserException("choose the plan.json to upload");
            }

            string json;
            using (var reader = new StreamReader(file.OpenReadStream(), Encoding.UTF8))
            {
                json = await reader.ReadToEndAsync();
            }

            MigrationPlan plan;
            try
            {
                plan = PlanJson.Deserialize(json, file.FileName);
            }
            catch (PlanFileException ex)
            {
                throw new WebUserException(ex.Message);
            }

            var inventory = inventories.Get(folder);
            if (inventory.Usable is null)
            {
                throw new WebUserException($"the inventory '{folder}' is not valid: {string.Join("; ", inventory.Errors.Take(3))}");
            }

            if (inventory.Digest != plan.InventoryDigest)
            {
                throw new WebUserException($"{file.FileName} was made from inventory {plan.InventoryDigest[..12]}, but '{folder}' is {inventory.Digest![..12]}: give the inventory the plan was made from");
            }

            var violations = PlanVerifier.Verify(plan, inventory.Usable);
            if (violations.Count > 0)
            {
                throw new WebUserException($"{file.FileName} breaks {violations.Count} rule(s) of the plan checker, first: {violations[0].Message}");
            }

            var meta = catalog.Create(form["name"].ToString() is { Length: > 0 } name ? name : Path.GetFileNameWithoutExtension(file.FileName), folder, UserName(context), "uploaded", PlanStatus.Ready, time.GetUtcNow(), "uploaded", 0);
            catalog.SavePlan(meta.Id, json);
            await audit.RecordPlanEventAsync(meta.Id, UserName(context), "plan-uploaded", $"{file.FileName}, inventory {folder}");
            return Back($"/plans/{meta.Id}", "plan uploaded");
        }
        catch (WebUserException ex)
        {
            return Back("/plans", error: ex.Message);
        }
    }

    /// <summary>Times a page's server-side rendering and reports it in a Server-Timing header (read by `taquin serve bench`).</summary>
    internal static IResult Timed(HttpContext context, Stopwatch watch, IResult result)
    {
        context.Response.Headers["Server-Timing"] = $"render;dur={watch.Elapsed.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)}";
        return result;
    }

    internal static string ApprovalBox(HttpContext context, PlanEntry plan, ApprovalState approval)
    {
        var html = new StringBuilder("<div class=card data-testid=approval>");
        if (approval.Approved)
        {
            html.Append("<span class=\"state ok\">Approved</span> by ").Append(E(approval.By)).Append(" at ").Append(Time(approval.At)).Append(". ");
        }
        else
        {
            html.Append("<span class=\"state bad\">Not approved</span>: ").Append(E(approval.Problem)).Append(". ");
            if (CanApprove(context))
            {
                html.Append(Form(context, $"/plans/{plan.Meta.Id}/approve", "<button type=submit data-testid=approve>Approve this plan</button>", "class=inline"));
            }
            else
            {
                html.Append("<span class=muted>An admin approves plans.</span>");
            }
        }

        html.Append(" <a href=\"/plans/").Append(E(plan.Meta.Id)).Append("/run\" data-testid=run-link>Run page</a></div>");
        return html.ToString();
    }
}
