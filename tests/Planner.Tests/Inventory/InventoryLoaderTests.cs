using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;

namespace Taquin.Planner.Tests.Inventory;

public class InventoryLoaderTests
{
    [Fact]
    public void Valid_folder_loads_fleet_vms_volumes_and_runtime_without_diagnostics()
    {
        using var folder = TempInventory.Valid();

        var result = InventoryLoader.Load(folder.Root);

        Assert.Empty(result.Diagnostics);
        var inv = Assert.IsType<FleetInventory>(result.Inventory);
        Assert.Equal(["h1", "h2", "h3"], inv.Fleet.Hosts.Select(h => h.Name));
        Assert.Equal(["h1", "h2", "h3"], inv.HostFolders);
        Assert.Equal(["db@h1", "web@h1", "legacy@h2"], inv.Vms.Select(v => $"{v.Name}@{v.Host}"));

        var web = inv.Vms.Single(v => v.Name == "web");
        Assert.Equal("domains/h1/web.xml", web.SourceFile);
        Assert.Contains("<name>web</name>", web.Xml);
        Assert.True(web.Running);
        Assert.True(web.Domain.Autostart);
        var disk = Assert.Single(web.Disks);
        Assert.Equal(new VolumeInfo(20 * ByteSize.GiB, 8 * ByteSize.GiB), disk.Volume);
        Assert.Equal(8 * ByteSize.GiB, web.RbdBytes);
        Assert.Equal(SourceStorage.OldCeph, web.Storage);

        var db = inv.Vms.Single(v => v.Name == "db");
        Assert.Null(db.Domain.Autostart); // no runtime entry: unknown
        Assert.True(db.Running);
        Assert.Equal(100 * ByteSize.GiB, db.DiskBytes); // usage unknown: the provisioned size moves

        var legacy = inv.Vms.Single(v => v.Name == "legacy");
        Assert.False(legacy.Running);
        Assert.False(legacy.Domain.Autostart);
        Assert.Equal(new VolumeInfo(10 * ByteSize.GiB, 3 * ByteSize.GiB, "qcow2"), Assert.Single(legacy.Disks).Volume);
        Assert.Equal(SourceStorage.LocalFile, legacy.Storage);
    }

    [Fact]
    public void Fleet_yaml_values_follow_the_documented_format()
    {
        using var folder = TempInventory.Valid();

        var fleet = InventoryLoader.Load(folder.Root).Inventory!.Fleet;

        var h1 = fleet.Hosts[0];
        Assert.Equal((64 * ByteSize.GiB, 16, 10.0, "root@192.0.2.11", ZfsLayout.Mirror), (h1.RamBytes, h1.Cores, h1.NicGbits, h1.Ssh, h1.ZfsLayout));
        Assert.Equal(new HostDiskGroup("Samsung PM893 1.92TB", 2, 1_920_000_000_000, DiskRole.OldCephOsd, DiskRole.Zfs), h1.Disks[2]);
        Assert.Equal(2 * 4_000_000_000_000 + 2 * 1_920_000_000_000, h1.OldCephOsdRawBytes);
        Assert.Equal(8_000_000_000_000, h1.NewCephOsdRawBytes);
        Assert.Equal(1_920_000_000_000, h1.ZfsUsableBytes);
        var h2 = fleet.Hosts[1];
        Assert.Equal(ZfsLayout.RaidZ1, h2.ZfsLayout);
        Assert.Equal(1_920_000_000_000, h2.LocalImagesBytes);
        Assert.True(fleet.Hosts[2].Excluded);
        Assert.False(fleet.Hosts[2].AlreadyPve);

        Assert.Equal((3, 0.85), (fleet.OldCeph.PoolSize, fleet.OldCeph.NearfullRatio));
        Assert.Equal(["libvirt"], fleet.OldCeph.Pools);
        Assert.Equal(["192.0.2.11", "192.0.2.12"], fleet.OldCeph.Monitors);
        Assert.Equal(new NewCephSpec(), fleet.NewCeph); // absent section: documented defaults
        var p = fleet.Policy;
        Assert.Equal((8 * ByteSize.GiB, 3, 6.0, new VlanRange(100, 3999), "vmbr1", "attach-and-move", 0.7),
            (p.RamReservePerHostBytes, p.CopySlotsPerHost, p.WaveWindowHours, p.VlanRange, p.Bridge, p.DefaultStrategy, p.ZfsFillRatio));
    }

    [Fact]
    public void Digest_is_stable_across_loads_and_locations_and_changes_with_content()
    {
        using var first = TempInventory.Valid();
        using var second = TempInventory.Valid();

        var a = InventoryLoader.Load(first.Root).Inventory!.Digest;
        var again = InventoryLoader.Load(first.Root).Inventory!.Digest;
        var elsewhere = InventoryLoader.Load(second.Root).Inventory!.Digest;
        second.Write("runtime.json", TempInventory.RuntimeJson.Replace("\"running\"", "\"paused\"", StringComparison.Ordinal));
        var changed = InventoryLoader.Load(second.Root).Inventory!.Digest;

        Assert.Matches("^[0-9a-f]{64}$", a);
        Assert.Equal(a, again);
        Assert.Equal(a, elsewhere);
        Assert.NotEqual(a, changed);
    }

    [Fact]
    public void Malformed_xml_duplicate_mac_and_missing_volume_are_all_reported_at_once()
    {
        using var folder = TempInventory.Valid();
        folder.Write("domains/h2/broken.xml", "<domain type='kvm'>\n  <name>broken</name>\n  <uuid>x</uuid\n</domain>\n");
        folder.Write("domains/h2/clone.xml", TempInventory.Vm("clone", 9, "52:54:00:00:00:01", TempInventory.Rbd("libvirt/clone-disk0")));

        var result = InventoryLoader.Load(folder.Root);
        var all = result.Diagnostics.Concat(InventoryValidator.Validate(result.Inventory!)).ToList();

        var malformed = Assert.Single(all, d => d.File == "domains/h2/broken.xml");
        Assert.Equal((Severity.Error, 4), (malformed.Severity, malformed.Line));
        var mac = Assert.Single(all, d => d.Element == "interface/mac");
        Assert.Equal("52:54:00:00:00:01", mac.Value);
        Assert.Contains("domains/h1/web.xml", mac.Message);
        Assert.Contains("domains/h2/clone.xml", mac.Message);
        var volume = Assert.Single(all, d => d.Value == "libvirt/clone-disk0");
        Assert.Equal(("domains/h2/clone.xml", Severity.Error), (volume.File, volume.Severity));
        Assert.Contains("\"libvirt/clone-disk0\"", volume.Fix);
        Assert.Equal(3, all.Count);
    }

    [Theory]
    [InlineData("    ram: 64GiB", "    ram: lots", "hosts[0].ram", "lots", 3)]
    [InlineData("    cores: 16", "    cores: -2", "hosts[0].cores", "-2", 4)]
    [InlineData("now: local-images", "now: ceph", "hosts[1].disks[1].now", "ceph", 19)]
    [InlineData("zfsLayout: raidz1", "zfsLayout: raid5", "hosts[1].zfsLayout", "raid5", 16)]
    [InlineData("size: 1TB", "size: 1 furlong", "hosts[2].disks[0].size", "1 furlong", 27)]
    [InlineData("size: 1TB", "size: 99999999999PB", "hosts[2].disks[0].size", "99999999999PB", 27)]
    [InlineData("nearfullRatio: 0.85", "nearfullRatio: 1.5", "oldCeph.nearfullRatio", "1.5", 30)]
    [InlineData("to: 3999", "to: 5000", "policy.vlanRange.to", "5000", 37)]
    [InlineData("defaultStrategy: attach-and-move", "defaultStrategy: hot", "policy.defaultStrategy", "hot", 39)]
    [InlineData("defaultStrategy: attach-and-move", "defaultStrategy: attach-and-move\n  copyDataPath: teleport", "policy.copyDataPath", "teleport", 40)]
    [InlineData("defaultStrategy: attach-and-move", "defaultStrategy: attach-and-move\n  verify: quick", "policy.verify", "quick", 40)]
    [InlineData("excluded: true", "excluded: maybe", "hosts[2].excluded", "maybe", 24)]
    [InlineData("  bridge: vmbr1", "  brigde: vmbr1", "policy.brigde", "brigde", 38)]
    public void Bad_fleet_values_are_errors_naming_the_yaml_path_and_line(string original, string replacement, string path, string value, int line)
    {
        using var folder = TempInventory.Valid();
        Assert.Contains(original, TempInventory.FleetYaml);
        folder.Write("fleet.yaml", ReplaceFirst(TempInventory.FleetYaml, original, replacement));

        var result = InventoryLoader.Load(folder.Root);

        var error = Assert.Single(result.Diagnostics);
        Assert.Equal((Severity.Error, "fleet.yaml", path, value, line), (error.Severity, error.File, error.Element, error.Value, error.Line));
        Assert.NotNull(result.Inventory);
    }

    [Theory]
    [InlineData("direct")]
    [InlineData("relayed")]
    [InlineData("target-client")]
    [InlineData("direct-tcp")]
    public void Every_copy_data_path_is_read_as_written(string dataPath)
    {
        using var folder = TempInventory.Valid();
        folder.Write("fleet.yaml", ReplaceFirst(TempInventory.FleetYaml, "defaultStrategy: attach-and-move", $"defaultStrategy: attach-and-move\n  copyDataPath: {dataPath}"));

        var result = InventoryLoader.Load(folder.Root);

        Assert.Empty(result.Diagnostics);
        Assert.Equal(dataPath, result.Inventory!.Fleet.Policy.CopyDataPath);
    }

    [Fact]
    public void Policy_names_the_rates_file_and_the_verification_the_planner_counts()
    {
        using var folder = TempInventory.Valid();
        folder.Write("fleet.yaml", ReplaceFirst(TempInventory.FleetYaml, "  zfsFillRatio: 0.7", "  zfsFillRatio: 0.7\n  verify: sampled\n  rates: rates/site.yaml"));

        var result = InventoryLoader.Load(folder.Root);

        Assert.DoesNotContain(result.Diagnostics, d => d.Severity == Severity.Error);
        Assert.Equal(("sampled", "rates/site.yaml"), (result.Inventory!.Fleet.Policy.Verify, result.Inventory.Fleet.Policy.RatesFile));
    }

    [Fact]
    public void Without_them_the_policy_counts_full_verification_and_has_no_rates_file()
    {
        using var folder = TempInventory.Valid();

        var policy = InventoryLoader.Load(folder.Root).Inventory!.Fleet.Policy;

        Assert.Equal(("full", (string?)null), (policy.Verify, policy.RatesFile));
    }

    [Fact]
    public void A_misspelt_required_key_reports_both_the_unknown_and_the_missing_key()
    {
        using var folder = TempInventory.Valid();
        folder.Write("fleet.yaml", ReplaceFirst(TempInventory.FleetYaml, "    ram: 64GiB", "    rma: 64GiB"));

        var diagnostics = InventoryLoader.Load(folder.Root).Diagnostics;

        Assert.Equal([("hosts[0].ram", 2), ("hosts[0].rma", 3)], diagnostics.Select(d => (d.Element, d.Line ?? 0)));
        Assert.Contains("known keys here: name, ram", diagnostics[1].Fix);
    }

    [Fact]
    public void Missing_required_keys_name_the_path_and_the_fix()
    {
        using var folder = TempInventory.Valid();
        folder.Write("fleet.yaml", "hosts:\n  - name: h1\n    cores: 4\n    nicGbits: 1\noldCeph: {}\npolicy:\n  bridge: vmbr0\n");

        var result = InventoryLoader.Load(folder.Root);

        Assert.Equal(["hosts[0].ram", "policy.vlanRange"], result.Diagnostics.Where(d => d.File == "fleet.yaml").Select(d => d.Element));
        Assert.Contains("Add 'ram: 128GiB'", result.Diagnostics[0].Fix);
        Assert.Equal(2, result.Diagnostics[0].Line);
    }

    [Fact]
    public void Duplicate_yaml_key_is_reported_with_its_line()
    {
        using var folder = TempInventory.Valid();
        folder.Write("fleet.yaml", ReplaceFirst(TempInventory.FleetYaml, "    cores: 16", "    cores: 16\n    ram: 32GiB"));

        var result = InventoryLoader.Load(folder.Root);

        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(("fleet.yaml", 5), (error.File, error.Line));
        Assert.Contains("ram", error.Message);
    }

    [Fact]
    public void Yaml_syntax_error_carries_line_and_column_and_xml_is_still_checked()
    {
        using var folder = TempInventory.Valid();
        folder.Write("fleet.yaml", "hosts:\n  - name: h1\n    ram: [unclosed\n");
        folder.Write("domains/h1/bad.xml", "<domain>");

        var result = InventoryLoader.Load(folder.Root);

        Assert.Null(result.Inventory);
        var yaml = Assert.Single(result.Diagnostics, d => d.File == "fleet.yaml");
        Assert.Equal("yaml", yaml.Element);
        Assert.NotNull(yaml.Line);
        Assert.Single(result.Diagnostics, d => d.File == "domains/h1/bad.xml");
    }

    [Fact]
    public void Volumes_json_errors_name_the_json_path()
    {
        using var folder = TempInventory.Valid();
        folder.Write("volumes.json", """
            { "rbd": { "libvirt/web-disk0": { "size": -1 }, "libvirt/db-disk0": { "size": 10, "usd": 5 } },
              "files": {}, "extra": 1 }
            """);

        var errors = InventoryLoader.Load(folder.Root).Diagnostics.Where(d => d.File == "volumes.json").ToList();

        Assert.Equal(["rbd[\"libvirt/web-disk0\"].size", "rbd[\"libvirt/db-disk0\"].usd", "extra"], errors.Select(d => d.Element));
        Assert.Equal("-1", errors[0].Value);
    }

    [Fact]
    public void Malformed_json_reports_line_and_column()
    {
        using var folder = TempInventory.Valid();
        folder.Write("runtime.json", "{\n  \"web\": { \"state\": \"running\" }\n  \"db\": {}\n}");

        var error = Assert.Single(InventoryLoader.Load(folder.Root).Diagnostics);

        Assert.Equal(("runtime.json", 3), (error.File, error.Line));
        Assert.Contains("not valid JSON", error.Message);
    }

    [Fact]
    public void Runtime_entries_for_unknown_vms_and_bad_states_are_reported()
    {
        using var folder = TempInventory.Valid();
        folder.Write("runtime.json", """{ "ghost": { "state": "running" }, "web": { "state": "asleep" } }""");

        var diagnostics = InventoryLoader.Load(folder.Root).Diagnostics;

        Assert.Equal([(Severity.Error, "web.state"), (Severity.Warning, "ghost")], diagnostics.Select(d => (d.Severity, d.Element)));
    }

    [Fact]
    public void Missing_folder_gives_no_inventory_and_one_error()
    {
        var result = InventoryLoader.Load(Path.Combine(Path.GetTempPath(), "taquin-no-such-" + Guid.NewGuid().ToString("N")));

        Assert.Null(result.Inventory);
        Assert.Contains("does not exist", Assert.Single(result.Diagnostics).Message);
    }

    [Fact]
    public void Missing_fleet_yaml_gives_no_inventory_but_every_file_is_still_checked()
    {
        using var folder = TempInventory.Valid();
        folder.Delete("fleet.yaml");
        folder.Delete("volumes.json");
        folder.Write("domains/h1/bad.xml", "not xml");

        var result = InventoryLoader.Load(folder.Root);

        Assert.Null(result.Inventory);
        Assert.Equal(["fleet.yaml", "volumes.json", "domains/h1/bad.xml"], result.Diagnostics.Select(d => d.File));
    }

    [Fact]
    public void Files_directly_under_domains_are_warned_about()
    {
        using var folder = TempInventory.Valid();
        folder.Write("domains/stray.xml", TempInventory.Vm("stray", 7, "52:54:00:00:00:07", ""));

        var warning = Assert.Single(InventoryLoader.Load(folder.Root).Diagnostics);

        Assert.Equal((Severity.Warning, "domains/stray.xml"), (warning.Severity, warning.File));
    }

    [Fact]
    public void Xml_with_a_bom_and_crlf_line_endings_loads()
    {
        using var folder = TempInventory.Valid();
        var xml = "\uFEFF" + TempInventory.Vm("web", 1, "52:54:00:00:00:01", TempInventory.Rbd("libvirt/web-disk0")).ReplaceLineEndings("\r\n");
        File.WriteAllText(Path.Combine(folder.Root, "domains/h1/web.xml"), xml);

        var result = InventoryLoader.Load(folder.Root);

        Assert.Empty(result.Diagnostics);
        Assert.Equal(DiskSourceKind.Network, result.Inventory!.Vms.Single(v => v.Name == "web").Domain.Disks[0].SourceKind);
    }

    private static string ReplaceFirst(string text, string old, string replacement)
    {
        var i = text.IndexOf(old, StringComparison.Ordinal);
        return text[..i] + replacement + text[(i + old.Length)..];
    }
}
