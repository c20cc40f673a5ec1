using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Tests.Shared;
using Taquin.Web.Accounts;
using Taquin.Web.Plans;

namespace Taquin.Web.Tests.Support;

/// <summary>
/// The real web app on Kestrel at a free 127.0.0.1 port, over a temporary data folder with three users
/// (admin, operator, viewer; password = name + "-password") and a private copy of the sample inventories.
/// </summary>
public sealed partial class WebServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;

    private WebServer(string data, WebApplication app, WebOptions options)
    {
        Data = data;
        _app = app;
        Options = options;
        Address = TaquinWeb.Address(app);
    }

    public string Data { get; }
    public Uri Address { get; }
    public WebOptions Options { get; }

    /// <summary>A server over a new data folder, or over <paramref name="data"/> of a stopped one (a restart).</summary>
    public static async Task<WebServer> StartAsync(bool simulate = true, string? trustedUserHeader = null, double timeScale = 300, string? postgres = null, string? data = null)
    {
        if (data is null)
        {
            data = Directory.CreateTempSubdirectory("taquin-web-").FullName;
            foreach (var role in Roles.All)
            {
                UserStore.Add(data, role, role, role + "-password");
            }
        }

        var options = new WebOptions { DataDirectory = data, Simulate = simulate, TimeScale = timeScale, TrustedUserHeader = trustedUserHeader, PostgresConnection = postgres };
        var app = TaquinWeb.Build(options, "http://127.0.0.1:0");
        await app.StartAsync();
        return new WebServer(data, app, options);
    }

    /// <summary>A copy of a sample inventory inside the data folder (tests may change it).</summary>
    public string CopySample(string name)
    {
        var target = Path.Combine(Data, "inventories", name);
        var source = RepositoryPaths.Sample(name);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }

        return target;
    }

    /// <summary>A ready plan in the catalog, planned with the greedy planner (fast), as the planning job would write it.</summary>
    public string AddGreedyPlan(string inventoryFolder, FleetInventory? inventory = null, string name = "test plan")
    {
        inventory ??= InventoryLoader.Load(inventoryFolder).Inventory ?? throw new InvalidOperationException("the inventory does not load");
        var plan = PlanningService.WithBaselineAndBound(GreedyPlanner.Plan(inventory, new PlannerOptions()), inventory, new PlannerOptions());
        var catalog = new PlanCatalog(Options);
        var meta = catalog.Create(name, inventoryFolder, "admin", "planned", PlanStatus.Ready, DateTimeOffset.UtcNow, "greedy", 0);
        catalog.SavePlan(meta.Id, PlanJson.Serialize(plan));
        return meta.Id;
    }

    /// <summary>An HTTP client signed in as the user through the login form; redirects are not followed so tests see them.</summary>
    public async Task<PageClient> SignInAsync(string user)
    {
        var client = new PageClient(Address);
        await client.GetAsync("/login");
        using var response = await client.PostFormAsync("/login", new() { ["username"] = user, ["password"] = user + "-password" });
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return client;
    }

    public PageClient Anonymous() => new(Address);

    /// <summary>Stops the server and keeps its data folder, for a restart over it.</summary>
    public async Task<string> StopKeepingDataAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopped = true;
        return Data;
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopped)
        {
            return;
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(Data, recursive: true);
        }
        catch (IOException)
        {
            // A SQLite file still closing; the temporary folder is left behind.
        }
    }
}

/// <summary>A browser-like client: keeps cookies, remembers the antiforgery token of the last page it read.</summary>
public sealed partial class PageClient : IDisposable
{
    private readonly HttpClient _http;

    public PageClient(Uri address)
    {
        _http = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = address };
    }

    public string? Token { get; private set; }

    public async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> GetAsync(string path)
    {
        var response = await _http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        if (TokenField().Match(body) is { Success: true } match)
        {
            Token = WebUtility.HtmlDecode(match.Groups[1].Value);
        }

        return (response.StatusCode, body, response);
    }

    /// <summary>POSTs a form with the antiforgery token unless told not to.</summary>
    public async Task<HttpResponseMessage> PostFormAsync(string path, Dictionary<string, string> fields, bool withToken = true)
    {
        if (withToken)
        {
            fields["__af"] = Token ?? throw new InvalidOperationException("no page with a form was read yet");
        }

        using var content = new FormUrlEncodedContent(fields);
        return await _http.PostAsync(path, content);
    }

    public HttpClient Http => _http;

    /// <summary>Where a redirect goes, unescaped (messages travel in its query).</summary>
    public static string Location(HttpResponseMessage response)
        => response.Headers.Location is not { } location ? ""
            : Uri.UnescapeDataString(location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString);

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("name=\"__af\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();
}
