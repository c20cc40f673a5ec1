using System.Globalization;
using System.Text.Json;

namespace Taquin.Executors.Journal;

/// <summary>Conversions both stores share, so they return identical records for identical writes.</summary>
internal static class JournalValues
{
    /// <summary>
    /// UTC, truncated to whole microseconds: PostgreSQL keeps microseconds, so SQLite keeps the same to let both
    /// stores round-trip a timestamp to the same value.
    /// </summary>
    public static DateTimeOffset Normalize(DateTimeOffset at)
    {
        var utc = at.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % 10), TimeSpan.Zero);
    }

    /// <summary>Fixed-width ISO 8601 with "+00:00": sorts and compares correctly as text.</summary>
    public static string ToText(DateTimeOffset at) => Normalize(at).ToString("o", CultureInfo.InvariantCulture);

    public static DateTimeOffset FromText(string text) =>
        DateTimeOffset.ParseExact(text, "o", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUniversalTime();

    public static bool EntersRunning(StepState next) => next == StepState.Running;

    /// <summary>States that end an attempt and stamp FinishedAt.</summary>
    public static bool Finishes(StepState next) =>
        next is StepState.Succeeded or StepState.Failed or StepState.RolledBack or StepState.Skipped;

    public static StepState ParseState(string text) => Enum.Parse<StepState>(text);

    public static IReadOnlyDictionary<string, string> ParseCheckpoint(string? json) =>
        string.IsNullOrEmpty(json)
            ? new Dictionary<string, string>()
            : JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? [];

    public static string CheckpointPatch(IReadOnlyDictionary<string, string?> values) =>
        JsonSerializer.Serialize(values);

    public static IReadOnlyList<string> ParseLogTail(string? json) =>
        string.IsNullOrEmpty(json) ? [] : JsonSerializer.Deserialize<List<string>>(json) ?? [];

    public static string LogTailJson(IReadOnlyList<string> lines) => JsonSerializer.Serialize(lines);

    public static void ValidateLease(string resource, string holder, TimeSpan ttl)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        ArgumentException.ThrowIfNullOrWhiteSpace(holder);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
    }

    public static KeyNotFoundException UnknownStep(long stepId) => new($"The journal has no step {stepId}.");

    public static InvalidOperationException UnknownRun(string runId) =>
        new($"The journal has no run '{runId}': create the run before adding its steps.");

    public static InvalidOperationException RunIdTaken(string runId) =>
        new($"The journal already has a run '{runId}' for a different plan or inventory; choose another run id.");

    public static void ValidateVlanRequest(string vm, int from, int to)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(vm);
        ArgumentOutOfRangeException.ThrowIfLessThan(from, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(to, 4094);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(from, to);
    }

    /// <summary>The lowest id of [from, to] not in <paramref name="held"/>, or null when the range is full.</summary>
    public static int? LowestFreeVlan(IEnumerable<int> held, int from, int to)
    {
        var next = from;
        foreach (var vlan in held.Where(v => v >= from && v <= to).Order())
        {
            if (vlan > next)
            {
                break;
            }

            next = vlan + 1;
        }

        return next <= to ? next : null;
    }
}
