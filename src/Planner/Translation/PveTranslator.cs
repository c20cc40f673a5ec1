using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Pve;

namespace Taquin.Planner.Translation;

/// <summary>
/// libvirt domain -> parameters of PVE's POST /nodes/{node}/qemu, keeping what the guest can see
/// (MACs, disk buses and order, firmware, SMBIOS uuid) and reporting everything else.
/// Decisions are explained in docs/adr/0002-libvirt-to-pve-translation.md.
/// </summary>
public static partial class PveTranslator
{
    private const int DescriptionMaxLength = 8192;
    private const long MiB = 1024 * 1024;

    /// <summary>qemu-server's $MAX_NETS: net0 to net31.</summary>
    private const int MaxNets = 32;

    public static PveVmConfig Translate(VmRecord vm, TranslationTarget target)
    {
        var t = new Translation(vm, target);
        t.Run();
        return new PveVmConfig
        {
            Vm = vm.Name,
            Params = t.Params,
            Warnings = t.Warnings,
            Refusals = t.Refusals,
        };
    }

    /// <summary>
    /// The shape of <c>taquin translate --json</c>: an array of
    /// <c>{ "vm", "params": {key: value}, "warnings": [...], "refusals": [...] }</c>, keys in a stable order.
    /// </summary>
    public static string ToJson(IEnumerable<PveVmConfig> configs)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartArray();
            foreach (var config in configs)
            {
                json.WriteStartObject();
                json.WriteString("vm", config.Vm);
                json.WriteStartObject("params");
                foreach (var (key, value) in config.Params)
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
                WriteWarnings(json, "warnings", config.Warnings);
                WriteWarnings(json, "refusals", config.Refusals);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteWarnings(Utf8JsonWriter json, string name, IReadOnlyList<TranslationWarning> warnings)
    {
        json.WriteStartArray(name);
        foreach (var w in warnings)
        {
            json.WriteStartObject();
            json.WriteString("code", w.Code);
            json.WriteString("element", w.Element);
            json.WriteString("message", w.Message);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>A libvirt name as a PVE dns-name: letters, digits, '-' per label, labels joined by '.'.</summary>
    public static string SanitizeName(string name, Guid uuid)
    {
        var labels = name.Split('.')
            .Select(l => InvalidNameChars().Replace(l, "-"))
            .Select(l => RepeatedDashes().Replace(l, "-").Trim('-'))
            .Where(l => l.Length > 0);
        var result = string.Join('.', labels);
        return result.Length > 0 ? result : "vm-" + uuid.ToString("N")[..8];
    }

    private sealed class Translation(VmRecord vm, TranslationTarget target)
    {
        private readonly LibvirtDomain d = vm.Domain;
        private readonly List<string> bootDevices = [];
        private readonly List<(int Order, string Key)> explicitBoot = [];
        private string? firstDisk;
        private string? firstCdrom;

        public OrderedDictionary<string, string> Params { get; } = new(StringComparer.Ordinal);

        public List<TranslationWarning> Warnings { get; } = [];

        public List<TranslationWarning> Refusals { get; } = [];

        public void Run()
        {
            if (target.VmId is { } vmid)
            {
                Params["vmid"] = Str(vmid);
            }

            Name();
            Params["ostype"] = OsType();
            Machine();
            Firmware();
            Cpu();
            Memory();
            Disks();
            Networks();
            Consoles();
            Devices();
            Boot();
            if (d.Autostart is { } autostart)
            {
                Params["onboot"] = autostart ? "1" : "0";
            }
            else
            {
                Warn("AUTOSTART_UNKNOWN", "Whether libvirt autostarts this domain is unknown (no runtime info in the inventory); onboot is left at PVE's default 0.", "autostart");
            }

            Params["smbios1"] = "uuid=" + d.Uuid.ToString("D");
            Description();
            Refuse();
        }

        private void Name()
        {
            if (PveNamedFormats.IsDnsName(d.Name))
            {
                Params["name"] = d.Name;
                return;
            }

            var sanitized = SanitizeName(d.Name, d.Uuid);
            Params["name"] = sanitized;
            Warn("NAME_SANITIZED", $"'{d.Name}' is not a valid PVE VM name (DNS name); created as '{sanitized}'. The original name is kept in the description.", "name");
        }

        private string OsType()
        {
            // virt-install writes <libosinfo:os id="http://microsoft.com/win/10"/>: a reliable hint.
            var osId = LibosinfoId().Match(d.MetadataXml ?? "") is { Success: true } m ? m.Groups[1].Value : null;
            if (osId is not null)
            {
                var windows = WindowsFromLibosinfo(osId);
                if (windows is not null)
                {
                    return windows;
                }

                if (!osId.Contains("microsoft.com", StringComparison.OrdinalIgnoreCase))
                {
                    return "l26";
                }
            }

            var hyperv = d.Features.Contains("hyperv");
            var localtime = string.Equals(d.ClockOffset, "localtime", StringComparison.OrdinalIgnoreCase);
            if (hyperv || localtime)
            {
                var why = hyperv ? "Hyper-V enlightenments" : "an RTC in local time";
                Warn("OSTYPE_GUESSED", $"The domain has {why}, so it is taken as Windows: ostype=win10 (a guess; set win11 or an older one if known).", "features");
                return "win10";
            }

            return "l26";
        }

        private static string? WindowsFromLibosinfo(string id)
        {
            if (!id.Contains("microsoft.com/win", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            var version = id[(id.LastIndexOf('/') + 1)..].ToLowerInvariant();
            return version switch
            {
                "11" or "2k22" or "2k25" => "win11",
                "10" or "2k16" or "2k19" => "win10",
                "8" or "8.1" or "2k12" or "2k12r2" => "win8",
                "7" or "2k8r2" => "win7",
                "vista" => "wvista",
                "2k8" => "w2k8",
                "2k3" or "2k3r2" => "w2k3",
                "2k" => "w2k",
                "xp" => "wxp",
                _ => "win10",
            };
        }

        private void Machine()
        {
            var machine = d.Os.Machine;
            if (string.IsNullOrEmpty(machine))
            {
                return;
            }

            if (MachineType().IsMatch(machine) && machine.Length <= 40)
            {
                Params["machine"] = machine;
                return;
            }

            var plain = machine.Contains("q35", StringComparison.Ordinal) ? "q35" : "pc";
            Params["machine"] = plain;
            Warn("MACHINE_MAPPED", $"Machine type '{machine}' is not one PVE accepts; using '{plain}' (the latest version of the same chipset). The guest sees a newer chipset revision.", "os/type");
        }

        private void Firmware()
        {
            if (!d.IsUefi)
            {
                return;
            }

            Params["bios"] = "ovmf";
            var storage = target.EfiStorageOrDefault;
            var secure = d.Os.SecureBoot;
            var efiType = EfiType(secure);
            Params["efidisk0"] = $"{storage}:1,efitype={efiType},pre-enrolled-keys={(secure ? 1 : 0)}";
            if (d.Os.NvramPath is { } nvram)
            {
                Warn("EFI_NVRAM_COPY", $"efidisk0 is created with default OVMF vars; the mover must copy the NVRAM file '{nvram}' into it before first boot, or the guest's boot entries{(secure ? " and Secure Boot keys" : "")} are lost.", "os/nvram");
            }
            else
            {
                Warn("EFI_NVRAM_MISSING", "The domain has no <nvram> path: efidisk0 starts with default OVMF vars and the guest's boot entries must be recreated (the fallback \\EFI\\BOOT\\BOOTX64.EFI usually boots).", "os/nvram");
            }
        }

        // The vars copied over must fit the efidisk: OVMF_VARS_4M for 4m, the 2 MiB build otherwise.
        private string EfiType(bool secure)
        {
            var names = (d.Os.LoaderPath ?? "") + " " + (d.Os.NvramTemplate ?? "");
            if (secure || names.Contains("4M", StringComparison.OrdinalIgnoreCase))
            {
                return "4m";
            }

            if (string.IsNullOrWhiteSpace(names))
            {
                Warn("EFI_TYPE_GUESSED", "No OVMF loader path to tell the vars size; efitype=4m chosen. If the source vars are the 2 MiB build, the NVRAM copy will not fit: set efitype=2m.", "os/loader");
                return "4m";
            }

            return "2m";
        }

        private void Cpu()
        {
            var cpu = d.Cpu;
            var total = Math.Max(1, d.VcpuMax);
            int sockets = 1, cores = total;
            if (cpu.Sockets is { } s && cpu.Cores is { } c)
            {
                var socketsTotal = s * (cpu.Dies ?? 1);
                var threads = cpu.Threads ?? 1;
                if (socketsTotal * c * threads == total)
                {
                    sockets = socketsTotal;
                    cores = c * threads;
                    if (threads > 1)
                    {
                        Warn("CPU_THREADS_FLATTENED", $"PVE has no SMT topology: {c} cores x {threads} threads per socket become {cores} cores.", "cpu/topology");
                    }

                    if (cpu.Dies is > 1)
                    {
                        Warn("CPU_DIES_FLATTENED", $"PVE has no dies: {s} sockets x {cpu.Dies} dies become {socketsTotal} sockets.", "cpu/topology");
                    }
                }
                else
                {
                    Warn("CPU_TOPOLOGY_MISMATCH", $"Topology {s}x{cpu.Dies ?? 1}x{c}x{threads} does not multiply to {total} vCPUs; using 1 socket x {total} cores.", "cpu/topology");
                }
            }

            var cpuValue = CpuType(cpu);
            if (cpuValue is not null)
            {
                Params["cpu"] = cpuValue;
            }

            Params["sockets"] = Str(sockets);
            Params["cores"] = Str(cores);
            if (d.VcpuCurrent > 0 && d.VcpuCurrent < total)
            {
                Params["vcpus"] = Str(d.VcpuCurrent);
            }
        }

        private string? CpuType(CpuSpec cpu)
        {
            string type;
            switch (cpu.Mode)
            {
                case "host-passthrough":
                    if (cpu.FeatureFlags.Count > 0)
                    {
                        Warn("CPU_FLAG_DROPPED", $"cpu=host passes every host CPU feature through; the {cpu.FeatureFlags.Count} feature override(s) of the domain are dropped.", "cpu/feature");
                    }

                    return "host";
                case "maximum":
                    return "max";
                case "host-model":
                    type = "host";
                    Warn("CPU_HOST_MODEL", "host-model becomes cpu=host: the guest sees the PVE host's exact CPU. Fine on identical hosts; choose x86-64-v2-AES or a named model for live migration between different CPUs.", "cpu");
                    break;
                case "custom" or null when cpu.Model is { } model:
                    type = PveNamedFormats.CpuModels.FirstOrDefault(m => string.Equals(m, model, StringComparison.OrdinalIgnoreCase)) ?? "";
                    if (type.Length == 0)
                    {
                        type = "x86-64-v2-AES";
                        Warn("CPU_MODEL_UNKNOWN", $"CPU model '{model}' is not a QEMU model PVE knows; using x86-64-v2-AES. The guest sees different CPU flags.", "cpu/model");
                    }

                    break;
                case null:
                    // No <cpu>: QEMU gave the guest its default model.
                    return "qemu64";
                default:
                    Warn("CPU_MODE_UNKNOWN", $"CPU mode '{cpu.Mode}' is unknown; PVE's default (kvm64) applies.", "cpu");
                    return null;
            }

            var flags = new List<string>();
            foreach (var (policy, name) in cpu.FeatureFlags)
            {
                var pveFlag = name switch
                {
                    "vmx" or "svm" => "nested-virt",
                    "md-clear" or "md_clear" => "md-clear",
                    "spec-ctrl" or "ssbd" or "ibpb" or "virt-ssbd" or "amd-ssbd" or "amd-no-ssb" or "pcid" or "pdpe1gb" or "aes" => name,
                    _ => null,
                };
                var sign = policy switch
                {
                    "require" or "force" => "+",
                    "disable" or "forbid" => "-",
                    _ => null,
                };
                if (pveFlag is null || sign is null)
                {
                    Warn("CPU_FLAG_DROPPED", $"CPU feature '{name}' (policy {policy}) has no PVE VM flag; dropped.", "cpu/feature");
                    continue;
                }

                if (!flags.Any(f => f[1..] == pveFlag))
                {
                    flags.Add(sign + pveFlag);
                }
            }

            return flags.Count == 0 ? type : $"{type},flags={string.Join(';', flags)}";
        }

        private void Memory()
        {
            var max = CeilMiB(d.MemoryBytes);
            var current = d.CurrentMemoryBytes > 0 ? CeilMiB(d.CurrentMemoryBytes) : max;
            Params["memory"] = Str(Math.Max(16, max));
            if (current < max)
            {
                Params["balloon"] = Str(current);
            }

            if (d.MaxMemoryBytes is { } hotplug && hotplug > d.MemoryBytes)
            {
                Warn("MEMORY_HOTPLUG_DROPPED", $"<maxMemory> {ByteSize.Format(hotplug)} (memory hotplug) is not carried over; the VM gets a fixed {max} MiB.", "maxMemory");
            }
        }

        private void Disks()
        {
            var sizes = vm.Disks.GroupBy(x => x.Device.TargetDev, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.First().Volume, StringComparer.Ordinal);
            var keyOf = new Dictionary<DiskDevice, string>(ReferenceEqualityComparer.Instance);
            var used = new HashSet<string>(StringComparer.Ordinal);
            var scsiIoThreads = false;
            var ordered = d.Disks
                .Select((disk, i) => (disk, i))
                .OrderBy(x => x.disk.Bus, StringComparer.Ordinal)
                .ThenBy(x => DevIndex(x.disk.TargetDev) ?? int.MaxValue)
                .ThenBy(x => x.i)
                .Select(x => x.disk);
            var entries = new List<(DiskDevice Disk, string Key, string Value)>();
            foreach (var disk in ordered)
            {
                var element = $"disk[{disk.TargetDev}]";
                if (disk.Device == "floppy")
                {
                    Warn("FLOPPY_DROPPED", "PVE has no floppy drives; dropped.", element);
                    continue;
                }

                var bus = disk.Bus switch
                {
                    "virtio" or "scsi" or "sata" or "ide" => disk.Bus,
                    _ => null,
                };
                if (bus is null)
                {
                    RefuseWith("DISK_BUS_UNSUPPORTED", $"Disk bus '{disk.Bus}' has no PVE equivalent (virtio, scsi, sata, ide). Move the disk to one of those in libvirt first.", element);
                    continue;
                }

                if (disk.IsCdrom && bus == "virtio")
                {
                    bus = "sata";
                }

                var key = PickIndex(bus, DevIndex(disk.TargetDev), used, element);
                if (key is null)
                {
                    continue;
                }

                var value = disk.IsCdrom ? Cdrom(disk, element) : DiskValue(disk, bus, sizes.GetValueOrDefault(disk.TargetDev), element, ref scsiIoThreads);
                if (value is null)
                {
                    continue;
                }

                entries.Add((disk, key, value));
                keyOf[disk] = key;
                if (disk.BootOrder is { } order)
                {
                    explicitBoot.Add((order, key));
                }
            }

            // <boot dev='hd'/> means the first disk in the domain's own order, whatever its bus.
            firstDisk = d.Disks.Where(x => !x.IsCdrom && keyOf.ContainsKey(x)).Select(x => keyOf[x]).FirstOrDefault();
            firstCdrom = d.Disks.Where(x => x.IsCdrom && keyOf.ContainsKey(x)).Select(x => keyOf[x]).FirstOrDefault();

            var scsihw = ScsiController(entries.Any(e => e.Key.StartsWith("scsi", StringComparison.Ordinal)), scsiIoThreads);
            foreach (var (_, key, value) in entries)
            {
                // Only virtio-scsi-single gives each SCSI disk its own iothread; elsewhere PVE ignores the flag.
                var withoutIoThread = key.StartsWith("scsi", StringComparison.Ordinal) && scsihw != "virtio-scsi-single";
                Params[key] = withoutIoThread ? string.Join(',', value.Split(',').Where(p => p != "iothread=1")) : value;
            }
        }

        private string? PickIndex(string bus, int? wanted, HashSet<string> used, string element)
        {
            var max = PveNamedFormats.DriveBusMaxIndex[bus];
            if (wanted is { } w && w <= max && used.Add(bus + Str(w)))
            {
                return bus + Str(w);
            }

            for (var i = 0; i <= max; i++)
            {
                if (used.Add(bus + Str(i)))
                {
                    Warn("DISK_INDEX_CHANGED", $"The disk cannot be {bus}{wanted} on PVE; it becomes {bus}{i}, so its device name in the guest may change.", element);
                    return bus + Str(i);
                }
            }

            RefuseWith("DISK_BUS_FULL", $"PVE allows {max + 1} {bus} disks; this one does not fit.", element);
            return null;
        }

        private string Cdrom(DiskDevice disk, string element)
        {
            if (disk.VolumeKey is { } media)
            {
                Warn("CDROM_MEDIA_DROPPED", $"The inserted medium '{media}' is not carried over; the drive is created empty.", element);
            }

            if (disk.Bus == "virtio")
            {
                Warn("CDROM_BUS_CHANGED", "A CD-ROM cannot be virtio on PVE; it is attached on SATA.", element);
            }

            return "none,media=cdrom";
        }

        private string? DiskValue(DiskDevice disk, string bus, VolumeInfo? volume, string element, ref bool scsiIoThreads)
        {
            if (volume is null)
            {
                RefuseWith("DISK_SIZE_UNKNOWN", $"The size of '{disk.VolumeKey}' is not in volumes.json, so its PVE volume cannot be allocated. Add it (rbd info / qemu-img info).", element);
                return null;
            }

            var gib = Math.Max(1, (volume.SizeBytes + ByteSize.GiB - 1) / ByteSize.GiB);
            var parts = new List<string>();
            if (target.Disks == DiskAllocation.ImportFromSource && ImportSource(disk) is { } source)
            {
                parts.Add($"{target.DiskStorage}:0");
                parts.Add("import-from=" + source);
            }
            else
            {
                if (target.Disks == DiskAllocation.ImportFromSource)
                {
                    Warn("DISK_IMPORT_UNAVAILABLE", "No PVE storage id is set for the old Ceph, so this RBD disk cannot be imported by PVE; it is allocated empty for the mover to fill.", element);
                }

                parts.Add($"{target.DiskStorage}:{Str(gib)}");
            }

            if (volume.SizeBytes % ByteSize.GiB != 0)
            {
                Warn("DISK_SIZE_ROUNDED", $"{ByteSize.Format(volume.SizeBytes)} is not a whole GiB; the PVE volume has {gib} GiB (the guest sees a slightly larger disk).", element);
            }

            if (disk.Cache is { } cache && cache != "default")
            {
                if (cache is "none" or "writethrough" or "writeback" or "unsafe" or "directsync")
                {
                    parts.Add("cache=" + cache);
                }
                else
                {
                    Warn("DISK_CACHE_DROPPED", $"Cache mode '{cache}' is unknown to PVE; its default (no cache) applies.", element);
                }
            }

            if (disk.Discard == "unmap")
            {
                parts.Add("discard=on");
            }

            if (disk.Io is "native" or "threads" or "io_uring")
            {
                parts.Add("aio=" + disk.Io);
            }

            if (disk.DetectZeroes is "on" or "unmap")
            {
                parts.Add("detect_zeroes=1");
            }
            else if (disk.DetectZeroes == "off")
            {
                parts.Add("detect_zeroes=0");
            }

            if (disk.IoThread is not null)
            {
                if (bus == "virtio")
                {
                    parts.Add("iothread=1");
                }
                else if (bus == "scsi")
                {
                    parts.Add("iothread=1");
                    scsiIoThreads = true;
                }
                else
                {
                    Warn("DISK_IOTHREAD_DROPPED", $"PVE has no iothread on {bus} disks; dropped.", element);
                }
            }

            if (disk.ReadOnly)
            {
                if (bus is "virtio" or "scsi")
                {
                    parts.Add("ro=1");
                }
                else
                {
                    Warn("DISK_READONLY_DROPPED", $"PVE cannot mark a {bus} disk read-only; the guest will be able to write to it.", element);
                }
            }

            if (disk.Serial is { } serial)
            {
                var encoded = Uri.EscapeDataString(serial);
                if (encoded.Length <= 60)
                {
                    parts.Add("serial=" + encoded);
                }
                else
                {
                    Warn("DISK_SERIAL_DROPPED", $"Serial '{serial}' is longer than PVE's 60 characters; dropped (by-id links in the guest change).", element);
                }
            }

            if (disk.Wwn is { } wwn)
            {
                var hex = wwn.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? wwn[2..] : wwn;
                if (bus == "virtio")
                {
                    Warn("DISK_WWN_DROPPED", "virtio disks have no WWN on PVE; dropped.", element);
                }
                else if (Wwn().IsMatch(hex))
                {
                    parts.Add("wwn=0x" + hex);
                }
                else
                {
                    Warn("DISK_WWN_DROPPED", $"WWN '{wwn}' is not 16 hex digits; dropped.", element);
                }
            }

            if (disk.Shareable)
            {
                Warn("DISK_SHAREABLE_DROPPED", "<shareable/> has no PVE equivalent for a VM disk (PVE's 'shared' means something else); the disk is attached to this VM only.", element);
            }

            if (target.Disks == DiskAllocation.ImportFromSource)
            {
                parts.Add($"size={Str(gib)}G");
            }

            return string.Join(',', parts);
        }

        private string? ImportSource(DiskDevice disk)
        {
            if (disk.IsRbd && disk.NetworkName is { } name && target.OldCephStorage is { } storage)
            {
                var slash = name.IndexOf('/', StringComparison.Ordinal);
                return $"{storage}:{(slash >= 0 ? name[(slash + 1)..] : name)}";
            }

            return disk.SourceKind is DiskSourceKind.File or DiskSourceKind.Block && disk.Path is { } path && path.StartsWith('/') ? path : null;
        }

        private string? ScsiController(bool hasScsiDisks, bool ioThreads)
        {
            var controllers = d.Controllers.Where(c => c.Type == "scsi").ToList();
            if (!hasScsiDisks)
            {
                return null;
            }

            var model = controllers.FirstOrDefault()?.Model ?? "lsilogic";
            if (controllers.Select(c => c.Model).Distinct().Count() > 1)
            {
                Warn("SCSI_CONTROLLERS_MERGED", $"PVE has one SCSI controller model per VM; using '{model}' for all SCSI disks.", "controller[scsi]");
            }

            string hw;
            switch (model)
            {
                case "virtio-scsi" or "virtio-transitional" or "virtio-non-transitional":
                    hw = ioThreads ? "virtio-scsi-single" : "virtio-scsi-pci";
                    break;
                case "lsilogic":
                    hw = "lsi";
                    break;
                case "lsisas1078":
                    hw = "megasas";
                    break;
                case "vmpvscsi":
                    hw = "pvscsi";
                    break;
                default:
                    hw = "virtio-scsi-pci";
                    Warn("SCSI_MODEL_MAPPED", $"SCSI controller '{model}' has no PVE equivalent; using virtio-scsi-pci (the guest needs the virtio-scsi driver).", "controller[scsi]");
                    break;
            }

            if (ioThreads && hw != "virtio-scsi-single")
            {
                Warn("SCSI_IOTHREAD_CONTROLLER", $"iothread on SCSI disks needs virtio-scsi-single; the controller stays '{hw}' to keep the guest's view, so the disks get no iothread.", "controller[scsi]");
            }

            Params["scsihw"] = hw;
            return hw;
        }

        private void Networks()
        {
            var index = 0;
            foreach (var nic in d.Interfaces)
            {
                var element = $"interface[{nic.Mac ?? nic.TargetDev ?? Str(index)}]";
                if (nic.Type is "vhostuser" or "hostdev" or "vdpa")
                {
                    RefuseWith("NIC_UNSUPPORTED", $"Interface type '{nic.Type}' ties the VM to host hardware or a host socket; PVE cannot recreate it. Replace it with a bridged virtio NIC first.", element);
                    continue;
                }

                if (index >= MaxNets)
                {
                    RefuseWith("NIC_TOO_MANY", "PVE allows 32 network devices.", element);
                    continue;
                }

                var key = "net" + Str(index++);
                var parts = new List<string>();
                var model = NicModel(nic, element);
                if (nic.Mac is { } mac)
                {
                    if (UnicastMac().IsMatch(mac))
                    {
                        parts.Add($"{model}={mac.ToUpperInvariant()}");
                    }
                    else
                    {
                        RefuseWith("NIC_MAC_INVALID", $"MAC '{mac}' is not a unicast MAC address; PVE refuses it. Assign a unicast MAC in libvirt first.", element);
                        parts.Add("model=" + model);
                    }
                }
                else
                {
                    parts.Add("model=" + model);
                    Warn("NIC_MAC_GENERATED", "No MAC in the domain; PVE generates one, so the guest sees a new NIC.", element);
                }

                parts.Add("bridge=" + target.Bridge);
                var tag = NicVlan(nic, element);
                if (tag is { } t)
                {
                    parts.Add("tag=" + Str(t));
                }

                if (nic.Mtu is { } mtu)
                {
                    if (mtu is >= 1 and <= 65520)
                    {
                        parts.Add("mtu=" + Str(mtu));
                    }
                    else
                    {
                        Warn("NIC_MTU_DROPPED", $"MTU {mtu} is outside PVE's 1-65520; the bridge MTU applies.", element);
                    }
                }

                if (nic.Queues is { } queues && queues > 1)
                {
                    if (model != "virtio")
                    {
                        Warn("NIC_QUEUES_DROPPED", "Multiqueue needs a virtio NIC; dropped.", element);
                    }
                    else
                    {
                        parts.Add("queues=" + Str(Math.Min(queues, 64)));
                        if (queues > 64)
                        {
                            Warn("NIC_QUEUES_CLAMPED", $"{queues} queues exceed PVE's 64; using 64.", element);
                        }
                    }
                }

                if (nic.LinkDown)
                {
                    parts.Add("link_down=1");
                }

                if (nic.VirtualPortType is { } port)
                {
                    Warn("NIC_VIRTUALPORT_DROPPED", $"<virtualport type='{port}'> is dropped; the NIC is a port of the VLAN-aware bridge.", element);
                }

                if (nic.BootOrder is { } order)
                {
                    explicitBoot.Add((order, key));
                }

                Params[key] = string.Join(',', parts);
            }
        }

        private int? NicVlan(InterfaceDevice nic, string element)
        {
            var tag = nic.VlanTag ?? target.VlanTag;
            switch (nic.Type)
            {
                case "ethernet":
                    var routes = string.Join(", ", nic.Ips.Select(ip => $"{ip.Address}/{ip.Prefix?.ToString(CultureInfo.InvariantCulture) ?? "?"}")
                        .Concat(nic.Routes.Select(r => $"route {r.Address}/{r.Prefix?.ToString(CultureInfo.InvariantCulture) ?? "?"}{(r.Gateway is null ? "" : " via " + r.Gateway)}")));
                    var carried = routes.Length == 0 ? "" : $" Addresses/routes the router side must now carry on that VLAN: {routes}.";
                    Warn("NIC_ROUTED_TO_VLAN", $"Routed tap '{nic.TargetDev ?? "?"}' becomes a port of {target.Bridge}{(tag is null ? " with no VLAN yet (the plan assigns one)" : $" in VLAN {tag}")}; the /32 routes and BGP announcements on the libvirt host go away.{carried}", element);
                    break;
                case "bridge" when nic.SourceBridge != target.Bridge:
                    Warn("NIC_BRIDGE_CHANGED", $"Bridge '{nic.SourceBridge}' becomes {target.Bridge}{(tag is null ? "" : $" VLAN {tag}")}.", element);
                    break;
                case "network":
                    Warn("NIC_NETWORK_CHANGED", $"libvirt network '{nic.SourceNetwork}' becomes bridge {target.Bridge}{(tag is null ? "" : $" VLAN {tag}")}; DHCP/NAT of that network is not recreated.", element);
                    break;
                case "bridge":
                    break;
                default:
                    Warn("NIC_TYPE_MAPPED", $"Interface type '{nic.Type}' becomes a port of bridge {target.Bridge}.", element);
                    break;
            }

            if (tag is { } t && t is < 1 or > 4094)
            {
                Warn("NIC_VLAN_DROPPED", $"VLAN {t} is outside 1-4094; untagged.", element);
                return null;
            }

            return tag;
        }

        private string NicModel(InterfaceDevice nic, string element)
        {
            switch (nic.Model)
            {
                case "virtio" or "virtio-net" or "virtio-transitional" or "virtio-non-transitional":
                    return "virtio";
                case "e1000" or "e1000e" or "rtl8139" or "vmxnet3" or "pcnet" or "ne2k_pci" or "ne2k_isa" or "i82551" or "i82557b" or "i82559er":
                    return nic.Model;
                case "e1000-82540em" or "e1000-82544gc" or "e1000-82545em":
                    return nic.Model;
                case null:
                    var q35 = d.Os.Machine?.Contains("q35", StringComparison.Ordinal) == true;
                    var model = q35 ? "e1000e" : "e1000";
                    Warn("NIC_MODEL_DEFAULTED", $"No NIC model in the domain; QEMU's default for this machine ({model}) is kept.", element);
                    return model;
                default:
                    Warn("NIC_MODEL_MAPPED", $"NIC model '{nic.Model}' is unknown to PVE; using virtio (the guest needs the virtio-net driver).", element);
                    return "virtio";
            }
        }

        private void Consoles()
        {
            if (d.Channels.Any(c => c.IsGuestAgent))
            {
                Params["agent"] = "1";
            }

            foreach (var channel in d.Channels.Where(c => !c.IsGuestAgent))
            {
                Warn("CHANNEL_DROPPED", $"Channel '{channel.TargetName ?? channel.Type}' is dropped (PVE adds the SPICE agent channel itself with vga=qxl).", "channel");
            }

            // A <console> of type serial is the same device as the first <serial>; virtio consoles are extra.
            var serialCount = Math.Max(d.Serials.Count, d.Consoles.Any(c => c.TargetType is null or "serial") ? 1 : 0);
            for (var i = 0; i < Math.Min(serialCount, 4); i++)
            {
                Params["serial" + Str(i)] = "socket";
            }

            if (serialCount > 4)
            {
                Warn("SERIAL_DROPPED", $"PVE allows 4 serial ports; {serialCount - 4} dropped.", "serial");
            }

            if (d.Serials.Any(s => s.Type is not ("pty" or "unix")))
            {
                Warn("SERIAL_BACKEND_CHANGED", "Serial ports become PVE sockets (qm terminal); file/tcp/udp backends are not recreated.", "serial");
            }

            foreach (var console in d.Consoles.Where(c => c.TargetType is "virtio"))
            {
                Warn("CONSOLE_DROPPED", "A virtio console (hvc) has no PVE equivalent; use the serial port (ttyS0) instead.", "console");
            }

            Vga(serialCount > 0);
        }

        private void Vga(bool hasSerial)
        {
            if (d.Graphics.Count == 0 && hasSerial)
            {
                Params["vga"] = "serial0";
                Params["tablet"] = "0";
                return;
            }

            if (d.Graphics.Count > 0)
            {
                var kinds = string.Join(", ", d.Graphics.Select(g => g.Type).Distinct());
                Warn("GRAPHICS_DROPPED", $"Graphics ({kinds}) listen address, port and password are dropped; PVE serves the display through its own noVNC/SPICE proxy.", "graphics");
            }
            else
            {
                Params["tablet"] = "0";
            }

            switch (d.VideoModel)
            {
                case null:
                    return;
                case "vga" or "bochs":
                    Params["vga"] = "std";
                    return;
                case "cirrus" or "qxl" or "virtio" or "none":
                    Params["vga"] = d.VideoModel;
                    return;
                case "vmvga":
                    Params["vga"] = "vmware";
                    return;
                default:
                    Params["vga"] = "std";
                    Warn("VIDEO_MAPPED", $"Video model '{d.VideoModel}' is unknown to PVE; using std.", "video");
                    return;
            }
        }

        private void Devices()
        {
            var rng = d.Rngs.Count > 0 ? d.Rngs[0] : null;
            if (rng is not null)
            {
                var source = rng.BackendSource is "/dev/urandom" or "/dev/random" or "/dev/hwrng" ? rng.BackendSource : "/dev/urandom";
                if (source != rng.BackendSource)
                {
                    Warn("RNG_SOURCE_MAPPED", $"RNG backend '{rng.BackendModel} {rng.BackendSource}' becomes /dev/urandom on the PVE host.", "rng");
                }

                Params["rng0"] = "source=" + source;
            }

            if (d.Rngs.Count > 1)
            {
                Warn("RNG_DROPPED", "PVE has one RNG device; extra ones dropped.", "rng");
            }

            if (d.Watchdog is { } watchdog)
            {
                if (watchdog.Model is "i6300esb" or "ib700")
                {
                    var action = watchdog.Action switch
                    {
                        null => null,
                        "reset" or "shutdown" or "poweroff" or "pause" or "none" => watchdog.Action,
                        _ => "",
                    };
                    if (action == "")
                    {
                        Warn("WATCHDOG_ACTION_DROPPED", $"Watchdog action '{watchdog.Action}' is unknown to PVE; its default (reset) applies.", "watchdog");
                        action = null;
                    }

                    Params["watchdog"] = "model=" + watchdog.Model + (action is null ? "" : ",action=" + action);
                }
                else
                {
                    Warn("WATCHDOG_DROPPED", $"Watchdog model '{watchdog.Model}' is unknown to PVE (i6300esb, ib700); dropped.", "watchdog");
                }
            }

            if (d.Tpm is { } tpm)
            {
                if (tpm.BackendType == "emulator")
                {
                    var version = tpm.Version == "1.2" ? "v1.2" : "v2.0";
                    Params["tpmstate0"] = $"{target.EfiStorageOrDefault}:1,version={version}";
                    Warn("TPM_STATE_EMPTY", "tpmstate0 is created empty: the swtpm state of the libvirt host is not carried over, so keys sealed to the TPM (BitLocker, LUKS with TPM) need their recovery key on first boot.", "tpm");
                }
                else
                {
                    RefuseWith("TPM_PASSTHROUGH", $"TPM backend '{tpm.BackendType}' passes the host's TPM through; PVE can only emulate one.", "tpm");
                }
            }

            // PVE adds a virtio balloon device by default, so a libvirt <memballoon> is carried, not dropped.
            // <audio> is only the host backend of a <sound> device; without one the guest sees nothing.
            var hasSound = d.OtherDevices.Contains("sound");
            foreach (var other in d.OtherDevices.Where(o => o != "memballoon" && (o != "audio" || hasSound)))
            {
                Warn("DEVICE_DROPPED", $"<{other}> is not carried over to PVE.", other);
            }

            if (d.HypervisorType != "kvm")
            {
                Warn("HYPERVISOR_CHANGED", $"Domain type '{d.HypervisorType}' becomes KVM on PVE.", "domain/@type");
            }
        }

        private void Boot()
        {
            // Per-device <boot order> first, then the <os><boot dev> list; PVE boots only what is listed.
            bootDevices.AddRange(explicitBoot.OrderBy(b => b.Order).Select(b => b.Key));
            foreach (var dev in d.Os.BootDevices)
            {
                var key = dev switch
                {
                    "hd" => firstDisk,
                    "cdrom" => firstCdrom,
                    "network" => Params.ContainsKey("net0") ? "net0" : null,
                    _ => null,
                };
                if (key is null)
                {
                    Warn("BOOT_DEVICE_DROPPED", $"Boot device '{dev}' has no matching PVE device; skipped.", "os/boot");
                }
                else if (!bootDevices.Contains(key))
                {
                    bootDevices.Add(key);
                }
            }

            var diskBootable = bootDevices.Any(k => !k.StartsWith("net", StringComparison.Ordinal) && k != firstCdrom);
            if (!diskBootable && firstDisk is not null)
            {
                if (bootDevices.Count > 0)
                {
                    Warn("BOOT_DISK_ADDED", $"No disk was marked bootable; {firstDisk} is added last to the boot order so the VM can still boot from its disk.", "os/boot");
                }

                bootDevices.Add(firstDisk);
            }

            if (bootDevices.Count > 0)
            {
                Params["boot"] = "order=" + string.Join(';', bootDevices);
            }
        }

        private void Description()
        {
            var text = new StringBuilder();
            if (!string.IsNullOrWhiteSpace(d.Title))
            {
                text.Append(d.Title.Trim()).Append("\n\n");
            }

            if (!string.IsNullOrWhiteSpace(d.Description))
            {
                text.Append(d.Description.Trim()).Append("\n\n");
            }

            var note = $"Migrated by Taquin from libvirt host {vm.Host}, domain '{d.Name}' (uuid {d.Uuid:D}, {vm.SourceFile}).";
            var room = DescriptionMaxLength - note.Length;
            var body = text.ToString();
            if (body.Length > room)
            {
                Warn("DESCRIPTION_TRUNCATED", $"The description is longer than PVE's {DescriptionMaxLength} characters; truncated.", "description");
                body = body[..Math.Max(0, room - 2)] + "\n\n";
            }

            Params["description"] = body + note;
        }

        private void Refuse()
        {
            foreach (var hostdev in d.Hostdevs)
            {
                RefuseWith("HOSTDEV", $"Host device passthrough ({hostdev.Description}) cannot follow the VM to another host. Detach it in libvirt, or migrate this VM by hand.", "hostdev");
            }

            foreach (var fs in d.Filesystems)
            {
                var kind = fs.Driver == "virtiofs" ? "virtiofs" : "9p";
                RefuseWith("FILESYSTEM_SHARE", $"The {kind} share of host directory '{fs.Source}' (mount tag '{fs.Target}') cannot move with the VM. Replace it with a network share or a disk first.", "filesystem");
            }

            if (d.Os.Arch is { } arch && arch is not ("x86_64" or "i686"))
            {
                RefuseWith("ARCH_UNSUPPORTED", $"Architecture '{arch}' does not run on the x86_64 PVE hosts.", "os/type");
            }
        }

        private void Warn(string code, string message, string element) => Warnings.Add(new(code, message, element));

        private void RefuseWith(string code, string message, string element) => Refusals.Add(new(code, message, element));

        private static long CeilMiB(long bytes) => (bytes + MiB - 1) / MiB;

        /// <summary>vda -> 0, vdb -> 1, sdaa -> 26, hdc -> 2: the position the guest names the disk by.</summary>
        private static int? DevIndex(string targetDev)
        {
            var m = TargetDevLetters().Match(targetDev);
            if (!m.Success)
            {
                return null;
            }

            var index = 0;
            foreach (var c in m.Groups[1].Value)
            {
                index = (index * 26) + (c - 'a' + 1);
            }

            return index - 1;
        }
    }

    private static string Str(long value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"[^a-zA-Z0-9\-]")]
    private static partial Regex InvalidNameChars();

    [GeneratedRegex(@"-{2,}")]
    private static partial Regex RepeatedDashes();

    [GeneratedRegex(@"^(pc|pc(-i440fx)?-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|q35|pc-q35-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|virt(?:-\d+(\.\d+)+)?(\+pve\d+)?)$")]
    private static partial Regex MachineType();

    [GeneratedRegex(@"<(?:\w+:)?os\s+id=['""]([^'""]+)['""]")]
    private static partial Regex LibosinfoId();

    [GeneratedRegex(@"^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$", RegexOptions.IgnoreCase)]
    private static partial Regex UnicastMac();

    [GeneratedRegex(@"^[0-9a-fA-F]{16}$")]
    private static partial Regex Wwn();

    [GeneratedRegex(@"^(?:vd|sd|hd|xvd)([a-z]+)$")]
    private static partial Regex TargetDevLetters();
}
