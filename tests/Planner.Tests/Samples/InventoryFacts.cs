using System.Text.Json;
using System.Xml.Linq;
using Taquin.Planner.Inventory;
using YamlDotNet.RepresentationModel;

namespace Taquin.Planner.Tests.Samples;

/// <summary>
/// Reads an inventory's files back independently of the generator (YAML, JSON, XML parsers),
/// so the tests check what a reader of the folder sees, not the generator's own bookkeeping.
/// </summary>
internal sealed class InventoryFacts
{
    public required IReadOnlyList<HostFacts> Hosts { get; init; }
    public required IReadOnlyList<VmFacts> Vms { get; init; }
    public required IReadOnlyDictionary<string, (long Size, long Used)> Rbd { get; init; }
    public required IReadOnlyDictionary<(string Host, string Path), (long Size, long Used)> Files { get; init; }
    public required long RamReservePerHost { get; init; }
    public required int PoolSize { get; init; }
    public required double NearfullRatio { get; init; }
    public required IReadOnlyList<string> Monitors { get; init; }
    public required IReadOnlySet<string> RuntimeNames { get; init; }

    public long TotalVmRam => Vms.Sum(v => v.RamBytes);
    public long RbdUsed => Rbd.Values.Sum(v => v.Used);
    public long OldCephRaw => Hosts.Sum(h => h.OldCephRaw);

    public static InventoryFacts Read(IReadOnlyDictionary<string, string> files)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(files["fleet.yaml"]));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var hosts = ((YamlSequenceNode)root["hosts"]).Children.Cast<YamlMappingNode>().Select(HostFacts.From).ToList();
        var oldCeph = (YamlMappingNode)root["oldCeph"];
        var policy = (YamlMappingNode)root["policy"];

        using var volumes = JsonDocument.Parse(files["volumes.json"]);
        var rbd = volumes.RootElement.GetProperty("rbd").EnumerateObject()
            .ToDictionary(p => p.Name, p => (p.Value.GetProperty("size").GetInt64(), p.Value.GetProperty("used").GetInt64()), StringComparer.Ordinal);
        var fileVolumes = new Dictionary<(string, string), (long, long)>();
        foreach (var host in volumes.RootElement.GetProperty("files").EnumerateObject())
        {
            foreach (var file in host.Value.EnumerateObject())
            {
                fileVolumes[(host.Name, file.Name)] = (file.Value.GetProperty("size").GetInt64(), file.Value.GetProperty("used").GetInt64());
            }
        }

        using var runtime = JsonDocument.Parse(files["runtime.json"]);
        return new InventoryFacts
        {
            Hosts = hosts,
            Vms = files.Where(f => f.Key.StartsWith("domains/", StringComparison.Ordinal)).Select(f => VmFacts.From(f.Key, f.Value)).ToList(),
            Rbd = rbd,
            Files = fileVolumes,
            RamReservePerHost = Bytes(policy["ramReservePerHost"]),
            PoolSize = int.Parse(Text(oldCeph["poolSize"]), System.Globalization.CultureInfo.InvariantCulture),
            NearfullRatio = double.Parse(Text(oldCeph["nearfullRatio"]), System.Globalization.CultureInfo.InvariantCulture),
            Monitors = ((YamlSequenceNode)oldCeph["monitors"]).Children.Select(Text).ToList(),
            RuntimeNames = runtime.RootElement.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal),
        };
    }

    internal static string Text(YamlNode node) => ((YamlScalarNode)node).Value!;

    internal static long Bytes(YamlNode node) => ByteSize.TryParse(Text(node), out var b) ? b : throw new FormatException(Text(node));
}

internal sealed record HostDiskFacts(int Count, long Size, string Now, string After);

internal sealed record HostFacts(string Name, long Ram, int Cores, double NicGbits, IReadOnlyList<HostDiskFacts> Disks)
{
    public int Bays => Disks.Sum(d => d.Count);
    public long OldCephRaw => Disks.Where(d => d.Now == "old-ceph-osd").Sum(d => d.Count * d.Size);
    public long NewCephRaw => Disks.Where(d => d.After == "new-ceph-osd").Sum(d => d.Count * d.Size);

    /// <summary>Mirror pool: half the disks that become ZFS, bounded by the smallest.</summary>
    public long ZfsMirrorUsable
    {
        get
        {
            var zfs = Disks.Where(d => d.After == "zfs").ToList();
            return zfs.Sum(d => d.Count) / 2 * zfs.Min(d => d.Size);
        }
    }

    public static HostFacts From(YamlMappingNode node)
    {
        var disks = ((YamlSequenceNode)node["disks"]).Children.Cast<YamlMappingNode>()
            .Select(d => new HostDiskFacts(
                int.Parse(InventoryFacts.Text(d["count"]), System.Globalization.CultureInfo.InvariantCulture),
                InventoryFacts.Bytes(d["size"]),
                InventoryFacts.Text(d["now"]),
                InventoryFacts.Text(d["after"])))
            .ToList();
        return new HostFacts(
            InventoryFacts.Text(node["name"]),
            InventoryFacts.Bytes(node["ram"]),
            int.Parse(InventoryFacts.Text(node["cores"]), System.Globalization.CultureInfo.InvariantCulture),
            double.Parse(InventoryFacts.Text(node["nicGbits"]), System.Globalization.CultureInfo.InvariantCulture),
            disks);
    }
}

internal sealed record DiskFacts(string Type, string Device, string? Bus, string? RbdName, string? FilePath, string? Format);

internal sealed record VmFacts(
    string FilePath,
    string Host,
    XElement Domain,
    string Name,
    string Uuid,
    long RamBytes,
    int VcpuMax,
    int VcpuCurrent,
    bool Ovmf,
    IReadOnlyList<DiskFacts> Disks,
    IReadOnlyList<XElement> Interfaces)
{
    public IEnumerable<DiskFacts> DataDisks => Disks.Where(d => d.Device == "disk");

    public static VmFacts From(string path, string xml)
    {
        var domain = XElement.Parse(xml);
        var vcpu = domain.Element("vcpu")!;
        var disks = domain.Element("devices")!.Elements("disk").Select(d => new DiskFacts(
            (string)d.Attribute("type")!,
            (string)d.Attribute("device")!,
            (string?)d.Element("target")?.Attribute("bus"),
            (string?)d.Element("source")?.Attribute("name"),
            (string?)d.Element("source")?.Attribute("file"),
            (string?)d.Element("driver")?.Attribute("type"))).ToList();
        var memory = domain.Element("memory")!;
        Assert.Equal("KiB", (string?)memory.Attribute("unit"));
        return new VmFacts(
            path,
            path.Split('/')[1],
            domain,
            (string)domain.Element("name")!,
            (string)domain.Element("uuid")!,
            (long)memory * 1024,
            (int)vcpu,
            (int?)vcpu.Attribute("current") ?? (int)vcpu,
            domain.Element("os")!.Element("loader") is not null,
            disks,
            domain.Element("devices")!.Elements("interface").ToList());
    }
}
