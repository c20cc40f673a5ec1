using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Taquin.Planner.Pve;

/// <summary>
/// One problem with one request parameter, worded as PVE words it in the <c>errors</c> object of its
/// HTTP 400 "Parameter verification failed." answer.
/// </summary>
/// <param name="Parameter">The top-level parameter (net0, memory, ...), the key PVE reports under.</param>
/// <param name="Message">PVE's text for that key, e.g. "invalid format - format error\nnet0.ssd: ...".</param>
public sealed record PveParameterProblem(string Parameter, string Message)
{
    /// <summary>For property strings: each failing sub-key as "param.subkey" with its own message.</summary>
    public IReadOnlyList<PveSubKeyProblem> SubKeyProblems { get; init; } = [];

    public override string ToString() => $"{Parameter}: {Message.TrimEnd('\n')}";
}

public sealed record PveSubKeyProblem(string Path, string Message);

/// <summary>One path+method of the API with its parameter schema.</summary>
public sealed record PveEndpoint(
    string Path,
    string Method,
    string? Name,
    bool AllowsAdditionalProperties,
    IReadOnlyDictionary<string, PveParameterSchema> Parameters)
{
    /// <summary>Path variables ({node}, {vmid}) of the template, in order.</summary>
    public IReadOnlyList<string> PathVariables { get; } =
        [.. Path.Split('/').Where(s => s.StartsWith('{') && s.EndsWith('}')).Select(s => s[1..^1])];
}

/// <summary>
/// The Proxmox VE API schema (apidata.js of pve-docs as JSON), indexed by path and method, with a
/// validator that answers like the real server: unknown keys, missing required keys, types, enums,
/// ranges, patterns, property strings and the named formats Taquin uses.
/// </summary>
public sealed partial class PveApiSchema
{
    /// <summary>
    /// Indexed families the dump collapses to "name[n]", with the highest index the server defines.
    /// From qemu-server ($MAX_NETS 32, Drive.pm, PCI.pm, USB.pm 14, Memory.pm $MAX_NUMA 8, Virtiofs.pm 10),
    /// pve-container (32 nets, 256 mount points/devices) and pve-cluster (corosync links 0-7).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, int> FamilyMaxIndex = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["ide"] = 3,
        ["sata"] = 5,
        ["scsi"] = 30,
        ["virtio"] = 15,
        ["net"] = 31,
        ["ipconfig"] = 31,
        ["serial"] = 3,
        ["parallel"] = 2,
        ["usb"] = 13,
        ["hostpci"] = 15,
        ["numa"] = 7,
        ["virtiofs"] = 9,
        ["unused"] = 255,
        ["mp"] = 255,
        ["dev"] = 255,
        ["link"] = 7,
        ["acmedomain"] = 4,
    };

    private readonly Dictionary<string, PveEndpoint> endpoints;

    private PveApiSchema(Dictionary<string, PveEndpoint> endpoints) => this.endpoints = endpoints;

    public IReadOnlyCollection<PveEndpoint> Endpoints => endpoints.Values;

    public static PveApiSchema Parse(string json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        return FromDocument(document);
    }

    public static PveApiSchema Parse(Stream json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        return FromDocument(document);
    }

    public static PveApiSchema LoadFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Parse(stream);
    }

    /// <summary>The endpoint for a template path (/nodes/{node}/qemu) or a concrete one (/nodes/pve1/qemu).</summary>
    public PveEndpoint? FindEndpoint(string path, string method)
    {
        var m = method.ToUpperInvariant();
        var normalized = "/" + path.Trim('/');
        if (endpoints.TryGetValue(Key(normalized, m), out var exact))
        {
            return exact;
        }

        var segments = normalized.Split('/');
        PveEndpoint? best = null;
        var bestLiterals = -1;
        foreach (var endpoint in endpoints.Values)
        {
            if (endpoint.Method != m)
            {
                continue;
            }

            var template = endpoint.Path.Split('/');
            if (template.Length != segments.Length)
            {
                continue;
            }

            var literals = 0;
            var matches = true;
            for (var i = 0; i < template.Length && matches; i++)
            {
                if (IsVariable(template[i]))
                {
                    continue;
                }

                matches = template[i] == segments[i];
                literals++;
            }

            // Prefer /nodes/{node}/qemu/status over a sibling that has a variable there.
            if (matches && literals > bestLiterals)
            {
                best = endpoint;
                bestLiterals = literals;
            }
        }

        return best;
    }

    /// <summary>
    /// Checks request parameters the way PVE does before running the handler. With a concrete path
    /// the path variables are checked too (PVE merges them into the parameters); with a template
    /// path they are taken as given.
    /// </summary>
    /// <exception cref="ArgumentException">No such endpoint in the schema.</exception>
    public IReadOnlyList<PveParameterProblem> ValidateParameters(string path, string method, IReadOnlyDictionary<string, string> parameters)
    {
        var endpoint = FindEndpoint(path, method)
            ?? throw new ArgumentException($"The PVE API has no endpoint {method.ToUpperInvariant()} {path}.", nameof(path));

        var values = new Dictionary<string, string>(parameters, StringComparer.Ordinal);
        var templateVariables = new HashSet<string>(StringComparer.Ordinal);
        var given = ("/" + path.Trim('/')).Split('/');
        var template = endpoint.Path.Split('/');
        for (var i = 0; i < template.Length && i < given.Length; i++)
        {
            if (!IsVariable(template[i]))
            {
                continue;
            }

            var name = template[i][1..^1];
            if (IsVariable(given[i]))
            {
                templateVariables.Add(name);
            }
            else
            {
                // The path wins over a same-named body parameter, as PVE merges them.
                values[name] = Uri.UnescapeDataString(given[i]);
            }
        }

        var errors = new PveSchemaChecker.Errors();
        foreach (var (name, schema) in endpoint.Parameters)
        {
            if (name.EndsWith("[n]", StringComparison.Ordinal) || templateVariables.Contains(name))
            {
                continue;
            }

            PveSchemaChecker.CheckProp(values.GetValueOrDefault(name), schema, name, errors);
        }

        foreach (var (name, value) in values)
        {
            if (endpoint.Parameters.TryGetValue(name, out var schema))
            {
                CheckRequires(name, schema, values, errors);
                continue;
            }

            if (FindFamily(endpoint, name) is { } familySchema)
            {
                PveSchemaChecker.CheckProp(value, familySchema, name, errors);
                continue;
            }

            if (!endpoint.AllowsAdditionalProperties)
            {
                errors.Add(name, "property is not defined in schema and the schema does not allow additional properties");
            }
        }

        return [.. errors.Items.Select(kv => new PveParameterProblem(kv.Key, kv.Value)
        {
            SubKeyProblems = [.. errors.SubErrorsOf(kv.Key).Select(sub => new PveSubKeyProblem(sub.Key, sub.Value))],
        })];
    }

    private static void CheckRequires(string name, PveParameterSchema schema, Dictionary<string, string> values, PveSchemaChecker.Errors errors)
    {
        if (schema.Requires is { } required && !values.ContainsKey(required))
        {
            errors.Add(required, $"missing property required by '{name}'");
        }
    }

    /// <summary>scsi7 -> the scsi[n] schema when 7 is within the family's range; null otherwise.</summary>
    public static PveParameterSchema? FindFamily(PveEndpoint endpoint, string name)
    {
        var m = IndexedName().Match(name);
        if (!m.Success)
        {
            return null;
        }

        var family = m.Groups[1].Value;
        if (!endpoint.Parameters.TryGetValue(family + "[n]", out var schema)
            || !int.TryParse(m.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            || name != family + index.ToString(CultureInfo.InvariantCulture))
        {
            return null;
        }

        var max = FamilyMaxIndex.TryGetValue(family, out var known) ? known : DescribedMaxIndex(schema);
        return index <= max ? schema : null;
    }

    // "(n is 0 to 30)" in the description, for a family Taquin has no constant for.
    private static int DescribedMaxIndex(PveParameterSchema schema)
    {
        var m = DescribedRange().Match(schema.Description ?? "");
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    private static PveApiSchema FromDocument(JsonDocument document)
    {
        var endpoints = new Dictionary<string, PveEndpoint>(StringComparer.Ordinal);
        var root = document.RootElement;
        var nodes = root.ValueKind == JsonValueKind.Array ? root : throw new FormatException("The PVE API schema must be a JSON array of tree nodes.");
        var pending = new Stack<JsonElement>(nodes.EnumerateArray());
        while (pending.Count > 0)
        {
            var node = pending.Pop();
            var path = node.GetProperty("path").GetString()!;
            if (node.TryGetProperty("info", out var info) && info.ValueKind == JsonValueKind.Object)
            {
                foreach (var method in info.EnumerateObject())
                {
                    var endpoint = ParseEndpoint(path, method.Name, method.Value);
                    endpoints[Key(path, endpoint.Method)] = endpoint;
                }
            }

            if (node.TryGetProperty("children", out var children) && children.ValueKind == JsonValueKind.Array)
            {
                foreach (var child in children.EnumerateArray())
                {
                    pending.Push(child);
                }
            }
        }

        return new PveApiSchema(endpoints);
    }

    private static PveEndpoint ParseEndpoint(string path, string method, JsonElement info)
    {
        var parameters = new Dictionary<string, PveParameterSchema>(StringComparer.Ordinal);
        // JSONSchema.pm: additionalProperties undefined means allowed; only an explicit 0 forbids.
        var additional = true;
        if (info.TryGetProperty("parameters", out var p) && p.ValueKind == JsonValueKind.Object)
        {
            if (p.TryGetProperty("properties", out var props) && props.ValueKind == JsonValueKind.Object)
            {
                foreach (var prop in props.EnumerateObject())
                {
                    parameters[prop.Name] = PveParameterSchema.FromJson(prop.Value);
                }
            }

            if (p.TryGetProperty("additionalProperties", out var ap))
            {
                additional = ap.ValueKind switch
                {
                    JsonValueKind.Number => ap.GetDecimal() != 0,
                    JsonValueKind.False => false,
                    _ => true,
                };
            }
        }

        var name = info.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        return new PveEndpoint(path, method.ToUpperInvariant(), name, additional, parameters);
    }

    private static string Key(string path, string method) => method + " " + path;

    private static bool IsVariable(string segment) => segment.StartsWith('{') && segment.EndsWith('}');

    [GeneratedRegex(@"^([a-z][a-z_\-]*?)(\d+)$")]
    private static partial Regex IndexedName();

    [GeneratedRegex(@"n is 0 to (\d+)")]
    private static partial Regex DescribedRange();
}
