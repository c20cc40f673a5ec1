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
            if (!h.Domains.ContainsKey(name))
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
