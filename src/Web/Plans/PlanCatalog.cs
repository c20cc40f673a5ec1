using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Taquin.Executors.Orchestration;
using Taquin.Planner.Planning;

namespace Taquin.Web.Plans;

public static class PlanStatus
{
    public const string Planning = "planning";
    public const string Ready = "ready";
    public const string Failed = "failed";
}

/// <summary>What the catalog knows of a plan besides plan.json: where it came from and how planning went.</summary>
public sealed record PlanMeta
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string InventoryFolder { get; init; }
    public required string CreatedBy { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>"planned" (by this server) or "uploaded".</summary>
    public required string Source { get; init; }
    public required string Status { get; init; }
    /// <summary>"cp-sat" or "greedy".</summary>
    public string Planner { get; init; } = "cp-sat";
    public double TimeLimitSeconds { get; init; } = 30;
    public string? Error { get; init; }
}

/// <summary>A plan ready for review: the parsed plan, its exact JSON and the digest runs are keyed by.</summary>
public sealed record PlanEntry(PlanMeta Meta, MigrationPlan Plan, string Json, string Digest, string PlanPath);

/// <summary>
/// Plans under &lt;data&gt;/plans/&lt;id&gt;/: meta.json and plan.json, with the run journal (plan.journal.db) and the
/// simulated twin (plan.twin.json) beside it, exactly where `taquin run` looks, so the CLI can read a run made here.
/// </summary>
public sealed partial class PlanCatalog(WebOptions options)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly ConcurrentDictionary<string, (DateTime Stamp, PlanEntry Entry)> _plans = new(StringComparer.Ordinal);
    private readonly Lock _writing = new();

    public string Folder(string id) => Path.Combine(options.PlansDirectory, Checked(id));
    public string PlanPath(string id) => Path.Combine(Folder(id), "plan.json");

    public static bool IsValidId(string id) => IdPattern().IsMatch(id);

    public IReadOnlyList<PlanMeta> List()
    {
        if (!Directory.Exists(options.PlansDirectory))
        {
            return [];
        }

        return [.. Directory.EnumerateDirectories(options.PlansDirectory)
            .Select(d => Path.GetFileName(d))
            .Where(IsValidId)
            .Select(FindMeta)
            .OfType<PlanMeta>()
            .OrderByDescending(m => m.CreatedAt)];
    }

    public PlanMeta? FindMeta(string id)
    {
        if (!IsValidId(id))
        {
            return null;
        }

        var file = Path.Combine(Folder(id), "meta.json");
        return File.Exists(file) ? JsonSerializer.Deserialize<PlanMeta>(File.ReadAllText(file), Json) : null;
    }

    public PlanMeta Create(string name, string inventoryFolder, string createdBy, string source, string status, DateTimeOffset now, string planner = "cp-sat", double timeLimit = 30)
    {
        var id = $"{now:yyyyMMdd-HHmmss}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6]}";
        var meta = new PlanMeta
        {
            Id = id,
            Name = string.IsNullOrWhiteSpace(name) ? Path.GetFileName(Path.TrimEndingDirectorySeparator(inventoryFolder)) : name.Trim(),
            InventoryFolder = Path.GetFullPath(inventoryFolder),
            CreatedBy = createdBy,
            CreatedAt = now,
            Source = source,
            Status = status,
            Planner = planner,
            TimeLimitSeconds = timeLimit,
        };
        Directory.CreateDirectory(Folder(id));
        SaveMeta(meta);
        return meta;
    }

    public void SaveMeta(PlanMeta meta)
    {
        lock (_writing)
        {
            var file = Path.Combine(Folder(meta.Id), "meta.json");
            File.WriteAllText(file + ".tmp", JsonSerializer.Serialize(meta, Json));
            File.Move(file + ".tmp", file, overwrite: true);
        }
    }

    public void SavePlan(string id, string json)
    {
        var path = PlanPath(id);
        File.WriteAllText(path + ".tmp", json);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The plan, parsed once per version of plan.json; null while it is being planned or when planning failed.</summary>
    public PlanEntry? Get(string id)
    {
        var meta = FindMeta(id);
        if (meta is null || meta.Status != PlanStatus.Ready || !File.Exists(PlanPath(id)))
        {
            return null;
        }

        var path = PlanPath(id);
        var stamp = File.GetLastWriteTimeUtc(path);
        if (_plans.TryGetValue(id, out var cached) && cached.Stamp == stamp)
        {
            return cached.Entry with { Meta = meta };
        }

        var json = File.ReadAllText(path);
        var entry = new PlanEntry(meta, PlanJson.Deserialize(json, path), json, RunOrchestrator.Digest(json), path);
        _plans[id] = (stamp, entry);
        return entry;
    }

    private static string Checked(string id) => IsValidId(id) ? id : throw new WebUserException($"'{id}' is not a plan id");

    [GeneratedRegex("^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")]
    private static partial Regex IdPattern();
}
