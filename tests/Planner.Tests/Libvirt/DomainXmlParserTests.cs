using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;

namespace Taquin.Planner.Tests.Libvirt;

public class DomainXmlParserTests
{
    [Fact]
    public void Routed_rbd_vm_keeps_identity_memory_cpu_and_os()
    {
        var d = LibvirtFixtures.ParseValid("rbd-routed-bios.xml");

        Assert.Equal("vm-web-01", d.Name);
        Assert.Equal(Guid.Parse("5f1c3a9e-2b7d-4c61-9e0a-1d2b3c4d5e6f"), d.Uuid);
        Assert.Equal("kvm", d.HypervisorType);
        Assert.Equal("Web front 01", d.Title);
        Assert.Equal("Nginx front for the association's sites", d.Description);
        Assert.Contains("asso-alpha", d.MetadataXml);
        Assert.Contains("taquin:owner", d.MetadataXml);
        Assert.Equal(4 * ByteSize.GiB, d.MemoryBytes);
        Assert.Equal(2 * ByteSize.GiB, d.CurrentMemoryBytes);
        Assert.Null(d.MaxMemoryBytes);
        Assert.Equal(4, d.VcpuMax);
        Assert.Equal(2, d.VcpuCurrent);
        Assert.Equal("host-passthrough", d.Cpu.Mode);
        Assert.Equal((1, 1, 2, 2), (d.Cpu.Sockets, d.Cpu.Dies, d.Cpu.Cores, d.Cpu.Threads));
        Assert.Equal("hvm", d.Os.Type);
        Assert.Equal("x86_64", d.Os.Arch);
        Assert.Equal("pc-i440fx-7.2", d.Os.Machine);
        Assert.Equal(Firmware.Bios, d.Os.Firmware);
        Assert.False(d.IsUefi);
        Assert.Equal(["hd", "network"], d.Os.BootDevices);
        Assert.True(d.Os.BootMenu);
        Assert.Equal(["acpi", "apic", "vmport"], d.Features);
        Assert.Equal("utc", d.ClockOffset);
        Assert.Equal("/usr/bin/qemu-system-x86_64", d.Emulator);
    }

    [Fact]
    public void Rbd_disk_reads_monitors_auth_driver_options_and_boot_order()
    {
        var d = LibvirtFixtures.ParseValid("rbd-routed-bios.xml");

        var root = d.Disks[0];
        Assert.True(root.IsRbd);
        Assert.Equal(DiskSourceKind.Network, root.SourceKind);
        Assert.Equal("libvirt/vm-web-01-disk0", root.NetworkName);
        Assert.Equal("libvirt/vm-web-01-disk0", root.VolumeKey);
        Assert.Equal([new NetworkHost("192.0.2.11", 6789), new NetworkHost("192.0.2.12", 6789), new NetworkHost("192.0.2.13", null)], root.NetworkHosts);
        Assert.Equal("libvirt", root.AuthUsername);
        Assert.Equal("ceph", root.AuthSecretType);
        Assert.Equal("client.libvirt secret", root.AuthSecretUsage);
        Assert.Null(root.AuthSecretUuid);
        Assert.Equal(("raw", "none", "native", "unmap", 1, "unmap"), (root.Format, root.Cache, root.Io, root.Discard, root.IoThread, root.DetectZeroes));
        Assert.Equal(("vda", "virtio"), (root.TargetDev, root.Bus));
        Assert.Equal("web01-root", root.Serial);
        Assert.Equal(1, root.BootOrder);
        Assert.Null(root.AddressController);

        // Newer libvirt puts <auth> inside <source> and names the secret by uuid; no bus: vd* means virtio.
        var data = d.Disks[1];
        Assert.Equal("0e4a2b5c-6d7e-4f80-9a1b-2c3d4e5f6071", data.AuthSecretUuid);
        Assert.Equal("libvirt", data.AuthUsername);
        Assert.Equal(("vdb", "virtio", "writeback"), (data.TargetDev, data.Bus, data.Cache));
    }

    [Fact]
    public void Routed_tap_interface_keeps_mac_ips_routes_and_options()
    {
        var nic = Assert.Single(LibvirtFixtures.ParseValid("rbd-routed-bios.xml").Interfaces);

        Assert.Equal("ethernet", nic.Type);
        Assert.Equal("52:54:00:3a:10:01", nic.Mac);
        Assert.Equal("virtio", nic.Model);
        Assert.Equal("tap-web01", nic.TargetDev);
        Assert.Equal([new IpAddressSpec("198.51.100.10", 32, "198.51.100.1", "ipv4"), new IpAddressSpec("2001:db8:10::10", 128, null, "ipv6")], nic.Ips);
        Assert.Equal([new RouteSpec("0.0.0.0", 0, "198.51.100.1", "ipv4"), new RouteSpec("2001:db8:10::", 64, null, "ipv6")], nic.Routes);
        Assert.Equal(4, nic.Queues);
        Assert.Equal(1500, nic.Mtu);
        Assert.False(nic.LinkDown);
        Assert.Null(nic.VlanTag);
    }

    [Fact]
    public void Console_channels_and_small_devices_are_read_and_routine_ones_not_flagged()
    {
        var d = LibvirtFixtures.ParseValid("rbd-routed-bios.xml");

        Assert.Equal(new CharDevice("pty", "isa-serial", 0), Assert.Single(d.Serials));
        Assert.Equal(new CharDevice("pty", "serial", 0), Assert.Single(d.Consoles));
        Assert.True(Assert.Single(d.Channels).IsGuestAgent);
        Assert.Equal(new GraphicsDevice("vnc", "127.0.0.1", 5901, false), Assert.Single(d.Graphics));
        Assert.Equal("virtio", d.VideoModel);
        Assert.Equal(new WatchdogDevice("i6300esb", "reset"), d.Watchdog);
        Assert.Equal(new RngDevice("virtio", "random", "/dev/urandom"), Assert.Single(d.Rngs));
        Assert.Null(d.Tpm);
        Assert.Equal(["usb", "pci", "virtio-serial"], d.Controllers.Select(c => c.Type));
        Assert.Equal(new ControllerDevice("usb", 0, "piix3-uhci"), d.Controllers[0]);
        // input and memballoon are in every dumpxml; audio is not modelled and must be visible.
        Assert.Equal(["audio"], d.OtherDevices);
    }

    [Fact]
    public void Uefi_guest_with_secure_boot_nvram_and_tpm()
    {
        var d = LibvirtFixtures.ParseValid("uefi-tpm-q35.xml");

        Assert.True(d.IsUefi);
        Assert.Equal("/usr/share/OVMF/OVMF_CODE_4M.ms.fd", d.Os.LoaderPath);
        Assert.Equal("pflash", d.Os.LoaderType);
        Assert.True(d.Os.LoaderReadOnly);
        Assert.True(d.Os.SecureBoot);
        Assert.Equal("/var/lib/libvirt/qemu/nvram/win-ad-01_VARS.fd", d.Os.NvramPath);
        Assert.Equal("/usr/share/OVMF/OVMF_VARS_4M.ms.fd", d.Os.NvramTemplate);
        Assert.Equal("pc-q35-7.2", d.Os.Machine);
        Assert.Equal(["cdrom", "hd"], d.Os.BootDevices);
        Assert.Equal(new TpmDevice("tpm-crb", "emulator", "2.0"), d.Tpm);
        Assert.Equal(["acpi", "apic", "hyperv", "smm"], d.Features);
        Assert.Equal("localtime", d.ClockOffset);
        Assert.Equal("host-model", d.Cpu.Mode);
        Assert.Equal(8 * ByteSize.GiB, d.MemoryBytes);
        Assert.Equal(8 * ByteSize.GiB, d.CurrentMemoryBytes);
        Assert.Equal(4, d.VcpuCurrent);
        Assert.Equal(new GraphicsDevice("spice", "0.0.0.0", null, true), Assert.Single(d.Graphics));
        Assert.Equal("qxl", d.VideoModel);
    }

    [Fact]
    public void Sd_disk_on_a_sata_controller_is_sata_and_empty_cdrom_has_no_source()
    {
        var d = LibvirtFixtures.ParseValid("uefi-tpm-q35.xml");

        var system = d.Disks[0];
        Assert.Equal(("sda", "sata", 0, 0), (system.TargetDev, system.Bus, system.AddressController, system.AddressUnit));
        Assert.Equal(DiskSourceKind.File, system.SourceKind);
        Assert.Equal("/var/lib/libvirt/images/win-ad-01.qcow2", system.Path);
        Assert.Equal("qcow2", system.Format);

        var cdrom = d.Disks[1];
        Assert.True(cdrom.IsCdrom);
        Assert.Equal(DiskSourceKind.None, cdrom.SourceKind);
        Assert.Null(cdrom.VolumeKey);
        Assert.True(cdrom.ReadOnly);
        Assert.Equal(1, cdrom.AddressUnit);
    }

    [Fact]
    public void Bridged_nic_keeps_vlan_mtu_link_state_boot_order_and_virtualport()
    {
        var nic = Assert.Single(LibvirtFixtures.ParseValid("uefi-tpm-q35.xml").Interfaces);

        Assert.Equal(("bridge", "br-vlan", "vnet3", "e1000e"), (nic.Type, nic.SourceBridge, nic.TargetDev, nic.Model));
        Assert.Equal(42, nic.VlanTag);
        Assert.Equal(9000, nic.Mtu);
        Assert.True(nic.LinkDown);
        Assert.Equal(2, nic.BootOrder);
        Assert.Equal("openvswitch", nic.VirtualPortType);
    }

    [Fact]
    public void Mixed_buses_infer_scsi_and_ide_and_read_block_volume_and_nbd_disks()
    {
        var d = LibvirtFixtures.ParseValid("mixed-buses.xml");

        Assert.Equal(["sda:scsi", "sdb:scsi", "hda:ide", "hdc:ide", "vdc:virtio", "vdd:virtio"], d.Disks.Select(x => $"{x.TargetDev}:{x.Bus}"));
        Assert.Equal("5000c50015ea71ac", d.Disks[0].Wwn);
        Assert.Equal(1, d.Disks[0].BootOrder);
        var block = d.Disks[1];
        Assert.Equal((DiskSourceKind.Block, "/dev/vg0/db-legacy-data", "directsync", "threads", true), (block.SourceKind, block.Path, block.Cache, block.Io, block.Shareable));
        Assert.Equal("OLDDISK", d.Disks[2].Serial);
        var iso = d.Disks[3];
        Assert.Equal((true, DiskSourceKind.File, "/var/lib/libvirt/iso/debian-12.iso"), (iso.IsCdrom, iso.SourceKind, iso.VolumeKey));
        var volume = d.Disks[4];
        Assert.Equal((DiskSourceKind.Volume, "default", "db-legacy-scratch.qcow2"), (volume.SourceKind, volume.VolumePool, volume.VolumeName));
        Assert.Null(volume.VolumeKey);
        var nbd = d.Disks[5];
        Assert.Equal(("nbd", "export1", false), (nbd.Protocol, nbd.NetworkName, nbd.IsRbd));
    }

    [Fact]
    public void Custom_cpu_units_and_other_interface_types()
    {
        var d = LibvirtFixtures.ParseValid("mixed-buses.xml");

        Assert.Equal(16 * ByteSize.GiB, d.MemoryBytes);
        Assert.Equal(64_000_000_000L, d.MaxMemoryBytes);
        Assert.Equal((8, 8), (d.VcpuMax, d.VcpuCurrent));
        Assert.Equal(("custom", "EPYC-Rome", 2, 4, 1), (d.Cpu.Mode, d.Cpu.Model, d.Cpu.Sockets, d.Cpu.Cores, d.Cpu.Threads));
        Assert.Null(d.Cpu.Dies);
        Assert.Equal([("require", "x2apic"), ("disable", "svm")], d.Cpu.FeatureFlags);
        Assert.Equal(Firmware.Bios, d.Os.Firmware);
        Assert.Equal(["network:default", "direct:eno1", "user:"], d.Interfaces.Select(i => $"{i.Type}:{i.SourceNetwork ?? i.SourceDev}"));
        Assert.Equal(new CharDevice("tcp", null, 1), Assert.Single(d.Serials));
        Assert.Equal(["sound"], d.OtherDevices);
        Assert.Equal(["scsi", "ide"], d.Controllers.Select(c => c.Type));
    }

    [Fact]
    public void Passthrough_devices_are_read_with_readable_descriptions()
    {
        var d = LibvirtFixtures.ParseValid("passthrough.xml");

        Assert.Equal([new HostdevDevice("subsystem", "pci", "pci 0000:03:00.0"), new HostdevDevice("subsystem", "usb", "usb 046d:c52b")], d.Hostdevs);
        Assert.Equal([new FilesystemDevice("mount", "path", "/srv/shared", "shared"), new FilesystemDevice("mount", "virtiofs", "/srv/render-cache", "cache")], d.Filesystems);
        var vhost = Assert.Single(d.Interfaces);
        Assert.Equal(("vhostuser", "/var/run/openvswitch/vhu0"), (vhost.Type, vhost.SourceDev));
        Assert.Equal(["smartcard", "redirdev", "panic"], d.OtherDevices);
        // Default unit is KiB, default os type hvm.
        Assert.Equal(ByteSize.GiB, d.MemoryBytes);
        Assert.Equal("hvm", d.Os.Type);
    }

    [Theory]
    [InlineData("b", 1L)]
    [InlineData("bytes", 1L)]
    [InlineData("KB", 1000L)]
    [InlineData("k", 1024L)]
    [InlineData("KiB", 1024L)]
    [InlineData("MB", 1000_000L)]
    [InlineData("M", 1024L * 1024)]
    [InlineData("MiB", 1024L * 1024)]
    [InlineData("GB", 1000_000_000L)]
    [InlineData("G", 1024L * 1024 * 1024)]
    [InlineData("GiB", 1024L * 1024 * 1024)]
    [InlineData("TB", 1000_000_000_000L)]
    [InlineData("T", 1024L * 1024 * 1024 * 1024)]
    [InlineData("TiB", 1024L * 1024 * 1024 * 1024)]
    public void Every_libvirt_memory_unit_is_understood(string unit, long factor)
    {
        var result = DomainXmlParser.Parse(Minimal($"<memory unit='{unit}'>3</memory><currentMemory unit='{unit}'>2</currentMemory>"), "units.xml");

        var domain = Assert.IsType<LibvirtDomain>(result.Domain);
        Assert.Equal(3 * factor, domain.MemoryBytes);
        Assert.Equal(2 * factor, domain.CurrentMemoryBytes);
    }

    [Fact]
    public void Unknown_memory_unit_is_an_error_naming_the_value()
    {
        var result = DomainXmlParser.Parse(Minimal("<memory unit='furlongs'>3</memory>"), "vm.xml");

        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(("memory", "3 furlongs", 1), (error.Element, error.Value, error.Line));
        Assert.Null(result.Domain);
    }

    [Fact]
    public void Memory_too_large_to_count_is_an_error_not_a_crash()
    {
        var result = DomainXmlParser.Parse(Minimal("<memory unit='TiB'>99999999999</memory>"), "vm.xml");

        Assert.Equal("memory", Assert.Single(result.Diagnostics).Element);
    }

    [Fact]
    public void Malformed_xml_is_one_error_with_line_and_column()
    {
        var result = LibvirtFixtures.Parse("malformed.xml");

        Assert.Null(result.Domain);
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(Severity.Error, error.Severity);
        Assert.Equal("malformed.xml", error.File);
        Assert.Equal(6, error.Line); // </domain> closes while <memory> (line 4) is still open
        Assert.True(error.Column > 0);
        Assert.Contains("Malformed XML", error.Message);
        Assert.StartsWith("malformed.xml:6:", error.Location);
    }

    [Fact]
    public void Doctype_with_entities_is_refused_not_expanded()
    {
        var result = LibvirtFixtures.Parse("doctype-entities.xml");

        Assert.Null(result.Domain);
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal("!DOCTYPE", error.Element);
        Assert.Contains("refuses DTDs", error.Message);
        Assert.Contains("Remove the <!DOCTYPE", error.Fix);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Missing_required_parts_are_all_reported_at_once_with_lines()
    {
        var result = LibvirtFixtures.Parse("missing-parts.xml");

        Assert.Null(result.Domain);
        Assert.All(result.Diagnostics, d => Assert.Equal(Severity.Error, d.Severity));
        Assert.Equal(["uuid", "memory", "vcpu", "devices/disk[0]/target"], result.Diagnostics.Select(d => d.Element));
        var vcpu = result.Diagnostics.Single(d => d.Element == "vcpu");
        Assert.Equal(("two", 3), (vcpu.Value, vcpu.Line));
        var disk = result.Diagnostics.Single(d => d.Element == "devices/disk[0]/target");
        Assert.Equal("/var/lib/libvirt/images/broken.qcow2", disk.Value);
        Assert.Equal(5, disk.Line);
        Assert.Contains("<target dev='vda'", disk.Fix);
    }

    [Fact]
    public void A_disk_without_target_is_dropped_but_the_domain_is_still_returned()
    {
        var result = DomainXmlParser.Parse(Minimal("<memory>1048576</memory>",
            "<disk type='file'><source file='/a.img'/></disk><disk type='file'><source file='/b.img'/><target dev='vdb'/></disk>"), "vm.xml");

        var domain = Assert.IsType<LibvirtDomain>(result.Domain);
        Assert.Equal("/b.img", Assert.Single(domain.Disks).Path);
        Assert.Equal("devices/disk[0]/target", Assert.Single(result.Diagnostics).Element);
    }

    [Fact]
    public void Invalid_uuid_and_vcpu_current_above_max_are_errors()
    {
        var xml = "<domain type='kvm'><name>x</name><uuid>not-a-uuid</uuid><memory>1024</memory><vcpu current='4'>2</vcpu></domain>";

        var result = DomainXmlParser.Parse(xml, "x.xml");

        Assert.Equal(["uuid", "vcpu/@current"], result.Diagnostics.Select(d => d.Element));
        Assert.Equal("not-a-uuid", result.Diagnostics[0].Value);
    }

    [Fact]
    public void Non_domain_root_is_refused()
    {
        var result = DomainXmlParser.Parse("<network><name>default</name></network>", "net.xml");

        Assert.Null(result.Domain);
        Assert.Contains("not a libvirt domain", Assert.Single(result.Diagnostics).Message);
    }

    [Theory]
    [InlineData("<os><type>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader></os>", true, false)]
    [InlineData("<os><type>hvm</type><loader>/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd</loader></os>", true, false)]
    [InlineData("<os firmware='efi'><type>hvm</type><loader secure='yes'/></os>", true, true)]
    [InlineData("<os><type>hvm</type><loader type='rom'>/usr/share/seabios/bios.bin</loader></os>", false, false)]
    [InlineData("<os><type>hvm</type></os>", false, false)]
    public void Firmware_is_detected_from_attribute_or_loader(string os, bool uefi, bool secureBoot)
    {
        var domain = DomainXmlParser.Parse(Minimal("<memory>1048576</memory>" + os), "fw.xml").Domain!;

        Assert.Equal(uefi, domain.IsUefi);
        Assert.Equal(secureBoot, domain.Os.SecureBoot);
    }

    [Theory]
    [InlineData("vda", "", "virtio")]
    [InlineData("sdc", "", "scsi")]
    [InlineData("sdc", "<address type='drive' controller='1' unit='0'/>", "scsi")]
    [InlineData("sdc", "<address type='drive' controller='2' unit='0'/>", "sata")]
    [InlineData("hdb", "", "ide")]
    [InlineData("fda", "", "fdc")]
    public void Bus_is_inferred_from_the_dev_prefix_when_absent(string dev, string address, string bus)
    {
        var devices = $"<controller type='scsi' index='1'/><controller type='sata' index='2'/><disk type='file'><source file='/x'/><target dev='{dev}'/>{address}</disk>";

        var domain = DomainXmlParser.Parse(Minimal("<memory>1048576</memory>", devices), "bus.xml").Domain!;

        Assert.Equal(bus, Assert.Single(domain.Disks).Bus);
    }

    private static string Minimal(string body, string devices = "")
        => $"<domain type='kvm'><name>m</name><uuid>00000000-0000-4000-8000-000000000001</uuid><vcpu>1</vcpu>{body}<devices>{devices}</devices></domain>";
}
