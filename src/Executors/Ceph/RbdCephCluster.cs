using System.Globalization;
using System.Text.Json;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Ceph;

/// <summary>Where and as whom the <c>ceph</c> and <c>rbd</c> commands run.</summary>
public sealed record CephClusterOptions
{
    /// <summary>Fleet host the commands run on (it has the ceph CLI, a config and an admin keyring).</summary>
    public required string AdminHost { get; init; }
    /// <summary><c>--conf</c>; null uses the host's default (/etc/ceph/ceph.conf or CEPH_CONF).</summary>
    public string? ConfPath { get; init; }
    public string? KeyringPath { get; init; }
    /// <summary><c>--id</c> (client name without "client.").</summary>
    public string? Id { get; init; }
    /// <summary>Pool of image names given without one.</summary>
    public string Pool { get; init; } = "rbd";
    /// <summary>CRUSH host bucket per fleet host when the names differ (default: the same name).</summary>
    public IReadOnlyDictionary<string, string> CrushHosts { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
    /// <summary>How often <see cref="RbdCephCluster.WaitHealthyAsync"/> asks <c>ceph status</c>.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// <see cref="ICephCluster"/> over the <c>ceph</c> and <c>rbd</c> CLIs on an admin host, through <see cref="ISshRunner"/>.
/// Image data streams through the runner (<c>rbd export … -</c>); checksums are computed on the admin host.
/// </summary>
public sealed class RbdCephCluster(ISshRunner ssh, CephClusterOptions options, TimeProvider? time = null) : ICephCluster
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<CephHealth> GetHealthAsync(CancellationToken ct = default)
    {
        using var doc = await CephJsonAsync(["health"], ct);
        return ParseHealth(doc.RootElement);
    }

    public async Task<CephHealth> WaitHealthyAsync(TimeSpan timeout, Func<CephRecoveryProgress, Task>? onProgress = null, CancellationToken ct = default)
    {
        var giveUp = _time.GetUtcNow() + timeout;
        while (true)
        {
            var (health, progress) = await StatusAsync(ct);
            if (health.IsOk && progress.DegradedObjects == 0 && progress.MisplacedObjects == 0)
            {
                if (await OutOsdsAreEmptyAsync(ct))
                {
                    return health;
                }

                progress = progress with { Checks = [.. progress.Checks, "PGs still on OSDs that are out (recovery not reported yet)"] };
            }

            if (onProgress is not null)
            {
                await onProgress(progress);
            }

            if (_time.GetUtcNow() >= giveUp)
            {
                throw new CephException($"Ceph not HEALTH_OK after {timeout}: {progress.Describe()}", isTransient: true);
            }

            await _time.WaitAsync(options.PollInterval, ct);
        }
    }

    private async Task<(CephHealth Health, CephRecoveryProgress Progress)> StatusAsync(CancellationToken ct)
    {
        using var doc = await CephJsonAsync(["status"], ct);
        var root = doc.RootElement;
        var health = ParseHealth(root.GetProperty("health"));
        var pgmap = root.TryGetProperty("pgmap", out var p) ? p : default;
        long Long(string name) => pgmap.ValueKind == JsonValueKind.Object && pgmap.TryGetProperty(name, out var v) && v.TryGetInt64(out var n) ? n : 0;
        var notClean = pgmap.ValueKind == JsonValueKind.Object && pgmap.TryGetProperty("pgs_by_state", out var states)
            ? states.EnumerateArray().Where(s => s.GetProperty("state_name").GetString() != "active+clean").Sum(s => s.GetProperty("count").GetInt64())
            : 0;
        var checks = notClean > 0 ? [.. health.Checks, $"{notClean} PG(s) not active+clean"] : health.Checks;
        var total = Math.Max(Long("degraded_total"), Long("misplaced_total"));
        var progress = new CephRecoveryProgress(health.Status, Long("degraded_objects"), Long("misplaced_objects"), total, Long("recovering_bytes_per_sec"), checks);
        return (notClean > 0 && health.IsOk ? health with { Checks = checks, Status = "HEALTH_OK (PGs moving)" } : health, progress);
    }

    /// <summary>
    /// Right after <c>osd out</c> the mgr still shows the old, clean PG states for seconds (seen here: HEALTH_OK and all
    /// active+clean for ~3 s before the recovery appears), so HEALTH_OK alone proves nothing. The data has left an out
    /// OSD only when the osdmap maps no PG to it (<c>osd df</c>) and no PG's reported up/acting set holds it (<c>pg ls</c>).
    /// </summary>
    private async Task<bool> OutOsdsAreEmptyAsync(CancellationToken ct)
    {
        HashSet<int> outOsds;
        using (var df = await CephJsonAsync(["osd", "df"], ct))
        {
            var nodes = df.RootElement.GetProperty("nodes").EnumerateArray().Where(n => n.GetProperty("reweight").GetDouble() == 0).ToList();
            if (nodes.Any(n => n.TryGetProperty("pgs", out var pgs) && pgs.GetInt64() > 0))
            {
                return false;
            }

            outOsds = [.. nodes.Select(n => n.GetProperty("id").GetInt32())];
        }

        if (outOsds.Count == 0)
        {
            return true;
        }

        // One snapshot of the PG states: `ceph status` read a moment earlier may be staler than this one.
        using var pgls = await CephJsonAsync(["pg", "ls"], ct);
        return pgls.RootElement.GetProperty("pg_stats").EnumerateArray().All(pg =>
            pg.GetProperty("state").GetString() == "active+clean"
            && !pg.GetProperty("up").EnumerateArray().Concat(pg.GetProperty("acting").EnumerateArray()).Any(o => outOsds.Contains(o.GetInt32())));
    }

    private static CephHealth ParseHealth(JsonElement health)
    {
        var status = health.GetProperty("status").GetString() ?? "HEALTH_UNKNOWN";
        var checks = health.TryGetProperty("checks", out var c) && c.ValueKind == JsonValueKind.Object
            ? c.EnumerateObject().Select(check => check.Value.TryGetProperty("summary", out var s) && s.TryGetProperty("message", out var m)
                ? $"{check.Name}: {m.GetString()}" : check.Name).ToList()
            : [];
        return new CephHealth(status, checks);
    }

    public async Task<CephUsage> GetUsageAsync(CancellationToken ct = default)
    {
        using var doc = await CephJsonAsync(["df"], ct);
        var stats = doc.RootElement.GetProperty("stats");
        return new CephUsage(stats.GetProperty("total_bytes").GetInt64(), stats.GetProperty("total_used_raw_bytes").GetInt64(), stats.GetProperty("total_avail_bytes").GetInt64());
    }

    public async Task<IReadOnlyList<CephOsd>> ListOsdsAsync(string? host = null, CancellationToken ct = default)
    {
        using var doc = await CephJsonAsync(["osd", "tree"], ct);
        var nodes = doc.RootElement.GetProperty("nodes").EnumerateArray().ToList();
        var hostOf = new Dictionary<int, string>();
        foreach (var bucket in nodes.Where(n => n.GetProperty("type").GetString() == "host"))
        {
            foreach (var child in bucket.TryGetProperty("children", out var children) ? children.EnumerateArray() : default)
            {
                hostOf[child.GetInt32()] = bucket.GetProperty("name").GetString()!;
            }
        }

        var crushHost = host is null ? null : options.CrushHosts.GetValueOrDefault(host, host);
        return [.. nodes.Where(n => n.GetProperty("type").GetString() == "osd")
            .Select(n => new CephOsd(n.GetProperty("id").GetInt32(), hostOf.GetValueOrDefault(n.GetProperty("id").GetInt32(), ""),
                In: n.GetProperty("reweight").GetDouble() > 0, Up: n.GetProperty("status").GetString() == "up"))
            .Where(o => crushHost is null || o.Host == crushHost)
            .OrderBy(o => o.Id)];
    }

    public async Task<OsdsOutForecast> ForecastOsdsOutAsync(IReadOnlyCollection<int> osdIds, CancellationToken ct = default)
    {
        double nearfull;
        using (var dump = await CephJsonAsync(["osd", "dump"], ct))
        {
            nearfull = dump.RootElement.GetProperty("nearfull_ratio").GetDouble();
        }

        using var df = await CephJsonAsync(["osd", "df"], ct);
        var nodes = df.RootElement.GetProperty("nodes").EnumerateArray()
            .Select(n => (Id: n.GetProperty("id").GetInt32(), In: n.GetProperty("reweight").GetDouble() > 0,
                Kb: n.GetProperty("kb").GetInt64(), KbUsed: n.GetProperty("kb_used").GetInt64(), KbData: n.GetProperty("kb_used_data").GetInt64()))
            .ToList();
        var unknown = osdIds.Where(id => nodes.All(n => n.Id != id)).ToList();
        if (unknown.Count > 0)
        {
            throw new CephException($"osd.{string.Join(", osd.", unknown)} not in `ceph osd df`", isTransient: false);
        }

        // CRUSH spreads data by weight, so the remaining OSDs end up with all the data plus their own metadata overhead.
        var data = nodes.Sum(n => n.KbData) * 1024;
        var remaining = nodes.Where(n => n.In && !osdIds.Contains(n.Id)).ToList();
        var overhead = remaining.Sum(n => n.KbUsed - n.KbData) * 1024;
        return new OsdsOutForecast([.. osdIds.Order()], data, remaining.Sum(n => n.Kb) * 1024, data + overhead, nearfull);
    }

    public async Task MarkOsdOutAsync(int osdId, CancellationToken ct = default)
        => await CephAsync(["osd", "out", osdId.ToString(CultureInfo.InvariantCulture)], ct);

    public async Task MarkOsdInAsync(int osdId, CancellationToken ct = default)
        => await CephAsync(["osd", "in", osdId.ToString(CultureInfo.InvariantCulture)], ct);

    public async Task<IReadOnlyList<string>> ListSnapshotsAsync(string image, CancellationToken ct = default)
    {
        using var doc = JsonDocument.Parse(await RbdAsync(["snap", "ls", "--format", "json", Spec(image)], ct));
        return [.. doc.RootElement.EnumerateArray().Select(s => s.GetProperty("name").GetString()!).Order(StringComparer.Ordinal)];
    }

    public async Task CreateSnapshotAsync(string image, string snapshot, CancellationToken ct = default)
        => await RbdAsync(["snap", "create", "--no-progress", $"{Spec(image)}@{snapshot}"], ct, alreadyDone: e => e.Errno == 17);

    public async Task RemoveSnapshotAsync(string image, string snapshot, CancellationToken ct = default)
        => await RbdAsync(["snap", "rm", "--no-progress", $"{Spec(image)}@{snapshot}"], ct,
            alreadyDone: e => e.Errno == 2 && !e.Message.Contains("error opening image", StringComparison.Ordinal));

    public async Task ExportAsync(string image, string? snapshot, Stream destination, CancellationToken ct = default)
        => await RbdStreamAsync(["export", "--no-progress", snapshot is null ? Spec(image) : $"{Spec(image)}@{snapshot}", "-"], null, destination, ct);

    public async Task ImportAsync(Stream source, string image, CancellationToken ct = default)
        => await RbdAsync(["import", "--no-progress", "-", Spec(image)], ct, stdin: source);

    public async Task ExportDiffAsync(string image, string? fromSnapshot, string toSnapshot, Stream destination, CancellationToken ct = default)
    {
        var args = new List<string> { "export-diff", "--no-progress" };
        if (fromSnapshot is not null)
        {
            args.AddRange(["--from-snap", fromSnapshot]);
        }

        args.AddRange([$"{Spec(image)}@{toSnapshot}", "-"]);
        await RbdStreamAsync(args, null, destination, ct);
    }

    public async Task ImportDiffAsync(Stream source, string image, CancellationToken ct = default)
        => await RbdAsync(["import-diff", "--no-progress", "-", Spec(image)], ct, stdin: source);

    public async Task RemoveImageAsync(string image, CancellationToken ct = default)
        => await RbdAsync(["rm", "--no-progress", Spec(image)], ct, alreadyDone: e => e.Errno == 2);

    public async Task RenameImageAsync(string image, string newName, CancellationToken ct = default)
        => await RbdAsync(["rename", Spec(image), Spec(newName)], ct);

    public async Task<string> ChecksumAsync(string image, string snapshot, CancellationToken ct = default)
    {
        // Hashed on the admin host: the image never crosses the network. The script is constant; the spec is a positional argument.
        string[] argv = ["bash", "-c", "set -o pipefail; rbd \"$@\" | sha256sum", "rbd-sha256", .. CommonArgs(), "export", "--no-progress", $"{Spec(image)}@{snapshot}", "-"];
        var result = await ssh.RunAsync(options.AdminHost, argv, null, ct);
        if (!result.Succeeded)
        {
            throw CephErrors.From(options.AdminHost, "rbd export | sha256sum", result);
        }

        var hash = result.Stdout.Split(' ', 2)[0].Trim();
        return hash.Length == 64 ? hash : throw new CephException($"sha256sum of {image}@{snapshot} printed '{result.Stdout.Trim()}'", isTransient: false);
    }

    public async Task<bool> ImageExistsAsync(string image, CancellationToken ct = default)
    {
        var result = await ssh.RunAsync(options.AdminHost, ["rbd", .. CommonArgs(), "info", "--format", "json", Spec(image)], null, ct);
        if (result.Succeeded)
        {
            return true;
        }

        var error = CephErrors.From(options.AdminHost, "rbd info", result);
        return error.Errno == 2 ? false : throw error;
    }

    public async Task<RbdImageUsage> GetImageUsageAsync(string image, CancellationToken ct = default)
    {
        var spec = Spec(image);
        var pool = spec[..spec.IndexOf('/', StringComparison.Ordinal)];
        return ParseDu(await RbdAsync(["du", "--format", "json", spec], ct), pool).SingleOrDefault()
            ?? throw new CephException($"rbd du {spec} listed no image", isTransient: false);
    }

    /// <summary>Tries of a pool-wide <c>rbd du</c> that an image removed while it walked the pool made fail.</summary>
    internal const int PoolListingTries = 3;

    public async Task<IReadOnlyList<RbdImageUsage>> ListImageUsageAsync(string pool, CancellationToken ct = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return ParseDu(await RbdAsync(["du", "--format", "json", "--pool", pool], ct), pool);
            }
            catch (CephCommandException e) when (e.Errno == 2 && attempt < PoolListingTries)
            {
                // ENOENT: an image listed at the start was gone when its turn came (another tool or migration removed
                // it). The pool is still there; a new walk sees the images as they are now.
            }
        }
    }

    /// <summary>The image heads of <c>rbd du --format json</c> (snapshot rows left out), named "pool/image".</summary>
    internal static IReadOnlyList<RbdImageUsage> ParseDu(string json, string pool)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.GetProperty("images").EnumerateArray()
            .Where(i => !i.TryGetProperty("snapshot", out _))
            .Select(i => new RbdImageUsage($"{pool}/{i.GetProperty("name").GetString()}", i.GetProperty("provisioned_size").GetInt64(), i.GetProperty("used_size").GetInt64()))
            .OrderBy(i => i.Image, StringComparer.Ordinal)];
    }

    private string Spec(string image) => image.Contains('/', StringComparison.Ordinal) ? image : $"{options.Pool}/{image}";

    private List<string> CommonArgs()
    {
        var args = new List<string>();
        if (options.ConfPath is { } conf)
        {
            args.AddRange(["--conf", conf]);
        }

        if (options.Id is { } id)
        {
            args.AddRange(["--id", id]);
        }

        if (options.KeyringPath is { } keyring)
        {
            args.AddRange(["--keyring", keyring]);
        }

        return args;
    }

    private async Task<JsonDocument> CephJsonAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        var stdout = await CephAsync([.. args, "--format", "json"], ct);
        try
        {
            return JsonDocument.Parse(stdout);
        }
        catch (JsonException ex)
        {
            throw new CephException($"ceph {string.Join(' ', args)} on {options.AdminHost} printed no JSON: {ex.Message}", isTransient: false, ex);
        }
    }

    private async Task<string> CephAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        var result = await ssh.RunAsync(options.AdminHost, ["ceph", .. CommonArgs(), .. args], null, ct);
        return result.Succeeded ? result.Stdout : throw CephErrors.From(options.AdminHost, "ceph " + string.Join(' ', args.Take(2)), result);
    }

    private async Task<string> RbdAsync(IReadOnlyList<string> args, CancellationToken ct, Func<CephCommandException, bool>? alreadyDone = null, Stream? stdin = null)
    {
        var result = await ssh.RunAsync(options.AdminHost, ["rbd", .. CommonArgs(), .. args], stdin, ct);
        if (result.Succeeded)
        {
            return result.Stdout;
        }

        var error = CephErrors.From(options.AdminHost, "rbd " + args[0], result);
        return alreadyDone is not null && alreadyDone(error) ? "" : throw error;
    }

    private async Task RbdStreamAsync(IReadOnlyList<string> args, Stream? stdin, Stream stdout, CancellationToken ct)
    {
        var result = await ssh.RunStreamingAsync(options.AdminHost, ["rbd", .. CommonArgs(), .. args], stdin, stdout, ct);
        if (!result.Succeeded)
        {
            throw CephErrors.From(options.AdminHost, "rbd " + args[0], result);
        }
    }
}
