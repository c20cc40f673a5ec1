using Taquin.Planner.Diagnostics;
using Taquin.Planner.Libvirt;

namespace Taquin.Planner.Inventory;

/// <summary>
/// Cross-file checks of a loaded inventory: everything that would make a plan wrong or impossible.
/// Pure; reports every problem at once, each naming the file, the element, the value and the fix.
/// </summary>
public static class InventoryValidator
{
    private const string Fleet = "fleet.yaml";
    private const string Volumes = "volumes.json";
    private const string DetachFix = "Detach it with `virsh detach-device <vm> <device.xml> --config` (and re-export the XML), or exclude the VM from the inventory.";

    public static IReadOnlyList<Diagnostic> Validate(FleetInventory inv)
    {
        var diagnostics = new List<Diagnostic>();
        CheckFleet(inv, diagnostics);
        CheckHostFolders(inv, diagnostics);
        CheckDuplicates(inv, diagnostics);
        foreach (var vm in inv.Vms)
        {
            CheckDisks(vm, diagnostics);
            CheckUnsupportedDevices(vm, diagnostics);
        }

        CheckFits(inv, diagnostics);
        return diagnostics;
    }

    private static void CheckFleet(FleetInventory inv, List<Diagnostic> diagnostics)
    {
        var fleet = inv.Fleet;
        if (fleet.Hosts.Count == 0)
        {
            diagnostics.Add(Diagnostic.Error(Fleet, "hosts", "The fleet has no host.", "List every hypervisor under 'hosts:'."));
        }

        foreach (var group in fleet.Hosts.GroupBy(h => h.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            diagnostics.Add(Diagnostic.Error(Fleet, "hosts[].name", $"Host name '{group.Key}' is listed {group.Count()} times.",
                "Give every host a unique name (the folder name under domains/).", group.Key));
        }

        for (var i = 0; i < fleet.Hosts.Count; i++)
        {
            var host = fleet.Hosts[i];
            if (host.RamBytes <= 0)
            {
                diagnostics.Add(Diagnostic.Error(Fleet, $"hosts[{i}].ram", $"Host '{host.Name}' has no RAM.",
                    "Write its installed RAM, e.g. 'ram: 128GiB'.", host.RamBytes.ToString()));
            }
            else if (host.RamBytes <= fleet.Policy.RamReservePerHostBytes && !host.Excluded)
            {
                diagnostics.Add(Diagnostic.Error(Fleet, $"hosts[{i}].ram",
                    $"Host '{host.Name}' has {ByteSize.Format(host.RamBytes)} RAM, no more than the per-host reserve ({ByteSize.Format(fleet.Policy.RamReservePerHostBytes)}): it can hold no VM.",
                    "Fix the host's RAM or lower policy.ramReservePerHost.", ByteSize.Format(host.RamBytes)));
            }

            if (host.Cores <= 0)
            {
                diagnostics.Add(Diagnostic.Error(Fleet, $"hosts[{i}].cores", $"Host '{host.Name}' has no cores.",
                    "Write its number of physical cores, e.g. 'cores: 16'.", host.Cores.ToString()));
            }
        }

        CheckPool(fleet.OldCeph.PoolSize, fleet.OldCeph.NearfullRatio, "oldCeph", diagnostics);
        CheckPool(fleet.NewCeph.PoolSize, fleet.NewCeph.NearfullRatio, "newCeph", diagnostics);

        var vlans = fleet.Policy.VlanRange;
        if (vlans.From < 1 || vlans.To > 4094 || vlans.From > vlans.To)
        {
            diagnostics.Add(Diagnostic.Error(Fleet, "policy.vlanRange", "The VLAN range must lie within 1..4094 with from ≤ to.",
                "Write e.g. 'vlanRange: { from: 100, to: 3999 }'.", $"{vlans.From}..{vlans.To}"));
        }
        else if (vlans.Count < inv.Vms.Count)
        {
            diagnostics.Add(Diagnostic.Error(Fleet, "policy.vlanRange",
                $"The VLAN range holds {vlans.Count} VLANs but the fleet has {inv.Vms.Count} VMs, and each VM gets its own VLAN.",
                $"Widen policy.vlanRange to at least {inv.Vms.Count} ids.", $"{vlans.From}..{vlans.To}"));
        }

        if (fleet.Policy.CopySlotsPerHost < 1)
        {
            diagnostics.Add(Diagnostic.Error(Fleet, "policy.copySlotsPerHost", "At least one copy slot per host is needed to move anything.",
                "Set policy.copySlotsPerHost to 1 or more.", fleet.Policy.CopySlotsPerHost.ToString()));
        }
    }

    private static void CheckPool(int size, double nearfull, string section, List<Diagnostic> diagnostics)
    {
        if (size < 1)
        {
            diagnostics.Add(Diagnostic.Error(Fleet, $"{section}.poolSize", "The pool replication size must be at least 1.",
                $"Set {section}.poolSize to the pool's `size` (usually 3).", size.ToString()));
        }

        if (!(nearfull > 0 && nearfull <= 1))
        {
            diagnostics.Add(Diagnostic.Error(Fleet, $"{section}.nearfullRatio", "The nearfull ratio must be above 0 and at most 1.",
                $"Set {section}.nearfullRatio to the cluster's nearfull ratio (usually 0.85).", nearfull.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
    }

    private static void CheckHostFolders(FleetInventory inv, List<Diagnostic> diagnostics)
    {
        var known = inv.Fleet.Hosts.Select(h => h.Name).ToHashSet(StringComparer.Ordinal);
        var folders = inv.HostFolders ?? inv.Vms.Select(v => v.Host).Distinct(StringComparer.Ordinal).ToList();
        foreach (var folder in folders.Where(f => !known.Contains(f)).Order(StringComparer.Ordinal))
        {
            var count = inv.Vms.Count(v => v.Host == folder);
            diagnostics.Add(Diagnostic.Error($"{InventoryLoader.DomainsFolder}/{folder}", "domains",
                $"Folder domains/{folder} ({count} VM(s)) names a host that fleet.yaml does not list.",
                $"Add host '{folder}' to fleet.yaml, or rename the folder to the host the VMs run on.", folder));
        }

        if (inv.HostFolders is null)
        {
            return;
        }

        var present = inv.HostFolders.ToHashSet(StringComparer.Ordinal);
        foreach (var host in inv.Fleet.Hosts.Where(h => !present.Contains(h.Name)))
        {
            diagnostics.Add(Diagnostic.Warn(Fleet, "hosts[].name",
                $"Host '{host.Name}' has no folder domains/{host.Name}: it is taken to run no VM.",
                $"Create domains/{host.Name}/ with its VMs' XML, or leave it empty if the host really runs nothing.", host.Name));
        }
    }

    private static void CheckDuplicates(FleetInventory inv, List<Diagnostic> diagnostics)
    {
        foreach (var group in inv.Vms.GroupBy(v => v.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            diagnostics.Add(Diagnostic.Error(group.First().SourceFile, "name",
                $"VM name '{group.Key}' is used by {Files(group)}; PVE and the plan need one name per VM.",
                "Rename one of them (`virsh domrename`) or remove the stale copy.", group.Key));
        }

        foreach (var group in inv.Vms.GroupBy(v => v.Domain.Uuid).Where(g => g.Count() > 1))
        {
            diagnostics.Add(Diagnostic.Error(group.First().SourceFile, "uuid",
                $"UUID {group.Key} is used by {Files(group)}; the SMBIOS uuid must stay unique.",
                "If one is a stale copy of the other, remove it; otherwise give the clone a fresh <uuid>.", group.Key.ToString()));
        }

        var macs = inv.Vms
            .SelectMany(v => v.Domain.Interfaces.Where(i => i.Mac is not null).Select(i => (Mac: i.Mac!.ToLowerInvariant(), Vm: v)))
            .GroupBy(x => x.Mac, StringComparer.Ordinal)
            .Where(g => g.Count() > 1);
        foreach (var group in macs)
        {
            var users = string.Join(", ", group.Select(x => $"VM '{x.Vm.Name}' ({x.Vm.SourceFile})"));
            diagnostics.Add(Diagnostic.Error(group.First().Vm.SourceFile, "interface/mac",
                $"MAC address {group.Key} appears on {group.Count()} interfaces: {users}. Guests would fight over it once on the same VLAN/bridge.",
                "Give one of the interfaces a new <mac address>, or remove the stale VM copy.", group.Key));
        }
    }

    private static string Files(IEnumerable<VmRecord> vms) => string.Join(" and ", vms.Select(v => $"{v.SourceFile} (host {v.Host})"));

    private static void CheckDisks(VmRecord vm, List<Diagnostic> diagnostics)
    {
        for (var i = 0; i < vm.Domain.Disks.Count; i++)
        {
            var disk = vm.Domain.Disks[i];
            var element = $"disk[{i}] {disk.TargetDev}";
            switch (disk.SourceKind)
            {
                case DiskSourceKind.Network when disk.Protocol != "rbd":
                    diagnostics.Add(Diagnostic.Error(vm.SourceFile, element,
                        $"Network disk protocol '{disk.Protocol ?? "(none)"}' is not supported; Taquin copies RBD images and local files only.",
                        "Copy the disk into an RBD image or a local qcow2/raw file first, or exclude the VM.", disk.Protocol));
                    break;
                case DiskSourceKind.Volume:
                    diagnostics.Add(Diagnostic.Error(vm.SourceFile, element,
                        $"Disk refers to storage-pool volume '{disk.VolumePool}/{disk.VolumeName}', whose path Taquin cannot resolve offline.",
                        $"Replace it with a type='file' disk: `virsh vol-path --pool {disk.VolumePool} {disk.VolumeName}` prints the path.",
                        $"{disk.VolumePool}/{disk.VolumeName}"));
                    break;
                case DiskSourceKind.Network or DiskSourceKind.File or DiskSourceKind.Block:
                    CheckVolumeKnown(vm, disk, element, diagnostics);
                    break;
                default:
                    break;
            }
        }
    }

    private static void CheckVolumeKnown(VmRecord vm, DiskDevice disk, string element, List<Diagnostic> diagnostics)
    {
        var known = vm.Disks.FirstOrDefault(d => ReferenceEquals(d.Device, disk))?.Volume is not null;
        if (known || disk.VolumeKey is not { } key)
        {
            return;
        }

        var where = disk.IsRbd ? $"\"rbd\": {{ \"{key}\": {{ \"size\": <bytes>, \"used\": <bytes> }} }}" : $"\"files\": {{ \"{vm.Host}\": {{ \"{key}\": {{ \"size\": <bytes> }} }} }}";
        var source = disk.IsRbd ? "`rbd info --format json` / `rbd du`" : $"`qemu-img info --output=json` on {vm.Host}";
        if (disk.IsCdrom)
        {
            diagnostics.Add(Diagnostic.Warn(vm.SourceFile, element,
                $"CD-ROM medium '{key}' is not in volumes.json; it will not be copied.",
                $"Eject it (`virsh change-media {vm.Name} {disk.TargetDev} --eject --config`) or add {where} to volumes.json.", key));
            return;
        }

        diagnostics.Add(Diagnostic.Error(vm.SourceFile, element,
            $"Disk source '{key}' is not in {Volumes}, so its size (what to copy, where it fits) is unknown.",
            $"Add {where} to {Volumes}, from {source}.", key));
    }

    private static void CheckUnsupportedDevices(VmRecord vm, List<Diagnostic> diagnostics)
    {
        foreach (var hostdev in vm.Domain.Hostdevs)
        {
            diagnostics.Add(Diagnostic.Error(vm.SourceFile, "hostdev",
                $"Host device passthrough ({hostdev.Description}) ties VM '{vm.Name}' to this host's hardware and cannot follow it.",
                DetachFix, hostdev.Description));
        }

        foreach (var fs in vm.Domain.Filesystems)
        {
            var kind = fs.Driver == "virtiofs" ? "virtiofs" : "9p";
            diagnostics.Add(Diagnostic.Error(vm.SourceFile, "filesystem",
                $"Shared host folder ({kind}) '{fs.Source}' -> '{fs.Target}' lives on this host and is not migrated.",
                "Move the data into a disk of the VM, then " + char.ToLowerInvariant(DetachFix[0]) + DetachFix[1..], fs.Source));
        }

        foreach (var nic in vm.Domain.Interfaces.Where(n => n.Type == "vhostuser"))
        {
            diagnostics.Add(Diagnostic.Error(vm.SourceFile, "interface type='vhostuser'",
                $"vhost-user interface ({nic.Mac ?? "no MAC"}) depends on a host-side DPDK/OVS socket that PVE does not provide.",
                DetachFix, nic.Mac));
        }
    }

    private static void CheckFits(FleetInventory inv, List<Diagnostic> diagnostics)
    {
        var fleet = inv.Fleet;
        var targets = fleet.Hosts.Where(h => !h.Excluded).ToList();
        if (targets.Count == 0)
        {
            if (fleet.Hosts.Count > 0)
            {
                diagnostics.Add(Diagnostic.Error(Fleet, "hosts[].excluded", "Every host is excluded: nothing can be converted or receive VMs.",
                    "Set 'excluded: false' on the hosts Taquin may use."));
            }

            return;
        }

        var reserve = fleet.Policy.RamReservePerHostBytes;
        var biggestRam = targets.Max(h => h.RamBytes) - reserve;
        var biggestZfs = (long)(targets.Max(h => h.ZfsUsableBytes) * fleet.Policy.ZfsFillRatio);
        var newCeph = fleet.NewCeph.PoolSize >= 1
            ? (long)(targets.Sum(h => h.NewCephOsdRawBytes) / (double)fleet.NewCeph.PoolSize * fleet.NewCeph.NearfullRatio)
            : 0;
        var biggestStorage = Math.Max(biggestZfs, newCeph);
        foreach (var vm in inv.Vms)
        {
            if (vm.RamBytes > biggestRam)
            {
                diagnostics.Add(Diagnostic.Error(vm.SourceFile, "memory",
                    $"VM '{vm.Name}' needs {ByteSize.Format(vm.RamBytes)} RAM, more than any usable host offers ({ByteSize.Format(biggestRam)} = largest host RAM minus the {ByteSize.Format(reserve)} reserve).",
                    "Lower the VM's <memory>, lower policy.ramReservePerHost, or exclude the VM.", ByteSize.Format(vm.RamBytes)));
            }

            if (biggestStorage > 0 && vm.ProvisionedBytes > biggestStorage)
            {
                diagnostics.Add(Diagnostic.Warn(vm.SourceFile, "disk",
                    $"VM '{vm.Name}' has {ByteSize.Format(vm.ProvisionedBytes)} of disks, more than any target can take (largest ZFS pool at fill ratio {ByteSize.Format(biggestZfs)}, whole new Ceph at nearfull {ByteSize.Format(newCeph)}).",
                    "Check its volume sizes in volumes.json, add target capacity in fleet.yaml, or plan to keep it on the old Ceph longer.",
                    ByteSize.Format(vm.ProvisionedBytes)));
            }
        }
    }
}
