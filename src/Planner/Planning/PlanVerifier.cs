using System.Globalization;
using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>The rule families of docs/plan-format.md, one per kind of violation.</summary>
public enum PlanRule
{
    Digest,
    StageOrder,
    StageZero,
    Coverage,
    HostLifecycle,
    Excluded,
    Storage,
    Ram,
    Zfs,
    OldCeph,
    NewCeph,
    CopyBudget,
    Crossing,
    FileDiskLiveMigration,
    Actions,
    Metrics,
    Completeness,
    LocalImages,
}

/// <summary>One broken rule: where (stage, host or VM), which rule, and the numbers.</summary>
public sealed record PlanViolation(int? Stage, string Subject, PlanRule Rule, string Message)
{
    public override string ToString() => Stage is { } s ? $"stage {s}: {Message}" : Message;
}

/// <summary>Use and capacity of one host at a stage; local images count file disks copied away in the stage's wave until it is committed.</summary>
public sealed record HostCapacity(string Host, HostState State, long RamUsedBytes, long RamCapacityBytes, long ZfsUsedBytes, long ZfsCapacityBytes, long LocalImagesUsedBytes = 0, long LocalImagesCapacityBytes = 0);

public sealed record ClusterCapacity(bool Exists, long UsedBytes, long CapacityBytes);

/// <summary>Capacity use at one stage: what reviews print and the board draws.</summary>
public sealed record StageCapacity(int Stage, IReadOnlyList<HostCapacity> Hosts, ClusterCapacity OldCeph, ClusterCapacity NewCeph);

/// <summary>
/// Re-checks every rule of docs/plan-format.md on a plan against its inventory, independently of
/// whoever made the plan, and names each violation with its numbers.
/// </summary>
public static class PlanVerifier
{
    private const double MetricTolerance = 1e-6;

    /// <summary>Capacity of every host and both clusters at <paramref name="stage"/>.</summary>
    public static StageCapacity CapacityAt(MigrationPlan plan, FleetInventory inventory, int stage)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(inventory);
        var vms = inventory.Vms.ToDictionary(v => v.Name, StringComparer.Ordinal);
        return CapacityAt(plan.Stages[stage], stage > 0 ? plan.Stages[stage - 1] : null, inventory, vms);
    }

    /// <summary>Capacity at every stage of the plan, in order.</summary>
    public static IReadOnlyList<StageCapacity> CapacityTable(MigrationPlan plan, FleetInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(inventory);
        var vms = inventory.Vms.ToDictionary(v => v.Name, StringComparer.Ordinal);
        return [.. plan.Stages.Select((s, i) => CapacityAt(s, i > 0 ? plan.Stages[i - 1] : null, inventory, vms))];
    }

    /// <summary>Old-Ceph capacity of the hosts still <c>libvirt</c>: raw ÷ pool size × nearfull.</summary>
    public static long OldCephCapacity(Fleet fleet, Func<string, HostState> stateOf)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(stateOf);
        var raw = fleet.Hosts.Where(h => stateOf(h.Name) == HostState.Libvirt).Sum(h => h.OldCephOsdRawBytes);
        return OldCephUsable(fleet, raw);
    }

    /// <summary>Old-Ceph capacity of <paramref name="rawBytes"/> of OSDs: raw ÷ pool size × nearfull.</summary>
    internal static long OldCephUsable(Fleet fleet, long rawBytes)
        => (long)(rawBytes / (double)Math.Max(1, fleet.OldCeph.PoolSize) * fleet.OldCeph.NearfullRatio);

    /// <summary>New-Ceph capacity of the <c>pve</c> hosts: raw ÷ pool size × nearfull.</summary>
    public static long NewCephCapacity(Fleet fleet, Func<string, HostState> stateOf)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(stateOf);
        var raw = fleet.Hosts.Where(h => stateOf(h.Name) == HostState.Pve).Sum(h => h.NewCephOsdRawBytes);
        return NewCephUsable(fleet, raw);
    }

    /// <summary>New-Ceph capacity of <paramref name="rawBytes"/> of OSDs: raw ÷ pool size × nearfull.</summary>
    internal static long NewCephUsable(Fleet fleet, long rawBytes)
        => (long)(rawBytes / (double)Math.Max(1, fleet.NewCeph.PoolSize) * fleet.NewCeph.NearfullRatio);

    public static long RamCapacity(HostSpec host, PolicySpec policy)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(policy);
        return host.RamBytes - policy.RamReservePerHostBytes;
    }

    public static long ZfsCapacity(HostSpec host, PolicySpec policy)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(policy);
        return (long)(host.ZfsUsableBytes * policy.ZfsFillRatio);
    }

    /// <summary>
    /// What a libvirt host's local image storage can hold: its <c>local-images</c> disks, or what it already
    /// holds at stage 0 when that is more (a host without such disks can receive no copy).
    /// </summary>
    public static long LocalImagesCapacity(HostSpec host, IEnumerable<VmRecord> vms)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(vms);
        var already = vms.Where(v => v.Host == host.Name && v.Storage == SourceStorage.LocalFile).Sum(v => v.LocalFileProvisionedBytes);
        return LocalImagesCapacity(host, already);
    }

    /// <summary>The same, given the provisioned file-disk bytes the host holds at stage 0 (summed by the caller in one pass over the VMs).</summary>
    internal static long LocalImagesCapacity(HostSpec host, long heldAtStageZero) => Math.Max(host.LocalImagesBytes, heldAtStageZero);

    /// <summary>Bytes a live migration of <paramref name="vm"/> must move at least: its RAM, plus its file disks' data when they are copied.</summary>
    public static long MinimumLiveMigrationBytes(VmRecord vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        return vm.RamBytes + (vm.Storage == SourceStorage.LocalFile ? vm.LocalFileBytes : 0);
    }

    /// <summary>Bytes per second a host's NIC moves (Gbit/s ÷ 8).</summary>
    public static double NicBytesPerSecond(HostSpec host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return host.NicGbits * 1e9 / 8;
    }

    /// <summary>True while a VM's RBD data still lives in the old Ceph (it has not reached PVE storage).</summary>
    public static bool IsOnLibvirtSide(string storage) => storage == StorageIds.OldCeph || StorageIds.IsFile(storage);

    /// <summary>
    /// Bytes an action puts on a host's NIC in its wave: the receiving host always; the sending host when
    /// the data leaves its own disks or RAM (file/zfs storage, live migrations). Reads from a Ceph cluster are
    /// spread over its OSDs and charge no single sender.
    /// </summary>
    public static IEnumerable<(string Host, long Bytes)> NicCharges(PlanAction action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (action.Vm is null || action.From is null || action.To is null)
        {
            yield break;
        }

        yield return (action.To.Host, action.Bytes);
        var senderPays = action.Kind is ActionKind.LiveMigrate or ActionKind.PveLiveMigrate
            || StorageIds.IsFile(action.From.Storage) || StorageIds.IsZfs(action.From.Storage);
        if (senderPays && action.From.Host != action.To.Host)
        {
            yield return (action.From.Host, action.Bytes);
        }
    }

    public static IReadOnlyList<PlanViolation> Verify(MigrationPlan plan, FleetInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(inventory);
        var v = new List<PlanViolation>();
        var fleet = inventory.Fleet;
        var policy = fleet.Policy;
        var vms = inventory.Vms.ToDictionary(x => x.Name, StringComparer.Ordinal);
        var excluded = fleet.Hosts.Where(h => h.Excluded).Select(h => h.Name).Concat(plan.ExcludedHosts).ToHashSet(StringComparer.Ordinal);
        var hosts = fleet.Hosts.ToDictionary(h => h.Name, h => h with { Excluded = excluded.Contains(h.Name) }, StringComparer.Ordinal);
        fleet = fleet with { Hosts = [.. fleet.Hosts.Select(h => hosts[h.Name])] };

        if (plan.InventoryDigest != inventory.Digest)
        {
            v.Add(new(null, "plan", PlanRule.Digest, $"inventory digest {Short(plan.InventoryDigest)} in the plan ≠ {Short(inventory.Digest)} of the inventory: the inventory changed since the plan was made; re-run `taquin plan`"));
        }

        if (plan.Stages.Count == 0)
        {
            v.Add(new(null, "plan", PlanRule.StageOrder, "the plan has no stages (stage 0 is the inventory as it is)"));
            return v;
        }

        for (var i = 0; i < plan.Stages.Count; i++)
        {
            if (plan.Stages[i].Index != i)
            {
                v.Add(new(i, "plan", PlanRule.StageOrder, $"stage at position {i} has index {plan.Stages[i].Index}: stages must be numbered 0..T in order"));
                return v;
            }
        }

        // Structure first: coverage and known names, so the capacity checks can trust the stage.
        var structurallyOk = true;
        foreach (var stage in plan.Stages)
        {
            var t = stage.Index;
            foreach (var h in fleet.Hosts.Where(h => !stage.Hosts.ContainsKey(h.Name)))
            {
                v.Add(new(t, h.Name, PlanRule.Coverage, $"host {h.Name} has no state"));
                structurallyOk = false;
            }

            foreach (var h in stage.Hosts.Keys.Where(h => !hosts.ContainsKey(h)))
            {
                v.Add(new(t, h, PlanRule.Coverage, $"host {h} is not in the inventory"));
                structurallyOk = false;
            }

            foreach (var vm in inventory.Vms.Where(x => !stage.Placements.ContainsKey(x.Name)))
            {
                v.Add(new(t, vm.Name, PlanRule.Coverage, $"VM {vm.Name} has no placement"));
                structurallyOk = false;
            }

            foreach (var (vm, p) in stage.Placements)
            {
                if (!vms.ContainsKey(vm))
                {
                    v.Add(new(t, vm, PlanRule.Coverage, $"VM {vm} is not in the inventory"));
                    structurallyOk = false;
                }
                else if (p is null || p.Host is null || p.Storage is null)
                {
                    v.Add(new(t, vm, PlanRule.Coverage, $"VM {vm} has an incomplete placement (host and storage are both required)"));
                    structurallyOk = false;
                }
                else if (!hosts.ContainsKey(p.Host))
                {
                    v.Add(new(t, vm, PlanRule.Coverage, $"VM {vm} is placed on unknown host {p.Host}"));
                    structurallyOk = false;
                }
            }
        }

        if (!structurallyOk)
        {
            return v;
        }

        CheckStageZero(plan.Stages[0], inventory, v);
        var pveCephCreations = plan.Stages.SelectMany(s => s.Actions.Where(a => a.Kind == ActionKind.CreatePveCeph).Select(_ => s.Index)).ToList();
        if (pveCephCreations.Count > 1)
        {
            v.Add(new(pveCephCreations[1], "pve-ceph", PlanRule.NewCeph, $"create-pve-ceph appears {pveCephCreations.Count} times (waves {string.Join(", ", pveCephCreations)}); once is enough"));
        }

        var pvedOnce = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var t = 0; t < plan.Stages.Count; t++)
        {
            var stage = plan.Stages[t];
            var previous = t > 0 ? plan.Stages[t - 1] : null;
            var capacity = CapacityAt(stage, previous, inventory, vms);
            CheckHosts(stage, previous, fleet, hosts, plan.Stages, v);
            CheckStorage(stage, vms, v);
            CheckCapacity(stage, capacity, fleet, hosts, v);
            if (previous is not null)
            {
                CheckActions(stage, previous, vms, hosts, pvedOnce, v);
                CheckCopyBudget(stage, hosts, policy, v);
            }
        }

        var last = plan.Stages[^1];
        foreach (var (vm, p) in last.Placements)
        {
            if (last.Hosts[p.Host] != HostState.Pve)
            {
                v.Add(new(last.Index, vm, PlanRule.Completeness, $"VM {vm} ends the plan on {last.Hosts[p.Host].ToString().ToLowerInvariant()} host {p.Host}, not on PVE"));
            }
        }

        foreach (var h in fleet.Hosts.Where(h => !h.Excluded && last.Hosts[h.Name] == HostState.Libvirt))
        {
            v.Add(new(last.Index, h.Name, PlanRule.Completeness, $"host {h.Name} is never converted (mark it excluded in fleet.yaml if that is intended)"));
        }

        CheckMetrics(plan, inventory, v);
        return v;
    }

    private static StageCapacity CapacityAt(PlanStage stage, PlanStage? previous, FleetInventory inventory, Dictionary<string, VmRecord> vms)
    {
        var fleet = inventory.Fleet;
        var ram = new Dictionary<string, long>(StringComparer.Ordinal);
        var zfs = new Dictionary<string, long>(StringComparer.Ordinal);
        var local = new Dictionary<string, long>(StringComparer.Ordinal);
        long newCephUsed = 0, oldCephUsed = 0;
        foreach (var (name, p) in stage.Placements)
        {
            if (!vms.TryGetValue(name, out var vm))
            {
                continue;
            }

            ram[p.Host] = ram.GetValueOrDefault(p.Host) + vm.RamBytes;
            if (StorageIds.IsZfs(p.Storage))
            {
                var h = StorageIds.HostOf(p.Storage)!;
                zfs[h] = zfs.GetValueOrDefault(h) + vm.ProvisionedBytes;
            }
            else if (p.Storage == StorageIds.PveCeph)
            {
                newCephUsed += vm.ProvisionedBytes;
            }

            // A copied image is deleted only once its wave is committed: it counts at t if it was there at t-1.
            var before = previous?.Placements.GetValueOrDefault(name);
            var wasOld = before is not null && IsOnLibvirtSide(before.Storage);
            if (IsOnLibvirtSide(p.Storage) || wasOld)
            {
                oldCephUsed += vm.RbdBytes;
            }

            // Same for local file images: the source file stays until the wave is committed.
            if (StorageIds.IsFile(p.Storage))
            {
                var h = StorageIds.HostOf(p.Storage)!;
                local[h] = local.GetValueOrDefault(h) + vm.LocalFileProvisionedBytes;
            }

            if (before is not null && StorageIds.IsFile(before.Storage) && before.Storage != p.Storage)
            {
                var h = StorageIds.HostOf(before.Storage)!;
                local[h] = local.GetValueOrDefault(h) + vm.LocalFileProvisionedBytes;
            }
        }

        HostState StateOf(string h) => stage.Hosts.TryGetValue(h, out var s) ? s : HostState.Libvirt;
        var filesAtStart = inventory.Vms.Where(x => x.Storage == SourceStorage.LocalFile)
            .GroupBy(x => x.Host, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(x => x.LocalFileProvisionedBytes), StringComparer.Ordinal);
        var hostRows = fleet.Hosts.Select(h => new HostCapacity(
            h.Name,
            StateOf(h.Name),
            ram.GetValueOrDefault(h.Name),
            RamCapacity(h, fleet.Policy),
            zfs.GetValueOrDefault(h.Name),
            StateOf(h.Name) == HostState.Pve ? ZfsCapacity(h, fleet.Policy) : 0,
            local.GetValueOrDefault(h.Name),
            Math.Max(h.LocalImagesBytes, filesAtStart.GetValueOrDefault(h.Name)))).ToList();
        return new StageCapacity(
            stage.Index,
            hostRows,
            new ClusterCapacity(true, oldCephUsed, OldCephCapacity(fleet, StateOf)),
            new ClusterCapacity(stage.PveCephExists, newCephUsed, stage.PveCephExists ? NewCephCapacity(fleet, StateOf) : 0));
    }

    private static void CheckStageZero(PlanStage zero, FleetInventory inventory, List<PlanViolation> v)
    {
        foreach (var h in inventory.Fleet.Hosts)
        {
            var expected = h.AlreadyPve ? HostState.Pve : HostState.Libvirt;
            if (zero.Hosts[h.Name] != expected)
            {
                v.Add(new(0, h.Name, PlanRule.StageZero, $"host {h.Name} is {Name(zero.Hosts[h.Name])} but the inventory says {Name(expected)}"));
            }
        }

        foreach (var vm in inventory.Vms)
        {
            var expected = PlanBuilder.InitialPlacement(vm);
            if (zero.Placements[vm.Name] != expected)
            {
                v.Add(new(0, vm.Name, PlanRule.StageZero, $"VM {vm.Name} is at {Show(zero.Placements[vm.Name])} but the inventory has it at {Show(expected)}"));
            }
        }

        if (zero.Actions.Count > 0)
        {
            v.Add(new(0, "stage 0", PlanRule.StageZero, $"stage 0 has {zero.Actions.Count} action(s); it is the inventory as it is"));
        }

        if (zero.PveCephExists)
        {
            v.Add(new(0, "pve-ceph", PlanRule.StageZero, "the new Ceph cannot exist at stage 0"));
        }
    }

    private static void CheckHosts(PlanStage stage, PlanStage? previous, Fleet fleet, Dictionary<string, HostSpec> hosts, IReadOnlyList<PlanStage> all, List<PlanViolation> v)
    {
        var t = stage.Index;
        var converts = stage.Actions.Where(a => a.Kind == ActionKind.ConvertHost).Select(a => a.Host ?? "").ToList();
        foreach (var h in fleet.Hosts)
        {
            var now = stage.Hosts[h.Name];
            if (previous is not null)
            {
                var before = previous.Hosts[h.Name];
                var allowed = (before, now) switch
                {
                    (HostState.Libvirt, HostState.Libvirt or HostState.Converting) => true,
                    (HostState.Converting, HostState.Pve) => true,
                    (HostState.Pve, HostState.Pve) => true,
                    _ => false,
                };
                if (!allowed)
                {
                    v.Add(new(t, h.Name, PlanRule.HostLifecycle, $"host {h.Name} goes from {Name(before)} to {Name(now)}: only libvirt → converting → pve is allowed, one step per stage"));
                }

                var convertActions = converts.Count(c => c == h.Name);
                if (now == HostState.Converting && before == HostState.Libvirt && convertActions != 1)
                {
                    v.Add(new(t, h.Name, PlanRule.Actions, $"host {h.Name} becomes converting but wave {t} has {convertActions} convert-host action(s) for it"));
                }
                else if (now != HostState.Converting && convertActions > 0)
                {
                    v.Add(new(t, h.Name, PlanRule.Actions, $"convert-host {h.Name} in wave {t} but the host is {Name(now)} at stage {t}"));
                }
            }

            if (h.Excluded && now != HostState.Libvirt && !h.AlreadyPve)
            {
                v.Add(new(t, h.Name, PlanRule.Excluded, $"host {h.Name} is excluded but is {Name(now)}"));
            }

            if (now == HostState.Converting)
            {
                var held = stage.Placements.Where(p => p.Value.Host == h.Name).Select(p => p.Key).ToList();
                if (held.Count > 0)
                {
                    v.Add(new(t, h.Name, PlanRule.HostLifecycle, $"host {h.Name} is converting but holds {held.Count} VM(s): {Few(held)}"));
                }
            }
        }

        foreach (var unknown in converts.Where(c => !hosts.ContainsKey(c)))
        {
            v.Add(new(t, unknown, PlanRule.Actions, $"convert-host names unknown host '{unknown}'"));
        }

        // New Ceph: created once, with enough PVE hosts, and exists from then on.
        var pveCount = stage.Hosts.Count(x => x.Value == HostState.Pve);
        var created = all.Take(t + 1).Any(s => s.Actions.Any(a => a.Kind == ActionKind.CreatePveCeph));
        var createdHere = stage.Actions.Any(a => a.Kind == ActionKind.CreatePveCeph);
        if (stage.PveCephExists && !created)
        {
            v.Add(new(t, "pve-ceph", PlanRule.NewCeph, $"the new Ceph exists but no create-pve-ceph action happened in waves 1..{t}"));
        }

        if (created && !stage.PveCephExists)
        {
            v.Add(new(t, "pve-ceph", PlanRule.NewCeph, "create-pve-ceph happened but the stage says the new Ceph does not exist"));
        }

        if ((stage.PveCephExists || createdHere) && pveCount < fleet.NewCeph.MinHosts)
        {
            v.Add(new(t, "pve-ceph", PlanRule.NewCeph, $"the new Ceph exists with {pveCount} PVE host(s) < {fleet.NewCeph.MinHosts} required (newCeph.minHosts)"));
        }
    }

    private static void CheckStorage(PlanStage stage, Dictionary<string, VmRecord> vms, List<PlanViolation> v)
    {
        var t = stage.Index;
        foreach (var (vm, p) in stage.Placements)
        {
            var state = stage.Hosts[p.Host];
            // On the libvirt side a VM's storage is fixed by its disks: file:<its host> with a local file disk, else old-ceph.
            var isFileVm = vms[vm].Storage == SourceStorage.LocalFile;
            if ((isFileVm && p.Storage == StorageIds.OldCeph) || (!isFileVm && StorageIds.IsFile(p.Storage)))
            {
                v.Add(new(t, vm, PlanRule.Storage, $"VM {vm} on {p.Host}/{p.Storage}: {(isFileVm ? "it has a local file disk, so on libvirt its storage is file:<host>" : "it has no local file disk, so on libvirt its storage is old-ceph")}"));
                continue;
            }

            string? problem = p.Storage switch
            {
                StorageIds.OldCeph => state == HostState.Libvirt ? null : $"old-ceph only on a libvirt host, {p.Host} is {Name(state)}",
                StorageIds.PveCeph => state != HostState.Pve ? $"pve-ceph only on a pve host, {p.Host} is {Name(state)}"
                    : !stage.PveCephExists ? "pve-ceph before the new Ceph exists" : null,
                var s when StorageIds.IsFile(s) => StorageIds.HostOf(s) != p.Host ? $"{s} is not on host {p.Host}"
                    : state != HostState.Libvirt ? $"{s} only while {p.Host} is libvirt, it is {Name(state)}" : null,
                var s when StorageIds.IsZfs(s) => StorageIds.HostOf(s) != p.Host ? $"{s} is not on host {p.Host}"
                    : state != HostState.Pve ? $"{s} only while {p.Host} is pve, it is {Name(state)}" : null,
                var s => $"unknown storage '{s}' (old-ceph, pve-ceph, file:<host>, zfs:<host>)",
            };
            if (problem is not null)
            {
                v.Add(new(t, vm, PlanRule.Storage, $"VM {vm} on {p.Host}/{p.Storage}: {problem}"));
            }
        }
    }

    private static void CheckCapacity(PlanStage stage, StageCapacity capacity, Fleet fleet, Dictionary<string, HostSpec> hosts, List<PlanViolation> v)
    {
        var t = stage.Index;
        var reserve = fleet.Policy.RamReservePerHostBytes;
        foreach (var h in capacity.Hosts)
        {
            if (h.RamUsedBytes > h.RamCapacityBytes)
            {
                v.Add(new(t, h.Host, PlanRule.Ram, $"host {h.Host} RAM {Gib(h.RamUsedBytes)} > {Gib(h.RamCapacityBytes)} ({Gib(hosts[h.Host].RamBytes)} − {Gib(reserve)} reserve)"));
            }

            if (h.ZfsUsedBytes > h.ZfsCapacityBytes)
            {
                var spec = hosts[h.Host];
                v.Add(new(t, h.Host, PlanRule.Zfs, $"host {h.Host} ZFS {ByteSize.Format(h.ZfsUsedBytes)} > {ByteSize.Format(h.ZfsCapacityBytes)} ({ByteSize.Format(spec.ZfsUsableBytes)} usable × {Num(fleet.Policy.ZfsFillRatio)} zfsFillRatio)"));
            }

            if (h.LocalImagesUsedBytes > h.LocalImagesCapacityBytes)
            {
                var spec = hosts[h.Host];
                v.Add(new(t, h.Host, PlanRule.LocalImages, $"host {h.Host} local images {ByteSize.Format(h.LocalImagesUsedBytes)} provisioned (incl. file disks copied away in wave {t} and not yet deleted) > {ByteSize.Format(h.LocalImagesCapacityBytes)} ({(spec.LocalImagesBytes > 0 && spec.LocalImagesBytes >= h.LocalImagesCapacityBytes ? "its local-images disks" : "no more than it holds at stage 0: add local-images disks in fleet.yaml to copy file disks onto it")})"));
            }
        }

        if (capacity.OldCeph.UsedBytes > capacity.OldCeph.CapacityBytes)
        {
            var libvirt = capacity.Hosts.Where(h => h.State == HostState.Libvirt).Select(h => h.Host).ToList();
            v.Add(new(t, "old-ceph", PlanRule.OldCeph, $"old Ceph holds {ByteSize.Format(capacity.OldCeph.UsedBytes)} (incl. images copied in wave {t} and not yet deleted) > {ByteSize.Format(capacity.OldCeph.CapacityBytes)} usable on the OSDs of {libvirt.Count} libvirt host(s) ({Few(libvirt)}) ÷ size {fleet.OldCeph.PoolSize} × nearfull {Num(fleet.OldCeph.NearfullRatio)}"));
        }

        if (capacity.NewCeph.UsedBytes > capacity.NewCeph.CapacityBytes && stage.PveCephExists)
        {
            v.Add(new(t, "pve-ceph", PlanRule.NewCeph, $"new Ceph holds {ByteSize.Format(capacity.NewCeph.UsedBytes)} > {ByteSize.Format(capacity.NewCeph.CapacityBytes)} usable (OSDs of the pve hosts ÷ size {fleet.NewCeph.PoolSize} × nearfull {Num(fleet.NewCeph.NearfullRatio)})"));
        }
    }

    private static void CheckActions(PlanStage stage, PlanStage previous, Dictionary<string, VmRecord> vms, Dictionary<string, HostSpec> hosts, Dictionary<string, int> crossed, List<PlanViolation> v)
    {
        var t = stage.Index;
        var vmActions = stage.Actions.Where(a => a.Kind is not (ActionKind.ConvertHost or ActionKind.CreatePveCeph)).ToList();
        foreach (var a in vmActions.Where(a => a.Vm is null || !vms.ContainsKey(a.Vm)))
        {
            v.Add(new(t, a.Vm ?? "?", PlanRule.Actions, $"{Kind(a.Kind)} action names unknown VM '{a.Vm}'"));
        }

        var byVm = vmActions.Where(a => a.Vm is not null && vms.ContainsKey(a.Vm)).GroupBy(a => a.Vm!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var (name, vm) in vms)
        {
            var before = previous.Placements[name];
            var now = stage.Placements[name];
            var actions = byVm.GetValueOrDefault(name) ?? [];
            var beforeState = previous.Hosts[before.Host];
            var nowState = stage.Hosts[now.Host];
            if (before == now)
            {
                if (actions.Count > 0)
                {
                    v.Add(new(t, name, PlanRule.Actions, $"VM {name} has {Kind(actions[0].Kind)} in wave {t} but stays at {Show(now)}"));
                }

                continue;
            }

            var expected = (beforeState, nowState) switch
            {
                (HostState.Libvirt, HostState.Libvirt) => ActionKind.LiveMigrate,
                (HostState.Libvirt, HostState.Pve) => ActionKind.MoveToPve,
                (HostState.Pve, HostState.Pve) => before.Host == now.Host ? ActionKind.PveMoveDisk : ActionKind.PveLiveMigrate,
                _ => (ActionKind?)null,
            };
            if (beforeState == HostState.Pve && nowState == HostState.Libvirt)
            {
                v.Add(new(t, name, PlanRule.Crossing, $"VM {name} goes back from PVE host {before.Host} to libvirt host {now.Host}"));
            }

            if (nowState == HostState.Pve && beforeState != HostState.Pve && !crossed.TryAdd(name, t))
            {
                v.Add(new(t, name, PlanRule.Crossing, $"VM {name} crosses libvirt → PVE a second time (first in wave {crossed[name]}): one reboot per VM"));
            }

            // A file-disk VM may live-migrate only with its storage copied: its file disks land on the new host.
            if (beforeState == HostState.Libvirt && nowState == HostState.Libvirt && vm.Storage == SourceStorage.LocalFile && now.Storage != StorageIds.File(now.Host))
            {
                v.Add(new(t, name, PlanRule.FileDiskLiveMigration, $"VM {name} has a local file disk: it live-migrates {before.Host} → {now.Host} only with a storage copy to {StorageIds.File(now.Host)}, not to {now.Storage}"));
            }

            if (actions.Count != 1)
            {
                v.Add(new(t, name, PlanRule.Actions, $"VM {name} goes {Show(before)} → {Show(now)} with {actions.Count} action(s) in wave {t}; exactly one must explain it"));
                continue;
            }

            var a = actions[0];
            if (a.From != before || a.To != now)
            {
                v.Add(new(t, name, PlanRule.Actions, $"{Kind(a.Kind)} of {name} says {Show(a.From)} → {Show(a.To)} but the placements go {Show(before)} → {Show(now)}"));
            }

            if (expected is { } k && a.Kind != k)
            {
                v.Add(new(t, name, PlanRule.Actions, $"VM {name} goes {Name(beforeState)} {before.Host} → {Name(nowState)} {now.Host}, which is a {Kind(k)}, but the action is {Kind(a.Kind)}"));
            }

            if (a.Kind == ActionKind.LiveMigrate && a.Bytes < MinimumLiveMigrationBytes(vm))
            {
                var what = vm.Storage == SourceStorage.LocalFile ? $"RAM {Gib(vm.RamBytes)} + file disks {ByteSize.Format(vm.LocalFileBytes)}" : $"RAM {Gib(vm.RamBytes)}";
                v.Add(new(t, name, PlanRule.CopyBudget, $"live-migrate of {name} claims {ByteSize.Format(a.Bytes)} but moves at least {ByteSize.Format(MinimumLiveMigrationBytes(vm))} ({what})"));
            }

            // Every move to PVE copies at least its disks' data (the planners' lower bounds on waves rely on it).
            if (a.Kind == ActionKind.MoveToPve && a.Bytes < vm.DiskBytes)
            {
                v.Add(new(t, name, PlanRule.CopyBudget, $"move-to-pve of {name} claims {ByteSize.Format(a.Bytes)} but copies at least its disks' data, {ByteSize.Format(vm.DiskBytes)}"));
            }

            if (hosts.TryGetValue(now.Host, out var target) && target.Excluded)
            {
                v.Add(new(t, name, PlanRule.Excluded, $"VM {name} moves to excluded host {now.Host}"));
            }
        }
    }

    private static void CheckCopyBudget(PlanStage stage, Dictionary<string, HostSpec> hosts, PolicySpec policy, List<PlanViolation> v)
    {
        var window = policy.WaveWindowHours * 3600;
        var perHost = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (host, bytes) in stage.Actions.SelectMany(NicCharges))
        {
            perHost[host] = perHost.GetValueOrDefault(host) + bytes;
        }

        foreach (var (host, bytes) in perHost.OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            if (!hosts.TryGetValue(host, out var spec))
            {
                continue;
            }

            var seconds = bytes / NicBytesPerSecond(spec);
            if (seconds > window)
            {
                v.Add(new(stage.Index, host, PlanRule.CopyBudget, $"host {host} moves {ByteSize.Format(bytes)} in wave {stage.Index}: {Num(seconds / 3600)} h at {Num(spec.NicGbits)} Gbit/s > {Num(policy.WaveWindowHours)} h wave window"));
            }
        }
    }

    private static void CheckMetrics(MigrationPlan plan, FleetInventory inventory, List<PlanViolation> v)
    {
        var expected = PlanMetricsCalculator.Compute(plan.Stages, inventory);
        var got = plan.Metrics;
        void Compare(string what, double claimed, double actual)
        {
            if (Math.Abs(claimed - actual) > MetricTolerance * Math.Max(1, Math.Abs(actual)))
            {
                v.Add(new(null, "metrics", PlanRule.Metrics, $"metrics.{what} is {Num(claimed)} but the actions give {Num(actual)}"));
            }
        }

        Compare("stages", got.Stages, expected.Stages);
        Compare("reboots", got.Reboots, expected.Reboots);
        Compare("downtimeSeconds", got.DowntimeSeconds, expected.DowntimeSeconds);
        Compare("bytesCopied", got.BytesCopied, expected.BytesCopied);
        Compare("liveMigrations", got.LiveMigrations, expected.LiveMigrations);
        Compare("moves", got.Moves, expected.Moves);
        Compare("ramImbalance", got.RamImbalance, expected.RamImbalance);
    }

    internal static string Name(HostState state) => state switch
    {
        HostState.Libvirt => "libvirt",
        HostState.Converting => "converting",
        _ => "pve",
    };

    internal static string Kind(ActionKind kind) => kind switch
    {
        ActionKind.LiveMigrate => "live-migrate",
        ActionKind.MoveToPve => "move-to-pve",
        ActionKind.ConvertHost => "convert-host",
        ActionKind.CreatePveCeph => "create-pve-ceph",
        ActionKind.PveLiveMigrate => "pve-live-migrate",
        _ => "pve-move-disk",
    };

    internal static string Gib(long bytes) => Num(bytes / (double)ByteSize.GiB) + " GiB";

    private static string Num(double x) => x.ToString(x >= 100 || x == Math.Floor(x) ? "0" : "0.##", CultureInfo.InvariantCulture);

    private static string Show(Placement? p) => p is null ? "(none)" : $"{p.Host}/{p.Storage}";

    private static string Short(string digest) => digest.Length > 12 ? digest[..12] + "…" : digest;

    private static string Few(IReadOnlyList<string> names) => names.Count <= 5 ? string.Join(", ", names) : string.Join(", ", names.Take(5)) + $", … (+{names.Count - 5})";
}
