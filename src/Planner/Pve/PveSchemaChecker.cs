using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Taquin.Planner.Pve;

/// <summary>
/// A port of the checks in pve-common's JSONSchema.pm (check_prop, check_type, check_object,
/// parse_property_string), with the same messages, so a simulated PVE rejects what a real one does.
/// </summary>
internal static partial class PveSchemaChecker
{
    /// <summary>Errors keyed by path, in the order found; same-path messages joined the way add_error does.</summary>
    internal sealed class Errors
    {
        private readonly List<KeyValuePair<string, string>> items = [];
        private readonly Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>> subErrors = new(StringComparer.Ordinal);

        public int Count => items.Count;

        public IReadOnlyList<KeyValuePair<string, string>> Items => items;

        /// <summary>The sub-key errors behind a "format error" of a property string, by path.</summary>
        public IReadOnlyList<KeyValuePair<string, string>> SubErrorsOf(string path)
            => subErrors.TryGetValue(path, out var list) ? list : [];

        public void Add(string? path, string message, IReadOnlyList<KeyValuePair<string, string>>? subKeyErrors = null)
        {
            if (subKeyErrors is { Count: > 0 } && path is not null)
            {
                subErrors[path] = subKeyErrors;
            }

            var key = string.IsNullOrEmpty(path) ? "_root" : path;
            var i = items.FindIndex(kv => kv.Key == key);
            if (i >= 0)
            {
                // add_error joins with '\n' in single quotes: a literal backslash-n, not a newline.
                items[i] = new(key, items[i].Value + "\\n" + message);
            }
            else
            {
                items.Add(new(key, message));
            }
        }
    }

    /// <summary>The text of a Perl die() inside a format check; it ends with a newline like Perl's.</summary>
    internal sealed class FormatError(string message) : Exception(message)
    {
        public IReadOnlyList<KeyValuePair<string, string>> SubErrors { get; init; } = [];
    }

    public static void CheckProp(string? value, PveParameterSchema schema, string path, Errors errors)
    {
        // Aliases are remapped to their target before validation.
        if (schema.Alias is not null)
        {
            return;
        }

        if (value is null)
        {
            if (!schema.Optional)
            {
                errors.Add(path, "property is missing and it is not optional");
            }

            return;
        }

        if (!CheckType(path, schema.Type, value, errors))
        {
            return;
        }

        if (schema.FormatProperties is not null || schema.FormatName is not null)
        {
            try
            {
                CheckFormat(schema, value, path);
            }
            catch (FormatError e)
            {
                errors.Add(path, "invalid format - " + e.Message, e.SubErrors);
                return;
            }
        }

        if (schema.CompiledPattern is { } pattern && !pattern.IsMatch(value))
        {
            errors.Add(path, "value does not match the regex pattern");
            return;
        }

        if (schema.MaxLength is { } max && value.Length > max)
        {
            errors.Add(path, $"value may only be {max} characters long");
            return;
        }

        if (schema.MinLength is { } min && value.Length < min)
        {
            errors.Add(path, $"value must be at least {min} characters long");
            return;
        }

        if (IsNumber(value) && decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            if (schema.Maximum is { } maximum && number > maximum)
            {
                errors.Add(path, $"value must have a maximum value of {Perl(maximum)}");
                return;
            }

            if (schema.Minimum is { } minimum && number < minimum)
            {
                errors.Add(path, $"value must have a minimum value of {Perl(minimum)}");
                return;
            }
        }

        if (schema.Enum is { } allowed && !allowed.Contains(value, StringComparer.Ordinal))
        {
            errors.Add(path, $"value '{value}' does not have a value in the enumeration '{string.Join(", ", allowed)}'");
        }
    }

    private static string Perl(decimal d) => d.ToString("0.############", CultureInfo.InvariantCulture);

    private static bool CheckType(string path, string? type, string value, Errors errors)
    {
        var ok = type switch
        {
            "boolean" => value is "0" or "1",
            "integer" => IntegerSyntax().IsMatch(value),
            "number" => IsNumber(value),
            "array" or "object" => false,
            _ => true,
        };
        if (!ok)
        {
            errors.Add(path, type is "array" or "object" ? $"type check ('{type}') failed" : $"type check ('{type}') failed - got '{value}'");
        }

        return ok;
    }

    internal static bool IsNumber(string value) => NumberSyntax().IsMatch(value);

    private static void CheckFormat(PveParameterSchema schema, string value, string path)
    {
        if (schema.FormatProperties is { } inline)
        {
            ParsePropertyString(inline, value, path, validator: null);
            return;
        }

        var name = schema.FormatName!;
        // "-list" and "-opt" suffixes apply a named check to each element / only when non-empty.
        var suffix = FormatSuffix().Match(name);
        var baseName = suffix.Success ? suffix.Groups[1].Value : name;
        var kind = suffix.Success ? suffix.Groups[2].Value : "";

        if (PveNamedFormats.PropertyStrings.TryGetValue(baseName, out var hashFormat) && kind == "")
        {
            ParsePropertyString(hashFormat.Keys, value, path, hashFormat.Validator);
            return;
        }

        if (!PveNamedFormats.Validators.TryGetValue(baseName, out var validate))
        {
            // Formats Taquin has not transcribed are accepted rather than guessed at.
            return;
        }

        switch (kind)
        {
            case "list":
                foreach (var item in SplitList(value))
                {
                    validate(item);
                }

                break;
            case "opt":
                if (value.Length > 0)
                {
                    validate(value);
                }

                break;
            default:
                validate(value);
                break;
        }
    }

    /// <summary>PVE::ParseUtils::split_list: NUL-separated, else any run of ',', ';' or whitespace.</summary>
    internal static IEnumerable<string> SplitList(string text)
        => text.Contains('\0', StringComparison.Ordinal)
            ? text.Split('\0')
            : ListSeparators().Split(text.Replace(',', ' ').Replace(';', ' ').TrimStart()).Where(s => s.Length > 0);

    /// <summary>parse_property_string: dies with the first syntax error, else collects every sub-key problem.</summary>
    internal static Dictionary<string, string> ParsePropertyString(
        IReadOnlyDictionary<string, PveParameterSchema> format,
        string data,
        string path,
        Action<IReadOnlyDictionary<string, string>>? validator)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        string? defaultKey = null;
        foreach (var part in data.Split(','))
        {
            if (string.IsNullOrWhiteSpace(part))
            {
                continue;
            }

            var keyValue = KeyValuePart().Match(part);
            if (keyValue.Success)
            {
                var key = keyValue.Groups[1].Value;
                var value = keyValue.Groups[2].Value;
                if (result.ContainsKey(key))
                {
                    throw new FormatError($"duplicate key in comma-separated list property: {key}\n");
                }

                format.TryGetValue(key, out var sub);
                if (sub?.Alias is { } alias)
                {
                    if (sub.KeyAlias is { } keyAlias)
                    {
                        if (result.ContainsKey(keyAlias))
                        {
                            throw new FormatError($"key alias '{keyAlias}' is already defined\n");
                        }

                        result[keyAlias] = key;
                    }

                    key = alias;
                    format.TryGetValue(key, out sub);
                    if (result.ContainsKey(key))
                    {
                        throw new FormatError($"key '{key}' is already defined (via alias)\n");
                    }
                }

                if (sub is null)
                {
                    throw new FormatError($"invalid key in comma-separated list property: {key}\n");
                }

                result[key] = sub.Type == "boolean" ? ParseBoolean(value) ?? value : value;
            }
            else if (!part.Contains('=', StringComparison.Ordinal))
            {
                if (defaultKey is not null)
                {
                    throw new FormatError($"duplicate key in comma-separated list property: {defaultKey}\n");
                }

                var candidate = format.FirstOrDefault(kv => kv.Value.DefaultKey);
                if (candidate.Key is null)
                {
                    throw new FormatError("value without key, but schema does not define a default key\n");
                }

                defaultKey = candidate.Key;
                if (result.TryGetValue(defaultKey, out var existing) && existing.Length > 0 && existing != "0")
                {
                    throw new FormatError($"duplicate key in comma-separated list property: {defaultKey}\n");
                }

                result[defaultKey] = candidate.Value.Type == "boolean" ? ParseBoolean(part) ?? part : part;
            }
            else
            {
                throw new FormatError("missing key in comma-separated list property\n");
            }
        }

        var errors = new Errors();
        foreach (var (key, sub) in format)
        {
            CheckProp(result.GetValueOrDefault(key), sub, $"{path}.{key}", errors);
        }

        if (errors.Count > 0)
        {
            var text = new StringBuilder("format error\n");
            foreach (var (key, message) in errors.Items)
            {
                text.Append(key).Append(": ").Append(message).Append('\n');
            }

            throw new FormatError(text.ToString()) { SubErrors = errors.Items };
        }

        validator?.Invoke(result);
        return result;
    }

    private static string? ParseBoolean(string text) => text.ToLowerInvariant() switch
    {
        "1" or "on" or "yes" or "true" => "1",
        "0" or "off" or "no" or "false" => "0",
        _ => null,
    };

    [GeneratedRegex(@"^[+-]?\d+$")]
    private static partial Regex IntegerSyntax();

    [GeneratedRegex(@"^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$")]
    private static partial Regex NumberSyntax();

    [GeneratedRegex(@"^(.*?)(?:-(list|opt))?$")]
    private static partial Regex FormatSuffix();

    [GeneratedRegex(@"^([^=]+)=(.+)$")]
    private static partial Regex KeyValuePart();

    [GeneratedRegex(@"\s+")]
    private static partial Regex ListSeparators();
}
