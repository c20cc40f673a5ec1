using Taquin.Planner.Diagnostics;
using YamlDotNet.RepresentationModel;

namespace Taquin.Planner.Inventory;

/// <summary>
/// Reads fleet.yaml (docs/inventory-format.md) from YamlDotNet's node tree rather than by deserialising,
/// so every unknown key and bad value is reported with its YAML path (hosts[2].ram) and line.
/// </summary>
internal static class FleetYamlReader
{
    public const string FileName = "fleet.yaml";
    private const string Docs = "docs/inventory-format.md";

    public static Fleet? Read(string yaml, List<Diagnostic> diagnostics)
    {
        var root = new YamlSource(FileName, Docs, diagnostics).ReadRoot(yaml, "hosts, oldCeph, newCeph and policy");
        if (root is null)
        {
            return null;
        }

        var hostsNode = root.Sequence("hosts", required: true);
        var hosts = new List<HostSpec>();
        if (hostsNode is not null)
        {
            for (var i = 0; i < hostsNode.Children.Count; i++)
            {
                if (ReadHost(root, hostsNode.Children[i], $"hosts[{i}]") is { } host)
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

    private static HostSpec? ReadHost(YamlMappingReader root, YamlNode node, string path)
    {
        if (root.Item(node, path, "A host must be a mapping (name, ram, cores, nicGbits, disks, ...).", $"Write the host as in {Docs}.") is not { } m)
        {
            return null;
        }

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
                if (m.Item(disksNode.Children[i], diskPath, "A disk group must be a mapping { model, count, size, now, after }.",
                    "Write it as { model: \"...\", count: 2, size: 3.84TB, now: old-ceph-osd, after: zfs }.") is not { } d)
                {
                    continue;
                }

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

    private static OldCephSpec ReadOldCeph(YamlMappingReader m)
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

    private static NewCephSpec ReadNewCeph(YamlMappingReader m)
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

    private static RouterSpec ReadRouter(YamlMappingReader m)
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

    private static PolicySpec ReadPolicy(YamlMappingReader m)
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
        var strategy = m.Choice("defaultStrategy", ["cold", "warm", "attach-and-move"]);
        var fill = m.Double("zfsFillRatio", required: false, min: double.Epsilon, max: 1);
        var dataPath = m.Choice("copyDataPath", ["direct", "relayed", "target-client", "direct-tcp"],
            "direct (hosts pipe to each other over SSH), relayed (through the orchestrator), target-client (the PVE node reads the old Ceph itself; needs the access file's movers.sourceCephConfOnTarget) or direct-tcp (hosts send over plain TCP on a trusted migration network; needs the access file's movers.tcp)");
        var verify = m.Choice("verify", ["full", "sampled"], "full (checksum of the whole disk) or sampled (checksums of blocks; see docs/rates-format.md)");
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
}
