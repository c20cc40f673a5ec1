using global::Hangfire;
using global::Hangfire.Dashboard;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Taquin.Executors.Hangfire;
using Taquin.Web.Accounts;
using Taquin.Web.Audit;
using Taquin.Web.Pages;
using Taquin.Web.Plans;
using Taquin.Web.Runs;

namespace Taquin.Web;

/// <summary>The web job monitor: builds the ASP.NET Core application `taquin serve` runs (and tests host).</summary>
public static class TaquinWeb
{
    /// <summary>Builds the app; <paramref name="urls"/> defaults to 127.0.0.1:5080 (never all interfaces unless asked).</summary>
    public static WebApplication Build(WebOptions options, string urls = "http://127.0.0.1:5080", Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(options.PlansDirectory);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(TaquinWeb).Assembly.GetName().Name, ContentRootPath = options.DataDirectory });
        builder.WebHost.UseUrls(urls);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // The keys are kept in the data folder, readable by its owner only; the warning that they are not encrypted is noise here.
        builder.Logging.AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error);
        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddDataProtection().SetApplicationName("taquin").PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(options.DataDirectory, "keys")));
        // Users and the proxy header may also come from configuration (appsettings.json in the data folder, TAQUIN__... variables).
        var configured = builder.Configuration.GetSection("Taquin:Users").GetChildren()
            .Select(u => new WebUser(u["Name"] ?? "", u["Role"] ?? Roles.Viewer, u["PasswordHash"] ?? ""))
            .Where(u => u.Name.Length > 0 && u.PasswordHash.Length > 0);
        options = options with
        {
            ConfiguredUsers = [.. options.ConfiguredUsers, .. configured],
            TrustedUserHeader = options.TrustedUserHeader ?? builder.Configuration["Taquin:TrustedUserHeader"],
        };
        services.AddSingleton(options);
        services.AddSingleton(new UserStore(options.DataDirectory, options.ConfiguredUsers));
        services.AddSingleton<PlanCatalog>();
        services.AddSingleton<InventoryCache>();
        services.AddSingleton<JournalHub>();
        services.AddSingleton<AuditTrail>();
        services.AddSingleton<PlanningService>();
        services.AddSingleton<RunManager>();

        // Hangfire's log provider is process-wide: bound to one app's logger factory it breaks every app built after
        // that one is disposed (tests host several). The engine's journal is the record; Hangfire's own logs are off.
        GlobalConfiguration.Configuration.UseLogProvider(new SilentHangfireLog());
        var storage = HangfireSetup.CreateStorage(options.PostgresConnection);
        if (string.IsNullOrWhiteSpace(options.PostgresConnection))
        {
            PlanningService.FailPlansLostInRestart(new PlanCatalog(options));
        }

        services.AddHangfire(c => c.UseStorage(storage).UseLogProvider(new SilentHangfireLog()));
        services.AddHangfireServer(o =>
        {
            o.Queues = [PlanningService.QueueName];
            o.WorkerCount = 1;
            o.ServerName = $"taquin-web-{Environment.ProcessId}";
        });

        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o =>
        {
            o.LoginPath = "/login";
            o.Cookie.Name = "taquin";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.SlidingExpiration = true;
            o.ExpireTimeSpan = TimeSpan.FromHours(12);
            // A signed-in user without the role gets 403, not a redirect loop to the login page.
            o.Events.OnRedirectToAccessDenied = context =>
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return Task.CompletedTask;
            };
            o.Events.OnRedirectToLogin = context =>
            {
                if (HttpMethods.IsGet(context.Request.Method))
                {
                    context.Response.Redirect(context.RedirectUri);
                }
                else
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                }

                return Task.CompletedTask;
            };
        });
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(Roles.CanApprove, p => p.RequireRole(Roles.Admin))
            .AddPolicy(Roles.CanOperate, p => p.RequireRole(Roles.Admin, Roles.Operator));
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "taquin-af";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.FormFieldName = "__af";
        });
        configure?.Invoke(builder);

        var app = builder.Build();
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            app.Services.GetRequiredService<RunManager>().DisposeAsync().AsTask().GetAwaiter().GetResult();
            app.Services.GetRequiredService<JournalHub>().DisposeAsync().AsTask().GetAwaiter().GetResult();
        });
        app.UseAuthentication();
        if (!string.IsNullOrWhiteSpace(options.TrustedUserHeader))
        {
            app.Use(TrustProxyHeader(options.TrustedUserHeader));
        }

        app.Use(RequireAntiforgeryOnPosts);
        app.UseAuthorization();
        app.UseHangfireDashboard("/hangfire", new DashboardOptions
        {
            Authorization = [new AdminOnlyDashboard()],
            AppPath = "/plans",
            DashboardTitle = "Taquin jobs",
        });
        app.MapGet("/static/app.css", () => Results.Text(Html.Css, "text/css")).AllowAnonymous();
        app.MapGet("/static/app.js", () => Results.Text(Html.Script, "text/javascript")).AllowAnonymous();
        AccountPages.Map(app);
        PlanPages.Map(app);
        ReviewPages.Map(app);
        RunPages.Map(app);
        return app;
    }

    /// <summary>The address Kestrel listens on once started (the port chosen when asked for port 0).</summary>
    public static Uri Address(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
    }

    /// <summary>
    /// Every POST of the site must carry the antiforgery token (forms get it from <see cref="Html.Form"/>); the Hangfire
    /// dashboard checks its own.
    /// </summary>
    private static async Task RequireAntiforgeryOnPosts(HttpContext context, RequestDelegate next)
    {
        if (HttpMethods.IsPost(context.Request.Method) && !context.Request.Path.StartsWithSegments("/hangfire", StringComparison.Ordinal))
        {
            var antiforgery = context.RequestServices.GetRequiredService<IAntiforgery>();
            try
            {
                await antiforgery.ValidateRequestAsync(context);
            }
            catch (AntiforgeryValidationException)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("The form's antiforgery token is missing or invalid: reload the page and submit again.");
                return;
            }
        }

        await next(context);
    }

    /// <summary>Behind a reverse proxy that authenticates users, its header names the local user to act as.</summary>
    private static Func<HttpContext, RequestDelegate, Task> TrustProxyHeader(string header) => async (context, next) =>
    {
        if (context.User.Identity?.IsAuthenticated != true && context.Request.Headers[header].ToString() is { Length: > 0 } name)
        {
            var user = context.RequestServices.GetRequiredService<UserStore>().Find(name);
            if (user is null)
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                await context.Response.WriteAsync($"the proxy authenticated '{name}', who has no local account: add one with `taquin user add`");
                return;
            }

            context.User = AccountPages.Principal(user, "proxy");
        }

        await next(context);
    };

    private sealed class SilentHangfireLog : global::Hangfire.Logging.ILogProvider, global::Hangfire.Logging.ILog
    {
        public global::Hangfire.Logging.ILog GetLogger(string name) => this;

        public bool Log(global::Hangfire.Logging.LogLevel logLevel, Func<string>? messageFunc, Exception? exception = null) => false;
    }

    private sealed class AdminOnlyDashboard : IDashboardAuthorizationFilter
    {
        public bool Authorize(DashboardContext context) => context.GetHttpContext().User.IsInRole(Roles.Admin);
    }
}
