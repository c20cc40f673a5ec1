using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Taquin.Planner.Pve;

namespace Taquin.PveSimulator;

/// <summary>
/// A Proxmox VE API look-alike on https://127.0.0.1:PORT/api2/json: the endpoints Taquin's client uses, every
/// request checked against the real PVE 9.1 schema, real bytes behind the storages. Start it in-process with
/// <see cref="StartAsync"/> or as a process (Program).
/// </summary>
public sealed class PveSimulatorServer : IAsyncDisposable
{
    // Parsing the 2 MB schema costs about a second: once per process, however many simulators a test run starts.
    private static readonly ConcurrentDictionary<string, Lazy<PveApiSchema>> Schemas = new(StringComparer.Ordinal);

    private readonly WebApplication app;
    private readonly X509Certificate2 certificate;

    private PveSimulatorServer(WebApplication app, X509Certificate2 certificate, SimState state, SimAuth auth, IReadOnlyList<SimRoute> routes, Uri address)
    {
        this.app = app;
        this.certificate = certificate;
        State = state;
        Auth = auth;
        Routes = routes;
        BaseAddress = address;
        CertificateFingerprint = string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));
    }

    /// <summary>https://127.0.0.1:PORT (without /api2/json).</summary>
    public Uri BaseAddress { get; }

    /// <summary>SHA-256 of the self-signed certificate, "AB:CD:..." like <c>pvenode cert info</c>.</summary>
    public string CertificateFingerprint { get; }

    public SimState State { get; }
    public SimAuth Auth { get; }

    /// <summary>Every endpoint served, with the parameters it reads (the conformance test compares them with the schema).</summary>
    public IReadOnlyList<SimRoute> Routes { get; }

    public override string ToString() => $"PVE simulator at {BaseAddress} (certificate {CertificateFingerprint})";

    public static async Task<PveSimulatorServer> StartAsync(PveSimulatorOptions options, CancellationToken ct = default)
    {
        var schema = Schemas.GetOrAdd(Path.GetFullPath(options.SchemaPath), path => new Lazy<PveApiSchema>(() => PveApiSchema.LoadFile(path))).Value;
        Directory.CreateDirectory(options.DataDirectory);
        var certificate = CreateCertificate(options.Nodes[0]);
        var state = new SimState(options);
        InitialState(state);
        var auth = new SimAuth(options);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, options.Port, listen =>
        {
            // pve-http-server speaks HTTP/1.1 only (and its error text travels in the reason phrase).
            listen.Protocols = HttpProtocols.Http1;
            listen.UseHttps(certificate);
        }));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();

        var api = new SimApi(state, auth, FingerprintOf(certificate));
        var routes = api.Routes();
        foreach (var route in routes)
        {
            app.MapMethods("/api2/json" + route.Template, [route.Method], context => HandleAsync(context, route, schema, auth));
        }

        app.MapFallback("/api2/json/{**rest}", context => WriteAsync(context, 501, null, "Method not implemented by the simulator", null));
        await app.StartAsync(ct);
        var bound = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var port = new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)).Port;
        return new PveSimulatorServer(app, certificate, state, auth, routes, new Uri($"https://127.0.0.1:{port}"));
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        certificate.Dispose();
    }

    /// <summary>Waits until the process is asked to stop (Ctrl+C, SIGTERM).</summary>
    public Task WaitForShutdownAsync() => app.WaitForShutdownAsync();

    private static void InitialState(SimState state)
    {
        var o = state.Options;
        state.Storages["local"] = new FolderStorage("local", "dir", [], Path.Combine(o.DataDirectory, "local"));
        foreach (var node in o.Nodes)
        {
            state.Storages[$"local-zfs-{node}"] = new FolderStorage($"local-zfs-{node}", "zfspool", [node], Path.Combine(o.DataDirectory, "zfs-" + node));
        }

        if (o.Ceph is { } ceph)
        {
            state.Storages["ceph"] = new RbdStorage("ceph", [], ceph);
        }

        if (o.Clustered)
        {
            state.ClusterName = "sim";
            state.ClusterMembers.UnionWith(o.Nodes);
        }
    }

    private static async Task HandleAsync(HttpContext context, SimRoute route, PveApiSchema schema, SimAuth auth)
    {
        var request = context.Request;
        var user = "anonymous";
        if (!route.Anonymous)
        {
            var authenticated = auth.Authenticate(request, out var reason);
            if (authenticated is null)
            {
                await WriteAsync(context, 401, null, reason, null);
                return;
            }

            user = authenticated;
        }

        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in request.Query)
        {
            parameters[key] = value.ToString();
        }

        if (request.HasFormContentType)
        {
            foreach (var (key, value) in await request.ReadFormAsync(context.RequestAborted))
            {
                parameters[key] = value.ToString();
            }
        }
        else if (request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) == true)
        {
            using var body = await JsonDocument.ParseAsync(request.Body, cancellationToken: context.RequestAborted);
            foreach (var p in body.RootElement.EnumerateObject())
            {
                parameters[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            }
        }

        // The path as sent (volume ids keep their %2F), minus /api2/json.
        var path = request.Path.Value!["/api2/json".Length..];
        var problems = schema.ValidateParameters(path, route.Method, parameters);
        if (problems.Count > 0)
        {
            await WriteAsync(context, 400, null, "Parameter verification failed.",
                problems.ToDictionary(p => p.Parameter, p => p.Message, StringComparer.Ordinal));
            return;
        }

        var unmodelled = parameters.Keys.Where(k => !route.Parameters.Contains(k) && !route.AnyConfigKey).ToList();
        if (unmodelled.Count > 0)
        {
            await WriteAsync(context, 501, null, $"the simulator does not implement parameter(s) {string.Join(", ", unmodelled)} of {route.Method} {route.Template}", null);
            return;
        }

        foreach (var (key, value) in request.RouteValues)
        {
            parameters[key] = Uri.UnescapeDataString(value?.ToString() ?? "");
        }

        try
        {
            var result = await route.Handler(new SimRequest(parameters, user));
            await WriteAsync(context, 200, result, null, null);
        }
        catch (SimApiException e)
        {
            await WriteAsync(context, e.Status, null, e.Message, e.Errors);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or FormatException or OverflowException)
        {
            await WriteAsync(context, 500, null, e.Message, null);
        }
    }

    /// <summary>pve-http-server's JSON formatter: {"data":...}, errors with the message as reason phrase and in the body.</summary>
    private static async Task WriteAsync(HttpContext context, int status, SimResult? result, string? message, Dictionary<string, string>? errors)
    {
        context.Response.StatusCode = status;
        if (message is not null)
        {
            context.Features.Get<IHttpResponseFeature>()!.ReasonPhrase = message.Split('\n')[0];
        }

        var body = new Dictionary<string, object?> { ["data"] = result?.Data };
        if (result?.Total is { } total)
        {
            body["total"] = total;
        }

        if (errors is not null)
        {
            body["errors"] = errors;
        }

        if (message is not null)
        {
            body["message"] = message.EndsWith('\n') ? message : message + "\n";
        }

        context.Response.ContentType = "application/json;charset=UTF-8";
        await JsonSerializer.SerializeAsync(context.Response.Body, body, cancellationToken: context.RequestAborted);
    }

    private static X509Certificate2 CreateCertificate(string node)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={node}.sim, O=PVE Cluster Node (Taquin simulator)", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        names.AddDnsName(node);
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(2));
        // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    private static string FingerprintOf(X509Certificate2 certificate) =>
        string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));
}
