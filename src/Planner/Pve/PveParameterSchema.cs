using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Taquin.Planner.Pve;

/// <summary>
/// The schema of one API parameter, or of one sub-key of a property string, as the PVE API dump
/// (apidata.js) declares it. Mirrors the keys pve-common's JSONSchema.pm acts on.
/// </summary>
public sealed class PveParameterSchema
{
    public string? Type { get; init; }
    public bool Optional { get; init; }
    public IReadOnlyList<string>? Enum { get; init; }
    public decimal? Minimum { get; init; }
    public decimal? Maximum { get; init; }
    public int? MinLength { get; init; }
    public int? MaxLength { get; init; }
    /// <summary>The pattern as the schema writes it (Perl syntax); checked anchored, like <c>m/^$pattern$/</c>.</summary>
    public string? Pattern { get; init; }
    /// <summary>A registered format referenced by name (pve-storage-id, mac-addr, pve-qm-boot, ...).</summary>
    public string? FormatName { get; init; }
    /// <summary>Sub-keys of a property string whose format is given inline.</summary>
    public IReadOnlyDictionary<string, PveParameterSchema>? FormatProperties { get; init; }
    /// <summary>The sub-key that may be written without "key=".</summary>
    public bool DefaultKey { get; init; }
    /// <summary>This sub-key is another name for <see cref="Alias"/>.</summary>
    public string? Alias { get; init; }
    /// <summary>Writing this sub-key also sets <see cref="KeyAlias"/> to its name (net: "virtio=MAC" sets model=virtio).</summary>
    public string? KeyAlias { get; init; }
    /// <summary>Another parameter that must be present when this one is.</summary>
    public string? Requires { get; init; }
    public string? TypeText { get; init; }
    public string? Description { get; init; }

    internal Regex? CompiledPattern => compiledPattern ??= Pattern is null ? null : PerlRegex.Anchored(Pattern);

    private Regex? compiledPattern;

    internal static PveParameterSchema FromJson(JsonElement element)
    {
        IReadOnlyDictionary<string, PveParameterSchema>? formatProperties = null;
        string? formatName = null;
        if (element.TryGetProperty("format", out var format))
        {
            if (format.ValueKind == JsonValueKind.Object)
            {
                var subKeys = new Dictionary<string, PveParameterSchema>(StringComparer.Ordinal);
                foreach (var sub in format.EnumerateObject())
                {
                    subKeys[sub.Name] = FromJson(sub.Value);
                }

                formatProperties = subKeys;
            }
            else if (format.ValueKind == JsonValueKind.String)
            {
                formatName = format.GetString();
            }
        }

        return new PveParameterSchema
        {
            Type = String(element, "type"),
            Optional = Flag(element, "optional"),
            Enum = element.TryGetProperty("enum", out var values) && values.ValueKind == JsonValueKind.Array
                ? values.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText()).ToList()
                : null,
            Minimum = Number(element, "minimum"),
            Maximum = Number(element, "maximum"),
            MinLength = (int?)Number(element, "minLength"),
            MaxLength = (int?)Number(element, "maxLength"),
            Pattern = String(element, "pattern"),
            FormatName = formatName,
            FormatProperties = formatProperties,
            DefaultKey = Flag(element, "default_key"),
            Alias = String(element, "alias"),
            KeyAlias = String(element, "keyAlias"),
            Requires = String(element, "requires"),
            TypeText = String(element, "typetext"),
            Description = String(element, "description"),
        };
    }

    private static string? String(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    // The dump writes flags as 1/0, occasionally as strings.
    private static bool Flag(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) && v.ValueKind switch
        {
            JsonValueKind.Number => v.GetDecimal() != 0,
            JsonValueKind.True => true,
            JsonValueKind.String => v.GetString() is "1" or "true",
            _ => false,
        };

    // Some bounds are strings in the dump (bwlimit: "minimum": "0").
    private static decimal? Number(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v))
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.Number => v.GetDecimal(),
            JsonValueKind.String when decimal.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            _ => null,
        };
    }
}

/// <summary>Perl patterns from the schema, turned into .NET regexes that match the same strings.</summary>
internal static partial class PerlRegex
{
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(2);

    /// <summary>JSONSchema.pm checks <c>$value =~ m/^$pattern$/</c>: anchors glued on, no group around.</summary>
    public static Regex Anchored(string perlPattern)
        => new("^" + ToDotNet(perlPattern) + "$", RegexOptions.CultureInvariant, MatchTimeout);

    public static string ToDotNet(string perlPattern)
    {
        // qr// stringifies as (?^:...) or (?^i:...): "^" means "default flags", which .NET spells as nothing.
        var s = perlPattern.Replace("(?^:", "(?:", StringComparison.Ordinal);
        s = CaretFlagsGroup().Replace(s, "(?$1:");
        // Perl 5.34+ reads {,n} as {0,n}; .NET would take it literally.
        s = OpenLowerBound().Replace(s, "{0,$1}");
        // Perl reads "\_" as a plain underscore; .NET rejects the escape.
        s = s.Replace(@"\_", "_", StringComparison.Ordinal);
        return s;
    }

    [GeneratedRegex(@"\(\?\^([a-z]+):")]
    private static partial Regex CaretFlagsGroup();

    [GeneratedRegex(@"\{,(\d+)\}")]
    private static partial Regex OpenLowerBound();
}
