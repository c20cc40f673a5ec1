using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Planner.Solving;

/// <summary>One host as the solver sees it. Sizes in MiB, capacities rounded down, so plans stay valid in bytes.</summary>
internal sealed record SolverHost(
    int Index,
    string Name,
    long RamCapacityMiB,
    long ZfsCapacityMiB,
    long OldCephRawMiB,
    long NewCephRawMiB,
    long CopyBudgetMiB,
    bool Excluded,
    bool AlreadyPve,
    long LocalImagesMiB = 0,
    bool AcceptsFileCopies = false)
{
    public bool Convertible => !Excluded && !AlreadyPve;

    /// <summary>A libvirt host a file-disk VM may be live-migrated onto with storage copy.</summary>
    public bool FileCopyTarget => AcceptsFileCopies && !Excluded && !AlreadyPve;
}

/// <summary>
/// One VM as the solver sees it. Sizes in MiB, rounded up. CopyMiB: bytes its move to PVE puts on the NICs.
/// HopMiB: bytes of a libvirt live migration (RAM, plus file data with storage copy). FileMiB: provisioned
/// size of its local file disks, what it takes of a host's local-images capacity.
/// </summary>
internal sealed record SolverVm(
    int Index,
    string Name,
    int Home,
    long RamMiB,
    long RbdMiB,
    long CopyMiB,
    long ProvisionedMiB,
    bool FileBacked,
    long HopMiB = 0,
    long FileMiB = 0)
{
    /// <summary>Bytes a live migration copies beyond RAM: the file disks' data (storage copy).</summary>
    public long StorageCopyMiB => Math.Max(0, HopMiB - RamMiB);
}

/// <summary>
/// The inventory reduced to the numbers the models use (MiB), plus the pins resolved to indices.
/// Capacities are rounded down and demands up, so a plan that fits here fits in bytes.
/// </summary>
internal sealed class PlanningProblem
{
    public const long MiB = 1024 * 1024;

    public required IReadOnlyList<SolverHost> Hosts { get; init; }
    public required IReadOnlyList<SolverVm> Vms { get; init; }
    /// <summary>Old Ceph usable MiB per MiB of raw OSD: nearfull ÷ pool size.</summary>
    public required double OldCephFactor { get; init; }
    public required double NewCephFactor { get; init; }
    public required int NewCephMinHosts { get; init; }
    public required IReadOnlyDictionary<int, int> PinnedHost { get; init; }
    public required IReadOnlyDictionary<int, int> PinnedStage { get; init; }
    public required IReadOnlyList<int> PinnedOrder { get; init; }
    public required long RamReserveMiB { get; init; }

    /// <summary>
    /// Rounded the other way (demands down, capacities up): every plan valid in bytes fits, so the relaxations
    /// that prove lower bounds use this form; plans are never built from it.
    /// </summary>
    public bool ForBounds { get; init; }

    public IEnumerable<SolverVm> VmsOn(int host) => Vms.Where(v => v.Home == host);

    public long OldCephCapacityMiB(IEnumerable<SolverHost> libvirtHosts)
        => Capacity(libvirtHosts.Sum(h => h.OldCephRawMiB) * OldCephFactor);

    public long NewCephCapacityMiB(IEnumerable<SolverHost> pveHosts)
        => Capacity(pveHosts.Sum(h => h.NewCephRawMiB) * NewCephFactor);

    private long Capacity(double mib) => (long)(ForBounds ? Math.Ceiling(mib) : Math.Floor(mib));

    public static long UpMiB(long bytes) => (bytes + MiB - 1) / MiB;

    public static long DownMiB(double bytes) => bytes <= 0 ? 0 : (long)Math.Floor(bytes / MiB);

    /// <summary>Builds the problem; unknown names in pins are reported as <see cref="PlanningInputException"/>.</summary>
    public static PlanningProblem From(FleetInventory inventory, PlannerOptions options, bool forBounds = false)
    {
        // Plans: demands up, capacities down (a plan that fits in MiB fits in bytes). Bounds: the other way round.
        long Demand(long bytes) => forBounds ? Math.Max(0, bytes) / MiB : UpMiB(bytes);
        long Room(double bytes) => forBounds ? (bytes <= 0 ? 0 : (long)Math.Ceiling(bytes / MiB)) : DownMiB(bytes);
        var fleet = inventory.Fleet;
        var policy = fleet.Policy;
        var excluded = new HashSet<string>(options.ExcludedHosts, StringComparer.Ordinal);
        var hostIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var hosts = new List<SolverHost>();
        foreach (var h in fleet.Hosts)
        {
            var index = hosts.Count;
            hostIndex[h.Name] = index;
            var ram = Room(h.RamBytes - policy.RamReservePerHostBytes);
            var copyBudget = Room(h.NicGbits * 1e9 / 8 * policy.WaveWindowHours * 3600);
            hosts.Add(new SolverHost(
                index,
                h.Name,
                Math.Max(0, ram),
                Room(h.ZfsUsableBytes * policy.ZfsFillRatio),
                Room(h.OldCephOsdRawBytes),
                Room(h.NewCephOsdRawBytes),
                copyBudget,
                h.Excluded || excluded.Contains(h.Name),
                h.AlreadyPve));
        }

        var errors = new List<string>();
        foreach (var name in options.ExcludedHosts.Where(n => !hostIndex.ContainsKey(n)))
        {
            errors.Add($"excluded host '{name}' is not in fleet.yaml");
        }

        var vms = new List<SolverVm>();
        var vmIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var vm in inventory.Vms.OrderBy(v => v.Name, StringComparer.Ordinal))
        {
            if (!hostIndex.TryGetValue(vm.Host, out var home))
            {
                errors.Add($"VM '{vm.Name}' runs on host '{vm.Host}', which is not in fleet.yaml");
                continue;
            }

            vmIndex[vm.Name] = vms.Count;
            var fileBacked = vm.Storage == SourceStorage.LocalFile;
            // What the verifier charges to the NICs for the move: the strategy's bytes (warm copies a delta twice).
            var strategy = StrategyChooser.Choose(vm, policy, options.OldCephReachableFromPve).Strategy;
            var moveBytes = options.Downtime.MoveToPve(vm, strategy).Bytes;
            vms.Add(new SolverVm(
                vms.Count,
                vm.Name,
                home,
                Demand(vm.RamBytes),
                Demand(vm.RbdBytes),
                // Bounds use what the verifier checks: a move copies at least its disks' data, ZFS holds the provisioned size.
                forBounds ? Demand(vm.DiskBytes) : Demand(moveBytes),
                forBounds ? Demand(vm.ProvisionedBytes) : Demand(Math.Max(vm.ProvisionedBytes, vm.DiskBytes)),
                fileBacked,
                Demand(options.Downtime.LibvirtLiveMigration(vm).Bytes),
                fileBacked ? Demand(vm.LocalFileProvisionedBytes) : 0));
        }

        // Local images: MiB capacity rounded down, files rounded up. A host whose local-images disks hold
        // less than its own files at stage 0 keeps its own files and receives no copy (sound in bytes).
        for (var i = 0; i < hosts.Count; i++)
        {
            var own = vms.Where(v => v.Home == i).Sum(v => v.FileMiB);
            var disks = Room(fleet.Hosts[i].LocalImagesBytes);
            hosts[i] = hosts[i] with { LocalImagesMiB = Math.Max(disks, own), AcceptsFileCopies = disks >= own && disks > 0 };
        }

        var pinnedHost = new Dictionary<int, int>();
        foreach (var (vm, host) in options.PinnedHosts)
        {
            if (!vmIndex.TryGetValue(vm, out var v))
            {
                errors.Add($"pin: VM '{vm}' (pinned to host '{host}') is not in the inventory");
            }
            else if (!hostIndex.TryGetValue(host, out var h))
            {
                errors.Add($"pin: VM '{vm}' is pinned to host '{host}', which is not in fleet.yaml");
            }
            else
            {
                pinnedHost[v] = h;
            }
        }

        var pinnedStage = new Dictionary<int, int>();
        foreach (var (vm, stage) in options.PinnedStages)
        {
            if (!vmIndex.TryGetValue(vm, out var v))
            {
                errors.Add($"pin: VM '{vm}' (pinned to stage {stage}) is not in the inventory");
            }
            else if (stage < 1)
            {
                errors.Add($"pin: VM '{vm}' is pinned to stage {stage}; stages of a plan start at 1");
            }
            else
            {
                pinnedStage[v] = stage;
            }
        }

        var order = new List<int>();
        foreach (var name in options.ConversionOrder)
        {
            if (!hostIndex.TryGetValue(name, out var h))
            {
                errors.Add($"pin: conversion order names host '{name}', which is not in fleet.yaml");
            }
            else if (order.Contains(h))
            {
                errors.Add($"pin: conversion order names host '{name}' twice");
            }
            else
            {
                order.Add(h);
            }
        }

        if (errors.Count > 0)
        {
            throw new PlanningInputException(errors);
        }

        return new PlanningProblem
        {
            Hosts = hosts,
            Vms = vms,
            OldCephFactor = fleet.OldCeph.NearfullRatio / Math.Max(1, fleet.OldCeph.PoolSize),
            NewCephFactor = fleet.NewCeph.NearfullRatio / Math.Max(1, fleet.NewCeph.PoolSize),
            NewCephMinHosts = Math.Max(1, fleet.NewCeph.MinHosts),
            PinnedHost = pinnedHost,
            PinnedStage = pinnedStage,
            PinnedOrder = order,
            RamReserveMiB = UpMiB(policy.RamReservePerHostBytes),
            ForBounds = forBounds,
        };
    }
}

/// <summary>Pins or inventory names that do not resolve: a user mistake, reported with every problem at once.</summary>
public sealed class PlanningInputException(IReadOnlyList<string> problems)
    : Exception(string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
