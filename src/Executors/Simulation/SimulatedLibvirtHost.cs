using System.Text.RegularExpressions;
using Taquin.Executors.Adapters;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Simulation;

/// <summary>libvirt on the twin's hosts.</summary>
public sealed partial class SimulatedLibvirtHost(ClusterTwin twin) : ILibvirtHost
{
    public async Task<IReadOnlyList<string>> ListDomainsAsync(string host, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.list", ct);
        lock (twin.Gate)
        {
            var h = LibvirtHost(host);
            Settle(h);
            return [.. h.Domains.Keys.Order(StringComparer.Ordinal)];
        }
    }

    public async Task<DomainRunState> GetDomainStateAsync(string host, string domain, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.domstate", ct);
        lock (twin.Gate)
        {
            var h = LibvirtHost(host);
            Settle(h);
            return h.Domains.TryGetValue(domain, out var d) ? d.Running ? DomainRunState.Running : DomainRunState.ShutOff : DomainRunState.Undefined;
        }
    }

    public async Task<string> DumpXmlAsync(string host, string domain, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.dumpxml", ct);
        lock (twin.Gate)
        {
            return Domain(host, domain).Xml;
        }
    }

    public async Task<DomainBlockInfo> GetBlockInfoAsync(string host, string domain, string target, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.domblkinfo", ct);
        lock (twin.Gate)
        {
            _ = Domain(host, domain);
            var disk = twin.Inventory.Vms.FirstOrDefault(v => v.Name == domain)?.Disks.FirstOrDefault(d => d.Device.TargetDev == target)
                ?? throw new LibvirtException($"invalid argument: no disk with target {target} in domain {domain}", isTransient: false);
            var size = disk.Volume?.SizeBytes ?? 0;
            var used = disk.Volume?.UsedBytes ?? size;
            return new DomainBlockInfo(size, used, disk.Device.IsRbd ? size : used);
        }
    }

    public async Task ShutdownAsync(string host, string domain, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.shutdown", ct);
        twin.Count("libvirt.shutdown");
        lock (twin.Gate)
        {
            var d = Domain(host, domain);
            if (d.Running && twin.AcpiShutdownTime is { } acpi)
            {
                d.ShutdownCompletesAt ??= twin.Clock.GetUtcNow() + acpi;
            }
        }
    }

    public async Task DestroyAsync(string host, string domain, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.destroy", ct);
        twin.Count("libvirt.destroy");
        lock (twin.Gate)
        {
            var d = Domain(host, domain);
            if (d.Running)
            {
                d.Running = false;
                d.ShutdownCompletesAt = null;
                twin.NoteRunChange(domain, false);
            }
        }
    }

    public async Task StartAsync(string host, string domain, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.start", ct);
        twin.Count("libvirt.start");
        lock (twin.Gate)
        {
            var d = Domain(host, domain);
            if (!d.Running)
            {
                d.Running = true;
                d.ShutdownCompletesAt = null;
                twin.NoteRunChange(domain, true);
            }
        }
    }

    public async Task<bool> GetAutostartAsync(string host, string domain, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.autostart-get", ct);
        lock (twin.Gate)
        {
            return Domain(host, domain).Autostart;
        }
    }

    public async Task SetAutostartAsync(string host, string domain, bool enabled, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.autostart", ct);
        lock (twin.Gate)
        {
            Domain(host, domain).Autostart = enabled;
        }
    }

    public async Task<string> UndefineAsync(string host, string domain, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.undefine", ct);
        twin.Count("libvirt.undefine");
        lock (twin.Gate)
        {
            var h = LibvirtHost(host);
            Settle(h);
            var d = Domain(host, domain);
            if (d.Running)
            {
                throw new LibvirtException($"domain {domain} on {host} is running; shut it off before undefining it", isTransient: false);
            }

            h.Domains.Remove(domain);
            return d.Xml;
        }
    }

    public async Task DefineAsync(string host, string xml, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.define", ct);
        lock (twin.Gate)
        {
            var name = DomainName().Match(xml) is { Success: true } m ? m.Groups[1].Value
                : throw new LibvirtException("domain XML has no <name>", isTransient: false);
            var h = LibvirtHost(host);
            if (h.Domains.TryGetValue(name, out var existing))
            {
                // A redefinition that no longer names an overlay puts that disk back on its base file.
                foreach (var (target, overlay) in existing.Overlays.Where(o => !xml.Contains(o.Value, StringComparison.Ordinal)).ToList())
                {
                    existing.Overlays.Remove(target);
                }
            }
            else
            {
                var ram = twin.Inventory.Vms.FirstOrDefault(v => v.Name == name)?.RamBytes ?? 0;
                h.Domains[name] = new TwinDomain(name, ram, xml) { Autostart = false };
            }
        }
    }

    public async Task LiveMigrateAsync(string host, string domain, string targetHost, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.migrate", ct);
        twin.Count("libvirt.migrate");
        TimeSpan duration;
        lock (twin.Gate)
        {
            var source = LibvirtHost(host);
            var target = LibvirtHost(targetHost);
            var d = Domain(host, domain);
            if (target.Domains.ContainsKey(domain))
            {
                throw new LibvirtException($"domain {domain} is already defined on {targetHost}", isTransient: false);
            }

            // Local file disks travel with the domain (virsh migrate --copy-storage-all); RBD disks stay on the shared old Ceph.
            var vm = twin.Inventory.Vms.FirstOrDefault(v => v.Name == domain);
            var localImages = twin.FileImages.Where(f => f.Key.Host == host && vm is not null && vm.Disks.Any(x => x.Device.VolumeKey == f.Key.Path)).ToList();
            foreach (var (key, image) in localImages)
            {
                if (twin.FileImages.ContainsKey((targetHost, key.Path)))
                {
                    throw new LibvirtException($"cannot copy {key.Path} of {domain} to {targetHost}: the file already exists there", isTransient: false);
                }
            }

            foreach (var (key, image) in localImages)
            {
                twin.FileImages.Remove(key);
                twin.FileImages[(targetHost, key.Path)] = image;
            }

            source.Domains.Remove(domain);
            target.Domains[domain] = d;
            var rate = Math.Min(twin.NicRate(host), twin.NicRate(targetHost));
            var bytes = (d.Running ? d.RamBytes : 0) + localImages.Sum(i => i.Value.UsedBytes);
            duration = TimeSpan.FromSeconds(bytes / rate);
        }

        await twin.Clock.WaitAsync(duration, ct);
    }

    public async Task<IReadOnlyList<DomainBlockDevice>> DomainBlockListAsync(string host, string domain, bool inactive = false, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.domblklist", ct);
        lock (twin.Gate)
        {
            return BlockList(host, domain);
        }
    }

    /// <summary>The inventory's disks of the domain, file disks on their overlay when a disk-only snapshot put one there.</summary>
    private List<DomainBlockDevice> BlockList(string host, string domain)
    {
        var d = Domain(host, domain);
        var vm = twin.Inventory.Vms.FirstOrDefault(v => v.Name == domain);
        return vm is null ? [] : [.. vm.Disks.Select(x => new DomainBlockDevice(
            x.Device.IsRbd ? "network" : "file",
            x.Device.Device,
            x.Device.TargetDev,
            d.Overlays.TryGetValue(x.Device.TargetDev, out var overlay) ? overlay : x.Device.VolumeKey))];
    }

    public async Task CreateDiskOnlySnapshotAsync(string host, string domain, string name, IReadOnlyDictionary<string, string> overlays, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(overlays);
        await twin.EnterAsync("libvirt.snapshot-create", ct);
        twin.Count("libvirt.snapshot-create");
        lock (twin.Gate)
        {
            var d = Domain(host, domain);
            var disks = BlockList(host, domain);
            foreach (var (target, overlay) in overlays)
            {
                var disk = disks.FirstOrDefault(x => x.Target == target)
                    ?? throw new LibvirtException($"domain {domain} on {host} has no disk {target}", isTransient: false);
                if (disk.Type != "file" || disk.Source is null || !twin.FileImages.TryGetValue((host, disk.Source), out var backing))
                {
                    throw new LibvirtException($"unsupported configuration: external snapshot of {target} of {domain} needs a file disk", isTransient: false);
                }

                if (twin.FileImages.ContainsKey((host, overlay)))
                {
                    throw new LibvirtException($"operation failed: external snapshot file for disk {target} already exists and is not a block device: {overlay}", isTransient: false);
                }
            }

            foreach (var (target, overlay) in overlays)
            {
                var backingPath = BlockList(host, domain).First(x => x.Target == target).Source!;
                var backing = twin.FileImages[(host, backingPath)];
                twin.FileImages[(host, overlay)] = new TwinImage(overlay, backing.SizeBytes, 0) { BackingPath = backingPath, OverlaySince = twin.Clock.GetUtcNow() };
                d.Overlays[target] = overlay;
            }
        }
    }

    public async Task BlockCommitAsync(string host, string domain, string target, CancellationToken ct = default)
    {
        await twin.EnterAsync("libvirt.blockcommit", ct);
        twin.Count("libvirt.blockcommit");
        lock (twin.Gate)
        {
            var d = Domain(host, domain);
            if (!d.Running)
            {
                throw new LibvirtException($"Requested operation is not valid: domain is not running", isTransient: false);
            }

            if (!d.Overlays.Remove(target))
            {
                throw new LibvirtException($"invalid argument: top '{target}' in chain for '{target}' has no backing file", isTransient: false);
            }
        }
    }

    private TwinHost LibvirtHost(string host)
    {
        if (!twin.Hosts.TryGetValue(host, out var h))
        {
            throw new LibvirtException($"unknown host {host}", isTransient: false);
        }

        if (h.State != HostState.Libvirt)
        {
            throw new LibvirtException($"host {host} does not run libvirt (it is {h.State.ToString().ToLowerInvariant()})", isTransient: false);
        }

        return h;
    }

    private TwinDomain Domain(string host, string domain)
        => LibvirtHost(host).Domains.TryGetValue(domain, out var d) ? d
            : throw new LibvirtException($"domain {domain} is not defined on {host}", isTransient: false);

    /// <summary>Guests that honoured an ACPI shutdown by now are off.</summary>
    private void Settle(TwinHost host)
    {
        var now = twin.Clock.GetUtcNow();
        foreach (var d in host.Domains.Values.Where(d => d.Running && d.ShutdownCompletesAt <= now))
        {
            d.Running = false;
            d.ShutdownCompletesAt = null;
            twin.NoteRunChange(d.Name, false);
        }
    }

    [GeneratedRegex("<name>([^<]+)</name>")]
    private static partial Regex DomainName();
}
