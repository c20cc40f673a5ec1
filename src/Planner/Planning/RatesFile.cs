using System.Globalization;
using Taquin.Planner.Inventory;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Taquin.Planner.Planning;

/// <summary>
/// The rates file (docs/rates-format.md): reading it with the YAML path of every bad value, writing it
/// (for the movers bench), and choosing the one a plan uses (<c>--rates</c> over fleet.yaml <c>policy.rates</c>).
/// </summary>
public static class RatesFile
{
    /// <summary>Where the rates a plan uses were named: the command line wins over fleet.yaml.</summary>
    public const string FromFlag = "--rates";
    public const string FromFleet = "fleet.yaml policy.rates";

    /// <summary>
    /// The downtime model for an inventory: <paramref name="flagPath"/> (as given on the command line) when set,
    /// else fleet.yaml's <c>policy.rates</c> relative to <paramref name="inventoryFolder"/>, else the defaults.
    /// Throws <see cref="RatesFileException"/> naming the file, the key, the value and the fix.
    /// </summary>
    public static DowntimeModel ModelFor(Fleet fleet, string inventoryFolder, string? flagPath)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(inventoryFolder);
        var (path, origin) = !string.IsNullOrEmpty(flagPath) ? (flagPath, FromFlag)
            : !string.IsNullOrEmpty(fleet.Policy.RatesFile) ? (Path.Combine(inventoryFolder, fleet.Policy.RatesFile), FromFleet)
            : (null, null);
        if (path is null)
        {
            return new DowntimeModel { Verification = ModeOf(fleet.Policy) };
        }

        return DowntimeModel.FromRates(Load(path, origin), fleet.Policy, path);
    }

    /// <summary>Reads a rates file; <paramref name="origin"/> (e.g. "--rates") is named when it cannot be read.</summary>
    public static MeasuredRates Load(string path, string? origin = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var from = origin is null ? "" : $" (named by {origin})";
            throw new RatesFileException(path, "(file)", path, $"cannot read the rates file{from}: {e.Message}",
                origin == FromFleet ? "fix policy.rates in fleet.yaml (a path relative to the inventory folder) or remove it to use the default rates"
                : "pass an existing rates file to --rates (docs/rates-format.md; samples/rates/)");
        }

        return Read(text, path);
    }

    public static MeasuredRates Read(string yaml, string fileName = "rates.yaml")
    {
        ArgumentNullException.ThrowIfNull(yaml);
        YamlNode? rootNode;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            rootNode = stream.Documents.Count > 0 ? stream.Documents[0].RootNode : null;
        }
        catch (YamlException e)
        {
            throw new RatesFileException(fileName, $"(line {e.Start.Line}, column {e.Start.Column})", "", $"not valid YAML: {e.InnerException?.Message ?? e.Message}",
                "fix the YAML syntax there (indentation, quotes, a missing colon)");
        }

        if (rootNode is not YamlMappingNode root)
        {
            throw new RatesFileException(fileName, "(root)", "", "a rates file is a mapping (source, measuredOn, measuredAt, paths, ...)", "start from samples/rates/testbed-2026-11-24.yaml");
        }

        var m = new Node(root, "", fileName);
        var source = m.Text("source", required: true)!;
        var measuredOn = m.Text("measuredOn", required: true)!;
        var measuredAt = m.Timestamp("measuredAt");
        var note = m.Text("note", required: false);
        var paths = new Dictionary<string, PathRates>(StringComparer.Ordinal);
        var pathsNode = m.Mapping("paths", required: true)!;
        foreach (var name in pathsNode.Keys())
        {
            if (!RatePaths.All.Contains(name))
            {
                throw pathsNode.Error(name, name, "unknown data path", $"use {string.Join(", ", RatePaths.All)}");
            }

            var p = pathsNode.Mapping(name, required: true)!;
            paths[name] = new PathRates(p.Rate("fullMiBps", required: true)!.Value, p.Rate("diffMiBps", required: false), p.Seconds("diffFixedSeconds"));
            p.RejectUnknown();
        }

        if (paths.Count == 0)
        {
            throw m.Error("paths", "{}", "no data path measured", $"add at least one of {string.Join(", ", RatePaths.All)} with its fullMiBps");
        }

        VerificationRates? verification = null;
        if (m.Mapping("verification", required: false) is { } v)
        {
            verification = new VerificationRates(v.Rate("fullMiBps", required: false), v.Seconds("sampleSeconds"));
            v.RejectUnknown();
        }

        var rates = new MeasuredRates
        {
            Source = source,
            MeasuredOn = measuredOn,
            MeasuredAt = measuredAt,
            Note = note,
            Paths = paths,
            Verification = verification,
            SwitchSeconds = m.Seconds("switchSeconds"),
            ShutdownSeconds = m.Seconds("shutdownSeconds"),
            BootSeconds = m.Seconds("bootSeconds"),
            LiveMigrationMiBps = m.Rate("liveMigrationMiBps", required: false),
        };
        m.RejectUnknown();
        return rates;
    }

    /// <summary>The rates as YAML in the format <see cref="Read"/> reads, after <paramref name="headerComment"/> lines (as # comments).</summary>
    public static string Write(MeasuredRates rates, IEnumerable<string>? headerComment = null)
    {
        ArgumentNullException.ThrowIfNull(rates);
        var document = new RatesDocument
        {
            Source = rates.Source,
            MeasuredOn = rates.MeasuredOn,
            MeasuredAt = rates.MeasuredAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Note = rates.Note,
            Paths = RatePaths.All.Where(rates.Paths.ContainsKey)
                .ToDictionary(p => p, p => new PathDocument { FullMiBps = Round(rates.Paths[p].FullMiBps), DiffMiBps = Round(rates.Paths[p].DiffMiBps), DiffFixedSeconds = Round(rates.Paths[p].DiffFixedSeconds) }, StringComparer.Ordinal),
            Verification = rates.Verification is { } v ? new VerificationDocument { FullMiBps = Round(v.FullMiBps), SampleSeconds = Round(v.SampleSeconds) } : null,
            SwitchSeconds = Round(rates.SwitchSeconds),
            ShutdownSeconds = Round(rates.ShutdownSeconds),
            BootSeconds = Round(rates.BootSeconds),
            LiveMigrationMiBps = Round(rates.LiveMigrationMiBps),
        };
        var serializer = new SerializerBuilder()
            .WithNamingConvention(CamelCaseNamingConvention.Instance)
            .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull)
            .Build();
        var header = string.Concat((headerComment ?? []).Select(line => "# " + line + "\n"));
        return header + serializer.Serialize(document);
    }

    internal static VerificationMode ModeOf(PolicySpec policy)
        => string.Equals(policy.Verify, "sampled", StringComparison.Ordinal) ? VerificationMode.Sampled : VerificationMode.Full;

    // Three decimals: enough for a measurement, and the file stays readable.
    private static double? Round(double? value) => value is { } x ? Math.Round(x, 3) : null;

    private sealed class RatesDocument
    {
        public string Source { get; set; } = "";
        public string MeasuredOn { get; set; } = "";
        public string MeasuredAt { get; set; } = "";
        public string? Note { get; set; }
        public Dictionary<string, PathDocument> Paths { get; set; } = [];
        public VerificationDocument? Verification { get; set; }
        public double? SwitchSeconds { get; set; }
        public double? ShutdownSeconds { get; set; }
        public double? BootSeconds { get; set; }
        public double? LiveMigrationMiBps { get; set; }
    }

    private sealed class PathDocument
    {
        public double? FullMiBps { get; set; }
        public double? DiffMiBps { get; set; }
        public double? DiffFixedSeconds { get; set; }
    }

    private sealed class VerificationDocument
    {
        public double? FullMiBps { get; set; }
        public double? SampleSeconds { get; set; }
    }

    /// <summary>A mapping being read: each value checked with its YAML path, unknown keys refused.</summary>
    private sealed class Node(YamlMappingNode node, string path, string file)
    {
        private readonly HashSet<string> _used = [];

        public IEnumerable<string> Keys() => node.Children.Keys.Select(k => (k as YamlScalarNode)?.Value ?? k.ToString()).ToList();

        private string PathOf(string key) => path.Length == 0 ? key : $"{path}.{key}";

        public RatesFileException Error(string key, string value, string problem, string fix)
        {
            var line = node.Children.TryGetValue(new YamlScalarNode(key), out var at) ? at.Start.Line : node.Start.Line;
            return new RatesFileException(file, $"{PathOf(key)} (line {line})", value, problem, fix);
        }

        private YamlNode? Get(string key, bool required, string example)
        {
            _used.Add(key);
            if (node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is not YamlScalarNode { Value: null or "", Style: ScalarStyle.Plain })
            {
                return value;
            }

            return required
                ? throw new RatesFileException(file, PathOf(key) + $" (line {node.Start.Line})", "(missing)", $"required key '{key}' is missing", $"add '{key}: {example}' (docs/rates-format.md)")
                : null;
        }

        public string? Text(string key, bool required)
        {
            var value = Get(key, required, "<text>");
            return value switch
            {
                null => null,
                YamlScalarNode s => s.Value ?? "",
                _ => throw Error(key, "(list or mapping)", $"'{key}' must be a single value", $"write '{key}: <text>'"),
            };
        }

        public DateTimeOffset Timestamp(string key)
        {
            var text = Text(key, required: true)!;
            return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                ? at
                : throw Error(key, text, "not a date and time", $"write '{key}: 2026-11-24T06:10:00Z' (ISO 8601, UTC)");
        }

        /// <summary>A rate in MiB/s: a number above 0.</summary>
        public double? Rate(string key, bool required) => Number(key, required, allowZero: false, "MiB/s", "42.0");

        /// <summary>A duration in seconds: a number of at least 0.</summary>
        public double? Seconds(string key) => Number(key, required: false, allowZero: true, "seconds", "0.25");

        private double? Number(string key, bool required, bool allowZero, string unit, string example)
        {
            var text = Text(key, required);
            if (text is null)
            {
                return null;
            }

            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || double.IsNaN(n) || double.IsInfinity(n) || n < 0 || (!allowZero && n == 0))
            {
                throw Error(key, text, allowZero ? $"not a duration in {unit} (a number ≥ 0)" : $"not a rate in {unit} (a number above 0)",
                    $"write a plain number without unit, e.g. '{key}: {example}'");
            }

            return n;
        }

        public Node? Mapping(string key, bool required)
        {
            var value = Get(key, required, "{ ... }");
            return value switch
            {
                null => null,
                YamlMappingNode map => new Node(map, PathOf(key), file),
                _ => throw Error(key, value.ToString(), $"'{key}' must be a mapping of keys", "see docs/rates-format.md for its keys"),
            };
        }

        public void RejectUnknown()
        {
            foreach (var key in Keys().Where(k => !_used.Contains(k)))
            {
                throw Error(key, key, $"unknown key '{key}'", $"remove it or fix its spelling; known keys here: {string.Join(", ", _used)}");
            }
        }
    }
}

/// <summary>A rates file the planner cannot use: the file, the YAML key, the value, what is wrong and what to do.</summary>
public sealed class RatesFileException(string file, string key, string value, string problem, string fix)
    : Exception($"{file}: {key}: {problem}{(value.Length > 0 ? $" (value '{value}')" : "")}. Fix: {fix}")
{
    public string File { get; } = file;
    public string Key { get; } = key;
    public string Value { get; } = value;
    public string Problem { get; } = problem;
    public string Fix { get; } = fix;
}
