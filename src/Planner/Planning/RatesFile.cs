using System.Globalization;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;
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

    /// <summary>
    /// Reads a rates file; every problem in it is collected (the shared <see cref="YamlMappingReader"/>, worded as for
    /// fleet.yaml) and thrown at once as a <see cref="RatesFileException"/> naming the first.
    /// </summary>
    public static MeasuredRates Read(string yaml, string fileName = "rates.yaml")
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var source = new YamlSource(fileName, "docs/rates-format.md", []);
        var rates = source.ReadRoot(yaml, "source, measuredOn, measuredAt and paths") is { } root ? ReadRates(root) : null;
        var errors = source.Diagnostics.Where(d => d.Severity == Severity.Error).ToList();
        return errors.Count == 0 && rates is not null ? rates : throw new RatesFileException(errors);
    }

    private static MeasuredRates? ReadRates(YamlMappingReader m)
    {
        var source = m.String("source", required: true);
        var measuredOn = m.String("measuredOn", required: true);
        var measuredAt = Timestamp(m, "measuredAt");
        var note = m.String("note", required: false);
        var paths = new Dictionary<string, PathRates>(StringComparer.Ordinal);
        if (m.Mapping("paths", required: true) is { } pathsNode)
        {
            foreach (var name in pathsNode.Keys())
            {
                if (!RatePaths.All.Contains(name))
                {
                    pathsNode.ErrorAt(name, "Unknown data path.", $"Use {string.Join(", ", RatePaths.All)}.", name);
                    continue;
                }

                if (pathsNode.Mapping(name, required: true) is { } p)
                {
                    var full = Rate(p, "fullMiBps", required: true);
                    var diff = Rate(p, "diffMiBps", required: false);
                    var fixedSeconds = Seconds(p, "diffFixedSeconds");
                    p.ReportUnknown();
                    if (full is { } f)
                    {
                        paths[name] = new PathRates(f, diff, fixedSeconds);
                    }
                }
            }

            if (!pathsNode.Keys().Any())
            {
                m.ErrorAt("paths", "No data path measured.", $"Add at least one of {string.Join(", ", RatePaths.All)} with its fullMiBps.", "{}");
            }
        }

        VerificationRates? verification = null;
        if (m.Mapping("verification") is { } v)
        {
            verification = new VerificationRates(Rate(v, "fullMiBps", required: false), Seconds(v, "sampleSeconds"));
            v.ReportUnknown();
        }

        var rates = new MeasuredRates
        {
            Source = source ?? "",
            MeasuredOn = measuredOn ?? "",
            MeasuredAt = measuredAt ?? default,
            Note = note,
            Paths = paths,
            Verification = verification,
            SwitchSeconds = Seconds(m, "switchSeconds"),
            ShutdownSeconds = Seconds(m, "shutdownSeconds"),
            BootSeconds = Seconds(m, "bootSeconds"),
            LiveMigrationMiBps = Rate(m, "liveMigrationMiBps", required: false),
        };
        m.ReportUnknown();
        return source is null || measuredOn is null || measuredAt is null ? null : rates;
    }

    private static DateTimeOffset? Timestamp(YamlMappingReader m, string key)
    {
        var text = m.String(key, required: true, "2026-11-24T06:10:00Z");
        if (text is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at;
        }

        m.ErrorAt(key, "Not a date and time.", $"Write '{key}: 2026-11-24T06:10:00Z' (ISO 8601, UTC).", text);
        return null;
    }

    /// <summary>A rate in MiB/s: a plain number above 0.</summary>
    private static double? Rate(YamlMappingReader m, string key, bool required) => m.Double(key, required, double.Epsilon, double.MaxValue);

    /// <summary>A duration in seconds: a plain number of at least 0.</summary>
    private static double? Seconds(YamlMappingReader m, string key) => m.Double(key, required: false, 0, double.MaxValue);

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
}

/// <summary>A rates file the planner cannot use: the file, the YAML key, the value, what is wrong and what to do.</summary>
public sealed class RatesFileException : Exception
{
    public RatesFileException(string file, string key, string value, string problem, string fix)
        : base($"{file}: {key}: {problem}{(value.Length > 0 ? $" (value '{value}')" : "")}. Fix: {fix}")
    {
        (File, Key, Value, Problem, Fix) = (file, key, value, problem, fix);
        Diagnostics = [Diagnostic.Error(file, key, problem, fix, value.Length > 0 ? value : null)];
    }

    /// <summary>Every problem found in one read; the properties name the first, the message lists them all.</summary>
    public RatesFileException(IReadOnlyList<Diagnostic> diagnostics)
        : base(string.Join("; ", diagnostics.Select(Describe)))
    {
        ArgumentOutOfRangeException.ThrowIfZero(diagnostics.Count);
        var first = diagnostics[0];
        (File, Key, Value, Problem, Fix) = (first.File, KeyOf(first), first.Value ?? "", first.Message.TrimEnd('.'), first.Fix);
        Diagnostics = diagnostics;
    }

    public string File { get; }

    /// <summary>The YAML key path with its line: <c>paths.direct.fullMiBps (line 5)</c>.</summary>
    public string Key { get; }

    public string Value { get; }
    public string Problem { get; }
    public string Fix { get; }
    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    private static string KeyOf(Diagnostic d) => d.Line is { } line ? $"{d.Element} (line {line})" : d.Element;

    private static string Describe(Diagnostic d)
        => $"{d.File}: {KeyOf(d)}: {d.Message.TrimEnd('.')}{(d.Value is { Length: > 0 } v ? $" (value '{v}')" : "")}. Fix: {d.Fix.TrimEnd('.')}";
}
