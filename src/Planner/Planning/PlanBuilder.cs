using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>
/// Turns <see cref="PlanDecisions"/> into a complete <see cref="MigrationPlan"/>: stages with host
/// states and placements, one action per change with bytes, duration, downtime, strategy and reason,
/// per-VM info and metrics. It does not judge feasibility: <see cref="PlanVerifier"/> does.
/// </summary>
public static class PlanBuilder
{
    public static MigrationPlan Build(FleetInventory inventory, PlanDecisions decisions, PlannerOptions options, SolverReport solver)
    {
        ArgumentNullException.ThrowIfNull(inventory);
        ArgumentNullException.ThrowIfNull(decisions);
        ArgumentNullException.ThrowIfNull(options);
        var fleet = inventory.Fleet;
        var vms = inventory.Vms.ToDictionary(v => v.Name, StringComparer.Ordinal);
        foreach (var host in decisions.ConversionStages.Keys)
        {
            if (fleet.FindHost(host) is null)
            {
                throw new ArgumentException($"conversion of unknown host '{host}'", nameof(decisions));
            }
        }

        // Events per stage, one per VM per wave.
        var events = new Dictionary<(int Stage, string Vm), (ActionKind Kind, Placement To)>();
        void Add(string vm, int stage, ActionKind kind, Placement to)
        {
            if (!vms.ContainsKey(vm))
            {
                throw new ArgumentException($"decision for unknown VM '{vm}'", nameof(decisions));
            }

            if (stage < 1)
            {
                throw new ArgumentException($"decision for VM '{vm}' at stage {stage}: actions start at stage 1", nameof(decisions));
            }

            if (!events.TryAdd((stage, vm), (kind, to)))
            {
                throw new ArgumentException($"two decisions for VM '{vm}' in wave {stage}", nameof(decisions));
            }
        }

        foreach (var m in decisions.LiveMigrations)
        {
            // A file-disk VM live-migrates with its storage copied: its files land on the new host.
            var storage = vms.TryGetValue(m.Vm, out var migrated) && migrated.Storage == SourceStorage.LocalFile ? StorageIds.File(m.Host) : StorageIds.OldCeph;
            Add(m.Vm, m.Stage, ActionKind.LiveMigrate, new Placement(m.Host, storage));
        }

        foreach (var m in decisions.Moves)
        {
            Add(m.Vm, m.Stage, ActionKind.MoveToPve, new Placement(m.Host, m.Storage));
        }

        foreach (var m in decisions.PveRelocations)
        {
            Add(m.Vm, m.Stage, ActionKind.PveLiveMigrate, new Placement(m.Host, m.Storage));
        }

        var pveCephStage = decisions.PveCephStage ?? events
            .Where(e => e.Value.To.Storage == StorageIds.PveCeph)
            .Select(e => (int?)e.Key.Stage)
            .Min();
        var lastStage = new[] { 0, pveCephStage ?? 0 }
            .Concat(decisions.ConversionStages.Values)
            .Concat(events.Keys.Select(k => k.Stage))
            .Max();

        var choices = inventory.Vms.ToDictionary(
            v => v.Name,
            v => StrategyChooser.Choose(v, fleet.Policy, options.OldCephReachableFromPve),
            StringComparer.Ordinal);
        // One estimate per VM, for its move action and its plan info alike (the texts cost more than the figures).
        var estimates = inventory.Vms.ToDictionary(v => v.Name, v => options.Downtime.EstimateMoveToPve(v, choices[v.Name].Strategy), StringComparer.Ordinal);
        var eventsByStage = events.GroupBy(e => e.Key.Stage).ToDictionary(g => g.Key, g => g.OrderBy(e => e.Key.Vm, StringComparer.Ordinal).ToList());

        var stages = new List<PlanStage>(lastStage + 1);
        var placements = InitialPlacements(inventory);
        var moveStages = new Dictionary<string, int>(StringComparer.Ordinal);
        stages.Add(new PlanStage { Index = 0, Hosts = HostStatesAt(fleet, decisions, 0), Placements = new Dictionary<string, Placement>(placements, StringComparer.Ordinal), PveCephExists = false });
        for (var t = 1; t <= lastStage; t++)
        {
            var hosts = HostStatesAt(fleet, decisions, t);
            var actions = new List<PlanAction>();
            foreach (var host in fleet.Hosts)
            {
                if (decisions.ConversionStages.TryGetValue(host.Name, out var c) && c == t)
                {
                    actions.Add(new PlanAction
                    {
                        Kind = ActionKind.ConvertHost,
                        Host = host.Name,
                        Reason = $"{host.Name} is empty: reinstall it as Proxmox VE (manual gate); its OSDs leave the old Ceph",
                    });
                }
            }

            if (pveCephStage == t)
            {
                var pveHosts = hosts.Where(h => h.Value == HostState.Pve).Select(h => h.Key).ToList();
                actions.Add(new PlanAction
                {
                    Kind = ActionKind.CreatePveCeph,
                    Host = pveHosts.FirstOrDefault(),
                    Reason = $"{pveHosts.Count} PVE hosts ({string.Join(", ", pveHosts)}): the new Ceph can be created",
                });
            }

            foreach (var ((_, vmName), (kind, to)) in eventsByStage.GetValueOrDefault(t) ?? [])
            {
                var vm = vms[vmName];
                var from = placements[vmName];
                actions.Add(VmAction(vm, kind, from, to, t, decisions, choices[vmName], estimates[vmName], options.Downtime));
                placements[vmName] = to;
                if (kind == ActionKind.MoveToPve)
                {
                    moveStages[vmName] = t;
                }
            }

            stages.Add(new PlanStage
            {
                Index = t,
                Hosts = hosts,
                Placements = new Dictionary<string, Placement>(placements, StringComparer.Ordinal),
                Actions = actions,
                PveCephExists = pveCephStage is { } p && t >= p,
            });
        }

        var vmInfos = new Dictionary<string, VmPlanInfo>(StringComparer.Ordinal);
        foreach (var vm in inventory.Vms)
        {
            var choice = choices[vm.Name];
            var warnings = vm.Disks.Where(d => !d.Device.IsCdrom && d.Volume is null)
                .Select(d => $"no size known for disk {d.Device.TargetDev}: counted as 0 bytes")
                .ToList();
            var estimate = estimates[vm.Name];
            vmInfos[vm.Name] = new VmPlanInfo
            {
                Strategy = DiskStrategies.Name(choice.Strategy),
                StrategyReason = choice.Reason,
                DowntimeSeconds = estimate.DowntimeSeconds,
                Estimate = estimate,
                MoveStage = moveStages.TryGetValue(vm.Name, out var s) ? s : null,
                Warnings = warnings,
            };
        }

        return new MigrationPlan
        {
            InventoryDigest = inventory.Digest,
            Solver = solver,
            Metrics = PlanMetricsCalculator.Compute(stages, inventory),
            Stages = stages,
            Vms = vmInfos,
            Rates = options.Downtime.Provenance with { Summary = options.Downtime.Summary() },
        };
    }

    /// <summary>Stage 0: every VM on its inventory host, on the old Ceph or its host's files.</summary>
    public static Dictionary<string, Placement> InitialPlacements(FleetInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(inventory);
        var placements = new Dictionary<string, Placement>(StringComparer.Ordinal);
        foreach (var vm in inventory.Vms)
        {
            placements[vm.Name] = InitialPlacement(vm);
        }

        return placements;
    }

    public static Placement InitialPlacement(VmRecord vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        return new Placement(vm.Host, vm.Storage == SourceStorage.LocalFile ? StorageIds.File(vm.Host) : StorageIds.OldCeph);
    }

    private static Dictionary<string, HostState> HostStatesAt(Fleet fleet, PlanDecisions decisions, int stage)
    {
        var states = new Dictionary<string, HostState>(StringComparer.Ordinal);
        foreach (var host in fleet.Hosts)
        {
            states[host.Name] = host.AlreadyPve ? HostState.Pve
                : !decisions.ConversionStages.TryGetValue(host.Name, out var c) || stage < c ? HostState.Libvirt
                : stage == c ? HostState.Converting
                : HostState.Pve;
        }

        return states;
    }

    private static PlanAction VmAction(VmRecord vm, ActionKind kind, Placement from, Placement to, int stage, PlanDecisions decisions, StrategyChoice choice, DowntimeEstimate moveEstimate, DowntimeModel model)
    {
        var sourceConverts = decisions.ConversionStages.TryGetValue(from.Host, out var c) && c == stage;
        var context = sourceConverts ? $"{from.Host} converts in wave {stage}" : $"frees {from.Host}";
        switch (kind)
        {
            case ActionKind.LiveMigrate:
                {
                    var e = model.LibvirtLiveMigration(vm);
                    var how = vm.Storage != SourceStorage.LocalFile ? "RAM only, disks stay on the old Ceph"
                        : vm.RbdBytes > 0 ? $"with storage copy of {ByteSize.Format(vm.LocalFileBytes)} of file disks to {to.Storage}, RBD disks stay on the old Ceph"
                        : $"with storage copy of {ByteSize.Format(vm.LocalFileBytes)} of file disks to {to.Storage}";
                    return new PlanAction
                    {
                        Kind = kind,
                        Vm = vm.Name,
                        From = from,
                        To = to,
                        Bytes = e.Bytes,
                        EstimatedSeconds = e.Seconds,
                        Reason = $"{context}: live migration to {to.Host} ({how}, no downtime)",
                    };
                }

            case ActionKind.MoveToPve:
                {
                    var e = moveEstimate.ToMoveEstimate();
                    return new PlanAction
                    {
                        Kind = kind,
                        Vm = vm.Name,
                        From = from,
                        To = to,
                        Bytes = e.Bytes,
                        EstimatedSeconds = e.Seconds,
                        DowntimeSeconds = e.DowntimeSeconds,
                        Strategy = DiskStrategies.Name(choice.Strategy),
                        Reason = $"{context}: to {to.Host} on {to.Storage}; {choice.Reason}",
                    };
                }

            default:
                {
                    // PVE → PVE: same host means an online disk move, otherwise a live migration (with its local disks when not on the shared Ceph).
                    var sameHost = from.Host == to.Host;
                    var disk = from.Storage == to.Storage && to.Storage == StorageIds.PveCeph ? 0 : vm.DiskBytes;
                    var e = sameHost
                        ? new MoveEstimate(disk, disk / model.CopyBytesPerSecond, 0)
                        : model.LiveMigration(vm, disk);
                    return new PlanAction
                    {
                        Kind = sameHost ? ActionKind.PveMoveDisk : ActionKind.PveLiveMigrate,
                        Vm = vm.Name,
                        From = from,
                        To = to,
                        Bytes = e.Bytes,
                        EstimatedSeconds = e.Seconds,
                        Reason = sameHost ? $"online disk move {from.Storage} → {to.Storage}" : $"PVE live migration {from.Host} → {to.Host}",
                    };
                }
        }
    }
}
