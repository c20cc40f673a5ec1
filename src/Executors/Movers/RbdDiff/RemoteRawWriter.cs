using System.Reflection;

namespace Taquin.Executors.Movers.RbdDiff;

/// <summary>
/// The command that applies an <c>rbd export-diff</c> stream onto a raw target (zvol, raw file) on another host than
/// the orchestrator: <c>rbd-diff-apply.pl</c>, the same rules as <see cref="RbdDiffApplier"/> in perl, which every PVE
/// node has (PVE is written in it), so no program has to be installed there (ADR 0028).
/// </summary>
internal static class RemoteRawWriter
{
    private const string ResourceName = "Taquin.Executors.rbd-diff-apply.pl";

    // Comment lines dropped: the script travels on the command line of every copy.
    private static readonly Lazy<string> Script = new(() =>
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"{ResourceName} is not embedded in {Assembly.GetExecutingAssembly().GetName().Name}");
        using var reader = new StreamReader(stream);
        var lines = reader.ReadToEnd().Split('\n').Where(l => !l.TrimStart().StartsWith('#') && l.Trim().Length > 0);
        return string.Join('\n', lines);
    });

    /// <summary>The writer onto <paramref name="path"/>, refusing a diff that does not start at <paramref name="fromSnapshot"/>.</summary>
    public static IReadOnlyList<string> Argv(string path, string? fromSnapshot) => ["perl", "-e", Script.Value, "--", path, fromSnapshot ?? ""];

    /// <summary>What the writer printed last: <c>applied &lt;stream&gt; &lt;data&gt; &lt;zero&gt; &lt;extents&gt;</c>.</summary>
    public static (long StreamBytes, long DataBytes, long ZeroBytes, int Extents)? ParseSummary(string stdout)
    {
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith("applied ", StringComparison.Ordinal));
        var parts = line?.Split(' ');
        return parts is { Length: 5 }
            && long.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var stream)
            && long.TryParse(parts[2], System.Globalization.CultureInfo.InvariantCulture, out var data)
            && long.TryParse(parts[3], System.Globalization.CultureInfo.InvariantCulture, out var zero)
            && int.TryParse(parts[4], System.Globalization.CultureInfo.InvariantCulture, out var extents)
            ? (stream, data, zero, extents)
            : null;
    }
}
