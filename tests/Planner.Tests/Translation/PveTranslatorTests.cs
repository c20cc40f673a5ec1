using System.Text.Json;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Tests.Pve;
using Taquin.Planner.Translation;
using static Taquin.Planner.Tests.Translation.TestDomains;

namespace Taquin.Planner.Tests.Translation;

public class PveTranslatorTests
{
    private static PveVmConfig Translate(VmRecord vm, TranslationTarget? target = null) => PveTranslator.Translate(vm, target ?? Target);

    private static string[] Codes(PveVmConfig config) => [.. config.Warnings.Select(w => w.Code)];

    // --- the scenarios -------------------------------------------------------------------------

    private static VmRecord BiosVirtioSingleDisk() => Vm(Domain() with
    {
        Disks = [Rbd("vda", "virtio", "web-01-disk0") with { Discard = "unmap", IoThread = 1 }],
        Interfaces = [Bridged("52:54:00:aa:01:01", "vmbr0")],
        Channels = [new ChannelDevice("unix", "virtio", "org.qemu.guest_agent.0")],
        Serials = [new CharDevice("pty", "isa-serial", 0)],
        Consoles = [new CharDevice("pty", "serial", 0)],
        Graphics = [new GraphicsDevice("vnc", "127.0.0.1", null, true)],
        VideoModel = "cirrus",
        Rngs = [new RngDevice("virtio", "random", "/dev/urandom")],
        Watchdog = new WatchdogDevice("i6300esb", "reset"),
    }, 20);

    private static VmRecord UefiSecureBootTpm() => Vm(Domain("win-ad-01") with
    {
        MemoryBytes = 8 * ByteSize.GiB,
        CurrentMemoryBytes = 8 * ByteSize.GiB,
        VcpuMax = 4,
        VcpuCurrent = 4,
        Os = new OsSpec
        {
            Machine = "pc-q35-8.2",
            Firmware = Firmware.Efi,
            LoaderPath = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
            LoaderType = "pflash",
            LoaderReadOnly = true,
            SecureBoot = true,
            NvramPath = "/var/lib/libvirt/qemu/nvram/win-ad-01_VARS.fd",
            NvramTemplate = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
        },
        Features = ["acpi", "apic", "hyperv", "smm"],
        ClockOffset = "localtime",
        MetadataXml = """<libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"><libosinfo:os id="http://microsoft.com/win/2k22"/></libosinfo:libosinfo>""",
        Disks = [Rbd("sda", "sata", "win-ad-01-c")],
        Interfaces = [Bridged("52:54:00:aa:02:01", "vmbr0") with { Model = "e1000e" }],
        Tpm = new TpmDevice("tpm-crb", "emulator", "2.0"),
        Graphics = [new GraphicsDevice("spice", "127.0.0.1", null, true)],
        VideoModel = "qxl",
    }, 60);

    private static VmRecord MixedBuses() => Vm(Domain("db-02") with
    {
        Os = new OsSpec { Machine = "pc-q35-7.2" },
        Disks =
        [
            Rbd("vdb", "virtio", "db-02-data") with { IoThread = 2, BootOrder = null },
            Rbd("vda", "virtio", "db-02-root") with { BootOrder = 1 },
            Rbd("sda", "scsi", "db-02-logs") with { IoThread = 1, Discard = "unmap", Serial = "LOGS 01" },
            File("sdb", "sata", "/var/lib/libvirt/images/db-02-scratch.qcow2") with { Wwn = "5000c500a1b2c3d4" },
            Cdrom("hdc", "ide", "/srv/iso/debian-13.iso") with { BootOrder = 2 },
        ],
        Controllers = [new ControllerDevice("scsi", 0, "virtio-scsi"), new ControllerDevice("sata", 0, null)],
        Interfaces = [Bridged("52:54:00:aa:03:01", "vmbr0") with { BootOrder = 3 }],
    }, 500, 20, 50, 100);

    private static VmRecord ScsiLsiLogic() => Vm(Domain("legacy-01") with
    {
        Disks = [Rbd("sda", "scsi", "legacy-01-disk0") with { Cache = "writeback", Wwn = "0x5000c500a1b2c3d5", ReadOnly = false }],
        Controllers = [new ControllerDevice("scsi", 0, "lsilogic")],
        Interfaces = [Bridged("52:54:00:aa:04:01", "vmbr0") with { Model = "rtl8139" }],
    }, 8);

    private static VmRecord RoutedEthernet() => Vm(Domain("mail-01") with
    {
        Disks = [Rbd("vda", "virtio", "mail-01-disk0")],
        Interfaces = [Routed("52:54:00:aa:05:01", "tap-mail01", "203.0.113.7")],
    }, 30);

    private static VmRecord BridgedWithVlan() => Vm(Domain("proxy-01") with
    {
        Disks = [Rbd("vda", "virtio", "proxy-01-disk0")],
        Interfaces = [Bridged("52:54:00:aa:06:01", "br-public") with { VlanTag = 42, Mtu = 9000, Queues = 4 }],
    }, 10);

    private static VmRecord VcpuHotplug() => Vm(Domain("build-01") with
    {
        MemoryBytes = 16 * ByteSize.GiB,
        CurrentMemoryBytes = 12 * ByteSize.GiB,
        VcpuMax = 8,
        VcpuCurrent = 3,
        Cpu = new CpuSpec { Mode = "custom", Model = "EPYC-Rome", Sockets = 2, Cores = 2, Threads = 2, FeatureFlags = [("require", "vmx"), ("disable", "pcid"), ("require", "avx512f")] },
        Disks = [Rbd("vda", "virtio", "build-01-disk0")],
        Interfaces = [Bridged("52:54:00:aa:07:01", "vmbr0")],
    }, 40);

    private static VmRecord WithHostdev() => Vm(Domain("gpu-01") with
    {
        Disks = [Rbd("vda", "virtio", "gpu-01-disk0")],
        Interfaces = [Bridged("52:54:00:aa:08:01", "vmbr0")],
        Hostdevs = [new HostdevDevice("subsystem", "pci", "0000:41:00.0")],
        Filesystems = [new FilesystemDevice("mount", "virtiofs", "/srv/share", "share")],
    }, 10);

    private static VmRecord SerialOnlyOddName() => Vm(Domain("router_edge.01") with
    {
        Cpu = new CpuSpec { Mode = "host-model" },
        Os = new OsSpec { Machine = "pc-i440fx-rhel7.6.0", BootDevices = ["network", "hd"] },
        Disks = [File("hda", "ide", "/var/lib/libvirt/images/router.qcow2")],
        Interfaces = [Bridged("52:54:00:aa:09:01", "vmbr0") with { Model = null }, Bridged("52:54:00:aa:09:02", "vmbr0") with { Model = "ne2k_pci" }],
        Serials = [new CharDevice("pty", "isa-serial", 0)],
        OtherDevices = ["smartcard", "redirdev"],
        Autostart = null,
    }, 2);

    public static TheoryData<string> Scenarios() =>
    [
        nameof(BiosVirtioSingleDisk), nameof(UefiSecureBootTpm), nameof(MixedBuses), nameof(ScsiLsiLogic),
        nameof(RoutedEthernet), nameof(BridgedWithVlan), nameof(VcpuHotplug), nameof(WithHostdev), nameof(SerialOnlyOddName),
    ];

    private static VmRecord Scenario(string name) => name switch
    {
        nameof(BiosVirtioSingleDisk) => BiosVirtioSingleDisk(),
        nameof(UefiSecureBootTpm) => UefiSecureBootTpm(),
        nameof(MixedBuses) => MixedBuses(),
        nameof(ScsiLsiLogic) => ScsiLsiLogic(),
        nameof(RoutedEthernet) => RoutedEthernet(),
        nameof(BridgedWithVlan) => BridgedWithVlan(),
        nameof(VcpuHotplug) => VcpuHotplug(),
        nameof(WithHostdev) => WithHostdev(),
        nameof(SerialOnlyOddName) => SerialOnlyOddName(),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    // --- every emitted parameter is valid for the real PVE ------------------------------------

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Every_emitted_parameter_is_valid_for_POST_nodes_node_qemu(string scenario)
    {
        foreach (var mode in new[] { DiskAllocation.Placeholder, DiskAllocation.ImportFromSource })
        {
            var config = Translate(Scenario(scenario), Target with { Disks = mode, OldCephStorage = "old-ceph" });

            var problems = RealPveSchema.Instance.ValidateParameters("/nodes/pve1/qemu", "POST", config.Params);

            Assert.True(problems.Count == 0, $"{scenario} ({mode}): " + string.Join("; ", problems));
        }
    }

    // --- concrete mappings ---------------------------------------------------------------------

    [Fact]
    public void A_BIOS_virtio_VM_keeps_its_bus_MAC_uuid_and_devices()
    {
        var config = Translate(BiosVirtioSingleDisk());

        Assert.Equal(
            [
                "vmid", "name", "ostype", "machine", "cpu", "sockets", "cores", "memory", "virtio0", "net0", "agent",
                "serial0", "vga", "rng0", "watchdog", "boot", "onboot", "smbios1", "description",
            ],
            config.Params.Keys);
        Assert.Equal("4101", config.Params["vmid"]);
        Assert.Equal("web-01", config.Params["name"]);
        Assert.Equal("l26", config.Params["ostype"]);
        Assert.Equal("pc-i440fx-7.2", config.Params["machine"]);
        Assert.Equal("host", config.Params["cpu"]);
        Assert.Equal("1", config.Params["sockets"]);
        Assert.Equal("2", config.Params["cores"]);
        Assert.Equal("4096", config.Params["memory"]);
        Assert.Equal("local-zfs:20,cache=none,discard=on,iothread=1", config.Params["virtio0"]);
        Assert.Equal("virtio=52:54:00:AA:01:01,bridge=vmbr0,tag=101", config.Params["net0"]);
        Assert.Equal("1", config.Params["agent"]);
        Assert.Equal("socket", config.Params["serial0"]);
        Assert.Equal("cirrus", config.Params["vga"]);
        Assert.Equal("source=/dev/urandom", config.Params["rng0"]);
        Assert.Equal("model=i6300esb,action=reset", config.Params["watchdog"]);
        Assert.Equal("order=virtio0", config.Params["boot"]);
        Assert.Equal("1", config.Params["onboot"]);
        Assert.Equal("uuid=6c7d1a52-2b8e-4f3c-9d1e-0a1b2c3d4e5f", config.Params["smbios1"]);
        Assert.Contains("libvirt host hv3", config.Params["description"], StringComparison.Ordinal);
        Assert.Equal(["GRAPHICS_DROPPED"], Codes(config));
        Assert.False(config.IsRefused);
    }

    [Fact]
    public void A_UEFI_secure_boot_VM_gets_ovmf_a_4m_efidisk_with_keys_and_a_TPM()
    {
        var config = Translate(UefiSecureBootTpm(), Target with { EfiStorage = "local-zfs-efi" });

        Assert.Equal("ovmf", config.Params["bios"]);
        Assert.Equal("local-zfs-efi:1,efitype=4m,pre-enrolled-keys=1", config.Params["efidisk0"]);
        Assert.Equal("local-zfs-efi:1,version=v2.0", config.Params["tpmstate0"]);
        Assert.Equal("pc-q35-8.2", config.Params["machine"]);
        Assert.Equal("win11", config.Params["ostype"]);
        Assert.Equal("local-zfs:60,cache=none", config.Params["sata0"]);
        Assert.Equal("e1000e=52:54:00:AA:02:01,bridge=vmbr0,tag=101", config.Params["net0"]);
        Assert.Equal("qxl", config.Params["vga"]);
        var nvram = Assert.Single(config.Warnings, w => w.Code == "EFI_NVRAM_COPY");
        Assert.Contains("/var/lib/libvirt/qemu/nvram/win-ad-01_VARS.fd", nvram.Message, StringComparison.Ordinal);
        Assert.Contains(config.Warnings, w => w.Code == "TPM_STATE_EMPTY");
        // libosinfo said which Windows: no guessing.
        Assert.DoesNotContain(config.Warnings, w => w.Code == "OSTYPE_GUESSED");
    }

    [Fact]
    public void A_UEFI_VM_without_secure_boot_keeps_the_2m_vars_of_its_loader()
    {
        var vm = Vm(Domain() with
        {
            Os = new OsSpec { Machine = "q35", Firmware = Firmware.Efi, LoaderPath = "/usr/share/OVMF/OVMF_CODE.fd", NvramPath = "/var/lib/libvirt/qemu/nvram/web-01_VARS.fd" },
            Disks = [Rbd("vda", "virtio", "x")],
        }, 10);

        var config = Translate(vm);

        Assert.Equal("local-zfs:1,efitype=2m,pre-enrolled-keys=0", config.Params["efidisk0"]);
        Assert.False(config.Params.ContainsKey("tpmstate0"));
    }

    [Fact]
    public void Mixed_buses_keep_bus_and_position_so_guest_device_names_do_not_move()
    {
        var config = Translate(MixedBuses());

        Assert.Equal("local-zfs:20,cache=none", config.Params["virtio0"]);
        Assert.Equal("local-zfs:500,cache=none,iothread=1", config.Params["virtio1"]);
        Assert.Equal("local-zfs:50,cache=none,discard=on,iothread=1,serial=LOGS%2001", config.Params["scsi0"]);
        Assert.Equal("local-zfs:100,wwn=0x5000c500a1b2c3d4", config.Params["sata1"]);
        Assert.Equal("none,media=cdrom", config.Params["ide2"]);
        Assert.Equal("virtio-scsi-single", config.Params["scsihw"]);
        Assert.Equal("pc-q35-7.2", config.Params["machine"]);
        Assert.Equal("order=virtio0;ide2;net0", config.Params["boot"]);
        var media = Assert.Single(config.Warnings, w => w.Code == "CDROM_MEDIA_DROPPED");
        Assert.Equal("disk[hdc]", media.Element);
        Assert.Contains("/srv/iso/debian-13.iso", media.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_lsilogic_controller_becomes_lsi_and_keeps_the_disk_wwn()
    {
        var config = Translate(ScsiLsiLogic());

        Assert.Equal("lsi", config.Params["scsihw"]);
        Assert.Equal("local-zfs:8,cache=writeback,wwn=0x5000c500a1b2c3d5", config.Params["scsi0"]);
        Assert.Equal("rtl8139=52:54:00:AA:04:01,bridge=vmbr0,tag=101", config.Params["net0"]);
        Assert.Equal("order=scsi0", config.Params["boot"]);
    }

    [Fact]
    public void Scsi_iothread_without_virtio_scsi_is_reported_not_silently_dropped()
    {
        var vm = Vm(Domain() with
        {
            Disks = [Rbd("sda", "scsi", "x") with { IoThread = 1 }],
            Controllers = [new ControllerDevice("scsi", 0, "lsilogic")],
        }, 10);

        var config = Translate(vm);

        Assert.Equal("lsi", config.Params["scsihw"]);
        Assert.Equal("local-zfs:10,cache=none", config.Params["scsi0"]);
        Assert.Contains(config.Warnings, w => w.Code == "SCSI_IOTHREAD_CONTROLLER");
    }

    [Fact]
    public void A_routed_tap_becomes_a_port_in_the_VMs_VLAN_and_its_routes_are_reported()
    {
        var config = Translate(RoutedEthernet());

        Assert.Equal("virtio=52:54:00:AA:05:01,bridge=vmbr0,tag=101", config.Params["net0"]);
        var routed = Assert.Single(config.Warnings, w => w.Code == "NIC_ROUTED_TO_VLAN");
        Assert.Equal("interface[52:54:00:aa:05:01]", routed.Element);
        Assert.Contains("tap-mail01", routed.Message, StringComparison.Ordinal);
        Assert.Contains("VLAN 101", routed.Message, StringComparison.Ordinal);
        Assert.Contains("203.0.113.7/32", routed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_routed_tap_without_an_assigned_VLAN_is_left_untagged_and_says_so()
    {
        var config = Translate(RoutedEthernet(), Target with { VlanTag = null });

        Assert.Equal("virtio=52:54:00:AA:05:01,bridge=vmbr0", config.Params["net0"]);
        Assert.Contains("no VLAN yet", Assert.Single(config.Warnings, w => w.Code == "NIC_ROUTED_TO_VLAN").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bridged_NIC_keeps_its_own_VLAN_MTU_and_queues_on_the_PVE_bridge()
    {
        var config = Translate(BridgedWithVlan());

        Assert.Equal("virtio=52:54:00:AA:06:01,bridge=vmbr0,tag=42,mtu=9000,queues=4", config.Params["net0"]);
        Assert.Contains("br-public", Assert.Single(config.Warnings, w => w.Code == "NIC_BRIDGE_CHANGED").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fewer_current_vcpus_than_max_become_vcpus_and_threads_fold_into_cores()
    {
        var config = Translate(VcpuHotplug());

        Assert.Equal("2", config.Params["sockets"]);
        Assert.Equal("4", config.Params["cores"]);
        Assert.Equal("3", config.Params["vcpus"]);
        Assert.Equal("EPYC-Rome,flags=+nested-virt;-pcid", config.Params["cpu"]);
        Assert.Equal("16384", config.Params["memory"]);
        Assert.Equal("12288", config.Params["balloon"]);
        Assert.Contains(config.Warnings, w => w.Code == "CPU_THREADS_FLATTENED");
        Assert.Contains("avx512f", Assert.Single(config.Warnings, w => w.Code == "CPU_FLAG_DROPPED").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Boot_from_hd_means_the_first_disk_of_the_domain_whatever_its_bus()
    {
        var vm = Vm(Domain() with
        {
            Os = new OsSpec { Machine = "pc", BootDevices = ["cdrom", "hd"] },
            Disks = [Rbd("vda", "virtio", "root"), Rbd("sda", "sata", "data"), Cdrom("hdc", "ide")],
        }, 10, 100);

        var config = Translate(vm);

        Assert.Equal("order=ide2;virtio0", config.Params["boot"]);
        Assert.Equal("local-zfs:100,cache=none", config.Params["sata0"]);
        Assert.DoesNotContain(config.Warnings, w => w.Code == "CDROM_MEDIA_DROPPED");
    }

    [Fact]
    public void A_VM_that_only_boots_from_the_network_keeps_its_disk_bootable_after_it()
    {
        var vm = Vm(Domain() with
        {
            Os = new OsSpec { Machine = "q35" },
            Disks = [Rbd("vda", "virtio", "root")],
            Interfaces = [Bridged("52:54:00:aa:0b:01", "vmbr0") with { BootOrder = 1 }],
        }, 10);

        var config = Translate(vm);

        Assert.Equal("order=net0;virtio0", config.Params["boot"]);
        Assert.Contains(config.Warnings, w => w.Code == "BOOT_DISK_ADDED");
    }

    [Fact]
    public void An_audio_backend_without_a_sound_card_is_nothing_to_report()
    {
        var silent = Translate(Vm(Domain() with { OtherDevices = ["audio"] }));
        var withSound = Translate(Vm(Domain() with { OtherDevices = ["sound", "audio"] }));

        Assert.DoesNotContain(silent.Warnings, w => w.Code == "DEVICE_DROPPED");
        Assert.Equal(["sound", "audio"], withSound.Warnings.Where(w => w.Code == "DEVICE_DROPPED").Select(w => w.Element));
    }

    [Fact]
    public void A_memballoon_is_carried_by_PVEs_default_balloon_while_other_devices_are_reported()
    {
        var vm = Vm(Domain() with { OtherDevices = ["memballoon", "sound"] });

        var config = Translate(vm);

        var dropped = Assert.Single(config.Warnings, w => w.Code == "DEVICE_DROPPED");
        Assert.Equal("sound", dropped.Element);
    }

    [Fact]
    public void Memory_without_ballooning_headroom_emits_no_balloon()
    {
        var config = Translate(BiosVirtioSingleDisk());

        Assert.False(config.Params.ContainsKey("balloon"));
    }

    [Fact]
    public void Passthrough_and_host_shares_refuse_the_VM()
    {
        var config = Translate(WithHostdev());

        Assert.True(config.IsRefused);
        Assert.Equal(["HOSTDEV", "FILESYSTEM_SHARE"], config.Refusals.Select(r => r.Code));
        Assert.Contains("0000:41:00.0", config.Refusals[0].Message, StringComparison.Ordinal);
        Assert.Contains("/srv/share", config.Refusals[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_vhost_user_NIC_refuses_the_VM()
    {
        var vm = Vm(Domain() with { Interfaces = [new InterfaceDevice { Type = "vhostuser", Mac = "52:54:00:aa:0a:01" }] });

        var config = Translate(vm);

        Assert.Equal("NIC_UNSUPPORTED", Assert.Single(config.Refusals).Code);
        Assert.False(config.Params.ContainsKey("net0"));
    }

    [Fact]
    public void A_serial_only_VM_with_an_invalid_name_and_odd_devices_is_fully_reported()
    {
        var config = Translate(SerialOnlyOddName());

        Assert.Equal("router-edge.01", config.Params["name"]);
        Assert.Equal("pc", config.Params["machine"]);
        Assert.Equal("host", config.Params["cpu"]);
        Assert.Equal("serial0", config.Params["vga"]);
        Assert.Equal("0", config.Params["tablet"]);
        Assert.Equal("local-zfs:2", config.Params["ide0"]);
        Assert.Equal("e1000=52:54:00:AA:09:01,bridge=vmbr0,tag=101", config.Params["net0"]);
        Assert.Equal("ne2k_pci=52:54:00:AA:09:02,bridge=vmbr0,tag=101", config.Params["net1"]);
        Assert.Equal("order=net0;ide0", config.Params["boot"]);
        Assert.False(config.Params.ContainsKey("onboot"));
        Assert.Equal(
            ["NAME_SANITIZED", "MACHINE_MAPPED", "CPU_HOST_MODEL", "NIC_MODEL_DEFAULTED", "DEVICE_DROPPED", "DEVICE_DROPPED", "AUTOSTART_UNKNOWN"],
            Codes(config));
        Assert.Contains("router_edge.01", config.Params["description"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("web_01", "web-01")]
    [InlineData("--db..02--", "db.02")]
    [InlineData("été", "t")]
    [InlineData("___", "vm-6c7d1a52")]
    public void Invalid_names_become_valid_DNS_names(string name, string expected)
    {
        Assert.Equal(expected, PveTranslator.SanitizeName(name, Uuid));
    }

    [Fact]
    public void Hyper_V_features_make_a_Windows_guess_that_is_reported()
    {
        var vm = Vm(Domain() with { Features = ["acpi", "hyperv"], ClockOffset = "localtime", Disks = [Rbd("vda", "virtio", "x")] }, 10);

        var config = Translate(vm);

        Assert.Equal("win10", config.Params["ostype"]);
        Assert.Contains(config.Warnings, w => w.Code == "OSTYPE_GUESSED");
    }

    [Theory]
    [InlineData("custom", "Skylake-Server-IBRS", "Skylake-Server-IBRS", null)]
    [InlineData("custom", "skylake-server-ibrs", "Skylake-Server-IBRS", null)]
    [InlineData("custom", "Zen5-Turbo", "x86-64-v2-AES", "CPU_MODEL_UNKNOWN")]
    [InlineData("maximum", null, "max", null)]
    [InlineData(null, null, "qemu64", null)]
    public void Cpu_models_map_to_QEMU_names_PVE_knows(string? mode, string? model, string expected, string? warning)
    {
        var vm = Vm(Domain() with { Cpu = new CpuSpec { Mode = mode, Model = model } });

        var config = Translate(vm);

        Assert.Equal(expected, config.Params["cpu"]);
        Assert.Equal(warning is not null, config.Warnings.Any(w => w.Code == warning));
        Assert.Empty(RealPveSchema.CheckCreate(config.Params));
    }

    [Fact]
    public void Import_mode_asks_PVE_to_import_from_the_old_Ceph_and_from_files()
    {
        var vm = Vm(Domain() with
        {
            Disks = [Rbd("vda", "virtio", "web-01-disk0"), File("vdb", "virtio", "/var/lib/libvirt/images/web-01-data.qcow2")],
        }, 20, 5);

        var config = Translate(vm, Target with { Disks = DiskAllocation.ImportFromSource, OldCephStorage = "old-ceph" });

        Assert.Equal("local-zfs:0,import-from=old-ceph:web-01-disk0,cache=none,size=20G", config.Params["virtio0"]);
        Assert.Equal("local-zfs:0,import-from=/var/lib/libvirt/images/web-01-data.qcow2,size=5G", config.Params["virtio1"]);
    }

    [Fact]
    public void A_disk_whose_size_is_unknown_cannot_be_allocated()
    {
        var domain = Domain() with { Disks = [Rbd("vda", "virtio", "lost-image")] };
        var vm = new VmRecord { Domain = domain, Host = "hv3", SourceFile = "domains/hv3/web-01.xml" };

        var config = Translate(vm);

        var refusal = Assert.Single(config.Refusals);
        Assert.Equal("DISK_SIZE_UNKNOWN", refusal.Code);
        Assert.Contains("rbd/lost-image", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_size_that_is_not_whole_GiB_rounds_up_with_a_warning()
    {
        var domain = Domain() with { Disks = [Rbd("vda", "virtio", "odd")] };
        var vm = new VmRecord
        {
            Domain = domain,
            Host = "hv3",
            SourceFile = "x.xml",
            Disks = [new VmDisk(domain.Disks[0], new VolumeInfo((10 * ByteSize.GiB) + 1, null))],
        };

        var config = Translate(vm);

        Assert.Equal("local-zfs:11,cache=none", config.Params["virtio0"]);
        Assert.Contains(config.Warnings, w => w.Code == "DISK_SIZE_ROUNDED");
    }

    [Fact]
    public void A_description_longer_than_PVE_allows_is_truncated_and_keeps_the_origin_note()
    {
        var vm = Vm(Domain() with { Description = new string('x', 10_000) });

        var config = Translate(vm);

        Assert.True(config.Params["description"].Length <= 8192);
        Assert.EndsWith("domains/hv3/web-01.xml).", config.Params["description"], StringComparison.Ordinal);
        Assert.Contains(config.Warnings, w => w.Code == "DESCRIPTION_TRUNCATED");
        Assert.Empty(RealPveSchema.CheckCreate(config.Params));
    }

    // --- JSON -----------------------------------------------------------------------------------

    [Fact]
    public void ToJson_writes_one_object_per_VM_with_params_in_order_and_every_warning()
    {
        var configs = new[] { Translate(BiosVirtioSingleDisk()), Translate(WithHostdev()) };

        using var json = JsonDocument.Parse(PveTranslator.ToJson(configs));

        var items = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        Assert.Equal(["vm", "params", "warnings", "refusals"], items[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal("web-01", items[0].GetProperty("vm").GetString());
        Assert.Equal(configs[0].Params.Keys, items[0].GetProperty("params").EnumerateObject().Select(p => p.Name));
        Assert.Equal("virtio=52:54:00:AA:01:01,bridge=vmbr0,tag=101", items[0].GetProperty("params").GetProperty("net0").GetString());
        var warning = Assert.Single(items[0].GetProperty("warnings").EnumerateArray());
        Assert.Equal("GRAPHICS_DROPPED", warning.GetProperty("code").GetString());
        Assert.Equal("graphics", warning.GetProperty("element").GetString());
        Assert.Equal(["HOSTDEV", "FILESYSTEM_SHARE"], items[1].GetProperty("refusals").EnumerateArray().Select(r => r.GetProperty("code").GetString()));
    }

    [Fact]
    public void ToJson_keeps_non_ASCII_text_readable()
    {
        var config = Translate(Vm(Domain() with { Description = "VM adhérent·e n°117" }));

        var json = PveTranslator.ToJson([config]);

        Assert.Contains("VM adhérent·e n°117", json, StringComparison.Ordinal);
        Assert.Contains("domain 'web-01'", json, StringComparison.Ordinal);
    }

    [Fact]
    public void ToJson_of_nothing_is_an_empty_array()
    {
        Assert.Equal("[]", PveTranslator.ToJson([]));
    }
}
