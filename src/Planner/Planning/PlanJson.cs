using System.Text.Json;
using System.Text.Json.Serialization;

namespace Taquin.Planner.Planning;

/// <summary>plan.json: reading and writing <see cref="MigrationPlan"/> (camelCase, indented, order as built).</summary>
public static class PlanJson
{
    public static string Serialize(MigrationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return JsonSerializer.Serialize(plan, PlanJsonContext.Default.MigrationPlan);
    }

    /// <summary>Reads a plan file; <see cref="PlanFileException"/> names the file, the JSON path and the fix.</summary>
    public static MigrationPlan Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PlanFileException(path, "$", $"cannot read the file: {e.Message}", "check the path and permissions");
        }

        return Deserialize(text, path);
    }

    public static MigrationPlan Deserialize(string json, string fileName = "plan.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(fileName);
        try
        {
            using (var document = JsonDocument.Parse(json))
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new PlanFileException(fileName, "$", $"expected a JSON object, found {document.RootElement.ValueKind}", "pass a plan.json written by `taquin plan`");
                }

                if (!document.RootElement.TryGetProperty("schemaVersion", out var version) || version.ValueKind != JsonValueKind.Number)
                {
                    throw new PlanFileException(fileName, "$.schemaVersion", "missing or not a number", "pass a plan.json written by `taquin plan`");
                }

                if (!version.TryGetInt32(out var v) || v != MigrationPlan.CurrentSchemaVersion)
                {
                    throw new PlanFileException(fileName, "$.schemaVersion", $"schema version {version.GetRawText()} is not supported (this taquin reads version {MigrationPlan.CurrentSchemaVersion})", "re-run `taquin plan` with this version of taquin, or use the taquin that wrote the plan");
                }
            }

            return JsonSerializer.Deserialize(json, PlanJsonContext.Default.MigrationPlan)
                ?? throw new PlanFileException(fileName, "$", "the file holds null", "pass a plan.json written by `taquin plan`");
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
            throw new PlanFileException(fileName, (e.Path ?? "$") + where, FirstSentence(e.Message), "fix the JSON by hand or re-run `taquin plan` to write a fresh plan");
        }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(". Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}

/// <summary>A plan file that cannot be used: which file, where in it, what is wrong and what to do.</summary>
public sealed class PlanFileException(string file, string jsonPath, string problem, string fix)
    : Exception($"{file}: {jsonPath}: {problem}. Fix: {fix}")
{
    public string File { get; } = file;
    public string JsonPath { get; } = jsonPath;
    public string Problem { get; } = problem;
    public string Fix { get; } = fix;
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(MigrationPlan))]
internal sealed partial class PlanJsonContext : JsonSerializerContext;
