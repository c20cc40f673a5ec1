using System.Globalization;
using Taquin.Planner.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Taquin.Planner.Inventory;

/// <summary>
/// One YAML file being read key by key (fleet.yaml, access files): every problem becomes a <see cref="Diagnostic"/>
/// naming the file, the key path (hosts[2].ram), the line and the fix, worded the same for every file.
/// </summary>
/// <param name="File">The file as diagnostics name it.</param>
/// <param name="Docs">The document that lists the file's keys (docs/inventory-format.md), named in fixes.</param>
public sealed record YamlSource(string File, string Docs, List<Diagnostic> Diagnostics)
{
    public void ErrorAt(YamlNode node, string path, string message, string fix, string? value = null)
        => Diagnostics.Add(Diagnostic.Error(File, path, message, fix, value, (int)node.Start.Line, (int)node.Start.Column));

    /// <summary>The root mapping of <paramref name="yaml"/>, or null with a diagnostic (bad syntax, not a mapping).</summary>
    /// <param name="sections">What the root holds, for the error: "hosts, oldCeph, newCeph and policy".</param>
    public YamlMappingReader? ReadRoot(string yaml, string sections)
    {
        YamlNode? rootNode;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            rootNode = stream.Documents.Count > 0 ? stream.Documents[0].RootNode : null;
        }
        catch (YamlException ex)
        {
            Diagnostics.Add(Diagnostic.Error(File, "yaml", $"{Path.GetFileName(File)} is not valid YAML: {ex.InnerException?.Message ?? ex.Message}",
                "Fix the YAML syntax at that line and column (indentation, quotes, a missing colon).", line: (int)ex.Start.Line, column: (int)ex.Start.Column));
            return null;
        }

        if (rootNode is not YamlMappingNode root)
        {
            Diagnostics.Add(Diagnostic.Error(File, "(root)", $"{Path.GetFileName(File)} must be a mapping with {sections}.", $"Start from the example in {Docs}."));
            return null;
        }

        return new YamlMappingReader(this, root, "");
    }
}

/// <summary>A YAML mapping being read: remembers which keys were asked for so the rest can be reported as unknown.</summary>
public sealed class YamlMappingReader(YamlSource source, YamlMappingNode node, string path)
{
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public YamlSource Source => source;

    private string PathOf(string key) => path.Length == 0 ? key : $"{path}.{key}";

    public bool Has(string key) => node.Children.ContainsKey(new YamlScalarNode(key));

    /// <summary>The keys written here, for mappings whose keys are names (hosts, pins).</summary>
    public IEnumerable<string> Keys()
        => node.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? "").ToList();

    /// <summary>An error at <paramref name="key"/>'s value (or at this mapping when the key is absent or null).</summary>
    public void ErrorAt(string? key, string message, string fix, string? value)
    {
        var at = key is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : node;
        source.ErrorAt(at, key is null ? (path.Length == 0 ? "(root)" : path) : PathOf(key), message, fix, value);
    }

    /// <summary>The value of <paramref name="key"/>, null when absent or empty; a missing required key is reported.</summary>
    private YamlNode? Get(string key, bool required = false, string example = "<value>")
    {
        _used.Add(key);
        if (node.Children.TryGetValue(new YamlScalarNode(key), out var value)
            && !(value is YamlScalarNode { Value: null or "" } s && s.Style == ScalarStyle.Plain))
        {
            return value;
        }

        if (required)
        {
            source.ErrorAt(node, PathOf(key), $"Required key '{key}' is missing.", $"Add '{key}: {example}' here (see {source.Docs}).");
        }

        return null;
    }

    public string? String(string key, bool required, string example = "<text>")
    {
        var value = Get(key, required, example);
        if (value is null or YamlScalarNode)
        {
            return (value as YamlScalarNode)?.Value;
        }

        source.ErrorAt(value, PathOf(key), $"'{key}' must be a single value, not a list or mapping.", $"Write '{key}: {example}'.");
        return null;
    }

    public long? Size(string key, bool required)
    {
        var text = String(key, required, "128GiB");
        if (text is null)
        {
            return null;
        }

        if (!TryParseSize(text, out var bytes) || bytes <= 0)
        {
            ErrorAt(key, "Not a size.", "Write a positive size with a unit (128GiB, 3.84TB, 960G) or a plain byte count.", text);
            return null;
        }

        return bytes;
    }

    private static bool TryParseSize(string text, out long bytes)
    {
        try
        {
            return ByteSize.TryParse(text, out bytes);
        }
        catch (OverflowException)
        {
            bytes = 0;
            return false;
        }
    }

    public int? Int(string key, bool required, int min = int.MinValue, int max = int.MaxValue)
    {
        var text = String(key, required, "<integer>");
        if (text is null)
        {
            return null;
        }

        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
        {
            var range = max == int.MaxValue ? $"an integer ≥ {min}" : $"an integer from {min} to {max}";
            ErrorAt(key, $"Must be {range}.", $"Write {range}.", text);
            return null;
        }

        return n;
    }

    public double? Double(string key, bool required, double min, double max)
    {
        var text = String(key, required, "<number>");
        if (text is null)
        {
            return null;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < min || n > max || double.IsNaN(n))
        {
            var lower = min == double.Epsilon ? "above 0" : $"at least {min.ToString(CultureInfo.InvariantCulture)}";
            var range = max == double.MaxValue ? lower : $"{lower} and at most {max.ToString(CultureInfo.InvariantCulture)}";
            ErrorAt(key, $"Must be a number {range}.", $"Write a plain number {range}, without unit.", text);
            return null;
        }

        return n;
    }

    /// <summary>A positive number of seconds.</summary>
    public TimeSpan? Seconds(string key)
    {
        var text = String(key, required: false, "30");
        if (text is null)
        {
            return null;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds < int.MaxValue)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        ErrorAt(key, "Not a positive number of seconds.", $"Write '{key}: 30'.", text);
        return null;
    }

    public bool? Bool(string key)
    {
        var text = String(key, required: false, "true|false");
        if (text is null)
        {
            return null;
        }

        if (bool.TryParse(text, out var b))
        {
            return b;
        }

        ErrorAt(key, "Must be true or false.", "Write true or false.", text);
        return null;
    }

    /// <summary>One of <paramref name="allowed"/>, else an error whose fix is "Use <paramref name="meaning"/>." (default: the list).</summary>
    public string? Choice(string key, string[] allowed, string? meaning = null, bool required = false)
    {
        var text = String(key, required, string.Join("|", allowed));
        if (text is null || allowed.Contains(text, StringComparer.Ordinal))
        {
            return text;
        }

        ErrorAt(key, $"Unknown value for '{key}'.", $"Use {meaning ?? "one of: " + string.Join(", ", allowed)}.", text);
        return null;
    }

    /// <summary><see cref="Choice"/> mapped to a value; <paramref name="fallback"/> when absent or unknown.</summary>
    public T Enum<T>(string key, IReadOnlyDictionary<string, T> allowed, T fallback, bool required = false)
        => Choice(key, [.. allowed.Keys], required: required) is { } text ? allowed[text] : fallback;

    public IReadOnlyList<string>? StringList(string key)
    {
        var value = Get(key);
        if (value is null)
        {
            return null;
        }

        if (value is YamlSequenceNode seq && seq.Children.All(c => c is YamlScalarNode))
        {
            return [.. seq.Children.Select(c => ((YamlScalarNode)c).Value ?? "")];
        }

        source.ErrorAt(value, PathOf(key), $"'{key}' must be a list of values.", $"Write '{key}: [a, b]'.");
        return null;
    }

    /// <summary>One value or a list of them.</summary>
    public IReadOnlyList<string>? StringOrList(string key)
    {
        switch (Get(key))
        {
            case null:
                return null;
            case YamlScalarNode scalar:
                return [scalar.Value ?? ""];
            case YamlSequenceNode seq when seq.Children.All(c => c is YamlScalarNode):
                return [.. seq.Children.Select(c => ((YamlScalarNode)c).Value ?? "")];
            case var value:
                source.ErrorAt(value, PathOf(key), $"'{key}' must be a value or a list of values.", $"Write '{key}: [a, b]'.");
                return null;
        }
    }

    public YamlSequenceNode? Sequence(string key, bool required)
    {
        var value = Get(key, required, "[...]");
        if (value is null or YamlSequenceNode)
        {
            return (YamlSequenceNode?)value;
        }

        source.ErrorAt(value, PathOf(key), $"'{key}' must be a list.", $"Write '{key}:' followed by '- ...' items.");
        return null;
    }

    public YamlMappingReader? Mapping(string key, bool required = false)
    {
        var value = Get(key, required, "{ ... }");
        if (value is null or YamlMappingNode)
        {
            return value is YamlMappingNode mapping ? new YamlMappingReader(source, mapping, PathOf(key)) : null;
        }

        source.ErrorAt(value, PathOf(key), $"'{key}' must be a mapping of keys.", $"Write '{key}:' followed by indented 'name: value' lines (see {source.Docs}).");
        return null;
    }

    /// <summary>An item of a list read with <see cref="Sequence"/> as a mapping, or null with an error naming its shape.</summary>
    public YamlMappingReader? Item(YamlNode item, string itemPath, string message, string fix)
    {
        if (item is YamlMappingNode mapping)
        {
            return new YamlMappingReader(source, mapping, itemPath);
        }

        source.ErrorAt(item, itemPath, message, fix);
        return null;
    }

    /// <summary>Whether <paramref name="key"/> has a value (the key then counts as known).</summary>
    public bool IsSet(string key) => Get(key) is not null;

    public void ReportUnknown()
    {
        foreach (var (keyNode, _) in node.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? keyNode.ToString();
            if (!_used.Contains(key))
            {
                source.ErrorAt(keyNode, PathOf(key), $"Unknown key '{key}'.",
                    _used.Count == 0 ? $"Remove it (see {source.Docs})." : $"Remove it or fix its spelling; known keys here: {string.Join(", ", _used)}.", key);
            }
        }
    }
}
