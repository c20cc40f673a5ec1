using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Pve;

/// <summary>
/// <see cref="IPveApi"/> over the real Proxmox VE REST API (https://host:8006/api2/json): API token or ticket
/// auth, certificate pinning, typed errors. One instance talks to one node; PVE proxies node-scoped calls
/// to the other cluster members itself.
/// </summary>
public sealed partial class PveHttpClient : IPveApi, IDisposable
{
    private readonly PveClientOptions options;
    private readonly TimeProvider clock;
    private readonly ILogger logger;
    private readonly HttpClient http;
    private readonly string? pinnedFingerprint;
    private readonly SemaphoreSlim loginGate = new(1, 1);
    private Ticket? ticket;
    // The fingerprint the server presented on the last failed TLS handshake, for the error message.
    private string? presentedFingerprint;

    private sealed record Ticket(string Value, string CsrfToken, DateTimeOffset IssuedAt);

    public PveHttpClient(PveClientOptions options, TimeProvider? clock = null, ILogger<PveHttpClient>? logger = null)
    {
        this.options = options;
        this.clock = clock ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
        pinnedFingerprint = options.CertificateFingerprint is { } pin ? PveClientOptions.NormalizeFingerprint(pin) : null;
        var handler = new SocketsHttpHandler
        {
            UseCookies = false,
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = ValidateCertificate },
        };
        var root = options.BaseAddress.GetLeftPart(UriPartial.Authority);
        http = new HttpClient(handler) { BaseAddress = new Uri(root + "/api2/json/"), Timeout = options.RequestTimeout };
    }

    public override string ToString() => $"PVE API client for {options}";

    public void Dispose()
    {
        http.Dispose();
        loginGate.Dispose();
    }

    // ------------------------------------------------------------------ IPveApi

    public async Task<string> GetVersionAsync(string node, CancellationToken ct = default)
    {
        var data = await GetAsync($"nodes/{Seg(node)}/version", null, ct);
        return "pve-manager/" + Str(data, "version");
    }

    public async Task<PveNodeStatus> GetNodeStatusAsync(string node, CancellationToken ct = default)
    {
        var nodes = await GetAsync("nodes", null, ct);
        var entry = nodes.EnumerateArray().FirstOrDefault(n => Str(n, "node") == node);
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new PveApiException($"node {node} is not part of the cluster behind {options.BaseAddress}", isTransient: false);
        }

        if (Str(entry, "status") != "online")
        {
            return new PveNodeStatus(node, false, Long(entry, "maxmem"), 0, "");
        }

        var status = await GetAsync($"nodes/{Seg(node)}/status", null, ct);
        var memory = status.TryGetProperty("memory", out var m) ? m : default;
        return new PveNodeStatus(node, true,
            memory.ValueKind == JsonValueKind.Object ? Long(memory, "total") : Long(entry, "maxmem"),
            memory.ValueKind == JsonValueKind.Object ? Long(memory, "used") : Long(entry, "mem"),
            Str(status, "pveversion") ?? "");
    }

    public async Task<IReadOnlyList<string>> GetClusterNodesAsync(CancellationToken ct = default)
    {
        var items = await GetAsync("cluster/status", null, ct);
        // A standalone node lists only itself, without a "cluster" entry.
        if (!items.EnumerateArray().Any(i => Str(i, "type") == "cluster"))
        {
            return [];
        }

        return [.. items.EnumerateArray().Where(i => Str(i, "type") == "node").Select(i => Str(i, "name")!).Order(StringComparer.Ordinal)];
    }

    public async Task<string> JoinClusterAsync(string node, string? peer, CancellationToken ct = default)
    {
        if (peer is null)
        {
            return Upid(await SendAsync(HttpMethod.Post, "cluster/config", [new("clustername", options.ClusterName)], ct));
        }

        var join = options.ClusterJoin ?? throw new PveApiException(
            $"cannot join {node} to {peer}'s cluster: PVE needs the peer's root password and certificate fingerprint (PveClientOptions.ClusterJoin)",
            isTransient: false);
        return Upid(await SendAsync(HttpMethod.Post, "cluster/config/join",
            [new("hostname", peer), new("fingerprint", join.PeerFingerprint), new("password", join.PeerRootPassword)], ct));
    }

    public async Task<int> GetNextVmIdAsync(CancellationToken ct = default)
    {
        var data = await GetAsync("cluster/nextid", null, ct);
        // PVE answers the integer as a JSON string ("100").
        return data.ValueKind == JsonValueKind.Number ? data.GetInt32() : int.Parse(data.GetString()!, CultureInfo.InvariantCulture);
    }

    public async Task<string> CreateVmAsync(string node, int vmId, IReadOnlyDictionary<string, string> parameters, CancellationToken ct = default)
    {
        var form = new List<KeyValuePair<string, string>> { new("vmid", Int(vmId)) };
        form.AddRange(parameters.Where(p => p.Key != "vmid"));
        return Upid(await SendAsync(HttpMethod.Post, $"nodes/{Seg(node)}/qemu", form, ct));
    }

    public async Task<PveVmConfig?> GetVmConfigAsync(string node, int vmId, CancellationToken ct = default)
    {
        JsonElement data;
        try
        {
            data = await GetAsync($"nodes/{Seg(node)}/qemu/{vmId}/config", null, ct);
        }
        catch (PveApiException e) when (IsMissing(e))
        {
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        string digest = "";
        foreach (var property in data.EnumerateObject())
        {
            if (property.Name == "digest")
            {
                digest = property.Value.GetString() ?? "";
            }
            else
            {
                values[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
            }
        }

        return new PveVmConfig(values, digest);
    }

    public async Task UpdateVmConfigAsync(string node, int vmId, IReadOnlyDictionary<string, string> changes, string digest, CancellationToken ct = default)
    {
        var form = changes.Where(c => c.Key != "digest").ToList();
        form.Add(new("digest", digest));
        // PUT is the synchronous variant: the change is applied when it answers.
        await SendAsync(HttpMethod.Put, $"nodes/{Seg(node)}/qemu/{vmId}/config", form, ct);
    }

    public async Task<PveVmStatus?> FindVmAsync(int vmId, CancellationToken ct = default)
    {
        var resources = await GetAsync("cluster/resources", [new("type", "vm")], ct);
        foreach (var r in resources.EnumerateArray())
        {
            if (Str(r, "type") == "qemu" && r.TryGetProperty("vmid", out var id) && Number(id) == vmId)
            {
                return new PveVmStatus(vmId, Str(r, "node") ?? "", Str(r, "name") ?? "", Str(r, "status") ?? "unknown");
            }
        }

        return null;
    }

    public async Task<string> StartVmAsync(string node, int vmId, CancellationToken ct = default)
        => Upid(await SendAsync(HttpMethod.Post, $"nodes/{Seg(node)}/qemu/{vmId}/status/start", [], ct));

    public async Task<string> ShutdownVmAsync(string node, int vmId, TimeSpan timeout, CancellationToken ct = default)
        => Upid(await SendAsync(HttpMethod.Post, $"nodes/{Seg(node)}/qemu/{vmId}/status/shutdown",
            [new("timeout", Int((int)Math.Ceiling(timeout.TotalSeconds)))], ct));

    public async Task<string> StopVmAsync(string node, int vmId, CancellationToken ct = default)
        => Upid(await SendAsync(HttpMethod.Post, $"nodes/{Seg(node)}/qemu/{vmId}/status/stop", [], ct));

    public async Task<string> DeleteVmAsync(string node, int vmId, CancellationToken ct = default)
        => Upid(await SendAsync(HttpMethod.Delete, $"nodes/{Seg(node)}/qemu/{vmId}", [new("purge", "1"), new("destroy-unreferenced-disks", "1")], ct));

    public async Task<string> MoveDiskAsync(string node, int vmId, string disk, string storage, bool deleteSource, CancellationToken ct = default)
        => Upid(await SendAsync(HttpMethod.Post, $"nodes/{Seg(node)}/qemu/{vmId}/move_disk",
            [new("disk", disk), new("storage", storage), new("delete", deleteSource ? "1" : "0")], ct));

    public async Task<string> MigrateVmAsync(string node, int vmId, string target, bool online, CancellationToken ct = default)
        => Upid(await SendAsync(HttpMethod.Post, $"nodes/{Seg(node)}/qemu/{vmId}/migrate",
            [new("target", target), new("online", online ? "1" : "0")], ct));

    public async Task<PveTaskStatus> GetTaskStatusAsync(string node, string upid, CancellationToken ct = default)
    {
        if (upid == PveTaskStatus.CompletedSynchronously)
        {
            return new PveTaskStatus(upid, false, "OK");
        }

        var data = await GetAsync($"nodes/{Seg(node)}/tasks/{Seg(upid)}/status", null, ct);
        var running = Str(data, "status") == "running";
        return new PveTaskStatus(upid, running, running ? null : Str(data, "exitstatus") ?? "unexpected status");
    }

    public async Task<PveTaskStatus> WaitForTaskAsync(string node, string upid, TimeSpan timeout, CancellationToken ct = default)
    {
        var started = clock.GetUtcNow();
        while (true)
        {
            var status = await GetTaskStatusAsync(node, upid, ct);
            if (!status.Running)
            {
                return status.ExitStatus == "OK" ? status : status with { LogTail = await ReadLogTailAsync(node, upid, ct) };
            }

            if (clock.GetUtcNow() - started >= timeout)
            {
                throw new PveApiException($"task {upid} still running after {timeout}", isTransient: true);
            }

            await Task.Delay(options.TaskPollInterval, clock, ct);
        }
    }

    public async Task<IReadOnlyList<PveStorage>> ListStoragesAsync(string node, CancellationToken ct = default)
    {
        var configured = await StorageNodesAsync(ct);
        var items = await GetAsync($"nodes/{Seg(node)}/storage", null, ct);
        return [.. items.EnumerateArray().Select(s => StorageOf(Str(s, "storage")!, s, configured))];
    }

    public async Task<PveStorage?> GetStorageStatusAsync(string node, string storage, CancellationToken ct = default)
    {
        JsonElement data;
        try
        {
            data = await GetAsync($"nodes/{Seg(node)}/storage/{Seg(storage)}/status", null, ct);
        }
        catch (PveApiException e) when (IsMissing(e))
        {
            return null;
        }

        return StorageOf(storage, data, await StorageNodesAsync(ct));
    }

    public async Task CreateStorageAsync(string storage, string type, IReadOnlyDictionary<string, string> parameters, CancellationToken ct = default)
    {
        var form = new List<KeyValuePair<string, string>> { new("storage", storage), new("type", type) };
        form.AddRange(parameters.Where(p => p.Key is not ("storage" or "type")));
        await SendAsync(HttpMethod.Post, "storage", form, ct);
    }

    public async Task<PveVolume?> GetVolumeAsync(string node, string volumeId, CancellationToken ct = default)
    {
        var colon = volumeId.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new ArgumentException($"'{volumeId}' is not a PVE volume id (storage:name).", nameof(volumeId));
        }

        JsonElement data;
        try
        {
            data = await GetAsync($"nodes/{Seg(node)}/storage/{Seg(volumeId[..colon])}/content/{Seg(volumeId)}", null, ct);
        }
        catch (PveApiException e) when (IsMissing(e))
        {
            return null;
        }

        return new PveVolume(volumeId, Str(data, "path") ?? "", Long(data, "size"), Str(data, "format") ?? "raw");
    }

    public async Task<IReadOnlyList<PveNetwork>> ListNetworksAsync(string node, CancellationToken ct = default)
    {
        var items = await GetAsync($"nodes/{Seg(node)}/network", null, ct);
        return [.. items.EnumerateArray().Select(n => new PveNetwork(Str(n, "iface")!, Str(n, "type") ?? "",
            n.TryGetProperty("bridge_vlan_aware", out var v) && Number(v) == 1))];
    }

    public async Task<string> CephInitAsync(string node, CancellationToken ct = default)
    {
        // Synchronous in PVE (returns null): nothing to wait on.
        await SendAsync(HttpMethod.Post, $"nodes/{Seg(node)}/ceph/init", [], ct);
        return PveTaskStatus.CompletedSynchronously;
    }

    public async Task<string> CephCreateOsdAsync(string node, string device, CancellationToken ct = default)
        => Upid(await SendAsync(HttpMethod.Post, $"nodes/{Seg(node)}/ceph/osd", [new("dev", device)], ct));

    public async Task<string> CephCreatePoolAsync(string node, string pool, int size, CancellationToken ct = default)
        => Upid(await SendAsync(HttpMethod.Post, $"nodes/{Seg(node)}/ceph/pool",
            [new("name", pool), new("size", Int(size)), new("min_size", Int(Math.Max(1, size - 1))), new("application", "rbd")], ct));

    public async Task<IReadOnlyList<string>> CephListPoolsAsync(string node, CancellationToken ct = default)
    {
        var items = await GetAsync($"nodes/{Seg(node)}/ceph/pool", null, ct);
        return [.. items.EnumerateArray().Select(p => Str(p, "pool_name")!)];
    }

    // ------------------------------------------------------------------ helpers for the calls

    private async Task<IReadOnlyList<string>> ReadLogTailAsync(string node, string upid, CancellationToken ct)
    {
        var path = $"nodes/{Seg(node)}/tasks/{Seg(upid)}/log";
        var tail = options.TaskLogTailLines;
        var (lines, total) = await GetWithTotalAsync(path, [new("start", "0"), new("limit", Int(tail))], ct);
        if (total > tail)
        {
            (lines, _) = await GetWithTotalAsync(path, [new("start", Int(total - tail)), new("limit", Int(tail))], ct);
        }

        return [.. lines.EnumerateArray().Select(l => Str(l, "t") ?? "")];
    }

    private async Task<Dictionary<string, IReadOnlyList<string>>> StorageNodesAsync(CancellationToken ct)
    {
        var config = await GetAsync("storage", null, ct);
        return config.EnumerateArray().ToDictionary(
            s => Str(s, "storage")!,
            s => (IReadOnlyList<string>)(Str(s, "nodes") is { Length: > 0 } n ? n.Split(',') : []),
            StringComparer.Ordinal);
    }

    private static PveStorage StorageOf(string id, JsonElement s, Dictionary<string, IReadOnlyList<string>> nodes)
        => new(id, Str(s, "type") ?? "", nodes.GetValueOrDefault(id) ?? [], Long(s, "total"), Long(s, "used"),
            s.TryGetProperty("active", out var a) && Number(a) == 1);

    // PVE reports a missing VM config, storage or volume as an error whose text says so (HTTP 500).
    private static bool IsMissing(PveApiException e) =>
        e.StatusCode is 404 or 500 && (e.Message.Contains("does not exist", StringComparison.Ordinal) || e.Message.Contains("No such", StringComparison.Ordinal));

    private static string Upid(JsonElement data) => data.ValueKind == JsonValueKind.String
        ? data.GetString()!
        : PveTaskStatus.CompletedSynchronously;

    private static string Seg(string value) => Uri.EscapeDataString(value);

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined ? null : v.GetRawText()
            : null;

    private static long Long(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? Number(v) : 0;

    // PVE's JSON is loose: integers and booleans may come as numbers or strings.
    private static long Number(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Number => v.TryGetInt64(out var l) ? l : (long)v.GetDouble(),
        JsonValueKind.String => long.TryParse(v.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : 0,
        JsonValueKind.True => 1,
        _ => 0,
    };

    // ------------------------------------------------------------------ transport

    private async Task<JsonElement> GetAsync(string path, IReadOnlyList<KeyValuePair<string, string>>? query, CancellationToken ct)
        => (await GetWithTotalAsync(path, query ?? [], ct)).Data;

    private async Task<(JsonElement Data, int Total)> GetWithTotalAsync(string path, IReadOnlyList<KeyValuePair<string, string>> query, CancellationToken ct)
    {
        var envelope = await SendRawAsync(HttpMethod.Get, path, query, ct);
        var total = envelope.TryGetProperty("total", out var t) ? (int)Number(t) : 0;
        return (envelope.TryGetProperty("data", out var d) ? d : default, total);
    }

    private async Task<JsonElement> SendAsync(HttpMethod method, string path, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken ct)
    {
        var envelope = await SendRawAsync(method, path, parameters, ct);
        return envelope.TryGetProperty("data", out var d) ? d : default;
    }

    /// <summary>One call with auth; on a 401 with ticket auth the ticket is renewed and the call made once more.</summary>
    private async Task<JsonElement> SendRawAsync(HttpMethod method, string path, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var current = options.Credentials is PvePassword ? await EnsureTicketAsync(forceRenew: attempt > 0, ct) : null;
            using var request = BuildRequest(method, path, parameters, current);
            using var response = await TransmitAsync(request, method, path, ct);
            if (response.StatusCode == HttpStatusCode.Unauthorized && current is not null && attempt == 0)
            {
                LogTicketRejected(logger, method.Method, path);
                continue;
            }

            return await ReadEnvelopeAsync(response, method, path, ct);
        }
    }

    private HttpRequestMessage BuildRequest(HttpMethod method, string path, IReadOnlyList<KeyValuePair<string, string>> parameters, Ticket? current)
    {
        HttpRequestMessage request;
        if (method == HttpMethod.Get || method == HttpMethod.Delete)
        {
            var query = string.Join('&', parameters.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value)));
            request = new HttpRequestMessage(method, query.Length == 0 ? path : path + "?" + query);
        }
        else
        {
            request = new HttpRequestMessage(method, path) { Content = new FormUrlEncodedContent(parameters) };
        }

        switch (options.Credentials)
        {
            case PveApiToken token:
                request.Headers.TryAddWithoutValidation("Authorization", token.HeaderValue);
                break;
            case PvePassword when current is not null:
                request.Headers.TryAddWithoutValidation("Cookie", "PVEAuthCookie=" + current.Value);
                if (method != HttpMethod.Get)
                {
                    request.Headers.TryAddWithoutValidation("CSRFPreventionToken", current.CsrfToken);
                }

                break;
        }

        return request;
    }

    private async Task<HttpResponseMessage> TransmitAsync(HttpRequestMessage request, HttpMethod method, string path, CancellationToken ct)
    {
        var what = $"{method.Method} /api2/json/{path}";
        try
        {
            return await http.SendAsync(request, ct);
        }
        catch (HttpRequestException e) when (e.InnerException is AuthenticationException || presentedFingerprint is not null)
        {
            throw new PveApiException(CertificateRefusal(), isTransient: false, e);
        }
        catch (HttpRequestException e)
        {
            throw new PveApiException($"{what}: cannot reach {options.BaseAddress.Authority}: {e.Message}", isTransient: true, e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new PveApiException($"{what}: no answer from {options.BaseAddress.Authority} within {options.RequestTimeout}", isTransient: true, e);
        }
    }

    private string CertificateRefusal()
    {
        var presented = Interlocked.Exchange(ref presentedFingerprint, null) ?? "unknown";
        return pinnedFingerprint is null
            ? $"TLS: the certificate of {options.BaseAddress.Authority} is not trusted by the system CAs; PVE uses self-signed " +
              $"certificates, so pin its SHA-256 fingerprint (presented: {presented}) after checking it with 'pvenode cert info' on the node"
            : $"TLS: {options.BaseAddress.Authority} presented a certificate with SHA-256 fingerprint {presented}, " +
              $"not the pinned {pinnedFingerprint}; refusing to talk to it (man in the middle, or the node's certificate was renewed)";
    }

    private bool ValidateCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }

        var presented = PveClientOptions.Format(SHA256.HashData(certificate.GetRawCertData()));
        // A pin replaces CA and name checks (PVE's certificate is self-signed and named after the node), nothing else.
        var ok = pinnedFingerprint is null ? errors == SslPolicyErrors.None : presented == pinnedFingerprint;
        if (!ok)
        {
            presentedFingerprint = presented;
        }

        return ok;
    }

    private async Task<JsonElement> ReadEnvelopeAsync(HttpResponseMessage response, HttpMethod method, string path, CancellationToken ct)
    {
        var body = await response.Content.ReadAsStringAsync(ct);
        JsonElement envelope = default;
        if (body.Length > 0)
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                envelope = document.RootElement.Clone();
            }
            catch (JsonException) when (!response.IsSuccessStatusCode)
            {
                // An error page from a proxy in front of PVE: the status line says enough.
            }
        }

        if (response.IsSuccessStatusCode)
        {
            return envelope;
        }

        var status = (int)response.StatusCode;
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        if (envelope.ValueKind == JsonValueKind.Object && envelope.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
            {
                errors[p.Name] = (p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText()).TrimEnd('\n');
            }
        }

        var reason = (Str(envelope, "message") ?? response.ReasonPhrase ?? response.StatusCode.ToString()).Trim();
        var detail = errors.Count == 0 ? "" : " " + string.Join("; ", errors.Select(kv => $"{kv.Key}: {kv.Value.Replace('\n', ' ')}"));
        // 5xx: PVE's handler died (a lock, a stale digest, a busy storage) or a proxy hop failed: retrying can help.
        // 501 Not Implemented will not change by retrying.
        throw new PveApiException($"{method.Method} /api2/json/{path}: HTTP {status} {reason}{detail}", isTransient: status >= 500 && status != 501)
        {
            StatusCode = status,
            ParameterErrors = errors,
        };
    }

    private async Task<Ticket> EnsureTicketAsync(bool forceRenew, CancellationToken ct)
    {
        var credentials = (PvePassword)options.Credentials;
        await loginGate.WaitAsync(ct);
        try
        {
            var now = clock.GetUtcNow();
            if (!forceRenew && ticket is { } t && now - t.IssuedAt < options.TicketLifetime - options.TicketRenewalMargin)
            {
                return t;
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, "access/ticket")
            {
                Content = new FormUrlEncodedContent([new("username", credentials.UserId), new("password", credentials.Password)]),
            };
            using var response = await TransmitAsync(request, HttpMethod.Post, "access/ticket", ct);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw new PveApiException($"PVE refused the login of {credentials.UserId} at {options.BaseAddress.Authority} (HTTP 401: wrong user or password)", isTransient: false)
                {
                    StatusCode = 401,
                };
            }

            var data = (await ReadEnvelopeAsync(response, HttpMethod.Post, "access/ticket", ct)).GetProperty("data");
            ticket = new Ticket(Str(data, "ticket")!, Str(data, "CSRFPreventionToken")!, now);
            LogTicketIssued(logger, credentials.UserId, options.BaseAddress.Authority);
            return ticket;
        }
        finally
        {
            loginGate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "PVE ticket obtained for {User} at {Endpoint}")]
    private static partial void LogTicketIssued(ILogger logger, string user, string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PVE answered 401 to {Method} {Path}; renewing the ticket and trying once more")]
    private static partial void LogTicketRejected(ILogger logger, string method, string path);
}
