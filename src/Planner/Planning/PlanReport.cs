using System.Globalization;
using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>A block of the review document; Markdown and HTML render the same blocks.</summary>
public abstract record ReportBlock;

public sealed record ReportHeading(int Level, string Text) : ReportBlock;

public sealed record ReportParagraph(string Text) : ReportBlock;

public sealed record ReportList(IReadOnlyList<string> Items) : ReportBlock;

public sealed record ReportTable(IReadOnlyList<string> Header, IReadOnlyList<IReadOnlyList<string>> Rows) : ReportBlock;

/// <summary>
/// What an admin reads before approving a plan: the summary beside the baseline and the bound, then
/// per wave its actions and the capacity it leaves, then the warnings.
/// </summary>
public static class PlanReport
{
    public static IReadOnlyList<ReportBlock> Build(MigrationPlan plan, FleetInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(inventory);
        var blocks = new List<ReportBlock>
        {
            new ReportHeading(1, "Migration plan"),
            new ReportParagraph($"{plan.Metrics.Stages} stage(s) for {inventory.Vms.Count} VM(s) on {inventory.Fleet.Hosts.Count} host(s). " +
                $"Solver status {plan.Solver.StatusLine()}{(plan.Solver.Gap is { } g ? $", gap {Percent(g)}" : "")}, {Num(plan.Solver.WallSeconds)} s, seed {plan.Solver.Seed}. " +
                $"Inventory digest {plan.InventoryDigest}."),
            new ReportParagraph("Estimates use " + RatesLine(plan)),
            new ReportHeading(2, "Summary"),
            SummaryTable(plan),
        };
        if (plan.Solver.Model is { } model)
        {
            blocks.Add(new ReportParagraph("Model: " + model));
        }

        var violations = PlanVerifier.Verify(plan, inventory);
        blocks.Add(new ReportParagraph(violations.Count == 0
            ? "Verification: every rule of the plan format holds at every stage."
            : $"Verification: {violations.Count} VIOLATION(S) — do not approve this plan."));
        if (violations.Count > 0)
        {
            blocks.Add(new ReportList([.. violations.Take(50).Select(v => v.ToString())]));
        }

        if (plan.Vms.Count > 0)
        {
            blocks.Add(new ReportHeading(2, "VMs — strategy, why, estimated downtime"));
            blocks.Add(VmTable(plan));
        }

        var capacity = PlanVerifier.CapacityTable(plan, inventory);
        blocks.Add(new ReportHeading(2, "Stage 0 — the fleet as it is"));
        blocks.Add(CapacityTable(capacity[0]));
        blocks.Add(ClusterLine(capacity[0]));
        foreach (var stage in plan.Stages.Skip(1))
        {
            blocks.Add(new ReportHeading(2, WaveTitle(stage)));
            var hostActions = stage.Actions.Where(a => a.Vm is null).Select(a => $"{PlanVerifier.Kind(a.Kind)} {a.Host}: {a.Reason}").ToList();
            if (hostActions.Count > 0)
            {
                blocks.Add(new ReportList(hostActions));
            }

            var vmActions = stage.Actions.Where(a => a.Vm is not null).ToList();
            if (vmActions.Count > 0)
            {
                blocks.Add(new ReportTable(
                    ["VM", "Action", "From", "To", "Strategy", "Bytes", "Est. duration", "Downtime", "Why"],
                    [.. vmActions.Select(a => (IReadOnlyList<string>)
                    [
                        a.Vm!, ActionLabel(a), Where(a.From), Where(a.To), a.Strategy ?? "—",
                        ByteSize.Format(a.Bytes), Duration(a.EstimatedSeconds), Duration(a.DowntimeSeconds), a.Reason ?? "",
                    ])]));
                blocks.Add(new ReportParagraph(
                    $"Wave total: {vmActions.Count} VM action(s), {ByteSize.Format(vmActions.Sum(a => a.Bytes))} over the network, " +
                    $"{Duration(vmActions.Sum(a => a.DowntimeSeconds))} of downtime summed over VMs, " +
                    $"about {Duration(WaveSeconds(vmActions, inventory.Fleet.Policy.CopySlotsPerHost))} with {inventory.Fleet.Policy.CopySlotsPerHost} copies at once per host."));
            }

            blocks.Add(new ReportHeading(3, $"Capacity at stage {stage.Index}"));
            blocks.Add(CapacityTable(capacity[stage.Index]));
            blocks.Add(ClusterLine(capacity[stage.Index]));
        }

        var warnings = plan.Warnings
            .Concat(plan.Vms.OrderBy(v => v.Key, StringComparer.Ordinal).SelectMany(v => v.Value.Warnings.Select(w => $"{v.Key}: {w}")))
            .ToList();
        blocks.Add(new ReportHeading(2, "Warnings"));
        blocks.Add(warnings.Count == 0 ? new ReportParagraph("None.") : new ReportList(warnings));
        return blocks;
    }

    /// <summary>Where the plan's rates come from, in one line ("measured rates from … " or "default rates (not measured) …").</summary>
    /// <summary>
    /// Where the planning time went: "Planning time 9.4 s of a 10 s budget: greedy 0.12 s, stage bounds 0.8 s (3 solves), …";
    /// null for plans without phase timings.
    /// </summary>
    public static string? TimingLine(MigrationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var solver = plan.Solver;
        if (solver.Phases.Count == 0)
        {
            return null;
        }

        var budget = solver.TimeLimitSeconds is { } limit ? $" of a {Num(limit)} s budget" : "";
        var phases = solver.Phases.Select(p =>
            $"{p.Name} {Num(p.WallSeconds)} s{(p.Solves > 0 ? $" ({p.Solves} solve{(p.Solves == 1 ? "" : "s")}, {Num(p.DeterministicSeconds)} det. s)" : "")}{(p.WallLimitHit ? " [wall limit]" : "")}");
        return $"Planning time {Num(solver.WallSeconds)} s{budget}: {string.Join(", ", phases)}.";
    }

    public static string RatesLine(MigrationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.Rates?.Describe() ?? "rates not recorded (the plan predates rate provenance): re-run `taquin plan` to see them";
    }

    /// <summary>Per VM, in wave order: the strategy, its estimated downtime part by part, the copy and its rate, and why.</summary>
    public static ReportTable VmTable(MigrationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return new ReportTable(
            ["VM", "Wave", "Strategy", "Est. downtime", "Downtime parts", "Copy (rate used)", "Verification", "Why"],
            [.. plan.Vms.OrderBy(v => v.Value.MoveStage ?? int.MaxValue).ThenBy(v => v.Key, StringComparer.Ordinal).Select(v => (IReadOnlyList<string>)
            [
                v.Key, v.Value.MoveStage?.ToString(CultureInfo.InvariantCulture) ?? "—", v.Value.Strategy ?? "—",
                Duration(v.Value.DowntimeSeconds), v.Value.Estimate is { } e ? DowntimeParts(e) : "—",
                v.Value.Estimate is { } c ? $"{Duration(c.CopySeconds)}: {c.Rate}" : "—",
                v.Value.Estimate?.Verification ?? "—", v.Value.StrategyReason ?? "",
            ])]);
    }

    /// <summary>"shutdown 30 s + copy 12 s + verification 3 s + boot 30 s": what the downtime is made of.</summary>
    public static string DowntimeParts(DowntimeEstimate estimate)
    {
        ArgumentNullException.ThrowIfNull(estimate);
        if (estimate.DowntimeSeconds <= 0)
        {
            return "none (VM is shut off)";
        }

        var parts = new List<string> { "shutdown " + Duration(estimate.ShutdownSeconds) };
        if (estimate.DowntimeCopySeconds > 0)
        {
            parts.Add("copy " + Duration(estimate.DowntimeCopySeconds));
        }

        if (estimate.VerifySeconds > 0)
        {
            parts.Add("verification " + Duration(estimate.VerifySeconds));
        }

        if (estimate.SwitchSeconds > 0)
        {
            parts.Add("switch " + Duration(estimate.SwitchSeconds));
        }

        parts.Add("boot " + Duration(estimate.BootSeconds));
        return string.Join(" + ", parts);
    }

    /// <summary>Rough wave duration: the busiest host's action time spread over its copy slots.</summary>
    public static double WaveSeconds(IEnumerable<PlanAction> actions, int copySlotsPerHost)
    {
        ArgumentNullException.ThrowIfNull(actions);
        var perHost = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var a in actions.Where(a => a.To is not null))
        {
            perHost[a.To!.Host] = perHost.GetValueOrDefault(a.To.Host) + a.EstimatedSeconds;
        }

        return perHost.Count == 0 ? 0 : perHost.Values.Max() / Math.Max(1, copySlotsPerHost);
    }

    public static string WaveTitle(PlanStage stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        var converts = stage.Actions.Where(a => a.Kind == ActionKind.ConvertHost).Select(a => a.Host).ToList();
        var parts = new List<string>();
        if (converts.Count > 0)
        {
            parts.Add("converts " + string.Join(", ", converts));
        }

        if (stage.Actions.Any(a => a.Kind == ActionKind.CreatePveCeph))
        {
            parts.Add("creates the new Ceph");
        }

        var moves = stage.Actions.Count(a => a.Kind == ActionKind.MoveToPve);
        var live = stage.Actions.Count(a => a.Kind is ActionKind.LiveMigrate or ActionKind.PveLiveMigrate);
        var withCopy = stage.Actions.Count(IsLiveMigrationWithStorageCopy);
        if (moves > 0)
        {
            parts.Add($"{moves} move(s) to PVE");
        }

        if (live > 0)
        {
            parts.Add($"{live} live migration(s)" + (withCopy > 0 ? $" ({withCopy} with storage copy)" : ""));
        }

        return $"Wave {stage.Index}" + (parts.Count > 0 ? " — " + string.Join("; ", parts) : "");
    }

    /// <summary>A libvirt live migration that copies the VM's local file disks to the new host.</summary>
    public static bool IsLiveMigrationWithStorageCopy(PlanAction action)
    {
        ArgumentNullException.ThrowIfNull(action);
        return action.Kind == ActionKind.LiveMigrate && action.To is { } to && StorageIds.IsFile(to.Storage);
    }

    /// <summary>The action kind as an admin reads it; a live migration with storage copy says so.</summary>
    public static string ActionLabel(PlanAction action)
        => IsLiveMigrationWithStorageCopy(action) ? "live-migrate + storage copy" : PlanVerifier.Kind(action.Kind);

    private static ReportTable SummaryTable(MigrationPlan plan)
    {
        string Cell(PlanMetrics? m, Func<PlanMetrics, string> f) => m is null ? "—" : f(m);
        IReadOnlyList<string> Row(string name, Func<PlanMetrics, string> f)
            => [name, f(plan.Metrics), Cell(plan.Baseline, f), Cell(plan.LowerBound, f)];
        return new ReportTable(
            ["", "This plan", "Greedy baseline", "Lower bound"],
            [
                Row("Stages", m => m.Stages.ToString(CultureInfo.InvariantCulture)),
                Row("Reboots", m => m.Reboots.ToString(CultureInfo.InvariantCulture)),
                Row("Downtime (sum)", m => Duration(m.DowntimeSeconds)),
                Row("Bytes copied", m => ByteSize.Format(m.BytesCopied)),
                Row("Live migrations", m => m.LiveMigrations.ToString(CultureInfo.InvariantCulture)),
                Row("Moves", m => m.Moves.ToString(CultureInfo.InvariantCulture)),
                Row("RAM imbalance", m => Percent(m.RamImbalance)),
            ]);
    }

    private static ReportTable CapacityTable(StageCapacity c) => new(
        ["Host", "State", "RAM used / usable", "RAM fill", "ZFS used / usable", "Local images used / usable"],
        [.. c.Hosts.Select(h => (IReadOnlyList<string>)
        [
            h.Host, PlanVerifier.Name(h.State),
            $"{PlanVerifier.Gib(h.RamUsedBytes)} / {PlanVerifier.Gib(h.RamCapacityBytes)}",
            Percent(h.RamUsedBytes / (double)Math.Max(1, h.RamCapacityBytes)),
            h.State == HostState.Pve ? $"{ByteSize.Format(h.ZfsUsedBytes)} / {ByteSize.Format(h.ZfsCapacityBytes)}" : "—",
            h.State != HostState.Pve && (h.LocalImagesUsedBytes > 0 || h.LocalImagesCapacityBytes > 0) ? $"{ByteSize.Format(h.LocalImagesUsedBytes)} / {ByteSize.Format(h.LocalImagesCapacityBytes)}" : "—",
        ])]);

    private static ReportParagraph ClusterLine(StageCapacity c) => new(
        $"Old Ceph: {ByteSize.Format(c.OldCeph.UsedBytes)} / {ByteSize.Format(c.OldCeph.CapacityBytes)} usable. " +
        (c.NewCeph.Exists ? $"New Ceph: {ByteSize.Format(c.NewCeph.UsedBytes)} / {ByteSize.Format(c.NewCeph.CapacityBytes)} usable." : "New Ceph: not created yet."));

    internal static string Where(Placement? p) => p is null ? "—" : $"{p.Host} ({p.Storage})";

    public static string Duration(double seconds)
    {
        if (seconds <= 0)
        {
            return "0 s";
        }

        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours} h {t.Minutes:00} min"
            : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes} min {t.Seconds:00} s"
            : $"{Num(seconds)} s";
    }

    public static string Percent(double fraction) => (fraction * 100).ToString("0.#", CultureInfo.InvariantCulture) + " %";

    private static string Num(double x) => x.ToString("0.##", CultureInfo.InvariantCulture);
}
