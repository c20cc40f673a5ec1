using System.Globalization;
using Taquin.Planner.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Taquin.Planner.Inventory;

/// <summary>
/// Reads fleet.yaml (docs/inventory-format.md) from YamlDotNet's node tree rather than by deserialising,
/// so every unknown key and bad value is reported with its YAML path (hosts[2].ram) and line.
/// </summary>
internal static class FleetYamlReader
{
    public const string FileName = "fleet.yaml";

    public static Fleet? Read(string yaml, List<Diagnostic> diagnostics)
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
            diagnostics.Add(Diagnostic.Error(FileName, "yaml", $"fleet.yaml is not valid YAML: {ex.InnerException?.Message ?? ex.Message}",
                "Fix the YAML syntax at that line and column (indentation, quotes, a missing colon).",
                line: (int)ex.Start.Line, column: (int)ex.Start.Column));
            return null;
        }

        if (rootNode is not YamlMappingNode rootMap)
        {
            diagnostics.Add(Diagnostic.Error(FileName, "(root)", "fleet.yaml must be a mapping with hosts, oldCeph, newCeph and policy.",
                "Start from the example in docs/inventory-format.md."));
            return null;
        }

        var root = new Map(rootMap, "", diagnostics);
        var hostsNode = root.Sequence("hosts", required: true);
        var hosts = new List<HostSpec>();
        if (hostsNode is not null)
        {
            for (var i = 0; i < hostsNode.Children.Count; i++)
            {
                if (ReadHost(hostsNode.Children[i], $"hosts[{i}]", diagnostics) is { } host)
                {
                    hosts.Add(host);
                }
            }
        }

        var oldCeph = root.Mapping("oldCeph", required: true) is { } oc ? ReadOldCeph(oc) : null;
        var newCeph = root.Mapping("newCeph", required: false) is { } nc ? ReadNewCeph(nc) : new NewCephSpec();
        PolicySpec? policy = root.Mapping("policy", required: true) is { } p ? ReadPolicy(p) : null;
        var router = root.Mapping("router", required: false) is { } r ? ReadRouter(r) : null;
        root.ReportUnknown();

        // Missing sections are already reported; defaults keep the rest of the inventory checkable.
        return new Fleet
        {
            Hosts = hosts,
            OldCeph = oldCeph ?? new OldCephSpec(),
            NewCeph = newCeph,
            Policy = policy ?? new PolicySpec { VlanRange = FallbackVlans },
            Router = router,
        };
    }

    private static HostSpec? ReadHost(YamlNode node, string path, List<Diagnostic> diagnostics)
    {
        if (node is not YamlMappingNode mapping)
        {
            diagnostics.Add(Map.NodeError(node, path, "A host must be a mapping (name, ram, cores, nicGbits, disks, ...).",
                "Write the host as in docs/inventory-format.md."));
            return null;
        }

        var m = new Map(mapping, path, diagnostics);
        var name = m.String("name", required: true);
        var ram = m.Size("ram", required: true);
        var cores = m.Int("cores", required: true, min: 1);
        var nic = m.Double("nicGbits", required: true, min: double.Epsilon, max: 10_000);
        var ssh = m.String("ssh", required: false);
        var layout = m.Enum("zfsLayout", ZfsLayouts, ZfsLayout.Mirror);
        var excluded = m.Bool("excluded") ?? false;
        var alreadyPve = m.Bool("alreadyPve") ?? false;
        var disks = new List<HostDiskGroup>();
        if (m.Sequence("disks", required: false) is { } disksNode)
        {
            for (var i = 0; i < disksNode.Children.Count; i++)
            {
                var diskPath = $"{path}.disks[{i}]";
                if (disksNode.Children[i] is not YamlMappingNode diskMap)
                {
                    diagnostics.Add(Map.NodeError(disksNode.Children[i], diskPath, "A disk group must be a mapping { model, count, size, now, after }.",
                        "Write it as { model: \"...\", count: 2, size: 3.84TB, now: old-ceph-osd, after: zfs }."));
                    continue;
                }

                var d = new Map(diskMap, diskPath, diagnostics);
                var model = d.String("model", required: false) ?? "";
                var count = d.Int("count", required: false, min: 0) ?? 1;
                var size = d.Size("size", required: true);
                var now = d.Enum("now", NowRoles, DiskRole.None, required: true);
                var after = d.Enum("after", AfterRoles, DiskRole.None, required: true);
                d.ReportUnknown();
                if (size is not null)
                {
                    disks.Add(new HostDiskGroup(model, count, size.Value, now, after));
                }
            }
        }

        m.ReportUnknown();
        if (name is null || ram is null || cores is null || nic is null)
        {
            return null;
        }

        return new HostSpec
        {
            Name = name,
            RamBytes = ram.Value,
            Cores = cores.Value,
            NicGbits = nic.Value,
            Ssh = ssh,
            ZfsLayout = layout,
            Excluded = excluded,
            AlreadyPve = alreadyPve,
            Disks = disks,
        };
    }

    private static OldCephSpec ReadOldCeph(Map m)
    {
        var defaults = new OldCephSpec();
        var spec = new OldCephSpec
        {
            PoolSize = m.Int("poolSize", required: false, min: 1) ?? defaults.PoolSize,
            NearfullRatio = m.Double("nearfullRatio", required: false, min: double.Epsilon, max: 1) ?? defaults.NearfullRatio,
            Pools = m.StringList("pools") ?? [],
            Monitors = m.StringList("monitors") ?? [],
        };
        m.ReportUnknown();
        return spec;
    }

    private static NewCephSpec ReadNewCeph(Map m)
    {
        var defaults = new NewCephSpec();
        var spec = new NewCephSpec
        {
            PoolSize = m.Int("poolSize", required: false, min: 1) ?? defaults.PoolSize,
            NearfullRatio = m.Double("nearfullRatio", required: false, min: double.Epsilon, max: 1) ?? defaults.NearfullRatio,
            PoolName = m.String("poolName", required: false) ?? defaults.PoolName,
            MinHosts = m.Int("minHosts", required: false, min: 1) ?? defaults.MinHosts,
        };
        m.ReportUnknown();
        return spec;
    }

    /// <summary>Stands in for a missing or broken vlanRange (an error already says so).</summary>
    private static readonly VlanRange FallbackVlans = new(1, 4094);

    private static RouterSpec ReadRouter(Map m)
    {
        var defaults = new RouterSpec();
        var spec = defaults with
        {
            Host = m.String("host", required: false) ?? defaults.Host,
            Ssh = m.String("ssh", required: false),
            Trunk = m.String("trunk", required: false) ?? defaults.Trunk,
            TrunkNetworkFile = m.String("trunkNetworkFile", required: false) ?? defaults.TrunkNetworkFile,
            NetworkdDirectory = m.String("networkdDir", required: false) ?? defaults.NetworkdDirectory,
            BirdDirectory = m.String("birdDir", required: false) ?? defaults.BirdDirectory,
            BirdSocket = m.String("birdSocket", required: false) ?? defaults.BirdSocket,
            Apply = m.Enum("apply", RouterApplyModes, RouterApplyMode.Networkd),
        };
        m.ReportUnknown();
        return spec;
    }

    private static readonly Dictionary<string, RouterApplyMode> RouterApplyModes = new()
    {
        ["networkd"] = RouterApplyMode.Networkd,
        ["iproute2"] = RouterApplyMode.Iproute2,
    };

    private static PolicySpec ReadPolicy(Map m)
    {
        var defaults = new PolicySpec { VlanRange = new VlanRange(1, 1) };
        var reserve = m.Size("ramReservePerHost", required: false);
        var slots = m.Int("copySlotsPerHost", required: false, min: 1);
        var window = m.Double("waveWindowHours", required: false, min: double.Epsilon, max: 24 * 365);
        VlanRange? vlans = null;
        if (m.Mapping("vlanRange", required: true) is { } v)
        {
            var from = v.Int("from", required: true, min: 1, max: 4094);
            var to = v.Int("to", required: true, min: 1, max: 4094);
            v.ReportUnknown();
            if (from is not null && to is not null)
            {
                if (from > to)
                {
                    v.ErrorAt("to", $"vlanRange.to ({to}) is below vlanRange.from ({from}).", "Swap them: from is the first VLAN id, to the last.", to.ToString());
                }
                else
                {
                    vlans = new VlanRange(from.Value, to.Value);
                }
            }
        }

        var bridge = m.String("bridge", required: false);
        var strategy = m.String("defaultStrategy", required: false);
        if (strategy is not null && strategy is not ("cold" or "warm" or "attach-and-move"))
        {
            m.ErrorAt("defaultStrategy", "Unknown disk strategy.", "Use one of: cold, warm, attach-and-move.", strategy);
            strategy = null;
        }

        var fill = m.Double("zfsFillRatio", required: false, min: double.Epsilon, max: 1);
        var dataPath = m.String("copyDataPath", required: false);
        if (dataPath is not null && dataPath is not ("direct" or "relayed" or "target-client" or "direct-tcp"))
        {
            m.ErrorAt("copyDataPath", "Unknown copy data path.", "Use direct (hosts pipe to each other over SSH), relayed (through the orchestrator) target-client (the PVE node reads the old Ceph itself; needs the access file's movers.sourceCephConfOnTarget) or direct-tcp (hosts send over plain TCP on a trusted migration network; needs the access file's movers.tcp).", dataPath);
            dataPath = null;
        }

        var verify = m.String("verify", required: false);
        if (verify is not null && verify is not ("full" or "sampled"))
        {
            m.ErrorAt("verify", "Unknown verification mode.", "Use full (checksum of the whole disk) or sampled (checksums of blocks; see docs/rates-format.md).", verify);
            verify = null;
        }

        var rates = m.String("rates", required: false);
        m.ReportUnknown();
        return defaults with
        {
            RamReservePerHostBytes = reserve ?? defaults.RamReservePerHostBytes,
            CopySlotsPerHost = slots ?? defaults.CopySlotsPerHost,
            WaveWindowHours = window ?? defaults.WaveWindowHours,
            VlanRange = vlans ?? FallbackVlans,
            Bridge = bridge ?? defaults.Bridge,
            DefaultStrategy = strategy ?? defaults.DefaultStrategy,
            ZfsFillRatio = fill ?? defaults.ZfsFillRatio,
            CopyDataPath = dataPath ?? defaults.CopyDataPath,
            Verify = verify ?? defaults.Verify,
            RatesFile = rates,
        };
    }

    private static readonly Dictionary<string, ZfsLayout> ZfsLayouts = new()
    {
        ["stripe"] = ZfsLayout.Stripe,
        ["mirror"] = ZfsLayout.Mirror,
        ["raidz1"] = ZfsLayout.RaidZ1,
        ["raidz2"] = ZfsLayout.RaidZ2,
    };

    private static readonly Dictionary<string, DiskRole> NowRoles = new()
    {
        ["system"] = DiskRole.System,
        ["old-ceph-osd"] = DiskRole.OldCephOsd,
        ["local-images"] = DiskRole.LocalImages,
        ["none"] = DiskRole.None,
    };

    private static readonly Dictionary<string, DiskRole> AfterRoles = new()
    {
        ["system"] = DiskRole.System,
        ["zfs"] = DiskRole.Zfs,
        ["new-ceph-osd"] = DiskRole.NewCephOsd,
        ["none"] = DiskRole.None,
    };

    /// <summary>A YAML mapping being read: remembers which keys were used so the rest can be reported as unknown.</summary>
    private sealed class Map(YamlMappingNode node, string path, List<Diagnostic> diagnostics)
    {
        private readonly HashSet<string> used = [];

        private string PathOf(string key) => path.Length == 0 ? key : $"{path}.{key}";

        public static Diagnostic NodeError(YamlNode node, string path, string message, string fix, string? value = null)
            => Diagnostic.Error(FileName, path, message, fix, value, (int)node.Start.Line, (int)node.Start.Column);

        private YamlNode? Get(string key, bool required, string expected)
        {
            used.Add(key);
            if (node.Children.TryGetValue(new YamlScalarNode(key), out var value)
                && !(value is YamlScalarNode { Value: null or "" } s && s.Style == ScalarStyle.Plain))
            {
                return value;
            }

            if (required)
            {
                diagnostics.Add(NodeError(node, PathOf(key), $"Required key '{key}' is missing.", $"Add '{key}: {expected}' here (see docs/inventory-format.md)."));
            }

            return null;
        }

        public void ErrorAt(string key, string message, string fix, string? value)
        {
            var at = node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : node;
            diagnostics.Add(NodeError(at, PathOf(key), message, fix, value));
        }

        private string? Scalar(string key, bool required, string expected)
        {
            var value = Get(key, required, expected);
            if (value is null)
            {
                return null;
            }

            if (value is YamlScalarNode scalar)
            {
                return scalar.Value;
            }

            diagnostics.Add(NodeError(value, PathOf(key), $"'{key}' must be a single value, not a list or mapping.", $"Write '{key}: {expected}'."));
            return null;
        }

        public string? String(string key, bool required) => Scalar(key, required, "<text>");

        public long? Size(string key, bool required)
        {
            var text = Scalar(key, required, "128GiB");
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
            var text = Scalar(key, required, "<integer>");
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
            var text = Scalar(key, required, "<number>");
            if (text is null)
            {
                return null;
            }

            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < min || n > max || double.IsNaN(n))
            {
                var lower = min == double.Epsilon ? "above 0" : $"at least {min.ToString(CultureInfo.InvariantCulture)}";
                ErrorAt(key, $"Must be a number {lower} and at most {max.ToString(CultureInfo.InvariantCulture)}.",
                    $"Write a number {lower} and at most {max.ToString(CultureInfo.InvariantCulture)}.", text);
                return null;
            }

            return n;
        }

        public bool? Bool(string key)
        {
            var text = Scalar(key, false, "true|false");
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

        public T Enum<T>(string key, Dictionary<string, T> allowed, T fallback, bool required = false)
        {
            var text = Scalar(key, required, string.Join("|", allowed.Keys));
            if (text is null)
            {
                return fallback;
            }

            if (allowed.TryGetValue(text, out var value))
            {
                return value;
            }

            ErrorAt(key, $"Unknown value for '{key}'.", $"Use one of: {string.Join(", ", allowed.Keys)}.", text);
            return fallback;
        }

        public IReadOnlyList<string>? StringList(string key)
        {
            var value = Get(key, false, "[a, b]");
            if (value is null)
            {
                return null;
            }

            if (value is YamlSequenceNode seq && seq.Children.All(c => c is YamlScalarNode))
            {
                return seq.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToList();
            }

            diagnostics.Add(NodeError(value, PathOf(key), $"'{key}' must be a list of values.", $"Write '{key}: [a, b]'."));
            return null;
        }

        public YamlSequenceNode? Sequence(string key, bool required)
        {
            var value = Get(key, required, "[...]");
            if (value is null or YamlSequenceNode)
            {
                return (YamlSequenceNode?)value;
            }

            diagnostics.Add(NodeError(value, PathOf(key), $"'{key}' must be a list.", $"Write '{key}:' followed by '- ...' items."));
            return null;
        }

        public Map? Mapping(string key, bool required)
        {
            var value = Get(key, required, "{ ... }");
            if (value is null)
            {
                return null;
            }

            if (value is YamlMappingNode mapping)
            {
                return new Map(mapping, PathOf(key), diagnostics);
            }

            diagnostics.Add(NodeError(value, PathOf(key), $"'{key}' must be a mapping of keys.", "See docs/inventory-format.md for its keys."));
            return null;
        }

        public void ReportUnknown()
        {
            foreach (var (keyNode, _) in node.Children)
            {
                var key = (keyNode as YamlScalarNode)?.Value ?? keyNode.ToString();
                if (!used.Contains(key))
                {
                    diagnostics.Add(NodeError(keyNode, PathOf(key), $"Unknown key '{key}'.",
                        used.Count == 0 ? "Remove it (see docs/inventory-format.md)." : $"Remove it or fix its spelling; known keys here: {string.Join(", ", used)}.", key));
                }
            }
        }
    }
}
