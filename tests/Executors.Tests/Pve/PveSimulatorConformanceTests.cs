using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Taquin.Planner.Pve;

namespace Taquin.Executors.Tests.Pve;

/// <summary>
/// The simulator serves nothing PVE 9.1 lacks: every route and every parameter it reads is in pve-apidata.json,
/// and it refuses what the real API refuses, in PVE's words (the shared <see cref="PveApiSchema"/> checker).
/// </summary>
public sealed class PveSimulatorConformanceTests(SimulatedPveCluster pve) : IClassFixture<SimulatedPveCluster>
{
    private static readonly Lazy<PveApiSchema> Schema = new(() =>
        PveApiSchema.LoadFile(Path.Combine(AppContext.BaseDirectory, "pve-api", "pve-apidata.json")));

    [Fact]
    public void Every_route_and_parameter_the_simulator_serves_exists_in_the_real_schema()
    {
        var routes = pve.Server.Routes;
        Assert.True(routes.Count >= 30, $"only {routes.Count} routes");
        foreach (var route in routes)
        {
            var endpoint = Schema.Value.FindEndpoint(route.Template, route.Method);
            Assert.True(endpoint is not null && endpoint.Path == route.Template, $"{route.Method} {route.Template} is not in the PVE 9.1 schema");
            foreach (var parameter in route.Parameters)
            {
                Assert.True(endpoint.Parameters.ContainsKey(parameter), $"{route.Method} {route.Template} reads '{parameter}', which the schema does not define");
            }

            Assert.False(route.AnyConfigKey && endpoint.AllowsAdditionalProperties, $"{route.Template} takes any key but PVE allows only its schema's");
        }

        Assert.Equal(routes.Count, routes.Select(r => r.Method + " " + r.Template).Distinct().Count());
    }

    [Fact]
    public async Task A_parameter_absent_from_the_schema_gets_pves_400_with_per_parameter_errors()
    {
        var (status, body) = await PostAsync("nodes/pve1/qemu/100/status/start", new() { ["skiplock"] = "1", ["turbo"] = "1" });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("data").ValueKind);
        var errors = body.GetProperty("errors");
        Assert.Equal("property is not defined in schema and the schema does not allow additional properties", errors.GetProperty("turbo").GetString());
        Assert.False(errors.TryGetProperty("skiplock", out _));
    }

    [Fact]
    public async Task Invalid_and_missing_values_get_the_messages_the_schema_checker_gives()
    {
        var sent = new Dictionary<string, string> { ["storage"] = "local-zfs-pve1", ["delete"] = "maybe" };

        var (status, body) = await PostAsync("nodes/pve1/qemu/100/move_disk", sent);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var expected = Schema.Value.ValidateParameters("/nodes/pve1/qemu/100/move_disk", "POST", sent);
        Assert.Equal(expected.Select(p => p.Parameter).Order(StringComparer.Ordinal),
            body.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Contains(expected, p => p.Parameter == "disk" && p.Message.Contains("property is missing and it is not optional", StringComparison.Ordinal));
        foreach (var problem in expected)
        {
            Assert.Equal(problem.Message, body.GetProperty("errors").GetProperty(problem.Parameter).GetString());
        }
    }

    [Fact]
    public async Task A_schema_valid_parameter_the_simulator_does_not_model_is_not_silently_ignored()
    {
        var (status, body) = await PostAsync("nodes/pve1/qemu/100/migrate", new() { ["target"] = "pve2", ["bwlimit"] = "1000" });

        Assert.Equal(HttpStatusCode.NotImplemented, status);
        Assert.Contains("bwlimit", body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_credentials_every_endpoint_answers_401()
    {
        using var http = RawClient();
        foreach (var route in pve.Server.Routes.Where(r => !r.Anonymous))
        {
            var path = route.Template.Replace("{node}", "pve1", StringComparison.Ordinal).Replace("{vmid}", "100", StringComparison.Ordinal)
                .Replace("{upid}", "x", StringComparison.Ordinal).Replace("{storage}", "local", StringComparison.Ordinal).Replace("{volume}", "local:x", StringComparison.Ordinal);
            using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(route.Method), "api2/json" + path));
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{route.Method} {path} answered {response.StatusCode}");
        }
    }

    [Fact]
    public async Task Async_calls_answer_a_upid_in_pves_format_inside_the_envelope()
    {
        var (status, body) = await PostAsync("nodes/pve2/qemu", new() { ["vmid"] = "777", ["name"] = "envelope" });

        Assert.Equal(HttpStatusCode.OK, status);
        // pve-common UPID.pm's parser.
        Assert.Matches(@"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$",
            body.GetProperty("data").GetString());
    }

    private HttpClient RawClient()
    {
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
                certificate is not null && Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(certificate.RawData))
                    == pve.Server.CertificateFingerprint.Replace(":", "", StringComparison.Ordinal),
        };
        return new HttpClient(handler) { BaseAddress = pve.Server.BaseAddress };
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, Dictionary<string, string> form)
    {
        using var http = RawClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("PVEAPIToken",
            $"{SimulatedPveCluster.TokenId}={SimulatedPveCluster.TokenSecret}");
        using var response = await http.PostAsync("api2/json/" + path, new FormUrlEncodedContent(form));
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, document.RootElement.Clone());
    }
}
