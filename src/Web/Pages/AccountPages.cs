using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Taquin.Web.Accounts;
using Taquin.Web.Audit;
using static Taquin.Web.Pages.Html;

namespace Taquin.Web.Pages;

/// <summary>Sign-in and sign-out with local accounts (cookie).</summary>
internal static class AccountPages
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/login", (HttpContext context) => LoginPage(context, null)).AllowAnonymous();
        app.MapPost("/login", async (HttpContext context, UserStore users, AuditTrail audit) =>
        {
            var form = await context.Request.ReadFormAsync();
            var name = form["username"].ToString();
            var user = users.Verify(name, form["password"].ToString());
            if (user is null)
            {
                await audit.RecordServerEventAsync(string.IsNullOrEmpty(name) ? "anonymous" : name, "sign-in-refused");
                return LoginPage(context, "unknown user or wrong password", 401);
            }

            await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, Principal(user, CookieAuthenticationDefaults.AuthenticationScheme));
            await audit.RecordServerEventAsync(user.Name, "signed-in", user.Role);
            var returnUrl = form["returnUrl"].ToString();
            return Results.Redirect(IsLocal(returnUrl) ? returnUrl : "/plans");
        }).AllowAnonymous();
        app.MapPost("/logout", async (HttpContext context, AuditTrail audit) =>
        {
            await audit.RecordServerEventAsync(UserName(context), "signed-out");
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect("/login");
        });
        app.MapGet("/", () => Results.Redirect("/plans"));
    }

    public static ClaimsPrincipal Principal(WebUser user, string scheme)
        => new(new ClaimsIdentity([new Claim(ClaimTypes.Name, user.Name), new Claim(ClaimTypes.Role, user.Role)], scheme, ClaimTypes.Name, ClaimTypes.Role));

    private static bool IsLocal(string url) => url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal);

    private static IResult LoginPage(HttpContext context, string? error, int status = 200)
    {
        var returnUrl = context.Request.Query["ReturnUrl"].ToString();
        if (context.Request.HasFormContentType && context.Request.Form.TryGetValue("returnUrl", out var posted))
        {
            returnUrl = posted.ToString();
        }

        var body = "<h1>Sign in</h1>" + (error is null ? "" : $"<p class=\"flash error\" data-testid=error>{E(error)}</p>")
            + Form(context, "/login",
                $"<input type=hidden name=returnUrl value=\"{E(returnUrl)}\">"
                + "<p><label>User <input name=username autocomplete=username required autofocus></label></p>"
                + "<p><label>Password <input name=password type=password autocomplete=current-password required></label></p>"
                + "<p><button type=submit>Sign in</button></p>", "class=card");
        return Page(context, "Sign in", body, status);
    }
}
