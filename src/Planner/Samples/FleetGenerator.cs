using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Taquin.Planner.Inventory;

namespace Taquin.Planner.Samples;

/// <summary>
/// Generates a realistic inventory folder (docs/inventory-format.md) modelled on the talk's fleet:
/// Ryzen hosts with 16 bays, VMs mostly on RBD in the old Ceph, routed taps, a few OVMF guests.
/// Pure and deterministic: same options, same bytes, on every machine.
/// </summary>
public static class FleetGenerator
{
    private const long GiB = ByteSize.GiB;
    private const long RbdObjectBytes = 4 * ByteSize.MiB;
    private const long QcowClusterBytes = 64 * ByteSize.KiB;
    private const string RbdPool = "libvirt";
    private const int DriveBays = 16;

    // Shares of the fleet per class; small VMs take the rest.
    private const double BigShare = 0.014;
    private const double StorageShare = 0.045;
    private const double MediumShare = 0.06;

    private static readonly int[] HostRamStepsGiB = [128, 192, 256, 384, 512, 768, 1024, 1536, 2048];

    public static GeneratedInventory Generate(FleetGeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var rng = new SeededRandom(options.Seed);
        var hostNames = Enumerable.Range(1, options.Hosts).Select(i => $"h{i}").ToArray();
        var monitors = Enumerable.Range(0, Math.Min(3, options.Hosts)).Select(ManagementAddress).ToArray();

        var vms = CreateVms(options, rng);
        FillStorageDisksToDataTarget(options, vms, rng);
        var hostRamGiB = FitRam(options, vms, rng);
        Place(vms, hostNames, hostRamGiB - options.RamReservePerHostGiB, rng);
        AssignIdentities(vms, rng);
        var hosts = CreateHosts(options, hostNames, hostRamGiB);

        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["fleet.yaml"] = FleetYaml(options, hosts, monitors),
            ["volumes.json"] = VolumesJson(vms),
            ["runtime.json"] = RuntimeJson(vms),
        };
        foreach (var vm in vms)
        {
            files[$"domains/{vm.Host}/{vm.Name}.xml"] = VirshXmlFormat.Format(DomainXml(vm, monitors));
        }

        var summary = new GeneratedFleetSummary(
            Hosts: options.Hosts,
            Vms: vms.Count,
            HostRamBytes: hostRamGiB * GiB,
            RamReservePerHostBytes: options.RamReservePerHostGiB * GiB,
            TotalVmRamBytes: vms.Sum(v => v.RamGiB * GiB),
            RbdProvisionedBytes: vms.SelectMany(v => v.Disks).Where(d => d.IsRbd).Sum(d => d.SizeBytes),
            RbdUsedBytes: vms.SelectMany(v => v.Disks).Where(d => d.IsRbd).Sum(d => d.UsedBytes),
            FileUsedBytes: vms.SelectMany(v => v.Disks).Where(d => !d.IsRbd).Sum(d => d.UsedBytes),
            OldCephRawBytes: hosts.Sum(h => h.Disks.Where(d => d.Now == "old-ceph-osd").Sum(d => d.Count * d.SizeBytes)),
            PoolSize: 3,
            VmRamByHost: hostNames.ToDictionary(h => h, h => vms.Where(v => v.Host == h).Sum(v => v.RamGiB * GiB), StringComparer.Ordinal));
        return new GeneratedInventory(files, summary);
    }

    private enum VmClass
    {
        Small,
        Medium,
        Big,
        /// <summary>Modest RAM, a 1–4 TiB data disk (Nextcloud, backups, mirrors): where most bytes live.</summary>
        Storage,
    }

    private sealed class VmPlan
    {
        public required int Number { get; init; }
        public required string Name { get; init; }
        public required VmClass Class { get; init; }
        public required int RamGiB { get; set; }
        public required int Vcpus { get; init; }
        public int? VcpuCurrent { get; init; }
        public required string Machine { get; init; }
        public bool Ovmf { get; init; }
        public bool HostPassthrough { get; init; }
        public required List<DiskPlan> Disks { get; init; }
        public DiskPlan? Cdrom { get; init; }
        public bool Routed { get; init; }
        public bool GuestAgent { get; init; }
        public bool Rng { get; init; }
        public string? Description { get; init; }
        public required string State { get; init; }
        public required bool Autostart { get; init; }
        public string Host { get; set; } = "";
        public string Uuid { get; set; } = "";
        public string Mac { get; set; } = "";
        public string? Ipv4 { get; set; }
        public string? Ipv6 { get; set; }

        public bool IsQ35 => Machine.Contains("q35", StringComparison.Ordinal);
    }

    private sealed class DiskPlan
    {
        public required string Bus { get; init; }
        public required string TargetDev { get; init; }
        public int? Unit { get; init; }
        public required bool IsRbd { get; init; }
        /// <summary>pool/image for RBD, absolute path for files, null for an empty cdrom.</summary>
        public string? Source { get; init; }
        public required string Format { get; init; }
        public long SizeBytes { get; init; }
        public long UsedBytes { get; set; }
        public bool IsStorageData { get; init; }
    }

    private sealed record HostDisk(string Model, int Count, long SizeBytes, string SizeText, string Now, string After);

    private sealed record HostPlan(string Name, int RamGiB, int Cores, string Ssh, IReadOnlyList<HostDisk> Disks);

    // ---- VMs -------------------------------------------------------------------------------

    private static List<VmPlan> CreateVms(FleetGeneratorOptions options, SeededRandom rng)
    {
        var big = RoundShare(options.Vms, BigShare);
        var storage = RoundShare(options.Vms, StorageShare);
        var medium = RoundShare(options.Vms, MediumShare);
        var classes = new List<VmClass>(options.Vms);
        classes.AddRange(Enumerable.Repeat(VmClass.Big, big));
        classes.AddRange(Enumerable.Repeat(VmClass.Storage, storage));
        classes.AddRange(Enumerable.Repeat(VmClass.Medium, medium));
        classes.AddRange(Enumerable.Repeat(VmClass.Small, Math.Max(0, options.Vms - classes.Count)));
        classes = classes.Take(options.Vms).ToList();
        rng.Shuffle(classes);

        var names = new NameFactory(rng);
        return classes.Select((c, i) => CreateVm(i + 1, c, names, rng)).ToList();
    }

    private static int RoundShare(int count, double share) => (int)Math.Round(count * share, MidpointRounding.AwayFromZero);

    private static VmPlan CreateVm(int number, VmClass vmClass, NameFactory names, SeededRandom rng)
    {
        var (name, description) = names.Next(vmClass);
        var ovmf = rng.Chance(0.10);
        var machine = ovmf
            ? "pc-q35-7.2"
            : rng.PickWeighted([("pc-i440fx-7.2", 5), ("pc-i440fx-5.2", 2), ("pc-q35-7.2", 2), ("pc-i440fx-3.1", 1)]);
        var localFiles = vmClass is VmClass.Small or VmClass.Medium && rng.Chance(0.09);
        var bus = vmClass is VmClass.Small or VmClass.Medium
            ? rng.PickWeighted([("virtio", 16), ("scsi", 3), ("sata", 1)])
            : rng.PickWeighted([("virtio", 3), ("scsi", 1)]);

        var sizesGiB = new List<(long SizeGiB, double UsedMin, double UsedMax, bool StorageData)>();
        switch (vmClass)
        {
            case VmClass.Small:
                sizesGiB.Add((rng.Pick([10, 16, 20, 20, 25, 30, 40, 50]), 0.35, 0.85, false));
                if (rng.Chance(0.06))
                {
                    sizesGiB.Add((rng.Pick([10, 20, 50, 100]), 0.2, 0.8, false));
                }

                break;
            case VmClass.Medium:
                sizesGiB.Add((rng.Pick([40, 50, 60, 80, 100]), 0.4, 0.85, false));
                if (rng.Chance(0.4))
                {
                    sizesGiB.Add((rng.Pick([100, 150, 200, 300, 500]), 0.3, 0.8, false));
                }

                break;
            case VmClass.Big:
                sizesGiB.Add((rng.Pick([50, 80, 100]), 0.4, 0.8, false));
                sizesGiB.Add((rng.Pick([1024, 1536, 2048, 3072, 4096]), 0.45, 0.85, false));
                if (rng.Chance(0.35))
                {
                    sizesGiB.Add((rng.Pick([200, 500]), 0.3, 0.7, false));
                }

                break;
            default:
                sizesGiB.Add((rng.Pick([20, 30, 40]), 0.4, 0.8, false));
                sizesGiB.Add((rng.Pick([1024, 1536, 2048, 3072, 4096]), 0, 0, true));
                break;
        }

        var disks = new List<DiskPlan>();
        var sdUnits = 0;
        for (var d = 0; d < sizesGiB.Count; d++)
        {
            var (sizeGiB, usedMin, usedMax, storageData) = sizesGiB[d];
            var size = sizeGiB * GiB;
            var used = storageData ? 0 : Round(size * rng.Between(usedMin, usedMax), localFiles ? QcowClusterBytes : RbdObjectBytes);
            var sd = bus != "virtio";
            disks.Add(new DiskPlan
            {
                Bus = bus,
                TargetDev = sd ? $"sd{(char)('a' + sdUnits)}" : $"vd{(char)('a' + d)}",
                Unit = sd ? sdUnits++ : null,
                IsRbd = !localFiles,
                Source = localFiles
                    ? $"/var/lib/libvirt/images/{name}{(d == 0 ? "" : $"-disk{d}")}.qcow2"
                    : $"{RbdPool}/vm-{name}-disk{d}",
                Format = localFiles ? "qcow2" : "raw",
                SizeBytes = size,
                UsedBytes = used,
                IsStorageData = storageData,
            });
        }

        DiskPlan? cdrom = null;
        if (rng.Chance(0.05))
        {
            // q35 has no IDE: its cdrom sits on the built-in AHCI controller, after any sata disk.
            var q35 = machine.Contains("q35", StringComparison.Ordinal);
            cdrom = q35
                ? new DiskPlan { Bus = "sata", TargetDev = $"sd{(char)('a' + sdUnits)}", Unit = bus == "sata" ? sdUnits : 0, IsRbd = false, Format = "raw" }
                : new DiskPlan { Bus = "ide", TargetDev = "hdc", Unit = 0, IsRbd = false, Format = "raw" };
        }

        var vcpus = vmClass switch
        {
            VmClass.Small => rng.PickWeighted([(1, 5), (2, 4)]),
            VmClass.Medium => rng.PickWeighted([(2, 1), (4, 2)]),
            VmClass.Big => rng.Pick([8, 12, 16]),
            _ => rng.Pick([2, 4]),
        };
        var hotplug = rng.Chance(0.03);
        var state = rng.PickWeighted([("running", 96), ("shut off", 2), ("running-noautostart", 2)]);

        return new VmPlan
        {
            Number = number,
            Name = name,
            Class = vmClass,
            RamGiB = vmClass switch
            {
                VmClass.Small => rng.PickWeighted([(1, 62), (2, 28), (4, 10)]),
                VmClass.Medium => rng.PickWeighted([(4, 2), (6, 3), (8, 3), (12, 1)]),
                VmClass.Big => rng.PickWeighted([(32, 3), (48, 1), (64, 1)]),
                _ => rng.PickWeighted([(2, 2), (4, 1)]),
            },
            Vcpus = hotplug ? vcpus * 2 : vcpus,
            VcpuCurrent = hotplug ? vcpus : null,
            Machine = machine,
            Ovmf = ovmf,
            HostPassthrough = rng.Chance(0.8),
            Disks = disks,
            Cdrom = cdrom,
            Routed = rng.Chance(0.8),
            GuestAgent = rng.Chance(0.85),
            Rng = rng.Chance(0.3),
            Description = description,
            State = state == "shut off" ? "shut off" : "running",
            Autostart = state == "running",
        };
    }

    private static long Round(double bytes, long multiple) => Math.Max(multiple, (long)bytes / multiple * multiple);

    /// <summary>Sets the used bytes of the storage VMs' data disks so RBD usage lands on the talk's figure.</summary>
    private static void FillStorageDisksToDataTarget(FleetGeneratorOptions options, List<VmPlan> vms, SeededRandom rng)
    {
        var dataDisks = vms.SelectMany(v => v.Disks).Where(d => d.IsStorageData).ToList();
        if (dataDisks.Count == 0)
        {
            return;
        }

        var target = (double)options.RbdUsedBytesPerVm * vms.Count;
        var others = vms.SelectMany(v => v.Disks).Where(d => d.IsRbd && !d.IsStorageData).Sum(d => (double)d.UsedBytes);
        var weights = dataDisks.Select(_ => rng.Between(0.7, 1.3)).ToList();
        var weighted = dataDisks.Select((d, i) => d.SizeBytes * weights[i]).Sum();
        var fill = (target - others) / weighted;
        for (var i = 0; i < dataDisks.Count; i++)
        {
            var ratio = Math.Clamp(weights[i] * fill, 0.05, 0.95);
            dataDisks[i].UsedBytes = Round(dataDisks[i].SizeBytes * ratio, RbdObjectBytes);
        }
    }

    /// <summary>
    /// Picks the host RAM (unless given) and trims small VMs' RAM until the whole fleet fits on
    /// (hosts − 1) hosts within the fill ratio: every generated fleet lets the planner empty a host.
    /// </summary>
    private static int FitRam(FleetGeneratorOptions options, List<VmPlan> vms, SeededRandom rng)
    {
        var total = vms.Sum(v => (long)v.RamGiB);
        var biggest = vms.Max(v => v.RamGiB);
        double Budget(int hostRamGiB) => options.MaxRamFillOnHostsMinusOne * (options.Hosts - 1) * (hostRamGiB - options.RamReservePerHostGiB);

        int hostRam;
        if (options.HostRamGiB is { } given)
        {
            hostRam = given;
            if (given - options.RamReservePerHostGiB < biggest)
            {
                throw new ArgumentException($"--host-ram-gib {given} leaves no room for a {biggest} GiB VM after the {options.RamReservePerHostGiB} GiB reserve.");
            }
        }
        else
        {
            // Allow trimming up to 15 % of the RAM before stepping up to bigger hosts.
            hostRam = HostRamStepsGiB.FirstOrDefault(r => r - options.RamReservePerHostGiB >= biggest && Budget(r) >= total * 0.85);
            if (hostRam == 0)
            {
                throw new ArgumentException($"{options.Vms} VMs do not fit on {options.Hosts} hosts of up to {HostRamStepsGiB[^1]} GiB; add hosts.");
            }
        }

        var order = Enumerable.Range(0, vms.Count).ToList();
        rng.Shuffle(order);
        // Trim round-robin over the rules of a tier so no single size class is wiped out;
        // the big VMs only shrink when nothing else is left.
        (VmClass Class, int From, int To)[][] tiers =
        [
            [(VmClass.Small, 2, 1), (VmClass.Small, 4, 2), (VmClass.Storage, 4, 2), (VmClass.Medium, 12, 8)],
            [(VmClass.Medium, 8, 6), (VmClass.Medium, 6, 4), (VmClass.Big, 64, 48), (VmClass.Big, 48, 32)],
        ];
        foreach (var tier in tiers)
        {
            var cursors = new int[tier.Length];
            var trimmed = true;
            while (trimmed && total > Budget(hostRam))
            {
                trimmed = false;
                for (var r = 0; r < tier.Length && total > Budget(hostRam); r++)
                {
                    var (vmClass, from, to) = tier[r];
                    while (cursors[r] < order.Count && (vms[order[cursors[r]]].Class != vmClass || vms[order[cursors[r]]].RamGiB != from))
                    {
                        cursors[r]++;
                    }

                    if (cursors[r] < order.Count)
                    {
                        vms[order[cursors[r]]].RamGiB = to;
                        total -= from - to;
                        trimmed = true;
                    }
                }
            }
        }

        if (total <= Budget(hostRam))
        {
            return hostRam;
        }

        if (options.HostRamGiB is not null)
        {
            throw new ArgumentException($"{options.Vms} VMs need {total} GiB of RAM, more than {options.Hosts - 1} hosts of {hostRam} GiB can hold; add hosts or RAM.");
        }

        return HostRamStepsGiB.FirstOrDefault(r => Budget(r) >= total) is var bigger and > 0
            ? bigger
            : throw new ArgumentException($"{options.Vms} VMs do not fit on {options.Hosts} hosts; add hosts.");
    }

    /// <summary>Biggest VMs first, each on one of the two least-loaded hosts: balanced, not perfectly.</summary>
    private static void Place(List<VmPlan> vms, string[] hostNames, int capacityGiB, SeededRandom rng)
    {
        var load = new long[hostNames.Length];
        foreach (var vm in vms.OrderByDescending(v => v.RamGiB).ThenBy(v => v.Number))
        {
            var candidates = Enumerable.Range(0, hostNames.Length).OrderBy(h => load[h]).ThenBy(h => h).Take(2).ToArray();
            var pick = candidates.Length > 1 && load[candidates[1]] + vm.RamGiB <= capacityGiB && rng.Chance(0.5) ? candidates[1] : candidates[0];
            if (load[pick] + vm.RamGiB > capacityGiB)
            {
                throw new InvalidOperationException($"Internal: {vm.Name} ({vm.RamGiB} GiB) fits no host.");
            }

            load[pick] += vm.RamGiB;
            vm.Host = hostNames[pick];
        }
    }

    private static void AssignIdentities(List<VmPlan> vms, SeededRandom rng)
    {
        var uuids = new HashSet<string>(StringComparer.Ordinal);
        var macs = new HashSet<string>(StringComparer.Ordinal);
        var routedIndex = 0;
        foreach (var vm in vms)
        {
            string uuid;
            do
            {
                uuid = NewUuid(rng);
            }
            while (!uuids.Add(uuid));

            string mac;
            do
            {
                var b = rng.NextUInt64();
                mac = string.Create(CultureInfo.InvariantCulture, $"52:54:00:{(byte)(b >> 16):x2}:{(byte)(b >> 8):x2}:{(byte)b:x2}");
            }
            while (!macs.Add(mac));

            vm.Uuid = uuid;
            vm.Mac = mac;
            if (vm.Routed)
            {
                vm.Ipv4 = RoutedIpv4(routedIndex);
                vm.Ipv6 = string.Create(CultureInfo.InvariantCulture, $"2001:db8:{0x100 + (routedIndex / 65000):x}::{(routedIndex % 65000) + 1:x}");
                routedIndex++;
            }
        }
    }

    private static string NewUuid(SeededRandom rng)
    {
        var hi = rng.NextUInt64();
        var lo = rng.NextUInt64();
        hi = (hi & 0xFFFFFFFFFFFF0FFFUL) | 0x0000000000004000UL; // version 4
        lo = (lo & 0x3FFFFFFFFFFFFFFFUL) | 0x8000000000000000UL; // RFC 4122 variant
        return string.Create(CultureInfo.InvariantCulture, $"{hi >> 32:x8}-{(hi >> 16) & 0xFFFF:x4}-{hi & 0xFFFF:x4}-{lo >> 48:x4}-{lo & 0xFFFFFFFFFFFFUL:x12}");
    }

    /// <summary>Documentation ranges first (203.0.113.0/24, 198.51.100.0/24), then the shared 100.64.0.0/10 space.</summary>
    private static string RoutedIpv4(int index)
    {
        if (index < 253)
        {
            return $"203.0.113.{index + 2}";
        }

        if (index < 506)
        {
            return $"198.51.100.{index - 253 + 2}";
        }

        var n = index - 506;
        return $"100.{64 + (n / (250 * 256))}.{n / 250 % 256}.{(n % 250) + 2}";
    }

    private static string ManagementAddress(int hostIndex) => $"10.1.{hostIndex / 200}.{11 + (hostIndex % 200)}";

    // ---- Hosts -----------------------------------------------------------------------------

    private static List<HostPlan> CreateHosts(FleetGeneratorOptions options, string[] hostNames, int ramGiB)
    {
        (string Model, string SizeText, long Size, int Count)[] zfsShapes =
        [
            ("Samsung PM893 1.92TB", "1.92TB", 1_920_000_000_000, 4),
            ("Samsung PM893 1.92TB", "1.92TB", 1_920_000_000_000, 6),
            ("Samsung PM893 3.84TB", "3.84TB", 3_840_000_000_000, 4),
        ];
        (string Model, int Tb)[] hdds =
        [
            ("HGST Ultrastar 7K4000 4TB", 4), ("Seagate Exos 7E8 6TB", 6), ("Seagate Exos 7E8 8TB", 8),
            ("WD Ultrastar DC HC330 10TB", 10), ("Seagate Exos X14 12TB", 12), ("Seagate Exos X16 16TB", 16),
            ("Seagate Exos X20 20TB", 20),
        ];
        const int maxHdds = DriveBays - 2 - 6;
        var rawTotal = (double)options.RbdUsedBytesPerVm * options.Vms * 3 * options.OldCephRawOverRawUsed;
        var rawPerHost = rawTotal / options.Hosts;
        var averageSsdOsdRaw = zfsShapes.Average(s => 2.0 * s.Size);
        var hdd = hdds.FirstOrDefault(h => (rawPerHost - averageSsdOsdRaw) / (h.Tb * 1e12) <= maxHdds - 1, hdds[^1]);
        var hddSize = hdd.Tb * 1_000_000_000_000L;

        var hosts = new List<HostPlan>();
        double rawSoFar = 0;
        for (var i = 0; i < hostNames.Length; i++)
        {
            var zfs = zfsShapes[i % zfsShapes.Length];
            var ssdOsdRaw = 2.0 * zfs.Size;
            // Track the cumulative target so rounding errors do not pile up over many hosts.
            var need = (rawPerHost * (i + 1)) - rawSoFar - ssdOsdRaw;
            var count = Math.Clamp((int)Math.Round(need / hddSize, MidpointRounding.AwayFromZero), 2, maxHdds);
            rawSoFar += ssdOsdRaw + (count * (double)hddSize);
            var disks = new List<HostDisk>
            {
                new("Samsung PM883 480GB", 2, 480_000_000_000, "480GB", "system", "system"),
                new(zfs.Model, 2, zfs.Size, zfs.SizeText, "old-ceph-osd", "zfs"),
                new(zfs.Model, 1, zfs.Size, zfs.SizeText, "local-images", "zfs"),
                new(zfs.Model, zfs.Count - 3, zfs.Size, zfs.SizeText, "none", "zfs"),
                new(hdd.Model, count, hddSize, $"{hdd.Tb}TB", "old-ceph-osd", "new-ceph-osd"),
            };
            hosts.Add(new HostPlan(hostNames[i], ramGiB, Math.Clamp(ramGiB / 8, 16, 128), $"root@{ManagementAddress(i)}", disks));
        }

        return hosts;
    }

    // ---- Files -----------------------------------------------------------------------------

    private static string FleetYaml(FleetGeneratorOptions options, List<HostPlan> hosts, string[] monitors)
    {
        var y = new StringBuilder();
        void Line(string text) => y.Append(text).Append('\n');
        Line($"# Generated by `taquin samples generate --seed {options.Seed} --vms {options.Vms} --hosts {options.Hosts}"
            + (options.HostRamGiB is { } r ? $" --host-ram-gib {r}" : "") + "`; regenerate rather than edit.");
        Line("hosts:");
        foreach (var h in hosts)
        {
            Line($"  - name: {h.Name}");
            Line($"    ram: {h.RamGiB}GiB");
            Line($"    cores: {h.Cores}");
            Line("    nicGbits: 10");
            Line($"    ssh: {h.Ssh}");
            Line("    zfsLayout: mirror");
            Line("    disks:");
            foreach (var d in h.Disks)
            {
                Line($"      - {{ model: \"{d.Model}\", count: {d.Count}, size: {d.SizeText}, now: {d.Now}, after: {d.After} }}");
            }
        }

        Line("oldCeph:");
        Line("  poolSize: 3");
        Line("  nearfullRatio: 0.85");
        Line($"  pools: [{RbdPool}]");
        Line($"  monitors: [{string.Join(", ", monitors)}]");
        Line("newCeph:");
        Line("  poolSize: 3");
        Line("  nearfullRatio: 0.85");
        Line("  poolName: vm-pool");
        Line("  minHosts: 3");
        Line("policy:");
        Line($"  ramReservePerHost: {options.RamReservePerHostGiB}GiB");
        Line("  copySlotsPerHost: 2");
        Line("  waveWindowHours: 4");
        Line("  vlanRange: { from: 100, to: 3999 }");
        Line("  bridge: vmbr0");
        Line("  defaultStrategy: warm");
        Line("  zfsFillRatio: 0.8");
        return y.ToString();
    }

    private static string VolumesJson(List<VmPlan> vms) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("rbd");
        foreach (var d in vms.SelectMany(v => v.Disks).Where(d => d.IsRbd).OrderBy(d => d.Source, StringComparer.Ordinal))
        {
            w.WriteStartObject(d.Source!);
            w.WriteNumber("size", d.SizeBytes);
            w.WriteNumber("used", d.UsedBytes);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteStartObject("files");
        foreach (var byHost in vms.Where(v => v.Disks.Any(d => !d.IsRbd)).GroupBy(v => v.Host).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            w.WriteStartObject(byHost.Key);
            foreach (var d in byHost.SelectMany(v => v.Disks).Where(d => !d.IsRbd).OrderBy(d => d.Source, StringComparer.Ordinal))
            {
                w.WriteStartObject(d.Source!);
                w.WriteNumber("size", d.SizeBytes);
                w.WriteNumber("used", d.UsedBytes);
                w.WriteString("format", d.Format);
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteEndObject();
    });

    private static string RuntimeJson(List<VmPlan> vms) => Json(w =>
    {
        w.WriteStartObject();
        foreach (var vm in vms.OrderBy(v => v.Name, StringComparer.Ordinal))
        {
            w.WriteStartObject(vm.Name);
            w.WriteBoolean("autostart", vm.Autostart);
            w.WriteString("state", vm.State);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    });

    private static string Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n" }))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    // ---- Domain XML ------------------------------------------------------------------------

    private static XElement DomainXml(VmPlan vm, string[] monitors)
    {
        var memoryKiB = (vm.RamGiB * GiB / ByteSize.KiB).ToString(CultureInfo.InvariantCulture);
        var vcpu = new XElement("vcpu", new XAttribute("placement", "static"), vm.Vcpus);
        if (vm.VcpuCurrent is { } current)
        {
            vcpu.Add(new XAttribute("current", current));
        }

        var os = new XElement("os", new XElement("type", new XAttribute("arch", "x86_64"), new XAttribute("machine", vm.Machine), "hvm"));
        if (vm.Ovmf)
        {
            os.Add(
                new XElement("loader", new XAttribute("readonly", "yes"), new XAttribute("type", "pflash"), "/usr/share/OVMF/OVMF_CODE_4M.fd"),
                new XElement("nvram", new XAttribute("template", "/usr/share/OVMF/OVMF_VARS_4M.fd"), $"/var/lib/libvirt/qemu/nvram/{vm.Name}_VARS.fd"));
        }

        os.Add(new XElement("boot", new XAttribute("dev", "hd")));

        var features = new XElement("features", new XElement("acpi"), new XElement("apic"));
        if (vm.IsQ35)
        {
            features.Add(new XElement("vmport", new XAttribute("state", "off")));
        }

        var cpu = vm.HostPassthrough
            ? new XElement("cpu", new XAttribute("mode", "host-passthrough"), new XAttribute("check", "none"), new XAttribute("migratable", "on"))
            : new XElement("cpu", new XAttribute("mode", "host-model"), new XAttribute("check", "partial"));

        return new XElement(
            "domain",
            new XAttribute("type", "kvm"),
            new XElement("name", vm.Name),
            new XElement("uuid", vm.Uuid),
            vm.Description is null ? null : new XElement("description", vm.Description),
            new XElement("memory", new XAttribute("unit", "KiB"), memoryKiB),
            new XElement("currentMemory", new XAttribute("unit", "KiB"), memoryKiB),
            vcpu,
            new XElement("resource", new XElement("partition", "/machine")),
            os,
            features,
            cpu,
            new XElement(
                "clock",
                new XAttribute("offset", "utc"),
                Timer("rtc", ("tickpolicy", "catchup")),
                Timer("pit", ("tickpolicy", "delay")),
                Timer("hpet", ("present", "no"))),
            new XElement("on_poweroff", "destroy"),
            new XElement("on_reboot", "restart"),
            new XElement("on_crash", "destroy"),
            new XElement("pm", new XElement("suspend-to-mem", new XAttribute("enabled", "no")), new XElement("suspend-to-disk", new XAttribute("enabled", "no"))),
            Devices(vm, monitors));
    }

    private static XElement Timer(string name, (string Name, string Value) attribute)
        => new("timer", new XAttribute("name", name), new XAttribute(attribute.Name, attribute.Value));

    private static XElement Devices(VmPlan vm, string[] monitors)
    {
        var devices = new XElement("devices", new XElement("emulator", "/usr/bin/qemu-system-x86_64"));
        foreach (var disk in vm.Disks)
        {
            devices.Add(DiskXml(disk, monitors));
        }

        if (vm.Cdrom is { } cdrom)
        {
            devices.Add(new XElement(
                "disk",
                new XAttribute("type", "file"),
                new XAttribute("device", "cdrom"),
                new XElement("driver", new XAttribute("name", "qemu"), new XAttribute("type", "raw")),
                new XElement("target", new XAttribute("dev", cdrom.TargetDev), new XAttribute("bus", cdrom.Bus)),
                new XElement("readonly"),
                DriveAddress(bus: cdrom.Bus == "ide" ? 1 : 0, cdrom.Unit ?? 0)));
        }

        devices.Add(vm.IsQ35
            ? Controller("usb", ("model", "qemu-xhci"), ("ports", "15"))
            : Controller("usb", ("model", "piix3-uhci")));
        devices.Add(Controller("pci", ("model", vm.IsQ35 ? "pcie-root" : "pci-root")));
        if (vm.IsQ35 || vm.Disks.Any(d => d.Bus == "sata"))
        {
            devices.Add(Controller("sata"));
        }

        if (!vm.IsQ35)
        {
            devices.Add(Controller("ide"));
        }

        if (vm.Disks.Any(d => d.Bus == "scsi"))
        {
            devices.Add(Controller("scsi", ("model", "virtio-scsi")));
        }

        if (vm.GuestAgent)
        {
            devices.Add(Controller("virtio-serial"));
        }

        devices.Add(InterfaceXml(vm));
        devices.Add(
            new XElement("serial", new XAttribute("type", "pty"), new XElement("target", new XAttribute("type", "isa-serial"), new XAttribute("port", 0), new XElement("model", new XAttribute("name", "isa-serial")))),
            new XElement("console", new XAttribute("type", "pty"), new XElement("target", new XAttribute("type", "serial"), new XAttribute("port", 0))));
        if (vm.GuestAgent)
        {
            devices.Add(new XElement("channel", new XAttribute("type", "unix"), new XElement("target", new XAttribute("type", "virtio"), new XAttribute("name", "org.qemu.guest_agent.0"))));
        }

        devices.Add(
            new XElement("input", new XAttribute("type", "tablet"), new XAttribute("bus", "usb")),
            new XElement("input", new XAttribute("type", "mouse"), new XAttribute("bus", "ps2")),
            new XElement("input", new XAttribute("type", "keyboard"), new XAttribute("bus", "ps2")),
            new XElement(
                "graphics",
                new XAttribute("type", "vnc"),
                new XAttribute("port", "-1"),
                new XAttribute("autoport", "yes"),
                new XAttribute("listen", "127.0.0.1"),
                new XElement("listen", new XAttribute("type", "address"), new XAttribute("address", "127.0.0.1"))),
            new XElement("audio", new XAttribute("id", 1), new XAttribute("type", "none")),
            new XElement("video", new XElement(
                "model",
                new XAttribute("type", vm.IsQ35 ? "vga" : "cirrus"),
                new XAttribute("vram", 16384),
                new XAttribute("heads", 1),
                new XAttribute("primary", "yes"))),
            new XElement("memballoon", new XAttribute("model", "virtio")));
        if (vm.Rng)
        {
            devices.Add(new XElement("rng", new XAttribute("model", "virtio"), new XElement("backend", new XAttribute("model", "random"), "/dev/urandom")));
        }

        return devices;
    }

    private static XElement DiskXml(DiskPlan disk, string[] monitors)
    {
        var target = new XElement("target", new XAttribute("dev", disk.TargetDev), new XAttribute("bus", disk.Bus));
        var address = disk.Bus is "scsi" or "sata" ? DriveAddress(0, disk.Unit ?? 0) : null;
        if (!disk.IsRbd)
        {
            return new XElement(
                "disk",
                new XAttribute("type", "file"),
                new XAttribute("device", "disk"),
                new XElement("driver", new XAttribute("name", "qemu"), new XAttribute("type", disk.Format), new XAttribute("discard", "unmap")),
                new XElement("source", new XAttribute("file", disk.Source!)),
                target,
                address);
        }

        return new XElement(
            "disk",
            new XAttribute("type", "network"),
            new XAttribute("device", "disk"),
            new XElement(
                "driver",
                new XAttribute("name", "qemu"),
                new XAttribute("type", "raw"),
                new XAttribute("cache", "writeback"),
                new XAttribute("discard", "unmap")),
            new XElement(
                "auth",
                new XAttribute("username", "libvirt"),
                new XElement("secret", new XAttribute("type", "ceph"), new XAttribute("usage", "client.libvirt secret"))),
            new XElement(
                "source",
                new XAttribute("protocol", "rbd"),
                new XAttribute("name", disk.Source!),
                monitors.Select(m => new XElement("host", new XAttribute("name", m), new XAttribute("port", "6789")))),
            target,
            address);
    }

    private static XElement DriveAddress(int bus, int unit) => new(
        "address",
        new XAttribute("type", "drive"),
        new XAttribute("controller", 0),
        new XAttribute("bus", bus),
        new XAttribute("target", 0),
        new XAttribute("unit", unit));

    private static XElement Controller(string type, params (string Name, string Value)[] attributes)
    {
        var controller = new XElement("controller", new XAttribute("type", type), new XAttribute("index", 0));
        foreach (var (name, value) in attributes)
        {
            controller.Add(new XAttribute(name, value));
        }

        return controller;
    }

    private static XElement InterfaceXml(VmPlan vm)
    {
        var mac = new XElement("mac", new XAttribute("address", vm.Mac));
        var model = new XElement("model", new XAttribute("type", "virtio"));
        if (!vm.Routed)
        {
            return new XElement("interface", new XAttribute("type", "bridge"), mac, new XElement("source", new XAttribute("bridge", "br0")), model);
        }

        // The talk's design: no shared L2, one tap per VM with a /32 (and /128) routed to it.
        var tap = vm.Name.Length <= 11 ? $"tap-{vm.Name}" : string.Create(CultureInfo.InvariantCulture, $"tap{vm.Number:D5}");
        return new XElement(
            "interface",
            new XAttribute("type", "ethernet"),
            mac,
            new XElement("ip", new XAttribute("address", vm.Ipv4!), new XAttribute("family", "ipv4"), new XAttribute("prefix", 32)),
            new XElement("ip", new XAttribute("address", vm.Ipv6!), new XAttribute("family", "ipv6"), new XAttribute("prefix", 128)),
            new XElement("route", new XAttribute("family", "ipv4"), new XAttribute("address", "0.0.0.0"), new XAttribute("prefix", 0), new XAttribute("gateway", "192.0.2.1")),
            new XElement("route", new XAttribute("family", "ipv6"), new XAttribute("address", "::"), new XAttribute("prefix", 0), new XAttribute("gateway", "fe80::1")),
            new XElement("target", new XAttribute("dev", tap), new XAttribute("managed", "no")),
            model);
    }

    // ---- Names -----------------------------------------------------------------------------

    /// <summary>Names in the style of an associative host: member VMs, numbered services, per-association sites.</summary>
    private sealed class NameFactory(SeededRandom rng)
    {
        private static readonly string[] Associations =
        [
            "velo", "jardins", "radio", "cine", "theatre", "amap", "escalade", "chorale", "repair", "fablab",
            "lecture", "danse", "photo", "rando", "quartier", "solidaire", "zerodechet", "echecs", "jeux", "musique",
            "ecole", "apiculture", "compost", "kayak", "couture", "cuisine", "voile", "astronomie", "cirque", "boxe",
        ];

        private static readonly (string Prefix, int Digits, int Weight)[] SmallKinds =
        [
            ("adh-", 3, 45), ("web-", 4, 14), ("site-", 0, 8), ("wiki-", 0, 4), ("dns-", 2, 4), ("vpn-", 2, 4),
            ("mon-", 2, 3), ("proxy-", 2, 3), ("ci-runner-", 2, 3), ("git-", 2, 2), ("irc-", 2, 2), ("jitsi-", 2, 2),
            ("matrix-", 2, 2), ("pad-", 2, 2), ("mx-relay-", 2, 2),
        ];

        private static readonly (string Prefix, int Digits, int Weight)[] MediumKinds =
        [
            ("mail-", 2, 3), ("db-mysql-", 2, 2), ("web-", 4, 3), ("lists-", 2, 1), ("gitlab-", 2, 1), ("mastodon-", 0, 2), ("matrix-", 2, 1),
        ];

        private static readonly (string Prefix, int Digits, int Weight)[] BigKinds =
        [
            ("db-pg-", 2, 3), ("mail-store-", 2, 1), ("ci-build-", 2, 1),
        ];

        private static readonly (string Prefix, int Digits, int Weight)[] StorageKinds =
        [
            ("nextcloud-asso-", 0, 4), ("backup-", 2, 2), ("peertube-", 2, 2), ("mirror-", 2, 1), ("archive-", 2, 1),
        ];

        private readonly HashSet<string> _used = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);

        public (string Name, string? Description) Next(VmClass vmClass)
        {
            var kinds = vmClass switch
            {
                VmClass.Small => SmallKinds,
                VmClass.Medium => MediumKinds,
                VmClass.Big => BigKinds,
                _ => StorageKinds,
            };
            var (prefix, digits, _) = rng.PickWeighted(kinds.Select(k => ((k.Prefix, k.Digits, k.Weight), k.Weight)).ToList());
            if (digits == 0)
            {
                var association = rng.Pick(Associations);
                var name = Unique($"{prefix}{association}");
                return (name, prefix == "nextcloud-asso-" ? $"Nextcloud de l’association {association}" : null);
            }

            string numbered;
            do
            {
                // Numbers climb with gaps, as VMs get created and deleted over the years.
                var n = _counters.TryGetValue(prefix, out var last)
                    ? last + (prefix == "web-" ? rng.Between(1, 40) : rng.Between(1, 3))
                    : prefix == "web-" ? rng.Between(100, 400) : rng.Between(1, 4);
                _counters[prefix] = n;
                numbered = prefix + n.ToString("D" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
            }
            while (!_used.Add(numbered));

            return (numbered, prefix == "adh-" ? $"VM adhérent·e n°{numbered[4..]}" : null);
        }

        private string Unique(string name)
        {
            var candidate = name;
            for (var k = 2; !_used.Add(candidate); k++)
            {
                candidate = $"{name}-{k}";
            }

            return candidate;
        }
    }
}
