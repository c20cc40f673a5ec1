using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;

namespace Taquin.Planner.Libvirt;

/// <summary>Outcome of parsing one domain XML: the domain when its identity could be read, and every problem found.</summary>
public sealed record DomainParseResult(LibvirtDomain? Domain, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.Severity == Severity.Error);
}

/// <summary>
/// Reads libvirt domain XML as <c>virsh dumpxml</c> prints it into <see cref="LibvirtDomain"/>.
/// DTDs are refused (no entity expansion); every problem is reported, not only the first.
/// The domain is null only when the XML is unreadable or its identity (name, uuid, memory, vcpu) is missing;
/// otherwise broken parts (e.g. a disk without target) are left out and reported as errors.
/// </summary>
public static class DomainXmlParser
{
    // Present in nearly every dumpxml and carrying nothing a migration has to keep.
    private static readonly HashSet<string> IgnoredDevices = ["emulator", "input", "memballoon"];

    public static DomainParseResult Parse(string xml, string fileForMessages)
    {
        XDocument doc;
        try
        {
            var settings = new XmlReaderSettings
            {
                DtdProcessing = DtdProcessing.Prohibit,
                XmlResolver = null,
                IgnoreComments = true,
                IgnoreProcessingInstructions = true,
            };
            using var text = new StringReader(xml);
            using var reader = XmlReader.Create(text, settings);
            doc = XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException ex) when (ex.Message.Contains("DTD", StringComparison.OrdinalIgnoreCase))
        {
            // The reader refuses before it counts lines: locate the declaration ourselves.
            var (line, column) = PositionOf(xml, "<!DOCTYPE");
            return Failed(Diagnostic.Error(fileForMessages, "!DOCTYPE",
                "The file contains a DOCTYPE/DTD declaration; Taquin refuses DTDs so entities are never expanded (XML entity attack).",
                "Remove the <!DOCTYPE ...> declaration; `virsh dumpxml` never prints one.",
                line: line ?? NullIfZero(ex.LineNumber), column: column ?? NullIfZero(ex.LinePosition)));
        }
        catch (XmlException ex)
        {
            return Failed(Diagnostic.Error(fileForMessages, "xml",
                $"Malformed XML: {ex.Message}",
                "Fix the XML at that line and column, or re-export the domain with `virsh dumpxml <vm>`.",
                line: NullIfZero(ex.LineNumber), column: NullIfZero(ex.LinePosition)));
        }

        var root = doc.Root!;
        if (root.Name.LocalName != "domain")
        {
            return Failed(Error(fileForMessages, root, "domain",
                $"The root element is <{root.Name.LocalName}>, not <domain>: this is not a libvirt domain XML.",
                "Put the output of `virsh dumpxml <vm>` in this file.", root.Name.LocalName));
        }

        return new DomainReader(fileForMessages).Read(root);
    }

    private static DomainParseResult Failed(Diagnostic diagnostic) => new(null, [diagnostic]);

    private static int? NullIfZero(int n) => n > 0 ? n : null;

    private static (int? Line, int? Column) PositionOf(string text, string needle)
    {
        var index = text.IndexOf(needle, StringComparison.OrdinalIgnoreCase);
        if (index < 0)
        {
            return (null, null);
        }

        var lineStart = text.LastIndexOf('\n', Math.Max(0, index - 1)) + 1;
        var line = 1 + text.AsSpan(0, index).Count('\n');
        return (line, index - lineStart + 1);
    }

    private static Diagnostic Error(string file, XObject at, string element, string message, string fix, string? value = null)
    {
        var info = (IXmlLineInfo)at;
        return Diagnostic.Error(file, element, message, fix, value,
            info.HasLineInfo() ? info.LineNumber : null, info.HasLineInfo() ? info.LinePosition : null);
    }

    /// <summary>Holds the diagnostics of one parse so the element readers stay small.</summary>
    private sealed class DomainReader(string file)
    {
        private readonly List<Diagnostic> diagnostics = [];

        public DomainParseResult Read(XElement root)
        {
            var name = Text(root.Element("name"));
            if (string.IsNullOrWhiteSpace(name))
            {
                Err(root, "name", "The domain has no <name>.", "Add <name>vm-name</name> under <domain> (as `virsh dumpxml` prints it).");
            }

            var uuid = ReadUuid(root);
            var memory = ReadMemory(root, "memory", required: true);
            var currentMemory = ReadMemory(root, "currentMemory", required: false);
            var maxMemory = ReadMemory(root, "maxMemory", required: false);
            var (vcpuMax, vcpuCurrent) = ReadVcpu(root);

            var devices = root.Element("devices");
            var controllers = devices?.Elements("controller").Select(ReadController).OfType<ControllerDevice>().ToList() ?? [];
            var disks = new List<DiskDevice>();
            var index = 0;
            foreach (var disk in devices?.Elements("disk") ?? [])
            {
                if (ReadDisk(disk, index++, controllers) is { } d)
                {
                    disks.Add(d);
                }
            }

            var domainType = Attr(root, "type");
            var description = Text(root.Element("description"));
            var title = Text(root.Element("title"));
            var metadata = root.Element("metadata") is { } meta
                ? string.Concat(meta.Nodes().Select(n => n.ToString(SaveOptions.DisableFormatting)))
                : null;

            if (name is null || uuid is null || memory is null || vcpuMax is null)
            {
                return new DomainParseResult(null, diagnostics);
            }

            var domain = new LibvirtDomain
            {
                Name = name,
                Uuid = uuid.Value,
                HypervisorType = domainType ?? "kvm",
                Title = title,
                Description = description,
                MetadataXml = string.IsNullOrEmpty(metadata) ? null : metadata,
                MemoryBytes = memory.Value,
                CurrentMemoryBytes = currentMemory ?? memory.Value,
                MaxMemoryBytes = maxMemory,
                VcpuMax = vcpuMax.Value,
                VcpuCurrent = vcpuCurrent ?? vcpuMax.Value,
                Cpu = ReadCpu(root.Element("cpu")),
                Os = ReadOs(root.Element("os")),
                Features = root.Element("features")?.Elements().Select(e => e.Name.LocalName).ToList() ?? [],
                ClockOffset = Attr(root.Element("clock"), "offset"),
                Emulator = Text(devices?.Element("emulator")),
                Disks = disks,
                Controllers = controllers,
                Interfaces = Children(devices, "interface").Select(ReadInterface).ToList(),
                Graphics = Children(devices, "graphics").Select(ReadGraphics).ToList(),
                Serials = Children(devices, "serial").Select(ReadChar).ToList(),
                Consoles = Children(devices, "console").Select(ReadChar).ToList(),
                Channels = Children(devices, "channel").Select(c => new ChannelDevice(
                    Attr(c, "type") ?? "unix", Attr(c.Element("target"), "type"), Attr(c.Element("target"), "name"))).ToList(),
                Rngs = Children(devices, "rng").Select(r => new RngDevice(
                    Attr(r, "model") ?? "virtio", Attr(r.Element("backend"), "model"), Text(r.Element("backend")))).ToList(),
                Watchdog = devices?.Element("watchdog") is { } w ? new WatchdogDevice(Attr(w, "model") ?? "i6300esb", Attr(w, "action")) : null,
                Tpm = devices?.Element("tpm") is { } t
                    ? new TpmDevice(Attr(t, "model") ?? "tpm-tis", Attr(t.Element("backend"), "type") ?? "emulator", Attr(t.Element("backend"), "version"))
                    : null,
                Hostdevs = Children(devices, "hostdev").Select(ReadHostdev).ToList(),
                Filesystems = Children(devices, "filesystem").Select(f => new FilesystemDevice(
                    Attr(f, "type") ?? "mount",
                    Attr(f.Element("driver"), "type"),
                    Attr(f.Element("source"), "dir") ?? Attr(f.Element("source"), "file") ?? Attr(f.Element("source"), "name")
                        ?? Attr(f.Element("source"), "socket") ?? Attr(f.Element("source"), "dev"),
                    Attr(f.Element("target"), "dir"))).ToList(),
                VideoModel = Attr(devices?.Element("video")?.Element("model"), "type"),
                OtherDevices = devices?.Elements().Select(e => e.Name.LocalName)
                    .Where(n => !KnownDevices.Contains(n) && !IgnoredDevices.Contains(n)).ToList() ?? [],
            };
            return new DomainParseResult(domain, diagnostics);
        }

        private static readonly HashSet<string> KnownDevices =
        [
            "disk", "controller", "interface", "graphics", "serial", "console", "channel",
            "rng", "watchdog", "tpm", "hostdev", "filesystem", "video",
        ];

        private Guid? ReadUuid(XElement root)
        {
            var el = root.Element("uuid");
            var text = Text(el);
            if (text is null)
            {
                Err(root, "uuid", "The domain has no <uuid>; it is kept as the PVE SMBIOS uuid so the guest sees the same machine.",
                    "Add the <uuid> line from `virsh dumpxml <vm>`.");
                return null;
            }

            if (!Guid.TryParse(text, out var uuid))
            {
                Err(el!, "uuid", "The <uuid> is not a valid UUID.", "Use the uuid `virsh domuuid <vm>` prints (8-4-4-4-12 hex digits).", text);
                return null;
            }

            return uuid;
        }

        private long? ReadMemory(XElement root, string element, bool required)
        {
            var el = root.Element(element);
            if (el is null)
            {
                if (required)
                {
                    Err(root, element, $"The domain has no <{element}>.", $"Add <{element} unit='KiB'>...</{element}> as `virsh dumpxml` prints it.");
                }

                return null;
            }

            var unit = Attr(el, "unit");
            if (!TryLibvirtSize(el.Value, unit, out var bytes) || (required && bytes <= 0))
            {
                Err(el, element, $"<{element}> is not a size libvirt understands (a positive integer with unit b, KB, k/KiB, MB, M/MiB, GB, G/GiB, TB, T/TiB).",
                    $"Write e.g. <{element} unit='GiB'>4</{element}>.", unit is null ? el.Value : $"{el.Value} {unit}");
                return null;
            }

            return bytes;
        }

        private static bool TryLibvirtSize(string value, string? unit, out long bytes)
        {
            try
            {
                return ByteSize.TryFromLibvirt(value, unit, out bytes);
            }
            catch (OverflowException)
            {
                bytes = 0;
                return false;
            }
        }

        private (int? Max, int? Current) ReadVcpu(XElement root)
        {
            var el = root.Element("vcpu");
            if (el is null)
            {
                Err(root, "vcpu", "The domain has no <vcpu>.", "Add <vcpu placement='static'>N</vcpu> as `virsh dumpxml` prints it.");
                return (null, null);
            }

            var max = PositiveInt(el.Value);
            if (max is null)
            {
                Err(el, "vcpu", "<vcpu> must be a positive integer.", "Write the number of vCPUs, e.g. <vcpu>2</vcpu>.", el.Value);
            }

            int? current = null;
            if (el.Attribute("current") is { } cur)
            {
                current = PositiveInt(cur.Value);
                if (current is null || (max is not null && current > max))
                {
                    Err(cur, "vcpu/@current", "vcpu current must be a positive integer no larger than the <vcpu> maximum.",
                        "Fix current='N' or remove it.", cur.Value);
                    current = null;
                }
            }

            return (max, current);
        }

        private static CpuSpec ReadCpu(XElement? cpu)
        {
            if (cpu is null)
            {
                return new CpuSpec();
            }

            var topology = cpu.Element("topology");
            return new CpuSpec
            {
                Mode = Attr(cpu, "mode") ?? (cpu.Element("model") is null ? null : "custom"),
                Model = Text(cpu.Element("model")),
                Sockets = Int(Attr(topology, "sockets")),
                Dies = Int(Attr(topology, "dies")),
                Cores = Int(Attr(topology, "cores")),
                Threads = Int(Attr(topology, "threads")),
                FeatureFlags = cpu.Elements("feature")
                    .Select(f => (Attr(f, "policy") ?? "require", Attr(f, "name") ?? ""))
                    .Where(f => f.Item2.Length > 0).ToList(),
            };
        }

        private static OsSpec ReadOs(XElement? os)
        {
            if (os is null)
            {
                return new OsSpec();
            }

            var type = os.Element("type");
            var loader = os.Element("loader");
            var nvram = os.Element("nvram");
            var loaderPath = Text(loader);
            var loaderType = Attr(loader, "type");
            var firmwareFeatures = os.Element("firmware")?.Elements("feature").ToList() ?? [];
            var isEfi = Attr(os, "firmware") == "efi"
                || loaderType == "pflash"
                || (loaderPath is not null && LooksLikeUefi(loaderPath));
            var secureBoot = Attr(loader, "secure") == "yes"
                || firmwareFeatures.Any(f => Attr(f, "name") == "secure-boot" && Attr(f, "enabled") == "yes");

            return new OsSpec
            {
                Type = Text(type) ?? "hvm",
                Arch = Attr(type, "arch"),
                Machine = Attr(type, "machine"),
                Firmware = isEfi ? Firmware.Efi : Firmware.Bios,
                LoaderPath = loaderPath,
                LoaderReadOnly = Attr(loader, "readonly") == "yes",
                LoaderType = loaderType,
                SecureBoot = secureBoot,
                NvramPath = Text(nvram) ?? Attr(nvram?.Element("source"), "file"),
                NvramTemplate = Attr(nvram, "template"),
                BootDevices = os.Elements("boot").Select(b => Attr(b, "dev")).OfType<string>().ToList(),
                BootMenu = Attr(os.Element("bootmenu"), "enable") == "yes",
            };
        }

        private static bool LooksLikeUefi(string path)
            => path.Contains("OVMF", StringComparison.OrdinalIgnoreCase)
            || path.Contains("edk2", StringComparison.OrdinalIgnoreCase)
            || path.Contains("AAVMF", StringComparison.OrdinalIgnoreCase)
            || path.Contains("uefi", StringComparison.OrdinalIgnoreCase);

        private ControllerDevice? ReadController(XElement c)
        {
            var type = Attr(c, "type");
            if (type is null)
            {
                Err(c, "controller", "A <controller> has no type attribute.", "Add type='scsi|sata|ide|usb|pci|virtio-serial' or remove the controller.");
                return null;
            }

            return new ControllerDevice(type, Int(Attr(c, "index")) ?? 0, Attr(c, "model"));
        }

        private DiskDevice? ReadDisk(XElement disk, int index, IReadOnlyList<ControllerDevice> controllers)
        {
            var element = $"devices/disk[{index}]";
            var typeText = Attr(disk, "type") ?? "file";
            var source = disk.Element("source");
            var target = disk.Element("target");
            var driver = disk.Element("driver");
            var address = disk.Element("address");
            var auth = source?.Element("auth") ?? disk.Element("auth");
            var device = Attr(disk, "device") ?? "disk";

            DiskSourceKind? kind = typeText switch
            {
                "file" => DiskSourceKind.File,
                "block" => DiskSourceKind.Block,
                "network" => DiskSourceKind.Network,
                "volume" => DiskSourceKind.Volume,
                _ => null,
            };
            if (kind is null)
            {
                Err(disk, element, $"Disk type '{typeText}' is not supported (only file, block, network and volume).",
                    "Convert the disk to a file, block device or RBD image, or exclude the VM.", typeText);
            }

            var hasMedium = source is not null && (source.Attribute("file") ?? source.Attribute("dev") ?? source.Attribute("name")
                ?? source.Attribute("volume")) is not null;
            if (!hasMedium && device is "cdrom" or "floppy")
            {
                kind = DiskSourceKind.None;
            }
            else if (!hasMedium && kind is not null)
            {
                Err(disk, element, "The disk has no <source>, so there is nothing to copy.",
                    "Add the <source> the VM uses (from `virsh dumpxml`), or detach the disk.");
            }

            var dev = Attr(target, "dev");
            if (string.IsNullOrWhiteSpace(dev))
            {
                Err(target ?? (XObject)disk, element + "/target",
                    "The disk has no <target dev=...>; the guest-visible device name (vda, sda, ...) cannot be kept.",
                    "Add <target dev='vda' bus='virtio'/> (as `virsh dumpxml` prints it) to the disk.",
                    Attr(source, "file") ?? Attr(source, "dev") ?? Attr(source, "name"));
                return null;
            }

            if (kind is null)
            {
                return null;
            }

            var controllerIndex = Attr(address, "type") == "drive" ? Int(Attr(address, "controller")) : null;
            var bus = Attr(target, "bus") ?? InferBus(dev, controllerIndex, controllers);
            var volumePool = Attr(source, "pool");
            var volumeName = Attr(source, "volume");

            return new DiskDevice
            {
                SourceKind = kind.Value,
                Device = device,
                Format = Attr(driver, "type"),
                Cache = Attr(driver, "cache"),
                Discard = Attr(driver, "discard"),
                Io = Attr(driver, "io"),
                IoThread = Int(Attr(driver, "iothread")),
                DetectZeroes = Attr(driver, "detect_zeroes"),
                Path = kind switch
                {
                    DiskSourceKind.File => Attr(source, "file"),
                    DiskSourceKind.Block => Attr(source, "dev"),
                    _ => null,
                },
                Protocol = kind == DiskSourceKind.Network ? Attr(source, "protocol") : null,
                NetworkName = kind == DiskSourceKind.Network ? Attr(source, "name") : null,
                NetworkHosts = source?.Elements("host")
                    .Select(h => new NetworkHost(Attr(h, "name") ?? Attr(h, "socket") ?? "", Int(Attr(h, "port"))))
                    .ToList() ?? [],
                AuthUsername = Attr(auth, "username"),
                AuthSecretType = Attr(auth?.Element("secret"), "type"),
                AuthSecretUsage = Attr(auth?.Element("secret"), "usage"),
                AuthSecretUuid = Attr(auth?.Element("secret"), "uuid"),
                VolumePool = kind == DiskSourceKind.Volume ? volumePool : null,
                VolumeName = kind == DiskSourceKind.Volume ? volumeName : null,
                TargetDev = dev,
                Bus = bus,
                Serial = Text(disk.Element("serial")),
                Wwn = Text(disk.Element("wwn")),
                ReadOnly = disk.Element("readonly") is not null,
                Shareable = disk.Element("shareable") is not null,
                BootOrder = Int(Attr(disk.Element("boot"), "order")),
                AddressController = controllerIndex,
                AddressUnit = Attr(address, "type") == "drive" ? Int(Attr(address, "unit")) : null,
            };
        }

        /// <summary>libvirt's own rule when target/@bus is absent: the dev prefix names the bus.</summary>
        private static string InferBus(string dev, int? controllerIndex, IReadOnlyList<ControllerDevice> controllers)
        {
            if (dev.StartsWith("vd", StringComparison.Ordinal))
            {
                return "virtio";
            }

            if (dev.StartsWith("sd", StringComparison.Ordinal))
            {
                // An sdX on a SATA controller is a SATA disk (q35 has one built in at index 0).
                var onSata = controllerIndex is { } i
                    && controllers.Any(c => c.Type == "sata" && c.Index == i)
                    && !controllers.Any(c => c.Type == "scsi" && c.Index == i);
                return onSata ? "sata" : "scsi";
            }

            if (dev.StartsWith("hd", StringComparison.Ordinal))
            {
                return "ide";
            }

            if (dev.StartsWith("fd", StringComparison.Ordinal))
            {
                return "fdc";
            }

            return dev.StartsWith("xvd", StringComparison.Ordinal) ? "xen" : "virtio";
        }

        private static InterfaceDevice ReadInterface(XElement nic)
        {
            var source = nic.Element("source");
            var type = Attr(nic, "type") ?? "user";
            return new InterfaceDevice
            {
                Type = type,
                Mac = Attr(nic.Element("mac"), "address")?.ToLowerInvariant(),
                Model = Attr(nic.Element("model"), "type"),
                SourceBridge = Attr(source, "bridge"),
                SourceNetwork = Attr(source, "network"),
                SourceDev = type == "vhostuser" ? Attr(source, "path") : Attr(source, "dev"),
                TargetDev = Attr(nic.Element("target"), "dev"),
                Ips = nic.Elements("ip").Select(ip => new IpAddressSpec(
                    Attr(ip, "address") ?? "", Int(Attr(ip, "prefix")), Attr(ip, "peer"),
                    Attr(ip, "family") ?? FamilyOf(Attr(ip, "address")))).ToList(),
                Routes = nic.Elements("route").Select(r => new RouteSpec(
                    Attr(r, "address") ?? "", Int(Attr(r, "prefix")), Attr(r, "gateway"),
                    Attr(r, "family") ?? FamilyOf(Attr(r, "address")))).ToList(),
                Mtu = Int(Attr(nic.Element("mtu"), "size")),
                VlanTag = Int(Attr(nic.Element("vlan")?.Element("tag"), "id")),
                LinkDown = Attr(nic.Element("link"), "state") == "down",
                BootOrder = Int(Attr(nic.Element("boot"), "order")),
                Queues = Int(Attr(nic.Element("driver"), "queues")),
                VirtualPortType = Attr(nic.Element("virtualport"), "type"),
            };
        }

        private static string FamilyOf(string? address) => address?.Contains(':', StringComparison.Ordinal) == true ? "ipv6" : "ipv4";

        private static GraphicsDevice ReadGraphics(XElement g)
        {
            var port = Int(Attr(g, "port"));
            return new GraphicsDevice(
                Attr(g, "type") ?? "vnc",
                Attr(g, "listen") ?? Attr(g.Element("listen"), "address") ?? Attr(g.Element("listen"), "socket"),
                port is > 0 ? port : null,
                Attr(g, "autoport") == "yes" || port == -1);
        }

        private static CharDevice ReadChar(XElement c)
        {
            var target = c.Element("target");
            return new CharDevice(Attr(c, "type") ?? "pty", Attr(target, "type"), Int(Attr(target, "port")));
        }

        private static HostdevDevice ReadHostdev(XElement h)
        {
            var type = Attr(h, "type") ?? "pci";
            var source = h.Element("source");
            var description = type switch
            {
                "pci" when source?.Element("address") is { } a => string.Create(CultureInfo.InvariantCulture,
                    $"pci {Hex(Attr(a, "domain"), 4)}:{Hex(Attr(a, "bus"), 2)}:{Hex(Attr(a, "slot"), 2)}.{Hex(Attr(a, "function"), 1)}"),
                "usb" when source?.Element("vendor") is not null =>
                    $"usb {Hex(Attr(source.Element("vendor"), "id"), 4)}:{Hex(Attr(source.Element("product"), "id"), 4)}",
                "usb" when source?.Element("address") is { } a => $"usb bus {Attr(a, "bus")} device {Attr(a, "device")}",
                "scsi" when source?.Element("adapter") is { } ad => $"scsi {Attr(ad, "name")} {Attr(source.Element("address"), "bus")}:{Attr(source.Element("address"), "target")}:{Attr(source.Element("address"), "unit")}",
                "mdev" => $"mdev {Attr(source?.Element("address"), "uuid")}",
                _ => type,
            };
            return new HostdevDevice(Attr(h, "mode") ?? "subsystem", type, description);
        }

        /// <summary>libvirt writes PCI/USB ids as 0x-prefixed hex; print them as lspci/lsusb do.</summary>
        private static string Hex(string? text, int width)
        {
            if (text is null)
            {
                return new string('0', width);
            }

            var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
            return long.TryParse(digits, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var n)
                ? n.ToString("x" + width.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)
                : text;
        }

        private void Err(XObject at, string element, string message, string fix, string? value = null)
            => diagnostics.Add(Error(file, at, element, message, fix, value));

        private static IEnumerable<XElement> Children(XElement? parent, string name) => parent?.Elements(name) ?? [];

        private static string? Attr(XElement? e, string name) => e?.Attribute(name)?.Value;

        private static string? Text(XElement? e)
        {
            var t = e?.Value.Trim();
            return string.IsNullOrEmpty(t) ? null : t;
        }

        private static int? Int(string? s)
            => int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;

        private static int? PositiveInt(string? s) => Int(s?.Trim()) is { } n && n > 0 ? n : null;
    }
}
