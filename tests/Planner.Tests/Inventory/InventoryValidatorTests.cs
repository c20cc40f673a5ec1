using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;

namespace Taquin.Planner.Tests.Inventory;

public class InventoryValidatorTests
{
    [Fact]
    public void A_consistent_inventory_has_no_diagnostics()
    {
        Assert.Empty(InventoryValidator.Validate(Inventory([Vm("a", 1), Vm("b", 2)])));
    }

    [Fact]
    public void Duplicate_mac_names_both_vms_and_files_case_insensitively()
    {
        var inv = Inventory([Vm("a", 1, mac: "52:54:00:AA:00:01"), Vm("b", 2, mac: "52:54:00:aa:00:01")]);

        var d = Assert.Single(InventoryValidator.Validate(inv));

        Assert.Equal(("interface/mac", "52:54:00:aa:00:01", Severity.Error), (d.Element, d.Value, d.Severity));
        Assert.Contains("VM 'a' (domains/h1/a.xml)", d.Message);
        Assert.Contains("VM 'b' (domains/h1/b.xml)", d.Message);
    }

    [Fact]
    public void Duplicate_uuid_and_duplicate_name_are_errors_naming_both_files()
    {
        var inv = Inventory([Vm("a", 1), Vm("a", 1, host: "h2", mac: "52:54:00:00:00:99")]);

        var diagnostics = InventoryValidator.Validate(inv);

        Assert.Equal(["name", "uuid"], diagnostics.Select(d => d.Element));
        Assert.All(diagnostics, d => Assert.Contains("domains/h2/a.xml (host h2)", d.Message));
        Assert.All(diagnostics, d => Assert.Contains("domains/h1/a.xml (host h1)", d.Message));
    }

    [Fact]
    public void Disk_missing_from_volumes_json_is_an_error_with_the_key_to_add()
    {
        var rbd = Vm("a", 1, missingVolume: true);
        var file = Vm("b", 2, disk: FileDisk("/var/lib/libvirt/images/b.qcow2"), missingVolume: true, host: "h2");

        var diagnostics = InventoryValidator.Validate(Inventory([rbd, file]));

        Assert.Equal(["libvirt/a-disk0", "/var/lib/libvirt/images/b.qcow2"], diagnostics.Select(d => d.Value));
        Assert.All(diagnostics, d => Assert.Equal(Severity.Error, d.Severity));
        Assert.Contains("\"rbd\": { \"libvirt/a-disk0\"", diagnostics[0].Fix);
        Assert.Contains("\"files\": { \"h2\": { \"/var/lib/libvirt/images/b.qcow2\"", diagnostics[1].Fix);
    }

    [Fact]
    public void Cdrom_medium_missing_from_volumes_is_only_a_warning()
    {
        var iso = new DiskDevice { SourceKind = DiskSourceKind.File, Device = "cdrom", Path = "/iso/debian.iso", TargetDev = "sda", Bus = "sata" };
        var vm = Vm("a", 1);
        vm = vm with { Domain = vm.Domain with { Disks = [.. vm.Domain.Disks, iso] }, Disks = [.. vm.Disks, new VmDisk(iso, null)] };

        var d = Assert.Single(InventoryValidator.Validate(Inventory([vm])));

        Assert.Equal((Severity.Warning, "/iso/debian.iso"), (d.Severity, d.Value));
        Assert.Contains("virsh change-media a sda --eject", d.Fix);
    }

    [Fact]
    public void Vm_needing_more_ram_than_any_usable_host_minus_reserve_is_an_error()
    {
        // h1 64 GiB and h2 128 GiB usable, h3 256 GiB excluded; reserve 8 GiB: at most 120 GiB fits.
        var inv = Inventory([Vm("fits", 1, ramGiB: 120), Vm("too-big", 2, ramGiB: 121)]);

        var d = Assert.Single(InventoryValidator.Validate(inv));

        Assert.Equal(("memory", "domains/h1/too-big.xml"), (d.Element, d.File));
        Assert.Contains("120 GiB", d.Message);
    }

    [Fact]
    public void Vm_with_more_disk_than_any_target_is_a_warning()
    {
        // Largest target: new Ceph (2 hosts × 4 TB raw / 3 × 0.85 ≈ 2.27 TB) vs ZFS (mirror 2 × 2 TB × 0.8 = 1.6 TB).
        var inv = Inventory([Vm("huge", 1, volume: new VolumeInfo(2_400_000_000_000, 100)), Vm("ok", 2, volume: new VolumeInfo(2_200_000_000_000, 100))]);

        var d = Assert.Single(InventoryValidator.Validate(inv));

        Assert.Equal((Severity.Warning, "domains/h1/huge.xml"), (d.Severity, d.File));
    }

    [Fact]
    public void Unknown_host_folder_is_an_error_and_fleet_host_without_folder_a_warning()
    {
        var inv = Inventory([Vm("a", 1, host: "h9")]) with { HostFolders = ["h1", "h9"] };

        var diagnostics = InventoryValidator.Validate(inv);

        var unknown = Assert.Single(diagnostics, d => d.Severity == Severity.Error);
        Assert.Equal(("domains/h9", "h9"), (unknown.File, unknown.Value));
        Assert.Contains("Add host 'h9' to fleet.yaml", unknown.Fix);
        Assert.Equal(["h2", "h3"], diagnostics.Where(d => d.Severity == Severity.Warning).Select(d => d.Value));
    }

    [Fact]
    public void Hostdev_filesystems_and_vhost_user_are_refused_with_the_detach_fix()
    {
        var vm = Vm("a", 1);
        var domain = vm.Domain with
        {
            Hostdevs = [new HostdevDevice("subsystem", "pci", "pci 0000:03:00.0")],
            Filesystems = [new FilesystemDevice("mount", "path", "/srv/share", "share"), new FilesystemDevice("mount", "virtiofs", "/srv/cache", "cache")],
            Interfaces = [.. vm.Domain.Interfaces, new InterfaceDevice { Type = "vhostuser", Mac = "52:54:00:00:40:01" }],
        };

        var diagnostics = InventoryValidator.Validate(Inventory([vm with { Domain = domain }]));

        Assert.Equal(["hostdev", "filesystem", "filesystem", "interface type='vhostuser'"], diagnostics.Select(d => d.Element));
        Assert.All(diagnostics, d => Assert.Equal(Severity.Error, d.Severity));
        Assert.All(diagnostics, d => Assert.Contains("virsh detach-device", d.Fix));
        Assert.All(diagnostics, d => Assert.Contains("exclude the VM", d.Fix));
        Assert.Equal("pci 0000:03:00.0", diagnostics[0].Value);
        Assert.Contains("(9p)", diagnostics[1].Message);
        Assert.Contains("(virtiofs)", diagnostics[2].Message);
    }

    [Fact]
    public void Network_disks_other_than_rbd_and_pool_volumes_are_refused()
    {
        var nbd = new DiskDevice { SourceKind = DiskSourceKind.Network, Protocol = "nbd", NetworkName = "export1", TargetDev = "vda", Bus = "virtio" };
        var pooled = new DiskDevice { SourceKind = DiskSourceKind.Volume, VolumePool = "default", VolumeName = "x.qcow2", TargetDev = "vdb", Bus = "virtio" };

        var diagnostics = InventoryValidator.Validate(Inventory([Vm("a", 1, disk: nbd), Vm("b", 2, disk: pooled)]));

        Assert.Equal(["nbd", "default/x.qcow2"], diagnostics.Select(d => d.Value));
        Assert.Contains("virsh vol-path --pool default x.qcow2", diagnostics[1].Fix);
    }

    [Fact]
    public void Fleet_sanity_problems_are_all_reported()
    {
        var inv = Inventory([Vm("a", 1), Vm("b", 2), Vm("c", 3)]);
        var hosts = inv.Fleet.Hosts.ToList();
        hosts[1] = hosts[1] with { Name = "h1" };
        hosts.Add(new HostSpec { Name = "h4", RamBytes = 0, Cores = 4, NicGbits = 1 });
        var fleet = inv.Fleet with
        {
            Hosts = hosts,
            OldCeph = inv.Fleet.OldCeph with { PoolSize = 0 },
            NewCeph = inv.Fleet.NewCeph with { NearfullRatio = 1.2 },
            Policy = inv.Fleet.Policy with { VlanRange = new VlanRange(100, 101) },
        };

        // HostFolders null: folders are then taken from the VMs, so the renamed host raises no folder warning.
        var diagnostics = InventoryValidator.Validate(inv with { Fleet = fleet, HostFolders = null });

        Assert.Equal(["hosts[].name", "hosts[3].ram", "oldCeph.poolSize", "newCeph.nearfullRatio", "policy.vlanRange"],
            diagnostics.Select(d => d.Element));
        Assert.All(diagnostics, d => Assert.Equal(("fleet.yaml", Severity.Error), (d.File, d.Severity)));
        Assert.Contains("holds 2 VLANs but the fleet has 3 VMs", diagnostics[4].Message);
    }

    [Fact]
    public void Every_problem_of_a_messy_inventory_is_reported_in_one_pass()
    {
        var vms = new[]
        {
            Vm("a", 1, mac: "52:54:00:00:00:01"),
            Vm("b", 2, mac: "52:54:00:00:00:01", missingVolume: true),
            Vm("c", 3, ramGiB: 500),
        };

        var diagnostics = InventoryValidator.Validate(Inventory(vms));

        Assert.Equal(["interface/mac", "disk[0] vda", "memory"], diagnostics.Select(d => d.Element));
    }

    private static FleetInventory Inventory(IReadOnlyList<VmRecord> vms)
    {
        HostSpec Host(string name, int ramGiB, bool excluded = false) => new()
        {
            Name = name,
            RamBytes = ramGiB * ByteSize.GiB,
            Cores = 16,
            NicGbits = 10,
            Excluded = excluded,
            Disks =
            [
                new HostDiskGroup("osd", 1, 4_000_000_000_000, DiskRole.OldCephOsd, DiskRole.NewCephOsd),
                new HostDiskGroup("ssd", 2, 2_000_000_000_000, DiskRole.OldCephOsd, DiskRole.Zfs),
            ],
        };

        return new FleetInventory
        {
            Root = "/inv",
            Fleet = new Fleet
            {
                Hosts = [Host("h1", 64), Host("h2", 128), Host("h3", 256, excluded: true)],
                OldCeph = new OldCephSpec(),
                Policy = new PolicySpec { VlanRange = new VlanRange(100, 3999), RamReservePerHostBytes = 8 * ByteSize.GiB },
            },
            Vms = vms,
            Volumes = new VolumeCatalog(),
            Digest = "0",
            HostFolders = ["h1", "h2", "h3"],
        };
    }

    private static DiskDevice FileDisk(string path)
        => new() { SourceKind = DiskSourceKind.File, Path = path, Format = "qcow2", TargetDev = "vda", Bus = "virtio" };

    private static readonly VolumeInfo SmallVolume = new(20 * ByteSize.GiB, 5 * ByteSize.GiB);

    private static VmRecord Vm(string name, int id, string? mac = null, int ramGiB = 2, string host = "h1",
        DiskDevice? disk = null, VolumeInfo? volume = null, bool missingVolume = false)
    {
        disk ??= new DiskDevice { SourceKind = DiskSourceKind.Network, Protocol = "rbd", NetworkName = $"libvirt/{name}-disk0", TargetDev = "vda", Bus = "virtio" };
        var domain = new LibvirtDomain
        {
            Name = name,
            Uuid = new Guid($"00000000-0000-4000-8000-{id:x12}"),
            MemoryBytes = ramGiB * ByteSize.GiB,
            VcpuMax = 2,
            Disks = [disk],
            Interfaces = [new InterfaceDevice { Type = "ethernet", Mac = mac ?? $"52:54:00:00:00:{id:x2}" }],
        };
        return new VmRecord
        {
            Domain = domain,
            Host = host,
            SourceFile = $"domains/{host}/{name}.xml",
            Disks = [new VmDisk(disk, missingVolume ? null : volume ?? SmallVolume)],
        };
    }
}
