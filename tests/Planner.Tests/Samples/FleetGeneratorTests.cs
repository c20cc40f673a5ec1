using System.Text.RegularExpressions;
using Taquin.Planner.Inventory;
using Taquin.Planner.Samples;

namespace Taquin.Planner.Tests.Samples;

public sealed partial class FleetGeneratorTests
{
    private const long GiB = ByteSize.GiB;
    private const double TalkDataBytes = 80e12 / 3;

    // The default (talk) fleet is generated once and shared by the tests that read it.
    private static readonly Lazy<(GeneratedInventory Inventory, InventoryFacts Facts)> DefaultFleet = new(() =>
    {
        var inventory = FleetGenerator.Generate(new FleetGeneratorOptions());
        return (inventory, InventoryFacts.Read(inventory.Files));
    });

    private static InventoryFacts Talk => DefaultFleet.Value.Facts;

    [Fact]
    public void Same_seed_gives_the_same_bytes_and_another_seed_a_different_fleet()
    {
        var options = new FleetGeneratorOptions { Seed = 42, Vms = 60, Hosts = 4 };
        var first = FleetGenerator.Generate(options);
        var second = FleetGenerator.Generate(options);
        var other = FleetGenerator.Generate(options with { Seed = 43 });

        Assert.Equal(first.Files.Keys, second.Files.Keys);
        foreach (var (path, content) in first.Files)
        {
            Assert.Equal(content, second.Files[path]);
        }

        Assert.NotEqual(first.Files["volumes.json"], other.Files["volumes.json"]);
    }

    [Fact]
    public void Default_fleet_is_the_talks_seven_ryzen_hosts_with_sixteen_bays()
    {
        Assert.Equal(["h1", "h2", "h3", "h4", "h5", "h6", "h7"], Talk.Hosts.Select(h => h.Name));
        Assert.All(Talk.Hosts, h =>
        {
            Assert.Equal(128 * GiB, h.Ram);
            Assert.Equal(16, h.Cores);
            Assert.Equal(10, h.NicGbits);
            Assert.InRange(h.Bays, 10, 16);
            Assert.Contains(h.Disks, d => d.Now == "system" && d.After == "system");
            Assert.InRange(h.ZfsMirrorUsable, 3e12, 8e12);
            Assert.InRange(h.NewCephRaw, 15e12, 25e12);
        });
        Assert.Equal(16 * GiB, Talk.RamReservePerHost);
        Assert.Equal(3, Talk.PoolSize);
        Assert.Equal(0.85, Talk.NearfullRatio);
        Assert.Equal(3, Talk.Monitors.Count);
    }

    [Fact]
    public void Default_fleet_has_216_uniquely_named_vms_with_unique_uuids_and_macs()
    {
        Assert.Equal(216, Talk.Vms.Count);
        Assert.Equal(216, Talk.Vms.Select(v => v.Name).Distinct().Count());
        Assert.Equal(216, Talk.Vms.Select(v => v.Uuid).Distinct().Count());
        Assert.All(Talk.Vms, v => Assert.Equal($"domains/{v.Host}/{v.Name}.xml", v.FilePath));
        Assert.All(Talk.Vms, v => Assert.True(Guid.TryParse(v.Uuid, out _), v.Uuid));
        var macs = Talk.Vms.SelectMany(v => v.Interfaces).Select(i => (string)i.Element("mac")!.Attribute("address")!).ToList();
        Assert.Equal(macs.Count, macs.Distinct().Count());
        Assert.All(macs, m => Assert.Matches(MacPattern(), m));
        Assert.Equal(Talk.Vms.Select(v => v.Name).ToHashSet(), Talk.RuntimeNames);
    }

    [Fact]
    public void Default_fleet_fits_on_six_hosts_with_a_quarter_of_their_ram_to_spare()
    {
        var usablePerHost = (128 * GiB) - Talk.RamReservePerHost;
        Assert.True(Talk.TotalVmRam <= 0.75 * 6 * usablePerHost, $"VM RAM {Talk.TotalVmRam / GiB} GiB");
        Assert.True(Talk.TotalVmRam >= 0.6 * 6 * usablePerHost, "the fleet should still make the puzzle tight");
        Assert.All(Talk.Hosts, h => Assert.True(Talk.Vms.Where(v => v.Host == h.Name).Sum(v => v.RamBytes) <= usablePerHost, h.Name));
        Assert.True(Talk.Vms.Max(v => v.RamBytes) <= usablePerHost);
    }

    [Fact]
    public void Default_fleet_stores_the_talks_80_TB_raw_used_of_180_TB_raw()
    {
        Assert.InRange(Talk.RbdUsed, TalkDataBytes * 0.9, TalkDataBytes * 1.1);
        Assert.InRange(Talk.OldCephRaw, 176e12, 184e12);
        Assert.True(Talk.RbdUsed * Talk.PoolSize < Talk.OldCephRaw * Talk.NearfullRatio);
        Assert.All(Talk.Rbd.Values, v => Assert.InRange(v.Used, 1, v.Size));

        // After four hosts have left the old Ceph, the three smallest left still hold a good share:
        // the planner has to move the rest to ZFS and the new Ceph first, which is the taquin.
        var smallestThree = Talk.Hosts.Select(h => h.OldCephRaw).Order().Take(3).Sum() / 3.0 * 0.85;
        Assert.InRange(smallestThree / Talk.RbdUsed, 0.6, 1.0);

        // Once every host is PVE, ZFS plus the new Ceph hold everything with room.
        var pveCapacity = Talk.Hosts.Sum(h => (h.ZfsMirrorUsable * 0.8) + (h.NewCephRaw / 3.0 * 0.85));
        Assert.True(pveCapacity > 1.5 * (Talk.RbdUsed + Talk.Files.Values.Sum(f => f.Used)));
    }

    [Fact]
    public void Default_fleet_mix_is_mostly_small_rbd_bios_virtio_vms_on_routed_taps()
    {
        var vms = Talk.Vms;
        double Share(Func<VmFacts, bool> predicate) => vms.Count(predicate) / (double)vms.Count;

        Assert.InRange(Share(v => v.RamBytes <= 4 * GiB), 0.8, 0.95);
        var big = vms.Where(v => v.RamBytes >= 32 * GiB).ToList();
        Assert.InRange(big.Count, 2, 6);
        Assert.All(big, v => Assert.Contains(v.DataDisks, d => d.RbdName is { } n && Talk.Rbd[n].Size >= 1024 * GiB));
        Assert.InRange(Share(v => v.DataDisks.Sum(d => Size(v, d)) <= 50 * GiB), 0.6, 0.9);

        Assert.InRange(Share(v => v.DataDisks.All(d => d.Type == "network")), 0.85, 0.97);
        Assert.InRange(Share(v => v.DataDisks.Any(d => d.Format == "qcow2")), 0.03, 0.15);
        Assert.InRange(Share(v => v.Ovmf), 0.05, 0.15);
        Assert.InRange(Share(v => v.DataDisks.Count() >= 2), 0.05, 0.25);
        Assert.Contains(vms, v => v.DataDisks.Count() == 3);
        Assert.InRange(Share(v => v.DataDisks.All(d => d.Bus == "virtio")), 0.7, 0.9);
        Assert.InRange(Share(v => v.DataDisks.Any(d => d.Bus == "scsi")), 0.05, 0.25);
        Assert.Contains(vms, v => v.DataDisks.Any(d => d.Bus == "sata"));
        Assert.Contains(vms, v => v.Disks.Any(d => d.Device == "cdrom"));
        Assert.Contains(vms, v => v.VcpuCurrent < v.VcpuMax);

        var interfaces = vms.SelectMany(v => v.Interfaces).ToList();
        Assert.InRange(interfaces.Count(i => (string?)i.Attribute("type") == "ethernet") / (double)interfaces.Count, 0.7, 0.9);
        Assert.Contains(interfaces, i => (string?)i.Attribute("type") == "bridge");
        Assert.InRange(Share(v => v.Domain.Descendants("channel").Any()), 0.75, 0.95);
    }

    [Fact]
    public void Every_disk_source_has_a_volume_entry_and_every_volume_a_disk()
    {
        var rbdReferences = Talk.Vms.SelectMany(v => v.DataDisks).Where(d => d.RbdName is not null).Select(d => d.RbdName!).ToList();
        Assert.Equal(rbdReferences.Order(StringComparer.Ordinal), Talk.Rbd.Keys.Order(StringComparer.Ordinal));
        Assert.All(rbdReferences, n => Assert.StartsWith("libvirt/vm-", n, StringComparison.Ordinal));

        var fileReferences = Talk.Vms.SelectMany(v => v.DataDisks.Where(d => d.FilePath is not null).Select(d => (v.Host, d.FilePath!))).ToList();
        Assert.Equal(fileReferences.ToHashSet(), Talk.Files.Keys.ToHashSet());
        Assert.NotEmpty(fileReferences);
    }

    [Fact]
    public void Domain_xml_reads_like_virsh_dumpxml()
    {
        var (inventory, facts) = DefaultFleet.Value;
        string[] libvirtOrder = ["name", "uuid", "description", "memory", "currentMemory", "vcpu", "resource", "os", "features", "cpu", "clock", "on_poweroff", "on_reboot", "on_crash", "pm", "devices"];
        foreach (var vm in facts.Vms)
        {
            var text = inventory.Files[vm.FilePath];
            Assert.StartsWith("<domain type='kvm'>\n  <name>", text, StringComparison.Ordinal);
            Assert.DoesNotContain("\"", text, StringComparison.Ordinal);
            Assert.DoesNotContain("\r", text, StringComparison.Ordinal);
            Assert.DoesNotContain(" />", text, StringComparison.Ordinal);
            var children = vm.Domain.Elements().Select(e => e.Name.LocalName).ToList();
            Assert.Equal(libvirtOrder.Where(children.Contains), children);
            Assert.Equal("/usr/bin/qemu-system-x86_64", (string)vm.Domain.Element("devices")!.Elements().First());
        }

        var ovmf = facts.Vms.First(v => v.Ovmf).Domain.Element("os")!;
        Assert.StartsWith("pc-q35", (string)ovmf.Element("type")!.Attribute("machine")!, StringComparison.Ordinal);
        Assert.Equal("/usr/share/OVMF/OVMF_CODE_4M.fd", (string)ovmf.Element("loader")!);
        Assert.EndsWith("_VARS.fd", (string)ovmf.Element("nvram")!, StringComparison.Ordinal);

        var scsi = facts.Vms.First(v => v.DataDisks.Any(d => d.Bus == "scsi")).Domain;
        Assert.Contains(scsi.Descendants("controller"), c => (string?)c.Attribute("type") == "scsi" && (string?)c.Attribute("model") == "virtio-scsi");

        var routed = facts.Vms.SelectMany(v => v.Interfaces).First(i => (string?)i.Attribute("type") == "ethernet");
        Assert.Equal(["ipv4", "ipv6"], routed.Elements("ip").Select(ip => (string)ip.Attribute("family")!));
        Assert.Equal("no", (string?)routed.Element("target")!.Attribute("managed"));
        Assert.All(facts.Vms.SelectMany(v => v.Interfaces).Select(i => (string?)i.Element("target")?.Attribute("dev")), dev => Assert.True(dev is null || dev.Length <= 15, dev));
    }

    [Theory]
    [InlineData(1000, 20)]
    [InlineData(5000, 100)]
    public void Bigger_fleets_scale_the_talks_proportions_and_stay_feasible(int vms, int hosts)
    {
        var inventory = FleetGenerator.Generate(new FleetGeneratorOptions { Vms = vms, Hosts = hosts });
        var facts = InventoryFacts.Read(inventory.Files);

        Assert.Equal(vms, facts.Vms.Count);
        Assert.Equal(hosts, facts.Hosts.Count);
        var usablePerHost = facts.Hosts[0].Ram - facts.RamReservePerHost;
        Assert.True(facts.TotalVmRam <= 0.75 * (hosts - 1) * usablePerHost);
        Assert.All(facts.Hosts, h => Assert.True(facts.Vms.Where(v => v.Host == h.Name).Sum(v => v.RamBytes) <= usablePerHost, h.Name));
        Assert.All(facts.Hosts, h => Assert.InRange(h.Bays, 10, 16));
        Assert.InRange(facts.RbdUsed, TalkDataBytes * vms / 216 * 0.9, TalkDataBytes * vms / 216 * 1.1);
        Assert.InRange(facts.OldCephRaw, 180e12 * vms / 216 * 0.95, 180e12 * vms / 216 * 1.05);
        Assert.Equal(vms, facts.Vms.Select(v => v.Name).Distinct().Count());
        Assert.Equal(vms, facts.Vms.Select(v => v.Uuid).Distinct().Count());
        var macs = facts.Vms.SelectMany(v => v.Interfaces).Select(i => (string)i.Element("mac")!.Attribute("address")!).ToList();
        Assert.Equal(macs.Count, macs.Distinct().Count());
        var ipv4 = facts.Vms.SelectMany(v => v.Interfaces).SelectMany(i => i.Elements("ip")).Select(ip => (string)ip.Attribute("address")!).ToList();
        Assert.Equal(ipv4.Count, ipv4.Distinct().Count());
    }

    [Fact]
    public void Given_host_ram_that_cannot_hold_the_fleet_is_refused_with_the_figures()
    {
        var tooSmallForTheFleet = Assert.Throws<ArgumentException>(() => FleetGenerator.Generate(new FleetGeneratorOptions { HostRamGiB = 88 }));
        Assert.Contains("216 VMs need", tooSmallForTheFleet.Message, StringComparison.Ordinal);
        var tooSmallForTheBiggestVm = Assert.Throws<ArgumentException>(() => FleetGenerator.Generate(new FleetGeneratorOptions { HostRamGiB = 48 }));
        Assert.Contains("--host-ram-gib 48", tooSmallForTheBiggestVm.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => FleetGenerator.Generate(new FleetGeneratorOptions { Hosts = 1 }));
        Assert.Throws<ArgumentException>(() => FleetGenerator.Generate(new FleetGeneratorOptions { Vms = 0 }));
    }

    private static long Size(VmFacts vm, DiskFacts disk)
        => disk.RbdName is { } name ? Talk.Rbd[name].Size : Talk.Files[(vm.Host, disk.FilePath!)].Size;

    [GeneratedRegex("^52:54:00(:[0-9a-f]{2}){3}$")]
    private static partial Regex MacPattern();
}
