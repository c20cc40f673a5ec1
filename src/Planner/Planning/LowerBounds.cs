using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>
/// Valid lower bounds on every metric of any plan that passes <see cref="PlanVerifier"/> for the same
/// inventory and options (each field a bound on its own). The arguments are in docs/planner-model.md, "Bounds".
/// </summary>
public static class LowerBounds
{
    public static PlanMetrics Compute(FleetInventory inventory, PlannerOptions options)
    {
        ArgumentNullException.ThrowIfNull(inventory);
        ArgumentNullException.ThrowIfNull(options);
        var fleet = inventory.Fleet;
        var policy = fleet.Policy;
        var vms = inventory.Vms;
        var byHost = StageZeroByHost(inventory);
        var (liveMigrations, firstHostCopies) = FirstHostEvacuation(inventory, options, byHost);
        var downtime = vms.Sum(v => options.Downtime.MoveToPve(v, StrategyChooser.Choose(v, policy, options.OldCephReachableFromPve).Strategy).DowntimeSeconds);
        return new PlanMetrics
        {
            Stages = Stages(inventory, options, byHost),
            Reboots = vms.Count,
            DowntimeSeconds = downtime,
            BytesCopied = vms.Sum(v => v.DiskBytes) + firstHostCopies,
            LiveMigrations = liveMigrations,
            Moves = vms.Count + liveMigrations,
            RamImbalance = 0,
        };
    }

    /// <summary>Most hosts that can be converting at once: the others must hold all VM RAM.</summary>
    public static int MaxConvertingAtOnce(FleetInventory inventory, PlannerOptions options)
    {
        ArgumentNullException.ThrowIfNull(inventory);
        ArgumentNullException.ThrowIfNull(options);
        var policy = inventory.Fleet.Policy;
        var totalRam = inventory.Vms.Sum(v => v.RamBytes);
        var capacity = inventory.Fleet.Hosts.Sum(h => Math.Max(0, PlanVerifier.RamCapacity(h, policy)));
        var convertible = inventory.Fleet.Hosts.Where(h => !h.AlreadyPve && !options.IsExcluded(h))
            .Select(h => Math.Max(0, PlanVerifier.RamCapacity(h, policy))).Order().ToList();
        // Taking the smallest hosts out first leaves the most room: no larger set can be out at once.
        var k = 0;
        foreach (var c in convertible)
        {
            if (capacity - c < totalRam)
            {
                break;
            }

            capacity -= c;
            k++;
        }

        return k;
    }

    private static int Stages(FleetInventory inventory, PlannerOptions options, Dictionary<string, StageZeroHost> byHost)
    {
        var fleet = inventory.Fleet;
        var convertible = fleet.Hosts.Where(h => !h.AlreadyPve && !options.IsExcluded(h)).ToList();
        var h = convertible.Count;
        var alreadyPve = fleet.Hosts.Count(x => x.AlreadyPve && !options.IsExcluded(x));
        if (h == 0)
        {
            return inventory.Vms.Count > 0 ? 1 : 0;
        }

        var k = Math.Max(1, MaxConvertingAtOnce(inventory, options));
        var bound = Ceil(h, k);

        // The first conversion stage starts with every RBD byte on the old Ceph: the hosts converting then must leave enough OSDs.
        // (Only without a PVE host at stage 0: otherwise data can leave before the first conversion.)
        var rbd = inventory.Vms.Sum(v => v.RbdBytes);
        var k1 = Math.Min(MaxConvertingAtStageOne(inventory, rbd, convertible), MaxConvertingWithFilesAtStageOne(inventory, convertible, byHost));
        if (alreadyPve == 0 && k1 < k)
        {
            bound = Math.Max(bound, 1 + Ceil(h - k1, k));
        }

        if (inventory.Vms.Count > 0 && alreadyPve == 0)
        {
            // Nothing is PVE before a first host has converted (stage ≥ 1), so VMs reach PVE in wave ≥ 2.
            bound = Math.Max(bound, 2);
        }

        // A VM whose disks fit no ZFS pool needs the new Ceph: minHosts PVE hosts, each converted earlier.
        var policy = fleet.Policy;
        var maxZfs = fleet.Hosts.Where(x => !options.IsExcluded(x)).Select(x => PlanVerifier.ZfsCapacity(x, policy)).DefaultIfEmpty(0).Max();
        if (inventory.Vms.Any(v => v.ProvisionedBytes > maxZfs))
        {
            var missing = fleet.NewCeph.MinHosts - alreadyPve;
            if (missing > 0)
            {
                bound = Math.Max(bound, Ceil(missing, k) + 1);
            }
        }

        // When the hosts that never convert cannot hold the RBD data, the last convertible host with OSDs
        // can only leave once that data is on PVE: a wave after the first wave that can reach PVE.
        var keepers = fleet.Hosts.Where(x => !x.AlreadyPve && options.IsExcluded(x)).Select(x => x.Name).ToHashSet(StringComparer.Ordinal);
        var keptCapacity = PlanVerifier.OldCephCapacity(fleet, n => keepers.Contains(n) ? HostState.Libvirt : HostState.Pve);
        if (rbd > keptCapacity && convertible.Any(x => x.OldCephOsdRawBytes > 0))
        {
            var firstWaveToPve = alreadyPve > 0 ? 1 : 2;
            bound = Math.Max(bound, firstWaveToPve + 1);
        }

        var pinned = options.PinnedStages.Values.DefaultIfEmpty(0).Max();
        return Math.Max(bound, pinned);
    }

    private static int MaxConvertingAtStageOne(FleetInventory inventory, long rbd, List<HostSpec> convertible)
    {
        var fleet = inventory.Fleet;
        var libvirt = fleet.Hosts.Where(x => !x.AlreadyPve).Select(x => x.Name).ToHashSet(StringComparer.Ordinal);
        // Remove the hosts with the fewest OSD bytes first: that keeps the most capacity.
        var k1 = 0;
        foreach (var host in convertible.OrderBy(x => x.OldCephOsdRawBytes))
        {
            libvirt.Remove(host.Name);
            if (PlanVerifier.OldCephCapacity(fleet, n => libvirt.Contains(n) ? HostState.Libvirt : HostState.Pve) < rbd)
            {
                break;
            }

            k1++;
        }

        return k1;
    }

    /// <summary>
    /// Until the first conversion nothing is PVE, so every file-disk VM is on a libvirt host with its files:
    /// the hosts converting first must leave enough local image capacity for all of them.
    /// </summary>
    private static int MaxConvertingWithFilesAtStageOne(FleetInventory inventory, List<HostSpec> convertible, Dictionary<string, StageZeroHost> byHost)
    {
        var files = byHost.Values.Sum(h => h.FileProvisionedBytes);
        long LocalImages(HostSpec host) => PlanVerifier.LocalImagesCapacity(host, byHost.GetValueOrDefault(host.Name).FileProvisionedBytes);
        var capacity = inventory.Fleet.Hosts.Where(x => !x.AlreadyPve).Sum(LocalImages);
        var k1 = 0;
        foreach (var host in convertible.Select(LocalImages).Order())
        {
            if (capacity - host < files)
            {
                break;
            }

            capacity -= host;
            k1++;
        }

        return k1;
    }

    /// <summary>
    /// The first host to convert has no PVE host to send its VMs to: every VM on it at stage 0 must live-migrate,
    /// and the file-disk ones copy their disks. Minimum over the hosts that could go first of (VM count, file data).
    /// </summary>
    private static (int LiveMigrations, long Copies) FirstHostEvacuation(FleetInventory inventory, PlannerOptions options, Dictionary<string, StageZeroHost> byHost)
    {
        var fleet = inventory.Fleet;
        if (fleet.Hosts.Any(h => h.AlreadyPve && !options.IsExcluded(h)))
        {
            return (0, 0);
        }

        var first = fleet.Hosts.Where(h => !options.IsExcluded(h)).ToList();
        if (first.Count == 0)
        {
            return (0, 0);
        }

        var count = first.Min(h => byHost.GetValueOrDefault(h.Name).Vms);
        var copies = first.Min(h => byHost.GetValueOrDefault(h.Name).FileBytes);
        return (count, copies);
    }

    /// <summary>Per host name at stage 0: its VMs, and the data and provisioned size of their local file disks (one pass over the VMs, not one per host).</summary>
    private static Dictionary<string, StageZeroHost> StageZeroByHost(FleetInventory inventory)
    {
        var byHost = new Dictionary<string, StageZeroHost>(StringComparer.Ordinal);
        foreach (var vm in inventory.Vms)
        {
            var (vms, fileBytes, fileProvisioned) = byHost.GetValueOrDefault(vm.Host);
            byHost[vm.Host] = vm.Storage == SourceStorage.LocalFile
                ? new(vms + 1, fileBytes + vm.LocalFileBytes, fileProvisioned + vm.LocalFileProvisionedBytes)
                : new(vms + 1, fileBytes, fileProvisioned);
        }

        return byHost;
    }

    private readonly record struct StageZeroHost(int Vms, long FileBytes, long FileProvisionedBytes);

    private static int Ceil(int a, int b) => (a + b - 1) / b;
}
