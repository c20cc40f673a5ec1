using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Taquin.Executors.Simulation;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Translation;
using Taquin.Web.Audit;
using Taquin.Web.Plans;
using static Taquin.Web.Pages.Html;

namespace Taquin.Web.Pages;

/// <summary>One VM as the review table shows it.</summary>
internal sealed record VmRow(string Name, string Host, string Target, int? Stage, string Strategy, long Ram, long Disk, double Downtime, int Warnings);

/// <summary>The VM table's query: search, filters, sort and page, all in the URL so a view can be shared.</summary>
internal sealed record VmQuery(string? Search, string? Host, int? Stage, string? Strategy, bool WarningsOnly, string Sort, bool Descending, int Page)
{
    public const int PageSize = 50;

    public static VmQuery From(IQueryCollection query) => new(
        Text(query["q"]), Text(query["host"]),
        int.TryParse(query["stage"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var stage) ? stage : null,
        Text(query["strategy"]), query["warnings"] == "1",
        query["sort"].ToString() is { Length: > 0 } sort ? sort : "name", query["desc"] == "1",
        int.TryParse(query["page"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var page) && page > 0 ? page : 1);

    private static string? Text(Microsoft.Extensions.Primitives.StringValues value) => value.ToString() is { Length: > 0 } text ? text.Trim() : null;

    public IEnumerable<VmRow> Apply(IEnumerable<VmRow> rows)
    {
        if (Search is not null)
        {
            rows = rows.Where(r => r.Name.Contains(Search, StringComparison.OrdinalIgnoreCase) || r.Host.Contains(Search, StringComparison.OrdinalIgnoreCase) || r.Target.Contains(Search, StringComparison.OrdinalIgnoreCase));
        }

        if (Host is not null)
        {
            rows = rows.Where(r => r.Host == Host || r.Target == Host);
        }

        if (Stage is { } stage)
        {
            rows = rows.Where(r => r.Stage == stage);
        }

        if (Strategy is not null)
        {
            rows = rows.Where(r => r.Strategy == Strategy);
        }

        if (WarningsOnly)
        {
            rows = rows.Where(r => r.Warnings > 0);
        }

        Func<VmRow, object> key = Sort switch
        {
            "host" => r => r.Host,
            "target" => r => r.Target,
            "stage" => r => r.Stage ?? int.MaxValue,
            "strategy" => r => r.Strategy,
            "ram" => r => r.Ram,
            "disk" => r => r.Disk,
            "downtime" => r => r.Downtime,
            "warnings" => r => r.Warnings,
            _ => r => r.Name,
        };
        var sorted = Descending ? rows.OrderByDescending(key).ThenBy(r => r.Name, StringComparer.Ordinal) : rows.OrderBy(key).ThenBy(r => r.Name, StringComparer.Ordinal);
        return sorted;
    }

    public string Link(string path, string? sort = null, int? page = null)
    {
        var parts = new List<string>();
        void Add(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                parts.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }

        Add("q", Search);
        Add("host", Host);
        Add("stage", Stage?.ToString(CultureInfo.InvariantCulture));
        Add("strategy", Strategy);
        Add("warnings", WarningsOnly ? "1" : null);
        var newSort = sort ?? Sort;
        Add("sort", newSort);
        Add("desc", sort is null ? (Descending ? "1" : null) : (sort == Sort && !Descending ? "1" : null));
        Add("page", (page ?? Page).ToString(CultureInfo.InvariantCulture));
        return path + "?" + string.Join("&", parts) + "#vms";
    }
}

/// <summary>Plan review: summary, board picture, waves, VM table; the VM page; the wave page.</summary>
internal static class ReviewPages
{
    private const int ActionsShownPerWave = 50;
    private static readonly ConcurrentDictionary<string, string> Boards = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, IReadOnlyList<VmRow>> Rows = new(StringComparer.Ordinal);

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/plans/{id}", Review);
        app.MapGet("/plans/{id}/board.svg", (string id, PlanCatalog catalog, InventoryCache inventories) =>
        {
            var plan = catalog.Get(id);
            var inventory = plan is null ? null : inventories.Get(plan.Meta.InventoryFolder).Inventory;
            if (plan is null || inventory is null)
            {
                return Results.NotFound();
            }

            var svg = Boards.GetOrAdd(plan.Digest + inventory.Digest, _ => PlanSvg.Render(plan.Plan, inventory));
            return Results.Content(svg, "image/svg+xml; charset=utf-8");
        });
        app.MapGet("/plans/{id}/waves/{wave:int}", WavePage);
        app.MapGet("/plans/{id}/vms/{name}", VmPage);
    }

    private static async Task<IResult> Review(string id, HttpContext context, PlanCatalog catalog, InventoryCache inventories, AuditTrail audit, PlanningService planning)
    {
        var watch = Stopwatch.StartNew();
        var meta = catalog.FindMeta(id);
        if (meta is null)
        {
            return Page(context, "Not found", "<h1>No such plan</h1>", 404);
        }

        var plan = catalog.Get(id);
        if (plan is null)
        {
            var waiting = $"<h1>{E(meta.Name)}</h1>" + (meta.Status == PlanStatus.Planning ? "<meta http-equiv=refresh content=2>" : "")
                + $"<p>Inventory {E(meta.InventoryFolder)}, {E(meta.Planner)} planner.</p><div class=card>{PlanPages.StatusCell(meta, planning)}</div>";
            return Page(context, meta.Name, waiting);
        }

        var inventoryState = inventories.Get(plan.Meta.InventoryFolder);
        var approval = await audit.ApprovalAsync(plan, inventoryState);
        var html = new StringBuilder(64 * 1024);
        html.Append("<h1>").Append(E(plan.Meta.Name)).Append("</h1><p class=muted>plan ").Append(E(plan.Digest[..12])).Append(", inventory ")
            .Append(E(plan.Meta.InventoryFolder)).Append(", ").Append(E(plan.Meta.Source)).Append(" by ").Append(E(plan.Meta.CreatedBy)).Append(' ').Append(Time(plan.Meta.CreatedAt)).Append("</p>");
        html.Append(PlanPages.ApprovalBox(context, plan, approval));
        Summary(html, plan.Plan);
        html.Append("<h2>Board</h2><p class=muted>Hosts and their VMs at every stage (one panel per stage).</p><div class=board><img src=\"/plans/")
            .Append(E(id)).Append("/board.svg\" alt=\"board picture per stage\" data-testid=board></div>");
        Waves(html, plan);
        if (inventoryState.Errors.Count > 0)
        {
            html.Append("<p class=\"flash error\" data-testid=inventory-errors>The inventory has ").Append(N(inventoryState.Errors.Count)).Append(" error(s): ")
                .Append(E(string.Join("; ", inventoryState.Errors.Take(3)))).Append("</p>");
        }

        if (inventoryState.Inventory is { } inventory)
        {
            VmTable(html, plan, inventory, VmQuery.From(context.Request.Query));
        }

        var events = await audit.ForPlanAsync(id, plan.Digest);
        html.Append("<h2>Audit trail</h2><table data-testid=audit><tr><th>When</th><th>Who</th><th>What</th><th>Subject</th><th>Details</th></tr>");
        foreach (var e in events.Take(30))
        {
            html.Append("<tr><td>").Append(Time(e.At)).Append("</td><td>").Append(E(e.Actor)).Append("</td><td>").Append(E(e.Kind)).Append("</td><td>").Append(E(e.Subject)).Append("</td><td>").Append(E(e.Details)).Append("</td></tr>");
        }

        html.Append("</table>");
        var page = Page(context, plan.Meta.Name, html.ToString());
        return PlanPages.Timed(context, watch, page);
    }

    private static void Summary(StringBuilder html, MigrationPlan plan)
    {
        var solver = plan.Solver;
        html.Append("<h2>Summary</h2><p data-testid=solver>Solver <b>").Append(E(solver.Status)).Append("</b>");
        if (solver.Gap is { } gap)
        {
            html.Append(", gap ").Append(Percent(gap));
        }

        html.Append(", ").Append(F(solver.WallSeconds, "0.0")).Append(" s");
        if (solver.Model is { } model)
        {
            html.Append(", ").Append(E(model));
        }

        // Before approving, an admin must see whether the downtime figures come from this fleet's measurements or from guesses.
        html.Append("</p><p data-testid=rates>Estimates use ").Append(E(PlanReport.RatesLine(plan))).Append("</p>");
        html.Append("<table data-testid=summary><tr><th>Metric</th><th class=num>This plan</th><th class=num>Greedy baseline</th><th class=num>Lower bound</th></tr>");
        void Row(string name, Func<PlanMetrics, string> value)
            => html.Append("<tr><td>").Append(name).Append("</td><td class=num>").Append(value(plan.Metrics)).Append("</td><td class=num>")
                .Append(plan.Baseline is { } b ? value(b) : "—").Append("</td><td class=num>").Append(plan.LowerBound is { } l ? value(l) : "—").Append("</td></tr>");
        Row("Stages (waves)", m => N(m.Stages));
        Row("Reboots", m => N(m.Reboots));
        Row("Downtime (sum)", m => Duration(m.DowntimeSeconds));
        Row("Bytes copied", m => Bytes(m.BytesCopied));
        Row("Live migrations", m => N(m.LiveMigrations));
        Row("VM moves", m => N(m.Moves));
        Row("RAM imbalance at the end", m => Percent(m.RamImbalance));
        html.Append("</table>");
        if (plan.Warnings.Count > 0)
        {
            html.Append("<details><summary>").Append(N(plan.Warnings.Count)).Append(" plan warning(s)</summary><ul>");
            foreach (var warning in plan.Warnings)
            {
                html.Append("<li>").Append(E(warning)).Append("</li>");
            }

            html.Append("</ul></details>");
        }
    }

    private static void Waves(StringBuilder html, PlanEntry plan)
    {
        html.Append("<h2>Waves</h2><table data-testid=waves><tr><th>Wave</th><th>Actions</th><th class=num>Data</th><th class=num>Longest action</th><th class=num>Downtime</th></tr>");
        foreach (var stage in plan.Plan.Stages.Where(s => s.Index > 0))
        {
            var kinds = stage.Actions.GroupBy(a => a.Kind).Select(g => $"{g.Count()} {Kind(g.Key)}");
            html.Append("<tr><td><a href=\"/plans/").Append(E(plan.Meta.Id)).Append("/waves/").Append(stage.Index).Append("\">wave ").Append(stage.Index).Append("</a></td><td><details><summary>")
                .Append(E(string.Join(", ", kinds))).Append("</summary>");
            ActionTable(html, stage.Actions.Take(ActionsShownPerWave));
            if (stage.Actions.Count > ActionsShownPerWave)
            {
                html.Append("<a href=\"/plans/").Append(E(plan.Meta.Id)).Append("/waves/").Append(stage.Index).Append("\">all ").Append(N(stage.Actions.Count)).Append(" actions</a>");
            }

            html.Append("</details></td><td class=num>").Append(Bytes(stage.Actions.Sum(a => a.Bytes))).Append("</td><td class=num>")
                .Append(Duration(stage.Actions.Count == 0 ? 0 : stage.Actions.Max(a => a.EstimatedSeconds))).Append("</td><td class=num>")
                .Append(Duration(stage.Actions.Sum(a => a.DowntimeSeconds))).Append("</td></tr>");
        }

        html.Append("</table>");
    }

    private static string Kind(ActionKind kind) => kind switch
    {
        ActionKind.LiveMigrate => "live-migrate",
        ActionKind.MoveToPve => "move-to-pve",
        ActionKind.ConvertHost => "convert-host",
        ActionKind.CreatePveCeph => "create-pve-ceph",
        ActionKind.PveLiveMigrate => "pve-live-migrate",
        _ => "pve-move-disk",
    };

    private static void ActionTable(StringBuilder html, IEnumerable<PlanAction> actions)
    {
        html.Append("<table><tr><th>Action</th><th>Subject</th><th>From</th><th>To</th><th>Strategy</th><th class=num>Data</th><th class=num>Duration</th><th class=num>Downtime</th><th>Why</th></tr>");
        foreach (var a in actions)
        {
            html.Append("<tr><td>").Append(Kind(a.Kind)).Append("</td><td>").Append(E(a.Vm ?? a.Host)).Append("</td><td>").Append(E(Where(a.From))).Append("</td><td>").Append(E(Where(a.To)))
                .Append("</td><td>").Append(E(a.Strategy)).Append("</td><td class=num>").Append(Bytes(a.Bytes)).Append("</td><td class=num>").Append(Duration(a.EstimatedSeconds))
                .Append("</td><td class=num>").Append(Duration(a.DowntimeSeconds)).Append("</td><td>").Append(E(a.Reason)).Append("</td></tr>");
        }

        html.Append("</table>");
    }

    private static string Where(Placement? placement) => placement is null ? "" : $"{placement.Host} / {placement.Storage}";

    internal static IReadOnlyList<VmRow> RowsOf(PlanEntry plan, FleetInventory inventory) => Rows.GetOrAdd(plan.Digest + inventory.Digest, _ =>
    {
        var last = plan.Plan.Stages[^1];
        return [.. inventory.Vms.Select(vm =>
        {
            var info = plan.Plan.Vms.GetValueOrDefault(vm.Name);
            var target = last.Placements.GetValueOrDefault(vm.Name);
            return new VmRow(vm.Name, vm.Host, target is null ? "" : target.Host, info?.MoveStage, info?.Strategy ?? "", vm.RamBytes, vm.DiskBytes, info?.DowntimeSeconds ?? 0, info?.Warnings.Count ?? 0);
        })];
    });

    private static void VmTable(StringBuilder html, PlanEntry plan, FleetInventory inventory, VmQuery query)
    {
        var path = $"/plans/{plan.Meta.Id}";
        var all = RowsOf(plan, inventory);
        var matching = query.Apply(all).ToList();
        var pages = Math.Max(1, (matching.Count + VmQuery.PageSize - 1) / VmQuery.PageSize);
        var page = Math.Min(query.Page, pages);
        html.Append("<h2 id=vms>VMs</h2><form method=get action=\"").Append(E(path)).Append("#vms\" class=filters data-testid=vm-filters>")
            .Append("<input name=q placeholder=\"search name or host\" value=\"").Append(E(query.Search)).Append("\">")
            .Append(Select("host", "any host", inventory.Fleet.Hosts.Select(h => h.Name), query.Host))
            .Append(Select("stage", "any wave", plan.Plan.Stages.Where(s => s.Index > 0).Select(s => s.Index.ToString(CultureInfo.InvariantCulture)), query.Stage?.ToString(CultureInfo.InvariantCulture)))
            .Append(Select("strategy", "any strategy", all.Select(r => r.Strategy).Where(s => s.Length > 0).Distinct().Order(StringComparer.Ordinal), query.Strategy))
            .Append("<label><input type=checkbox name=warnings value=1").Append(query.WarningsOnly ? " checked" : "").Append("> with warnings</label> ")
            .Append("<input type=hidden name=sort value=\"").Append(E(query.Sort)).Append("\"><button type=submit>Filter</button></form>");
        html.Append("<p class=muted data-testid=vm-count>").Append(N(matching.Count)).Append(" of ").Append(N(all.Count)).Append(" VMs, page ").Append(page).Append(" of ").Append(pages).Append("</p>");
        html.Append("<table data-testid=vm-table><tr>");
        foreach (var (key, label) in new[] { ("name", "VM"), ("host", "Now on"), ("target", "Ends on"), ("stage", "Wave"), ("strategy", "Strategy"), ("ram", "RAM"), ("disk", "Disk data"), ("downtime", "Downtime"), ("warnings", "Warnings") })
        {
            html.Append("<th><a href=\"").Append(E(query.Link(path, key, 1))).Append("\">").Append(label).Append(query.Sort == key ? (query.Descending ? " ▼" : " ▲") : "").Append("</a></th>");
        }

        html.Append("</tr>");
        foreach (var row in matching.Skip((page - 1) * VmQuery.PageSize).Take(VmQuery.PageSize))
        {
            html.Append("<tr><td><a href=\"").Append(E(path)).Append("/vms/").Append(E(Uri.EscapeDataString(row.Name))).Append("\">").Append(E(row.Name)).Append("</a></td><td>").Append(E(row.Host))
                .Append("</td><td>").Append(E(row.Target)).Append("</td><td class=num>").Append(row.Stage?.ToString(CultureInfo.InvariantCulture) ?? "").Append("</td><td>").Append(E(row.Strategy))
                .Append("</td><td class=num>").Append(Bytes(row.Ram)).Append("</td><td class=num>").Append(Bytes(row.Disk)).Append("</td><td class=num>").Append(Duration(row.Downtime))
                .Append("</td><td class=num>").Append(row.Warnings == 0 ? "" : N(row.Warnings)).Append("</td></tr>");
        }

        html.Append("</table><p class=pager data-testid=pager>");
        if (page > 1)
        {
            html.Append("<a href=\"").Append(E(query.Link(path, page: page - 1))).Append("\" rel=prev>← previous</a>");
        }

        html.Append("<span>page ").Append(page).Append(" / ").Append(pages).Append("</span>");
        if (page < pages)
        {
            html.Append("<a href=\"").Append(E(query.Link(path, page: page + 1))).Append("\" rel=next>next →</a>");
        }

        html.Append("</p>");
    }

    private static string Select(string name, string any, IEnumerable<string> values, string? selected)
    {
        var html = new StringBuilder($"<select name={name}><option value=\"\">{E(any)}</option>");
        foreach (var value in values)
        {
            html.Append("<option").Append(value == selected ? " selected" : "").Append('>').Append(E(value)).Append("</option>");
        }

        return html.Append("</select>").ToString();
    }

    private static IResult WavePage(string id, int wave, HttpContext context, PlanCatalog catalog)
    {
        var plan = catalog.Get(id);
        var stage = plan?.Plan.Stages.FirstOrDefault(s => s.Index == wave && s.Index > 0);
        if (plan is null || stage is null)
        {
            return Page(context, "Not found", "<h1>No such wave</h1>", 404);
        }

        const int pageSize = 200;
        var pages = Math.Max(1, (stage.Actions.Count + pageSize - 1) / pageSize);
        var page = Math.Clamp(int.TryParse(context.Request.Query["page"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : 1, 1, pages);
        var html = new StringBuilder($"<h1>{E(plan.Meta.Name)}: wave {wave}</h1><p><a href=\"/plans/{E(id)}\">back to the review</a></p><p class=muted>{N(stage.Actions.Count)} actions, page {page} of {pages}</p>");
        ActionTable(html, stage.Actions.Skip((page - 1) * pageSize).Take(pageSize));
        html.Append("<p class=pager>");
        if (page > 1)
        {
            html.Append($"<a href=\"/plans/{E(id)}/waves/{wave}?page={page - 1}\">← previous</a>");
        }

        if (page < pages)
        {
            html.Append($"<a href=\"/plans/{E(id)}/waves/{wave}?page={page + 1}\">next →</a>");
        }

        html.Append("</p>");
        return Page(context, $"wave {wave}", html.ToString());
    }

    private static IResult VmPage(string id, string name, HttpContext context, PlanCatalog catalog, InventoryCache inventories)
    {
        var plan = catalog.Get(id);
        var inventory = plan is null ? null : inventories.Get(plan.Meta.InventoryFolder).Inventory;
        var vm = inventory?.Vms.FirstOrDefault(v => v.Name == name);
        if (plan is null || vm is null)
        {
            return Page(context, "Not found", "<h1>No such VM in this plan</h1>", 404);
        }

        var info = plan.Plan.Vms.GetValueOrDefault(name);
        var target = plan.Plan.Stages[^1].Placements.GetValueOrDefault(name);
        var config = PveTranslator.Translate(vm, new TranslationTarget
        {
            Node = target?.Host ?? vm.Host,
            DiskStorage = PveStorageIds.FromPlan(target?.Storage ?? ""),
            Bridge = inventory!.Fleet.Policy.Bridge,
        });
        var html = new StringBuilder($"<h1>{E(vm.Name)}</h1><p><a href=\"/plans/{E(id)}#vms\">back to the review</a></p>");
        html.Append("<table><tr><th>Now on</th><td>").Append(E(vm.Host)).Append("</td><th>Ends on</th><td>").Append(E(target is null ? "" : $"{target.Host} / {target.Storage}"))
            .Append("</td><th>Moves in wave</th><td>").Append(info?.MoveStage?.ToString(CultureInfo.InvariantCulture) ?? "—").Append("</td></tr><tr><th>Strategy</th><td>").Append(E(info?.Strategy))
            .Append("</td><th>Why</th><td colspan=3>").Append(E(info?.StrategyReason)).Append("</td></tr><tr><th>RAM</th><td>").Append(Bytes(vm.RamBytes)).Append("</td><th>Disk data</th><td>")
            .Append(Bytes(vm.DiskBytes)).Append("</td><th>Estimated downtime</th><td>").Append(Duration(info?.DowntimeSeconds ?? 0)).Append("</td></tr></table>");
        var warnings = (info?.Warnings ?? []).Concat(config.Warnings.Select(w => w.ToString())).Distinct(StringComparer.Ordinal).ToList();
        html.Append("<h2>Warnings</h2>");
        if (config.Refusals.Count > 0)
        {
            html.Append("<ul class=bad>");
            foreach (var refusal in config.Refusals)
            {
                html.Append("<li>refused: ").Append(E(refusal.ToString())).Append("</li>");
            }

            html.Append("</ul>");
        }

        html.Append(warnings.Count == 0 ? "<p class=muted>none</p>" : "<ul data-testid=vm-warnings>" + string.Concat(warnings.Select(w => $"<li>{E(w)}</li>")) + "</ul>");
        html.Append("<h2>Actions</h2>");
        ActionTable(html, plan.Plan.Stages.SelectMany(s => s.Actions).Where(a => a.Vm == name));
        html.Append("<div class=cols><div><h2>Source: libvirt domain XML</h2><pre data-testid=libvirt-xml>").Append(E(vm.Xml ?? "(the XML was not kept)"))
            .Append("</pre></div><div><h2>Generated PVE config</h2><pre data-testid=pve-config>");
        foreach (var (key, value) in config.Params)
        {
            html.Append(E(key)).Append(": ").Append(E(value)).Append('\n');
        }

        html.Append("</pre></div></div>");
        return Page(context, vm.Name, html.ToString());
    }
}
