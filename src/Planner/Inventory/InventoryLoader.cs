using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Libvirt;

namespace Taquin.Planner.Inventory;

/// <summary>Outcome of loading an inventory folder; Inventory is null only when nothing usable could be read.</summary>
public sealed record InventoryLoadResult(FleetInventory? Inventory, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.Severity == Severity.Error);
}

/// <summary>
/// Reads an inventory folder (docs/inventory-format.md): fleet.yaml, volumes.json, optional runtime.json
/// and domains/&lt;host&gt;/*.xml. Reports every problem of every file; cross-file checks are
/// <see cref="InventoryValidator"/>'s job.
/// </summary>
public static class InventoryLoader
{
    public const string VolumesFile = "volumes.json";
    public const string RuntimeFile = "runtime.json";
    public const string DomainsFolder = "domains";

    /// <summary>Reads fleet.yaml text alone (for <c>inventory collect</c>, which builds the rest); every problem goes to <paramref name="diagnostics"/>.</summary>
    public static Fleet? ReadFleet(string yaml, List<Diagnostic> diagnostics) => FleetYamlReader.Read(yaml, diagnostics);

    public static InventoryLoadResult Load(string folder)
    {
        var diagnostics = new List<Diagnostic>();
        if (!Directory.Exists(folder))
        {
            diagnostics.Add(Diagnostic.Error(folder, "inventory", "The inventory folder does not exist.",
                "Pass the folder that holds fleet.yaml, volumes.json and domains/<host>/*.xml."));
            return new InventoryLoadResult(null, diagnostics);
        }

        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        byte[]? ReadOptional(string relative)
        {
            var full = Path.Combine(folder, relative);
            if (!File.Exists(full))
            {
                return null;
            }

            var bytes = File.ReadAllBytes(full);
            files[relative] = bytes;
            return bytes;
        }

        var fleetBytes = ReadOptional(FleetYamlReader.FileName);
        Fleet? fleet = null;
        if (fleetBytes is null)
        {
            diagnostics.Add(Diagnostic.Error(FleetYamlReader.FileName, "fleet.yaml", "The inventory has no fleet.yaml.",
                "Create fleet.yaml describing the hosts, oldCeph and policy (see docs/inventory-format.md)."));
        }
        else
        {
            fleet = FleetYamlReader.Read(Decode(fleetBytes), diagnostics);
        }

        var volumesBytes = ReadOptional(VolumesFile);
        VolumeCatalog volumes;
        if (volumesBytes is null)
        {
            diagnostics.Add(Diagnostic.Error(VolumesFile, "volumes.json", "The inventory has no volumes.json, so no disk size is known.",
                "Create volumes.json from `rbd info/du --format json` and `qemu-img info --output=json` (see docs/inventory-format.md)."));
            volumes = new VolumeCatalog();
        }
        else
        {
            volumes = InventoryJsonReader.ReadVolumes(volumesBytes, diagnostics);
        }

        var runtimeBytes = ReadOptional(RuntimeFile);
        var runtime = runtimeBytes is null
            ? new Dictionary<string, RuntimeState>()
            : InventoryJsonReader.ReadRuntime(runtimeBytes, diagnostics);

        var hostFolders = new List<string>();
        var vms = new List<VmRecord>();
        var domainsRoot = Path.Combine(folder, DomainsFolder);
        if (!Directory.Exists(domainsRoot))
        {
            diagnostics.Add(Diagnostic.Error(DomainsFolder, "domains", "The inventory has no domains/ folder, so it holds no VM.",
                "Put each VM's `virsh dumpxml` output in domains/<host>/<vm>.xml."));
        }
        else
        {
            foreach (var hostDir in Directory.GetDirectories(domainsRoot).Order(StringComparer.Ordinal))
            {
                var host = Path.GetFileName(hostDir);
                hostFolders.Add(host);
                foreach (var xmlPath in Directory.GetFiles(hostDir, "*.xml").Order(StringComparer.Ordinal))
                {
                    var relative = $"{DomainsFolder}/{host}/{Path.GetFileName(xmlPath)}";
                    var bytes = File.ReadAllBytes(xmlPath);
                    files[relative] = bytes;
                    var xml = Decode(bytes);
                    var parsed = DomainXmlParser.Parse(xml, relative);
                    diagnostics.AddRange(parsed.Diagnostics);
                    if (parsed.Domain is not { } domain)
                    {
                        continue;
                    }

                    var state = runtime.GetValueOrDefault(domain.Name);
                    vms.Add(new VmRecord
                    {
                        Domain = state?.Autostart is { } autostart ? domain with { Autostart = autostart } : domain,
                        Host = host,
                        SourceFile = relative,
                        Xml = xml,
                        Disks = DisksOf(domain, host, volumes),
                        Running = state?.Running ?? true,
                    });
                }
            }

            foreach (var stray in Directory.GetFiles(domainsRoot).Order(StringComparer.Ordinal))
            {
                diagnostics.Add(Diagnostic.Warn($"{DomainsFolder}/{Path.GetFileName(stray)}", "domains",
                    "File directly under domains/ is ignored: Taquin reads domains/<host>/<vm>.xml, the folder naming the host.",
                    "Move it into the folder of the host the VM runs on."));
            }
        }

        var names = vms.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in runtime.Keys.Where(n => !names.Contains(n)).Order(StringComparer.Ordinal))
        {
            diagnostics.Add(Diagnostic.Warn(RuntimeFile, name, "runtime.json has an entry for a VM that no domain XML defines; it is ignored.",
                "Remove the entry or add the VM's domain XML.", name));
        }

        if (fleet is null)
        {
            return new InventoryLoadResult(null, diagnostics);
        }

        var inventory = new FleetInventory
        {
            Root = Path.GetFullPath(folder),
            Fleet = fleet,
            Vms = vms,
            Volumes = volumes,
            Digest = DigestOf(files),
            HostFolders = hostFolders,
        };
        return new InventoryLoadResult(inventory, diagnostics);
    }

    private static List<VmDisk> DisksOf(LibvirtDomain domain, string host, VolumeCatalog volumes)
        => domain.Disks
            .Where(d => d.VolumeKey is not null)
            .Select(d => new VmDisk(d, d switch
            {
                { IsRbd: true } => volumes.FindRbd(d.NetworkName!),
                { SourceKind: DiskSourceKind.File or DiskSourceKind.Block } => volumes.FindFile(host, d.Path!),
                _ => null,
            }))
            .ToList();

    /// <summary>Relative path and bytes of every file, in ordinal path order, so the digest is stable across machines.</summary>
    private static string DigestOf(SortedDictionary<string, byte[]> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        foreach (var (path, bytes) in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(path));
            hash.AppendData([0]);
            BitConverter.TryWriteBytes(length, (long)bytes.Length);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static string Decode(byte[] bytes)
    {
        // Editors on Windows write a UTF-8 BOM; drop it so every reader sees the text from its first real character.
        var offset = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        return Encoding.UTF8.GetString(bytes, offset, bytes.Length - offset);
    }
}

/// <summary>One runtime.json entry: what <c>virsh dominfo</c> said of a VM.</summary>
internal sealed record RuntimeState(bool? Autostart, bool Running);

/// <summary>volumes.json and runtime.json, read through JsonDocument so errors name the JSON path.</summary>
internal static class InventoryJsonReader
{
    private static readonly JsonDocumentOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    public static VolumeCatalog ReadVolumes(byte[] json, List<Diagnostic> diagnostics)
    {
        const string file = InventoryLoader.VolumesFile;
        using var doc = Parse(json, file, diagnostics);
        if (doc is null)
        {
            return new VolumeCatalog();
        }

        var rbd = new Dictionary<string, VolumeInfo>(StringComparer.Ordinal);
        var files = new Dictionary<string, IReadOnlyDictionary<string, VolumeInfo>>(StringComparer.Ordinal);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            diagnostics.Add(Diagnostic.Error(file, "(root)", "volumes.json must be an object with \"rbd\" and \"files\".",
                "See docs/inventory-format.md for the format."));
            return new VolumeCatalog();
        }

        foreach (var section in doc.RootElement.EnumerateObject())
        {
            switch (section.Name)
            {
                case "rbd" when section.Value.ValueKind == JsonValueKind.Object:
                    foreach (var image in section.Value.EnumerateObject())
                    {
                        if (ReadVolume(image.Value, $"rbd[\"{image.Name}\"]", diagnostics) is { } info)
                        {
                            rbd[image.Name] = info;
                        }
                    }

                    break;
                case "files" when section.Value.ValueKind == JsonValueKind.Object:
                    foreach (var host in section.Value.EnumerateObject())
                    {
                        var byPath = new Dictionary<string, VolumeInfo>(StringComparer.Ordinal);
                        if (host.Value.ValueKind != JsonValueKind.Object)
                        {
                            diagnostics.Add(Diagnostic.Error(file, $"files[\"{host.Name}\"]", "Must be an object of file path -> { size, used }.",
                                "Write { \"/var/lib/libvirt/images/x.qcow2\": { \"size\": 10737418240 } }."));
                            continue;
                        }

                        foreach (var path in host.Value.EnumerateObject())
                        {
                            if (ReadVolume(path.Value, $"files[\"{host.Name}\"][\"{path.Name}\"]", diagnostics) is { } info)
                            {
                                byPath[path.Name] = info;
                            }
                        }

                        files[host.Name] = byPath;
                    }

                    break;
                case "rbd" or "files":
                    diagnostics.Add(Diagnostic.Error(file, section.Name, $"\"{section.Name}\" must be an object.",
                        "See docs/inventory-format.md for the format."));
                    break;
                default:
                    diagnostics.Add(Diagnostic.Error(file, section.Name, $"Unknown key \"{section.Name}\".",
                        "Remove it; volumes.json has only \"rbd\" and \"files\".", section.Name));
                    break;
            }
        }

        return new VolumeCatalog { Rbd = rbd, Files = files };
    }

    private static VolumeInfo? ReadVolume(JsonElement e, string path, List<Diagnostic> diagnostics)
    {
        const string file = InventoryLoader.VolumesFile;
        if (e.ValueKind != JsonValueKind.Object)
        {
            diagnostics.Add(Diagnostic.Error(file, path, "A volume must be an object { \"size\": bytes, \"used\": bytes }.",
                "Write { \"size\": 21474836480, \"used\": 8589934592 }.", e.GetRawText()));
            return null;
        }

        long? size = null;
        long? used = null;
        string? format = null;
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "size" or "used":
                    if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt64(out var n) || n < 0)
                    {
                        diagnostics.Add(Diagnostic.Error(file, $"{path}.{p.Name}", $"\"{p.Name}\" must be a whole number of bytes ≥ 0.",
                            "Write the byte count from `rbd info`/`rbd du` or `qemu-img info`.", p.Value.GetRawText()));
                    }
                    else if (p.Name == "size")
                    {
                        size = n;
                    }
                    else
                    {
                        used = n;
                    }

                    break;
                case "format" when p.Value.ValueKind == JsonValueKind.String:
                    format = p.Value.GetString();
                    break;
                default:
                    diagnostics.Add(Diagnostic.Error(file, $"{path}.{p.Name}", $"Unknown or mistyped key \"{p.Name}\".",
                        "A volume has \"size\", \"used\" (numbers) and \"format\" (text) only.", p.Value.GetRawText()));
                    break;
            }
        }

        if (size is null)
        {
            if (!diagnostics.Any(d => d.Element == $"{path}.size"))
            {
                diagnostics.Add(Diagnostic.Error(file, path, "The volume has no \"size\".", "Add \"size\": <provisioned bytes>."));
            }

            return null;
        }

        return new VolumeInfo(size.Value, used, format);
    }

    public static Dictionary<string, RuntimeState> ReadRuntime(byte[] json, List<Diagnostic> diagnostics)
    {
        const string file = InventoryLoader.RuntimeFile;
        var result = new Dictionary<string, RuntimeState>(StringComparer.Ordinal);
        using var doc = Parse(json, file, diagnostics);
        if (doc is null)
        {
            return result;
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            diagnostics.Add(Diagnostic.Error(file, "(root)", "runtime.json must be an object of VM name -> { autostart, state }.",
                "See docs/inventory-format.md for the format."));
            return result;
        }

        foreach (var vm in doc.RootElement.EnumerateObject())
        {
            if (vm.Value.ValueKind != JsonValueKind.Object)
            {
                diagnostics.Add(Diagnostic.Error(file, vm.Name, "Must be an object { \"autostart\": true, \"state\": \"running\" }.",
                    "Fix the entry.", vm.Value.GetRawText()));
                continue;
            }

            bool? autostart = null;
            var running = true;
            foreach (var p in vm.Value.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "autostart" when p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                        autostart = p.Value.GetBoolean();
                        break;
                    case "state" when p.Value.ValueKind == JsonValueKind.String && IsKnownState(p.Value.GetString()!):
                        // A paused VM still holds its RAM and must be stopped to move: count it as running.
                        running = p.Value.GetString() is not ("shut off" or "shutoff" or "crashed");
                        break;
                    default:
                        diagnostics.Add(Diagnostic.Error(file, $"{vm.Name}.{p.Name}", $"Unknown key or bad value for \"{p.Name}\".",
                            "Use \"autostart\": true|false and \"state\": \"running\"|\"paused\"|\"shut off\" (as `virsh dominfo` prints).",
                            p.Value.GetRawText()));
                        break;
                }
            }

            result[vm.Name] = new RuntimeState(autostart, running);
        }

        return result;
    }

    private static bool IsKnownState(string state)
        => state is "running" or "idle" or "paused" or "in shutdown" or "shut off" or "shutoff" or "crashed" or "pmsuspended" or "blocked";

    private static JsonDocument? Parse(byte[] json, string file, List<Diagnostic> diagnostics)
    {
        try
        {
            var start = json.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
            return JsonDocument.Parse(json.AsMemory(start), Options);
        }
        catch (JsonException ex)
        {
            diagnostics.Add(Diagnostic.Error(file, "json", $"{file} is not valid JSON: {ex.Message}",
                "Fix the JSON at that line (a missing comma, quote or brace).",
                line: ex.LineNumber is { } l ? (int)l + 1 : null,
                column: ex.BytePositionInLine is { } c ? (int)c + 1 : null));
            return null;
        }
    }
}
