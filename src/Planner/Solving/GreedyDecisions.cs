namespace Taquin.Planner.Solving;

/// <summary>
/// A fast first-fit heuristic at the decision level: one host converted per stage in a fixed order,
/// its VMs crossed to PVE where they fit, else live-migrated to the libvirt host converted last;
/// extra VMs crossed early when the shrinking old Ceph needs room. Used as the CP-SAT hint,
/// as the upper bound on stages, and as the packing step of the decomposition for big fleets.
/// Returns null when it gets stuck (the exact model may still find a plan).
/// </summary>
internal static class GreedyDecisions
{
    /// <param name="problem">The fleet.</param>
    /// <param name="conversionOrder">Hosts in conversion order (null: a few candidate orders).</param>
    /// <param name="conversionStages">Planned conversion stage per host (decomposition), or null for one host per stage.</param>
    /// <param name="rbdDenseFirst">
    /// When the old Ceph needs room, cross the VMs with most RBD data per MiB of RAM first (most data off the old Ceph
    /// for the PVE RAM they take) rather than those of the hosts converting next (fewer hops): for tight schedules (ADR 0027).
    /// </param>
    /// <param name="targetWaves">
    /// Crossing wave per VM to aim for (the schedule relaxation's, ADR 0029): a VM crosses in that wave (or later when
    /// nothing fits), and a VM due later leaves a converting host by live migration rather than crossing early, to a
    /// host that stays libvirt until its wave where one has room.
    /// </param>
    /// <param name="packing">How VMs are packed at target waves (none wins on every fleet: callers try each).</param>
    public static SolverDecisions? Solve(
        PlanningProblem problem, IReadOnlyList<int>? conversionOrder = null, IReadOnlyList<int>? conversionStages = null, bool rbdDenseFirst = false,
        IReadOnlyList<int>? targetWaves = null, WavePacking packing = WavePacking.LastConvertedHost)
    {
        if (conversionOrder is not null)
        {
            return new Run(problem, conversionOrder, conversionStages, rbdDenseFirst, targetWaves, packing).Execute();
        }

        // A few cheap orders; the best valid result wins (fewest stages, then live migrations).
        SolverDecisions? best = null;
        foreach (var order in CandidateOrders(problem))
        {
            var result = new Run(problem, order, null, false, null, WavePacking.LastConvertedHost).Execute();
            if (result is not null && (best is null || result.Stages < best.Stages
                || (result.Stages == best.Stages && result.LiveMigrations < best.LiveMigrations)))
            {
                best = result;
            }
        }

        return best;
    }

    private static IEnumerable<IReadOnlyList<int>> CandidateOrders(PlanningProblem problem)
    {
        yield return DefaultOrder(problem);
        // Big ZFS pools first: early PVE hosts take the data the shrinking old Ceph cannot keep.
        yield return PinnedFirst(problem, problem.Hosts.Where(h => h.Convertible)
            .OrderBy(h => problem.VmsOn(h.Index).Any(v => v.FileBacked) ? 1 : 0)
            .ThenByDescending(h => h.ZfsCapacityMiB).ThenBy(h => h.Index).Select(h => h.Index));
        // Small OSD sets first: the old Ceph keeps the most capacity.
        yield return PinnedFirst(problem, problem.Hosts.Where(h => h.Convertible)
            .OrderBy(h => problem.VmsOn(h.Index).Any(v => v.FileBacked) ? 1 : 0)
            .ThenBy(h => h.OldCephRawMiB).ThenByDescending(h => h.ZfsCapacityMiB).ThenBy(h => h.Index).Select(h => h.Index));
    }

    private static List<int> PinnedFirst(PlanningProblem problem, IEnumerable<int> sorted)
    {
        var pinned = problem.PinnedOrder.Where(h => problem.Hosts[h].Convertible).ToList();
        return [.. pinned, .. sorted.Where(h => !pinned.Contains(h))];
    }

    /// <summary>Hosts without file-backed VMs first, then by RAM to evacuate, honouring a pinned order.</summary>
    public static IReadOnlyList<int> DefaultOrder(PlanningProblem problem)
    {
        var sorted = problem.Hosts.Where(h => h.Convertible)
            .OrderBy(h => problem.VmsOn(h.Index).Any(v => v.FileBacked) ? 1 : 0)
            .ThenBy(h => problem.VmsOn(h.Index).Sum(v => v.RamMiB))
            .ThenBy(h => h.Index)
            .Select(h => h.Index)
            .ToList();
        return PinnedFirst(problem, sorted);
    }

    private sealed class Run(PlanningProblem problem, IReadOnlyList<int> order, IReadOnlyList<int>? plannedStages, bool rbdDenseFirst, IReadOnlyList<int>? targetWaves, WavePacking packing)
    {
        private readonly bool dueFirst = packing == WavePacking.DueFirst;
        // The VMs due later stay off PVE and land where they need no second hop (both refined packings).
        private readonly bool tight = targetWaves is not null && packing != WavePacking.LastConvertedHost;
        private readonly int[] location = problem.Vms.Select(v => v.Home).ToArray();
        private readonly int[] crossStage = Enumerable.Repeat(0, problem.Vms.Count).ToArray();
        private readonly bool[] onCeph = new bool[problem.Vms.Count];
        private readonly List<LiveHop>[] hops = problem.Vms.Select(_ => new List<LiveHop>()).ToArray();
        private readonly int?[] conversion = new int?[problem.Hosts.Count];
        private readonly long[] zfsUsed = new long[problem.Hosts.Count];
        private long cephUsed;
        private long[] ram = [];
        // MiB on each host's NIC in the current wave (receiver, and sender for file images and live migrations).
        private long[] charge = [];
        // MiB of file images on each host in the current stage: those there at the previous stage (deleted
        // only once the wave is committed) plus the copies arriving now.
        private long[] local = [];
        private readonly Dictionary<int, int> rank = order.Select((h, i) => (h, i)).ToDictionary(x => x.h, x => x.i);
        private int stage;

        private bool Crossed(int v) => crossStage[v] > 0;

        private bool IsLibvirt(int h, int s) => !problem.Hosts[h].AlreadyPve && (conversion[h] is not { } c || s < c);

        private bool IsPve(int h, int s) => problem.Hosts[h].AlreadyPve || (conversion[h] is { } c && s > c);

        public SolverDecisions? Execute()
        {
            var queue = new Queue<int>(order);
            var limit = (problem.Hosts.Count * 2) + problem.Vms.Count + 2;
            while (queue.Count > 0 || problem.Vms.Any(v => !Crossed(v.Index)))
            {
                stage++;
                if (stage > limit)
                {
                    return null;
                }

                ram = new long[problem.Hosts.Count];
                foreach (var vm in problem.Vms)
                {
                    ram[location[vm.Index]] += vm.RamMiB;
                }

                charge = new long[problem.Hosts.Count];
                local = new long[problem.Hosts.Count];
                foreach (var vm in problem.Vms.Where(v => !Crossed(v.Index)))
                {
                    local[location[vm.Index]] += vm.FileMiB;
                }

                var progress = false;
                var usage = problem.Vms.Where(v => !Crossed(v.Index)).Sum(v => v.RbdMiB);
                if (targetWaves is not null && dueFirst)
                {
                    progress |= CrossDue(targetWaves);
                }

                // Without planned stages one host per stage; with them (decomposition) every host due now.
                var converted = 0;
                while (queue.Count > 0 && (plannedStages is null ? converted == 0 : plannedStages[queue.Peek()] <= stage))
                {
                    var next = queue.Peek();
                    var capacity = problem.OldCephCapacityMiB(problem.Hosts.Where(h => h.Index != next && IsLibvirt(h.Index, stage)));
                    if (usage > capacity || !TryEvacuate(next))
                    {
                        break;
                    }

                    conversion[next] = stage;
                    queue.Dequeue();
                    converted++;
                    progress = true;
                }

                foreach (var vm in problem.Vms.Where(v => !Crossed(v.Index) && problem.PinnedStage.TryGetValue(v.Index, out var p) && p == stage))
                {
                    if (!TryCross(vm.Index))
                    {
                        return null;
                    }

                    progress = true;
                }

                if (targetWaves is not null && !dueFirst)
                {
                    progress |= CrossDue(targetWaves);
                }

                progress |= CrossForNextConversion(queue);
                if (queue.Count == 0)
                {
                    foreach (var vm in problem.Vms.Where(v => !Crossed(v.Index) && !hops[v.Index].Any(h => h.Stage == stage)).OrderByDescending(v => v.RamMiB).ThenBy(v => v.Index).ToList())
                    {
                        progress |= TryCross(vm.Index);
                    }
                }

                if (!progress && problem.PinnedStage.Values.All(p => p <= stage) && (plannedStages is null || queue.Count == 0 || plannedStages[queue.Peek()] < stage))
                {
                    return null;
                }
            }

            var decisions = problem.Vms.Select(v => new VmDecision(crossStage[v.Index], location[v.Index], onCeph[v.Index], hops[v.Index])).ToList();
            return new SolverDecisions(stage, conversion, decisions);
        }

        /// <summary>The VMs due now (or overdue) cross, hardest to place first (most disk, then RAM).</summary>
        private bool CrossDue(IReadOnlyList<int> waves)
        {
            var progress = false;
            foreach (var vm in problem.Vms.Where(v => !Crossed(v.Index) && waves[v.Index] <= stage && !hops[v.Index].Any(h => h.Stage == stage))
                .OrderBy(v => waves[v.Index]).ThenByDescending(v => v.ProvisionedMiB).ThenByDescending(v => v.RamMiB).ThenBy(v => v.Index).ToList())
            {
                progress |= TryCross(vm.Index);
            }

            return progress;
        }

        /// <summary>Moves every VM off the host (cross to PVE, else live-migrate); rolls back on failure.</summary>
        private bool TryEvacuate(int host)
        {
            var snapshot = (location: (int[])location.Clone(), cross: (int[])crossStage.Clone(), ceph: (bool[])onCeph.Clone(),
                hopCounts: hops.Select(h => h.Count).ToArray(), zfs: (long[])zfsUsed.Clone(), cephUsed, ram: (long[])ram.Clone(),
                charge: (long[])charge.Clone(), local: (long[])local.Clone());
            var residents = problem.Vms.Where(v => !Crossed(v.Index) && location[v.Index] == host)
                .OrderByDescending(v => v.RamMiB).ThenBy(v => v.Index).ToList();
            foreach (var vm in residents)
            {
                var pinnedLater = problem.PinnedStage.TryGetValue(vm.Index, out var p) && p != stage;
                // Due in a later wave: it leaves by live migration, crossing now only when no libvirt host takes it even
                // after one makes room (an early crossing takes PVE room the VMs due now need).
                var dueLater = targetWaves is not null && targetWaves[vm.Index] > stage;
                var left = dueLater && tight
                    ? TryLiveMigrate(vm.Index, host) || MakeRoomAndMigrate(vm.Index, host) || (!pinnedLater && TryCross(vm.Index))
                    : dueLater
                    ? TryLiveMigrate(vm.Index, host) || (!pinnedLater && TryCross(vm.Index)) || MakeRoomAndMigrate(vm.Index, host)
                    : (!pinnedLater && TryCross(vm.Index)) || TryLiveMigrate(vm.Index, host) || MakeRoomAndMigrate(vm.Index, host);
                if (!left)
                {
                    Array.Copy(snapshot.location, location, location.Length);
                    Array.Copy(snapshot.cross, crossStage, crossStage.Length);
                    Array.Copy(snapshot.ceph, onCeph, onCeph.Length);
                    Array.Copy(snapshot.zfs, zfsUsed, zfsUsed.Length);
                    Array.Copy(snapshot.ram, ram, ram.Length);
                    Array.Copy(snapshot.charge, charge, charge.Length);
                    Array.Copy(snapshot.local, local, local.Length);
                    cephUsed = snapshot.cephUsed;
                    for (var i = 0; i < hops.Length; i++)
                    {
                        hops[i].RemoveRange(snapshot.hopCounts[i], hops[i].Count - snapshot.hopCounts[i]);
                    }

                    return false;
                }
            }

            return true;
        }

        private bool TryLiveMigrate(int v, int from)
        {
            var vm = problem.Vms[v];
            // The refined packings first try a host that stays libvirt until the VM's wave; else the host converted last
            // keeps the VM longest: fewer second hops.
            var candidates = problem.Hosts.Where(h => MayLand(vm, h, from))
                .OrderBy(h => StaysUntilDue(v, h) ? 0 : 1)
                .ThenBy(h => StaysUntilDue(v, h) ? plannedStages![h.Index] : 0)
                .ThenByDescending(h => rank.GetValueOrDefault(h.Index, int.MaxValue))
                .ThenBy(h => h.Index);
            foreach (var h in candidates)
            {
                if (ram[h.Index] + vm.RamMiB <= h.RamCapacityMiB
                    && charge[h.Index] + vm.HopMiB <= h.CopyBudgetMiB
                    && charge[from] + vm.HopMiB <= problem.Hosts[from].CopyBudgetMiB
                    && (vm.FileMiB == 0 || local[h.Index] + vm.FileMiB <= h.LocalImagesMiB))
                {
                    charge[h.Index] += vm.HopMiB;
                    charge[from] += vm.HopMiB;
                    local[h.Index] += vm.FileMiB;
                    ram[from] -= vm.RamMiB;
                    ram[h.Index] += vm.RamMiB;
                    location[v] = h.Index;
                    hops[v].Add(new LiveHop(stage, h.Index));
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// Aiming at target waves: the host stays libvirt until the VM's wave, so the VM needs no second hop; the one
        /// converting soonest first, keeping the hosts converting last for the VMs due last.
        /// </summary>
        private bool StaysUntilDue(int v, SolverHost h)
            => tight && plannedStages is not null && h.Convertible && plannedStages[h.Index] >= targetWaves![v];

        /// <summary>
        /// A libvirt host a VM leaving <paramref name="from"/> may land on in this wave: not converting now or in this very
        /// wave (it would have to be emptied again), and a copy target for a file-disk VM.
        /// </summary>
        private bool MayLand(SolverVm vm, SolverHost h, int from)
            => h.Index != from && !h.Excluded && IsLibvirt(h.Index, stage) && conversion[h.Index] is null
                && (!vm.FileBacked || h.FileCopyTarget)
                && (plannedStages is null || !h.Convertible || plannedStages[h.Index] > stage);

        /// <summary>
        /// With target waves only: no libvirt host has the RAM for the VM, though together they do. The roomiest host
        /// that may take it sends some of its own VMs on (to PVE when they are due, else to another libvirt host),
        /// the ones due soonest and biggest first, until the VM fits. Partial moves are undone by the evacuation's rollback.
        /// </summary>
        private bool MakeRoomAndMigrate(int v, int from)
        {
            if (targetWaves is null)
            {
                return false;
            }

            var vm = problem.Vms[v];
            // The refined packings count only guests that some other libvirt host has the RAM for (or PVE, when due now).
            List<SolverVm> Guests(SolverHost h) => [.. problem.Vms.Where(u => u.Index != v && !Crossed(u.Index) && location[u.Index] == h.Index && u.RamMiB > 0
                    && !hops[u.Index].Any(x => x.Stage == stage) && !problem.PinnedStage.ContainsKey(u.Index) && (!tight || Movable(u, h, from)))];
            long Deficit(SolverHost h) => ram[h.Index] + vm.RamMiB - h.RamCapacityMiB;
            var candidates = problem.Hosts.Where(h => MayLand(vm, h, from)
                    && charge[h.Index] + vm.HopMiB <= h.CopyBudgetMiB && charge[from] + vm.HopMiB <= problem.Hosts[from].CopyBudgetMiB
                    && (vm.FileMiB == 0 || local[h.Index] + vm.FileMiB <= h.LocalImagesMiB));
            // The refined packings pick the host that needs the fewest guests sent on (each is a live migration), the
            // smallest guest that frees enough first; the first packing takes the roomiest host, the guests due soonest.
            var host = tight
                ? candidates.OrderBy(h => GuestsToSend(Guests(h), Deficit(h))).ThenBy(Deficit).ThenBy(h => h.Index).FirstOrDefault()
                : candidates.OrderByDescending(h => h.RamCapacityMiB - ram[h.Index]).ThenBy(h => h.Index).FirstOrDefault();
            if (host is null)
            {
                return false;
            }

            var deficit = Deficit(host);
            var guests = tight
                ? [.. Guests(host).OrderBy(u => u.RamMiB >= deficit ? 0 : 1).ThenBy(u => u.RamMiB >= deficit ? u.RamMiB : -u.RamMiB).ThenBy(u => u.Index)]
                : Guests(host).OrderBy(u => targetWaves[u.Index]).ThenByDescending(u => u.RamMiB).ThenBy(u => u.Index).ToList();
            foreach (var guest in guests)
            {
                if (ram[host.Index] + vm.RamMiB <= host.RamCapacityMiB)
                {
                    break;
                }

                _ = ((!tight || targetWaves[guest.Index] <= stage) && TryCross(guest.Index)) || TryLiveMigrate(guest.Index, host.Index);
            }

            return ram[host.Index] + vm.RamMiB <= host.RamCapacityMiB && TryLiveMigrate(v, from);
        }

        /// <summary>Some host other than <paramref name="from"/> has the RAM for the guest now: a libvirt one it may land on, or PVE when it is due.</summary>
        private bool Movable(SolverVm guest, SolverHost host, int from)
            => problem.Hosts.Any(h => h.Index != from && ram[h.Index] + guest.RamMiB <= h.RamCapacityMiB
                && (MayLand(guest, h, host.Index) || (IsPve(h.Index, stage) && !h.Excluded && targetWaves![guest.Index] <= stage)));

        /// <summary>How many of the guests, biggest first, free <paramref name="deficit"/> MiB (one when a single one does).</summary>
        private static int GuestsToSend(List<SolverVm> guests, long deficit)
        {
            var freed = 0L;
            var count = 0;
            foreach (var size in guests.Select(u => u.RamMiB).OrderDescending())
            {
                if (freed >= deficit)
                {
                    break;
                }

                freed += size;
                count++;
            }

            return freed >= deficit ? count : int.MaxValue;
        }

        private bool TryCross(int v)
        {
            var vm = problem.Vms[v];
            if (problem.PinnedStage.TryGetValue(v, out var pinnedStage) && pinnedStage != stage)
            {
                return false;
            }

            var pveHosts = problem.Hosts.Where(h => IsPve(h.Index, stage) && !h.Excluded).ToList();
            var cephCapacity = pveHosts.Count >= problem.NewCephMinHosts ? problem.NewCephCapacityMiB(pveHosts) : 0;
            var source = location[v];
            if (vm.FileBacked && charge[source] + vm.CopyMiB > problem.Hosts[source].CopyBudgetMiB)
            {
                return false;
            }

            var byRoom = pveHosts.OrderByDescending(h => h.RamCapacityMiB - ram[h.Index]).ThenBy(h => h.Index);
            // Aiming at target waves, a host with ZFS room comes before the new Ceph on the roomiest host: the shared
            // Ceph is what the big disks due later need (the relaxation counts ZFS and Ceph as one pool).
            var tries = targetWaves is null ? byRoom : byRoom.Where(h => zfsUsed[h.Index] + vm.ProvisionedMiB <= h.ZfsCapacityMiB).Concat(byRoom);
            foreach (var h in tries)
            {
                if ((problem.PinnedHost.TryGetValue(v, out var pinnedHost) && pinnedHost != h.Index)
                    || ram[h.Index] + vm.RamMiB > h.RamCapacityMiB
                    || charge[h.Index] + vm.CopyMiB > h.CopyBudgetMiB)
                {
                    continue;
                }

                bool ceph;
                if (zfsUsed[h.Index] + vm.ProvisionedMiB <= h.ZfsCapacityMiB)
                {
                    ceph = false;
                    zfsUsed[h.Index] += vm.ProvisionedMiB;
                }
                else if (cephUsed + vm.ProvisionedMiB <= cephCapacity)
                {
                    ceph = true;
                    cephUsed += vm.ProvisionedMiB;
                }
                else
                {
                    continue;
                }

                ram[source] -= vm.RamMiB;
                ram[h.Index] += vm.RamMiB;
                charge[h.Index] += vm.CopyMiB;
                if (vm.FileBacked)
                {
                    charge[source] += vm.CopyMiB;
                }

                location[v] = h.Index;
                crossStage[v] = stage;
                onCeph[v] = ceph;
                return true;
            }

            return false;
        }

        /// <summary>Data must be off the old Ceph one stage before a host leaves it: cross some now if needed.</summary>
        private bool CrossForNextConversion(Queue<int> queue)
        {
            if (queue.Count == 0)
            {
                return false;
            }

            // With planned stages, every host due in the next wave (or overdue) leaves the old Ceph then, not only the first.
            var next = queue.Peek();
            var leaving = plannedStages is null ? [next] : queue.Where(h => h == next || plannedStages[h] <= stage + 1).ToHashSet();
            var capacity = problem.OldCephCapacityMiB(problem.Hosts.Where(h => !leaving.Contains(h.Index) && IsLibvirt(h.Index, stage + 1)));
            var usage = problem.Vms.Where(v => !Crossed(v.Index)).Sum(v => v.RbdMiB);
            var progress = false;
            // Prefer VMs of the hosts converted soonest: they would have to move anyway.
            var queueRank = queue.Select((h, i) => (h, i)).ToDictionary(x => x.h, x => x.i);
            var candidates = problem.Vms.Where(v => !Crossed(v.Index) && v.RbdMiB > 0 && !hops[v.Index].Any(h => h.Stage == stage))
                .OrderBy(v => rbdDenseFirst ? 0 : queueRank.GetValueOrDefault(location[v.Index], int.MaxValue))
                .ThenByDescending(v => rbdDenseFirst ? (double)v.RbdMiB / Math.Max(1, v.RamMiB) : v.RbdMiB)
                .ThenByDescending(v => v.RbdMiB)
                .ThenBy(v => v.Index)
                .ToList();
            foreach (var vm in candidates)
            {
                if (usage <= capacity)
                {
                    break;
                }

                if (TryCross(vm.Index))
                {
                    usage -= vm.RbdMiB;
                    progress = true;
                }
            }

            return progress;
        }
    }
}

/// <summary>How <see cref="GreedyDecisions"/> packs VMs at target waves (ADR 0033). Each wins on some fleets.</summary>
internal enum WavePacking
{
    /// <summary>
    /// The hosts converting in a wave are evacuated first; a VM due later that no libvirt host takes crosses early, and
    /// one leaving lands on the host converted last (the packing without target waves does the same).
    /// </summary>
    LastConvertedHost,

    /// <summary>
    /// The evacuations first; a VM due later crosses early only when no libvirt host takes it even after one makes room,
    /// and lands on the libvirt host converting soonest that still stays libvirt until its wave (no second hop). The host
    /// that makes room is the one that needs the fewest of its guests sent on (counting only guests another host has the
    /// RAM for), the smallest guest that frees enough first.
    /// </summary>
    EvacuationsFirst,

    /// <summary>As <see cref="EvacuationsFirst"/>, but the VMs due in a wave cross before the evacuations, all in one order (biggest disks first).</summary>
    DueFirst,
}
