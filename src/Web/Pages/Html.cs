using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Taquin.Web.Accounts;

namespace Taquin.Web.Pages;

/// <summary>Server-rendered HTML: encoding, the page layout, forms that always carry the antiforgery token.</summary>
internal static class Html
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string E(string? text) => HtmlEncoder.Default.Encode(text ?? "");

    public static string N(long value) => value.ToString("N0", Inv);

    public static string F(double value, string format = "0.#") => value.ToString(format, Inv);

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 40 => F(bytes / (double)(1L << 40), "0.##") + " TiB",
        >= 1L << 30 => F(bytes / (double)(1L << 30), "0.#") + " GiB",
        >= 1L << 20 => F(bytes / (double)(1L << 20), "0.#") + " MiB",
        _ => N(bytes) + " B",
    };

    public static string Duration(double seconds)
    {
        var span = TimeSpan.FromSeconds(Math.Round(seconds));
        return span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes:00}m" : span.TotalMinutes >= 1 ? $"{span.Minutes}m{span.Seconds:00}s" : $"{span.Seconds}s";
    }

    public static string Time(DateTimeOffset? at) => at is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv) + "Z" : "";

    public static string Percent(double fraction) => F(Math.Clamp(fraction, 0, 1) * 100, "0") + " %";

    public static string Bar(double fraction, string label, string? testId = null)
        => $"<div class=bar{(testId is null ? "" : $" data-testid=\"{E(testId)}\"")} title=\"{E(label)}\"><span style=\"width:{F(Math.Clamp(fraction, 0, 1) * 100, "0.#")}%\"></span><em>{E(label)}</em></div>";

    public static string UserName(HttpContext context) => context.User.Identity?.Name ?? "anonymous";

    public static bool IsIn(HttpContext context, params string[] roles) => roles.Any(context.User.IsInRole);

    public static bool CanApprove(HttpContext context) => IsIn(context, Roles.Admin);

    public static bool CanOperate(HttpContext context) => IsIn(context, Roles.Admin, Roles.Operator);

    /// <summary>A POST form with the antiforgery token; every form of the site is built here.</summary>
    public static string Form(HttpContext context, string action, string inner, string? attributes = null)
    {
        var tokens = context.Items["antiforgery"] as AntiforgeryTokenSet;
        if (tokens is null)
        {
            var antiforgery = context.RequestServices.GetService(typeof(IAntiforgery)) as IAntiforgery
                ?? throw new InvalidOperationException("antiforgery is not registered");
            tokens = antiforgery.GetAndStoreTokens(context);
            context.Items["antiforgery"] = tokens;
        }

        return $"<form method=post action=\"{E(action)}\"{(attributes is null ? "" : " " + attributes)}><input type=hidden name=\"{E(tokens.FormFieldName)}\" value=\"{E(tokens.RequestToken)}\">{inner}</form>";
    }

    public static IResult Page(HttpContext context, string title, string body, int status = 200)
    {
        var html = new StringBuilder(body.Length + 2048);
        html.Append("<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\">")
            .Append("<title>").Append(E(title)).Append(" · Taquin</title><link rel=stylesheet href=\"/static/app.css\"><script src=\"/static/app.js\" defer></script></head><body>")
            .Append("<header><a class=brand href=\"/plans\">Taquin</a><nav><a href=\"/plans\">Plans</a>");
        if (CanApprove(context))
        {
            html.Append("<a href=\"/hangfire\">Jobs</a>");
        }

        html.Append("</nav>");
        if (context.User.Identity?.IsAuthenticated == true)
        {
            var role = context.User.FindFirstValue(ClaimTypes.Role);
            html.Append("<span class=who data-testid=who>").Append(E(UserName(context))).Append(" (").Append(E(role)).Append(")</span>")
                .Append(Form(context, "/logout", "<button class=link>Sign out</button>", "class=inline"));
        }

        html.Append("</header><main>");
        if (context.Request.Query["msg"] is { Count: > 0 } message)
        {
            html.Append("<p class=flash data-testid=flash>").Append(E(message.ToString())).Append("</p>");
        }

        if (context.Request.Query["error"] is { Count: > 0 } error)
        {
            html.Append("<p class=\"flash error\" data-testid=error>").Append(E(error.ToString())).Append("</p>");
        }

        html.Append(body).Append("</main></body></html>");
        return Results.Content(html.ToString(), "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    /// <summary>Redirect after a POST, with a message shown on the next page.</summary>
    public static IResult Back(string path, string? message = null, string? error = null)
    {
        var query = message is not null ? "msg=" + Uri.EscapeDataString(message) : error is not null ? "error=" + Uri.EscapeDataString(error) : null;
        return Results.Redirect(query is null ? path : path + (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query);
    }

    public const string Css = """
        *{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,sans-serif;color:#1d2733;background:#f6f7f9}
        header{display:flex;gap:1.2em;align-items:center;padding:.5em 1.2em;background:#1d2733;color:#fff}header a{color:#fff;text-decoration:none}
        .brand{font-weight:700;font-size:1.1em}nav{display:flex;gap:1em;flex:1}.who{opacity:.8}
        main{padding:1em 1.5em;max-width:1500px}h1{font-size:1.4em;margin:.3em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}
        table{border-collapse:collapse;background:#fff;width:100%;margin:.4em 0}th,td{border:1px solid #dde2e8;padding:.25em .5em;text-align:left;vertical-align:top}
        th{background:#eef1f5}td.num,th.num{text-align:right}a{color:#1558b0}
        .flash{background:#e6f4ea;border:1px solid #9bd3ae;padding:.5em}.flash.error{background:#fdecea;border-color:#f1a9a0}
        form.inline{display:inline}button{cursor:pointer;padding:.2em .7em}button.link{background:none;border:0;color:#fff;text-decoration:underline}
        .card{background:#fff;border:1px solid #dde2e8;padding:.8em 1em;margin:.6em 0}
        .bar{position:relative;background:#e4e8ee;height:1.2em;min-width:8em;border-radius:3px;overflow:hidden}.bar span{display:block;height:100%;background:#4caf50}
        .bar em{position:absolute;left:.4em;top:0;font-style:normal;font-size:.8em;line-height:1.5em}
        .chip{display:inline-block;width:.95em;height:.95em;margin-right:1px;border-radius:2px;background:#ccd}
        .s-Pending{background:#cfd6df}.s-Running{background:#f5a623}.s-Succeeded{background:#4caf50}.s-Failed{background:#e53935}.s-WaitingForGate{background:#1e88e5}
        .s-Compensating{background:#ab47bc}.s-RolledBack{background:#8d6e63}.s-Skipped{background:#9e9e9e}
        .state{font-weight:600}.ok{color:#2e7d32}.bad{color:#c62828}.muted{color:#6b7785}
        .cols{display:grid;grid-template-columns:1fr 1fr;gap:1em}pre{background:#fff;border:1px solid #dde2e8;padding:.6em;overflow:auto;max-height:70vh;font-size:12px}
        .board{overflow:auto;background:#fff;border:1px solid #dde2e8;max-height:80vh}.filters input,.filters select{margin-right:.5em}
        .pager a,.pager span{margin-right:.6em}details>summary{cursor:pointer}
        """;

    /// <summary>The only script: live regions follow a server-sent event stream and swap in the HTML it sends.</summary>
    public const string Script = """
        document.querySelectorAll('[data-live]').forEach(function (region) {
          var pending = null;
          var source = new EventSource(region.getAttribute('data-live'));
          function apply(html) { region.innerHTML = html; region.setAttribute('data-updated', String(Date.now())); }
          source.addEventListener('update', function (e) {
            var focused = document.activeElement;
            if (focused && region.contains(focused) && (focused.tagName === 'INPUT' || focused.tagName === 'SELECT')) { pending = e.data; return; }
            apply(e.data);
          });
          region.addEventListener('focusout', function () {
            setTimeout(function () { if (pending !== null && !region.contains(document.activeElement)) { var html = pending; pending = null; apply(html); } }, 0);
          });
        });
        """;
}
