using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Taquin.Executors.Adapters;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;

namespace Taquin.Executors.Inventory;

/// <summary>Progress of a collection: one line per host, moving as its domains and disks are read.</summary>
public sealed record CollectProgress(string Host, int Done, int Total, string What);

/// <summary>A host (or the Ceph admin host) could not be read; the message names it.</summary>
public sealed class InventoryCollectException(string host, string message, Exception? inner = null)
    : Exception($"{host}: {message}", inner)
{
    public string Host { get; } = host;
}

/// <summary>What a collection wrote and what it had to leave out.</summary>
public sealed record CollectResult(int Hosts, int Domains, int RbdVolumes, int FileVolumes, IReadOnlyList<string> Warnings);

/// <summary>
/// Builds an inventory folder (docs/inventory-format.md) from live hosts: per libvirt host <c>virsh list --all</c>,
/// <c>dumpxml</c>, state and autostart; RBD sizes from <c>rbd du</c> on the Ceph admin host; file disk sizes from
/// <c>qemu-img info</c> on the host holding them. fleet.yaml is copied as given.
/// </summary>
public sealed class InventoryCollector(ILibvirtHost libvirt, ICephCluster? ceph, ISshRunner ssh)
{
    public const string FleetFileName = "fleet.yaml";

    private sealed record CollectedDomain(string Host, string Name, string Xml, LibvirtDomain Parsed, DomainRunState State, bool Autostart);

    public async Task<CollectResult> CollectAsync(Fleet fleet, string fleetYaml, string outputFolder, IProgress<CollectProgress>? progress = null, CancellationToken ct = default)
    {
        var warnings = new List<string>();
        var hosts = fleet.Hosts.Where(h => !h.Excluded && !h.AlreadyPve).Select(h => h.Name).ToList();
        var perHost = new Dictionary<string, List<CollectedDomain>>(StringComparer.Ordinal);
        // A few hosts at a time: each costs some SSH round trips per domain, and a fleet has dozens of hosts.
        await Parallel.ForEachAsync(hosts, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (host, token) =>
        {
            var (domains, hostWarnings) = await CollectHostAsync(host, progress, token);
            lock (perHost)
            {
                perHost[host] = domains;
                warnings.AddRange(hostWarnings);
            }
        });

        var all = hosts.SelectMany(h => perHost[h]).ToList();
        var rbd = await RbdVolumesAsync(all, warnings, progress, ct);
        var files = await FileVolumesAsync(all, warnings, progress, ct);

        // PVE hosts run no libvirt VM: their empty folders say so, as the loader expects a folder per host.
        Write(outputFolder, fleetYaml, [.. fleet.Hosts.Where(h => !h.Excluded).Select(h => h.Name)], all, rbd, files);
        return new CollectResult(hosts.Count, all.Count, rbd.Count, files.Sum(f => f.Value.Count), warnings);
    }

    private async Task<(List<CollectedDomain> Domains, List<string> Warnings)> CollectHostAsync(string host, IProgress<CollectProgress>? progress, CancellationToken ct)
    {
        var warnings = new List<string>();
        var collected = new List<CollectedDomain>();
        IReadOnlyList<string> names;
        try
        {
            names = await libvirt.ListDomainsAsync(host, ct);
        }
        catch (AdapterException ex)
        {
            throw new InventoryCollectException(host, $"cannot list its domains ({ex.Message}); check the host's SSH access and libvirt URI", ex);
        }

        progress?.Report(new CollectProgress(host, 0, names.Count, "domains"));
        foreach (var name in names)
        {
            try
            {
                var xml = await libvirt.DumpXmlAsync(host, name, ct);
                var state = await libvirt.GetDomainStateAsync(host, name, ct);
                if (state == DomainRunState.Undefined)
                {
                    warnings.Add($"{host}: domain {name} was undefined while being collected; left out");
                    continue;
                }

                var autostart = await libvirt.GetAutostartAsync(host, name, ct);
                var parsed = DomainXmlParser.Parse(xml, $"{host}/{name}");
                if (parsed.Domain is not { } domain)
                {
                    throw new InventoryCollectException(host, $"domain {name}: its XML does not parse: {string.Join("; ", parsed.Diagnostics.Select(d => d.Message))}");
                }

                collected.Add(new CollectedDomain(host, name, xml, domain, state, autostart));
            }
            catch (AdapterException ex)
            {
                // Undefined between the list and the dump: a VM an operator removed meanwhile, not a collection failure.
                if (await libvirt.GetDomainStateAsync(host, name, ct) != DomainRunState.Undefined)
                {
                    throw new InventoryCollectException(host, $"domain {name}: {ex.Message}", ex);
                }

                warnings.Add($"{host}: domain {name} vanished while being collected ({ex.Message}); left out");
            }

            progress?.Report(new CollectProgress(host, collected.Count, names.Count, "domains"));
        }

        return (collected, warnings);
    }

    private async Task<SortedDictionary<string, RbdImageUsage>> RbdVolumesAsync(List<CollectedDomain> domains, List<string> warnings, IProgress<CollectProgress>? progress, CancellationToken ct)
    {
        var keys = domains.SelectMany(d => d.Parsed.Disks).Where(d => d.IsRbd && !d.IsCdrom && d.NetworkName is not null)
            .Select(d => d.NetworkName!).ToHashSet(StringComparer.Ordinal);
        var result = new SortedDictionary<string, RbdImageUsage>(StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            return result;
        }

        if (ceph is null)
        {
            throw new InventoryCollectException("ceph", $"{keys.Count} RBD disk(s) (e.g. {keys.Order(StringComparer.Ordinal).First()}) need sizes, but no Ceph admin host is configured (--ceph-host)");
        }

        var pools = keys.Select(k => k[..Math.Max(0, k.IndexOf('/', StringComparison.Ordinal))]).Where(p => p.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var done = 0;
        progress?.Report(new CollectProgress("ceph", 0, pools.Count, "pools"));
        foreach (var pool in pools)
        {
            try
            {
                foreach (var usage in await ceph.ListImageUsageAsync(pool, ct))
                {
                    if (keys.Contains(usage.Image))
                    {
                        result[usage.Image] = usage;
                    }
                }
            }
            catch (AdapterException ex)
            {
                throw new InventoryCollectException("ceph", $"rbd du of pool {pool} failed: {ex.Message}", ex);
            }

            progress?.Report(new CollectProgress("ceph", ++done, pools.Count, "pools"));
        }

        foreach (var missing in keys.Where(k => !result.ContainsKey(k)).Order(StringComparer.Ordinal))
        {
            warnings.Add($"ceph: RBD image {missing} used by a domain is not in `rbd du` of its pool; it has no size in volumes.json");
        }

        return result;
    }

    private async Task<SortedDictionary<string, SortedDictionary<string, VolumeInfo>>> FileVolumesAsync(List<CollectedDomain> domains, List<string> warnings,
        IProgress<CollectProgress>? progress, CancellationToken ct)
    {
        var result = new SortedDictionary<string, SortedDictionary<string, VolumeInfo>>(StringComparer.Ordinal);
        foreach (var byHost in domains.GroupBy(d => d.Host, StringComparer.Ordinal))
        {
            var paths = byHost.SelectMany(d => d.Parsed.Disks)
                .Where(d => d.SourceKind is DiskSourceKind.File or DiskSourceKind.Block && !d.IsCdrom && d.Path is not null)
                .Select(d => d.Path!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            if (paths.Count == 0)
            {
                continue;
            }

            var volumes = new SortedDictionary<string, VolumeInfo>(StringComparer.Ordinal);
            foreach (var path in paths)
            {
                // -U: a running guest holds a write lock on its image; reading the header is safe anyway.
                var info = await ssh.RunAsync(byHost.Key, ["qemu-img", "info", "-U", "--output", "json", path], null, ct);
                if (!info.Succeeded)
                {
                    warnings.Add($"{byHost.Key}: qemu-img info {path} failed ({info.Stderr.Trim()}); it has no size in volumes.json");
                    continue;
                }

                volumes[path] = ParseQemuImgInfo(info.Stdout, byHost.Key, path);
                progress?.Report(new CollectProgress(byHost.Key, volumes.Count, paths.Count, "file disks"));
            }

            result[byHost.Key] = volumes;
        }

        return result;
    }

    /// <summary><c>qemu-img info --output json</c>: virtual-size is the provisioned size, actual-size what the file allocates.</summary>
    public static VolumeInfo ParseQemuImgInfo(string json, string host, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            long? actual = root.TryGetProperty("actual-size", out var a) && a.TryGetInt64(out var n) ? n : null;
            var format = root.TryGetProperty("format", out var f) ? f.GetString() : null;
            return new VolumeInfo(root.GetProperty("virtual-size").GetInt64(), actual, format);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InventoryCollectException(host, $"qemu-img info {path} printed no usable JSON: {ex.Message}", ex);
        }
    }

    private static void Write(string folder, string fleetYaml, IReadOnlyList<string> hosts, List<CollectedDomain> domains,
        SortedDictionary<string, RbdImageUsage> rbd, SortedDictionary<string, SortedDictionary<string, VolumeInfo>> files)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, FleetFileName), fleetYaml, new UTF8Encoding(false));
        foreach (var host in hosts)
        {
            Directory.CreateDirectory(Path.Combine(folder, InventoryLoader.DomainsFolder, host));
        }

        foreach (var d in domains)
        {
            File.WriteAllText(Path.Combine(folder, InventoryLoader.DomainsFolder, d.Host, d.Name + ".xml"), d.Xml, new UTF8Encoding(false));
        }

        var volumes = new JsonObject
        {
            ["rbd"] = new JsonObject(rbd.Select(r => KeyValuePair.Create(r.Key, (JsonNode?)new JsonObject { ["size"] = r.Value.ProvisionedBytes, ["used"] = r.Value.UsedBytes }))),
            ["files"] = new JsonObject(files.Select(h => KeyValuePair.Create(h.Key, (JsonNode?)new JsonObject(h.Value.Select(f =>
                KeyValuePair.Create(f.Key, (JsonNode?)Volume(f.Value))))))),
        };
        var runtime = new JsonObject(domains.OrderBy(d => d.Name, StringComparer.Ordinal).Select(d => KeyValuePair.Create(d.Name,
            (JsonNode?)new JsonObject { ["autostart"] = d.Autostart, ["state"] = StateWord(d.State) })));
        var options = new JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(folder, InventoryLoader.VolumesFile), volumes.ToJsonString(options) + "\n", new UTF8Encoding(false));
        File.WriteAllText(Path.Combine(folder, InventoryLoader.RuntimeFile), runtime.ToJsonString(options) + "\n", new UTF8Encoding(false));
    }

    private static JsonObject Volume(VolumeInfo v)
    {
        var o = new JsonObject { ["size"] = v.SizeBytes };
        if (v.UsedBytes is { } used)
        {
            o["used"] = used;
        }

        if (v.Format is { } format)
        {
            o["format"] = format;
        }

        return o;
    }

    /// <summary>The words runtime.json takes (as <c>virsh dominfo</c> prints them).</summary>
    private static string StateWord(DomainRunState state) => state switch
    {
        DomainRunState.Running => "running",
        DomainRunState.Paused => "paused",
        _ => "shut off",
    };
}
