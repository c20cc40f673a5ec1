using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>Metrics of a plan, computed from its stages and actions only (the verifier recomputes them the same way).</summary>
public static class PlanMetricsCalculator
{
    public static PlanMetrics Compute(IReadOnlyList<PlanStage> stages, FleetInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(inventory);
        var ram = inventory.Vms.ToDictionary(v => v.Name, v => v.RamBytes, StringComparer.Ordinal);
        int reboots = 0, liveMigrations = 0, moves = 0;
        double downtime = 0;
        long bytes = 0;
        foreach (var action in stages.SelectMany(s => s.Actions))
        {
            downtime += action.DowntimeSeconds;
            switch (action.Kind)
            {
                case ActionKind.MoveToPve:
                    reboots++;
                    moves++;
                    bytes += action.Bytes;
                    break;
                case ActionKind.LiveMigrate:
                case ActionKind.PveLiveMigrate:
                    liveMigrations++;
                    moves++;
                    // Bytes carry the RAM too; only the disk part (a storage copy) is copied data.
                    bytes += Math.Max(0, action.Bytes - (action.Vm is { } v ? ram.GetValueOrDefault(v) : 0));
                    break;
                case ActionKind.PveMoveDisk:
                    moves++;
                    bytes += action.Bytes;
                    break;
                default:
                    break;
            }
        }

        return new PlanMetrics
        {
            Stages = Math.Max(0, stages.Count - 1),
            Reboots = reboots,
            DowntimeSeconds = downtime,
            BytesCopied = bytes,
            LiveMigrations = liveMigrations,
            Moves = moves,
            RamImbalance = stages.Count == 0 ? 0 : RamImbalance(stages[^1], inventory),
        };
    }

    /// <summary>Max minus min RAM fill fraction (used ÷ (RAM − reserve)) over the PVE hosts of a stage.</summary>
    public static double RamImbalance(PlanStage stage, FleetInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(stage);
        ArgumentNullException.ThrowIfNull(inventory);
        var used = new Dictionary<string, long>(StringComparer.Ordinal);
        var ram = inventory.Vms.ToDictionary(v => v.Name, v => v.RamBytes, StringComparer.Ordinal);
        foreach (var (vm, p) in stage.Placements)
        {
            used[p.Host] = used.GetValueOrDefault(p.Host) + ram.GetValueOrDefault(vm);
        }

        var fills = inventory.Fleet.Hosts
            .Where(h => stage.Hosts.GetValueOrDefault(h.Name) == HostState.Pve)
            .Select(h => (double)used.GetValueOrDefault(h.Name) / Math.Max(1, h.RamBytes - inventory.Fleet.Policy.RamReservePerHostBytes))
            .ToList();
        return fills.Count == 0 ? 0 : fills.Max() - fills.Min();
    }
}
