using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Spectre.Console;
using Taquin.Planner.Planning;
using Taquin.Web;
using Taquin.Web.Accounts;
using Taquin.Web.Plans;

namespace Taquin.Cli.Commands;

/// <summary>`taquin serve`: the web job monitor; `taquin serve bench`: the review page's server render time.</summary>
internal static partial class ServeCommands
{
    internal static Command Build()
    {
        var simulate = new Option<bool>("--simulate") { Description = "Runs execute on a simulated twin of the fleet kept beside each plan (required until the real adapters exist)" };
        var pg = new Option<string?>("--pg") { Description = $"PostgreSQL connection string for the journal, the audit trail and Hangfire (default: ${RunOptions.PostgresVariable}, else SQLite files and in-memory Hangfire)" };
        var port = new Option<int>("--port") { Description = "TCP port", DefaultValueFactory = _ => 5080 };
        var bind = new Option<string>("--bind") { Description = "Address to listen on (127.0.0.1 by default; put a reverse proxy in front for anything else)", DefaultValueFactory = _ => "127.0.0.1" };
        var data = DataOption();
        var timeScale = new Option<double>("--time-scale") { Description = "Simulated seconds per real second for simulated runs", DefaultValueFactory = _ => 300 };
        var trustHeader = new Option<string?>("--trust-user-header") { Description = "Header set by a trusted reverse proxy that names the signed-in local user (e.g. X-Remote-User)" };
        var serve = new Command("serve", "Start the web job monitor: plan review and approval, waves, gates, live progress") { simulate, pg, port, bind, data, timeScale, trustHeader };
        serve.SetAction(async (parse, ct) =>
        {
            var ui = AnsiConsole.Console;
            var options = new WebOptions
            {
                DataDirectory = Path.GetFullPath(parse.GetValue(data)!),
                PostgresConnection = parse.GetValue(pg) is { Length: > 0 } conn ? conn : Environment.GetEnvironmentVariable(RunOptions.PostgresVariable),
                Simulate = parse.GetValue(simulate),
                TimeScale = parse.GetValue(timeScale),
                TrustedUserHeader = parse.GetValue(trustHeader),
            };
            if (!(options.TimeScale > 0) || parse.GetValue(port) is < 1 or > 65535)
            {
                ui.MarkupLine("[red]error:[/] --time-scale must be positive and --port between 1 and 65535");
                return 2;
            }

            if (!IPAddress.TryParse(parse.GetValue(bind), out var address))
            {
                ui.MarkupLineInterpolated($"[red]error:[/] --bind '{parse.GetValue(bind)}' is not an IP address");
                return 2;
            }

            Directory.CreateDirectory(options.DataDirectory);
            if (new UserStore(options.DataDirectory, []).All().Count == 0)
            {
                var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(12));
                UserStore.Add(options.DataDirectory, "admin", Roles.Admin, password);
                ui.MarkupLineInterpolated($"no user yet: created [bold]admin[/] with password [bold]{password}[/] (change it with `taquin user add admin --role admin --data {options.DataDirectory}`)");
            }

            var host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
            var url = $"http://{host}:{parse.GetValue(port)}";
            await using var app = TaquinWeb.Build(options, url);
            await app.StartAsync(ct);
            ui.MarkupLineInterpolated($"Taquin web on [bold]{url}[/] (data {options.DataDirectory}, journal {(options.PostgresConnection is null ? "SQLite beside each plan" : "PostgreSQL")}, {(options.Simulate ? "simulated twin" : "no runs: real adapters not implemented, add --simulate")}); Ctrl+C stops it");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C.
            }

            await app.StopAsync(CancellationToken.None);
            return 0;
        });
        serve.Subcommands.Add(BenchCommand());
        return serve;
    }

    internal static Option<string> DataOption() => new("--data") { Description = "Data folder: plans (with their journal and twin) and users.json", DefaultValueFactory = _ => "taquin-data" };

    /// <summary>
    /// Plans the inventory with the greedy planner, serves it on a real Kestrel, requests the review page and prints
    /// the server render time the page reports in its Server-Timing header.
    /// </summary>
    private static Command BenchCommand()
    {
        var inventory = new Option<string>("--inventory") { Description = "Inventory folder to plan and review", DefaultValueFactory = _ => "samples/fleet-216" };
        var repeat = new Option<int>("--repeat") { Description = "Requests measured (after 3 warm-up requests)", DefaultValueFactory = _ => 20 };
        var bench = new Command("bench", "Measure the server render time of the plan review page") { inventory, repeat };
        bench.SetAction(async (parse, ct) =>
        {
            var folder = parse.GetValue(inventory)!;
            var loaded = SimulationInputs.ReadInventory(folder);
            var plan = PlanningService.WithBaselineAndBound(GreedyPlanner.Plan(loaded, new PlannerOptions(), ct), loaded, new PlannerOptions());
            var data = Path.Combine(Path.GetTempPath(), $"taquin-web-bench-{Environment.ProcessId}");
            try
            {
                var options = new WebOptions { DataDirectory = data };
                UserStore.Add(data, "bench", Roles.Admin, "bench-password");
                var meta = new PlanCatalog(options).Create("bench", folder, "bench", "planned", PlanStatus.Ready, DateTimeOffset.UtcNow, "greedy", 0);
                new PlanCatalog(options).SavePlan(meta.Id, PlanJson.Serialize(plan));
                await using var app = TaquinWeb.Build(options, "http://127.0.0.1:0");
                await app.StartAsync(ct);
                using var client = await SignInAsync(TaquinWeb.Address(app), "bench", "bench-password", ct);
                var path = $"/plans/{meta.Id}";
                var server = new List<double>();
                var total = new List<double>();
                long size = 0;
                for (var i = 0; i < parse.GetValue(repeat) + 3; i++)
                {
                    var watch = Stopwatch.StartNew();
                    using var response = await client.GetAsync(path, ct);
                    var body = await response.Content.ReadAsStringAsync(ct);
                    watch.Stop();
                    response.EnsureSuccessStatusCode();
                    if (i >= 3)
                    {
                        server.Add(ServerTiming(response));
                        total.Add(watch.Elapsed.TotalMilliseconds);
                        size = body.Length;
                    }
                }

                var svgWatch = Stopwatch.StartNew();
                var svg = await client.GetStringAsync(path + "/board.svg", ct);
                svgWatch.Stop();
                await app.StopAsync(CancellationToken.None);
                var inv = CultureInfo.InvariantCulture;
                Console.WriteLine($"review page of {folder}: {loaded.Vms.Count} VMs, {plan.Metrics.Stages} waves, {size / 1024} KiB of HTML");
                Console.WriteLine(string.Create(inv, $"server render (Server-Timing) over {server.Count} requests: median {Median(server):0.0} ms, p95 {Percentile(server, 0.95):0.0} ms, max {server.Max():0.0} ms"));
                Console.WriteLine(string.Create(inv, $"client round trip: median {Median(total):0.0} ms; board.svg ({svg.Length / 1024} KiB) first request {svgWatch.Elapsed.TotalMilliseconds:0} ms"));
                return Percentile(server, 0.95) < 1000 ? 0 : 1;
            }
            finally
            {
                Directory.Delete(data, recursive: true);
            }
        });
        return bench;
    }

    /// <summary>An HttpClient signed in through the login form (its antiforgery token included), cookies kept.</summary>
    internal static async Task<HttpClient> SignInAsync(Uri baseAddress, string user, string password, CancellationToken ct)
    {
        var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = true }) { BaseAddress = baseAddress };
        var login = await client.GetStringAsync("/login", ct);
        var token = AntiforgeryField().Match(login).Groups[1].Value;
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["__af"] = WebUtility.HtmlDecode(token), ["username"] = user, ["password"] = password });
        using var response = await client.PostAsync("/login", form, ct);
        response.EnsureSuccessStatusCode();
        return client;
    }

    private static double ServerTiming(HttpResponseMessage response)
    {
        var header = response.Headers.TryGetValues("Server-Timing", out var values) ? values.First() : throw new InvalidOperationException("the review page sent no Server-Timing header");
        return double.Parse(header[(header.IndexOf("dur=", StringComparison.Ordinal) + 4)..], CultureInfo.InvariantCulture);
    }

    private static double Median(List<double> values) => Percentile(values, 0.5);

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }

    [GeneratedRegex("name=\"__af\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
