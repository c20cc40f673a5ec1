using System.Globalization;
using System.Xml.Linq;
using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>
/// The board: one panel per stage, hosts as columns (outline = usable RAM) coloured by state, VMs as
/// blocks sized by RAM and coloured by what happened to them, a ZFS bar per PVE host and the fill of both
/// clusters. Hosts with many VMs draw the biggest ones and one block per state for the rest, so a
/// 5,000-VM fleet stays a few thousand elements per stage.
/// </summary>
public static class PlanSvg
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private const int Margin = 20, LegendHeight = 64, TitleHeight = 24, HeaderHeight = 30, ColumnHeight = 220, Gap = 8, MaxBlocksPerHost = 24;

    private enum VmState
    {
        Untouched,
        LiveMigrated,
        OnPve,
        MovingNow,
    }

    private static readonly string[] VmColors = ["#8fa7c4", "#9b7fcf", "#4caf50", "#f5a623"];
    private static readonly string[] VmLabels = ["untouched (libvirt)", "live-migrated (libvirt)", "on PVE", "moving in this wave"];

    public static string Render(MigrationPlan plan, FleetInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(inventory);
        var hosts = inventory.Fleet.Hosts;
        var columnWidth = hosts.Count <= 12 ? 110 : hosts.Count <= 30 ? 70 : 44;
        var panelWidth = Math.Max(520, hosts.Count * (columnWidth + Gap));
        var panelHeight = TitleHeight + HeaderHeight + ColumnHeight + 18 + 40;
        var width = (2 * Margin) + panelWidth;
        var height = (2 * Margin) + LegendHeight + (plan.Stages.Count * (panelHeight + 16));
        var root = new XElement(
            Svg + "svg",
            new XAttribute("width", width),
            new XAttribute("height", height),
            new XAttribute("viewBox", $"0 0 {width} {height}"),
            new XAttribute("font-family", "sans-serif"),
            new XElement(Svg + "title", $"Migration plan: {plan.Metrics.Stages} stage(s), {inventory.Vms.Count} VMs, {hosts.Count} hosts"),
            new XElement(Svg + "rect", new XAttribute("width", width), new XAttribute("height", height), new XAttribute("fill", "#ffffff")));
        root.Add(Legend(Margin, Margin));

        var vms = inventory.Vms.ToDictionary(v => v.Name, StringComparer.Ordinal);
        var capacity = PlanVerifier.CapacityTable(plan, inventory);
        for (var i = 0; i < plan.Stages.Count; i++)
        {
            var y = Margin + LegendHeight + (i * (panelHeight + 16));
            root.Add(Panel(plan.Stages[i], capacity[i], vms, hosts, Margin, y, columnWidth, panelWidth, panelHeight));
        }

        return root.ToString(SaveOptions.DisableFormatting);
    }

    private static XElement Legend(int x, int y)
    {
        var g = new XElement(Svg + "g", new XAttribute("class", "legend"));
        (string Color, string Label)[] hostStates = [("#dbe8f6", "libvirt host"), ("#fde2c4", "converting host"), ("#d8f0d8", "PVE host")];
        (string Color, string Label)[][] rows = [hostStates, [.. VmColors.Zip(VmLabels)]];
        for (var r = 0; r < rows.Length; r++)
        {
            var cx = x;
            foreach (var (color, label) in rows[r])
            {
                g.Add(Rect(cx, y + (r * 18), 14, 14, color, "#555555"), Text(cx + 18, y + (r * 18) + 11, label, 11));
                cx += 26 + (label.Length * 6);
            }
        }

        g.Add(Text(x, y + 50, "Column = RAM − reserve, blocks = VMs sized by RAM, bar under a PVE host = ZFS fill.", 11));
        return g;
    }

    private static XElement Panel(PlanStage stage, StageCapacity capacity, Dictionary<string, VmRecord> vms, IReadOnlyList<HostSpec> hosts, int x, int y, int columnWidth, int panelWidth, int panelHeight)
    {
        var g = new XElement(Svg + "g", new XAttribute("class", "stage"), new XAttribute("data-stage", stage.Index));
        g.Add(Rect(x - 6, y - 4, panelWidth + 12, panelHeight, "#fafafa", "#dddddd"));
        g.Add(Text(x, y + 14, stage.Index == 0 ? "Stage 0 — the fleet as it is" : PlanReport.WaveTitle(stage).Replace("Wave", "Stage", StringComparison.Ordinal), 13, bold: true));

        var movingNow = stage.Actions.Where(a => a.Vm is not null).Select(a => a.Vm!).ToHashSet(StringComparer.Ordinal);
        var byHost = stage.Placements.GroupBy(p => p.Value.Host, StringComparer.Ordinal).ToDictionary(grp => grp.Key, grp => grp.Select(p => p.Key).ToList(), StringComparer.Ordinal);
        for (var h = 0; h < hosts.Count; h++)
        {
            var host = hosts[h];
            var cap = capacity.Hosts[h];
            var cx = x + (h * (columnWidth + Gap));
            var top = y + TitleHeight + HeaderHeight;
            var (fill, stroke) = cap.State switch
            {
                HostState.Libvirt => ("#dbe8f6", "#4a78b0"),
                HostState.Converting => ("#fde2c4", "#d9822b"),
                _ => ("#d8f0d8", "#3b8b3b"),
            };
            g.Add(Text(cx, y + TitleHeight + 10, Fit(host.Name, columnWidth), 11, bold: true));
            g.Add(Text(cx, y + TitleHeight + 23, $"{PlanVerifier.Name(cap.State)} {PlanReport.Percent(cap.RamUsedBytes / (double)Math.Max(1, cap.RamCapacityBytes))}", 9));
            var over = cap.RamUsedBytes > cap.RamCapacityBytes;
            g.Add(Rect(cx, top, columnWidth, ColumnHeight, fill, over ? "#d0021b" : stroke, over ? 3 : 1));

            var names = byHost.GetValueOrDefault(host.Name) ?? [];
            var scale = ColumnHeight / (double)Math.Max(Math.Max(1, cap.RamCapacityBytes), cap.RamUsedBytes);
            var blocks = Blocks(names, vms, stage, movingNow);
            double bottom = top + ColumnHeight;
            foreach (var (label, ram, state, tooltip) in blocks)
            {
                var bh = Math.Max(1, ram * scale);
                bottom -= bh;
                var block = Rect(cx + 3, bottom, columnWidth - 6, bh - 1, VmColors[(int)state], "#ffffff");
                block.Add(new XElement(Svg + "title", tooltip));
                g.Add(block);
                if (bh >= 11 && columnWidth >= 60)
                {
                    g.Add(Text(cx + 6, bottom + Math.Min(bh - 2, 10), Fit(label, columnWidth - 8), 9));
                }
            }

            if (cap.State == HostState.Pve)
            {
                var ratio = cap.ZfsCapacityBytes > 0 ? Math.Min(1, cap.ZfsUsedBytes / (double)cap.ZfsCapacityBytes) : 0;
                g.Add(Rect(cx, top + ColumnHeight + 4, columnWidth, 8, "#eeeeee", "#999999"));
                g.Add(Rect(cx, top + ColumnHeight + 4, columnWidth * ratio, 8, cap.ZfsUsedBytes > cap.ZfsCapacityBytes ? "#d0021b" : "#6d9eeb", "none"));
            }
        }

        var barsY = y + TitleHeight + HeaderHeight + ColumnHeight + 22;
        g.Add(ClusterBar(x, barsY, "old Ceph", capacity.OldCeph));
        g.Add(ClusterBar(x + 260, barsY, "new Ceph", capacity.NewCeph));
        return g;
    }

    private static List<(string Label, long Ram, VmState State, string Tooltip)> Blocks(List<string> names, Dictionary<string, VmRecord> vms, PlanStage stage, HashSet<string> movingNow)
    {
        var all = names.Where(vms.ContainsKey).Select(n =>
        {
            var vm = vms[n];
            var p = stage.Placements[n];
            var state = movingNow.Contains(n) ? VmState.MovingNow
                : stage.Hosts.GetValueOrDefault(p.Host) == HostState.Pve ? VmState.OnPve
                : p.Host != vm.Host ? VmState.LiveMigrated
                : VmState.Untouched;
            return (Label: n, Ram: vm.RamBytes, State: state, Tooltip: $"{n}: {PlanVerifier.Gib(vm.RamBytes)} RAM, {p.Storage}, {VmLabels[(int)state]}");
        }).OrderBy(b => b.State).ThenByDescending(b => b.Ram).ThenBy(b => b.Label, StringComparer.Ordinal).ToList();
        if (all.Count <= MaxBlocksPerHost)
        {
            return all;
        }

        // Keep the biggest VMs as blocks; the rest become one block per state.
        var keep = all.OrderByDescending(b => b.Ram).Take(MaxBlocksPerHost - 4).ToHashSet();
        var result = all.Where(keep.Contains).ToList();
        foreach (var group in all.Where(b => !keep.Contains(b)).GroupBy(b => b.State).OrderBy(grp => grp.Key))
        {
            var ram = group.Sum(b => b.Ram);
            result.Add(($"{group.Count()} VMs", ram, group.Key, $"{group.Count()} smaller VMs, {PlanVerifier.Gib(ram)} RAM, {VmLabels[(int)group.Key]}"));
        }

        return [.. result.OrderBy(b => b.State).ThenByDescending(b => b.Ram)];
    }

    private static XElement ClusterBar(int x, int y, string name, ClusterCapacity c)
    {
        var g = new XElement(Svg + "g");
        var label = c.Exists
            ? $"{name}: {ByteSize.Format(c.UsedBytes)} / {ByteSize.Format(c.CapacityBytes)}"
            : $"{name}: not created";
        g.Add(Text(x, y, label, 10));
        g.Add(Rect(x, y + 4, 240, 9, "#eeeeee", "#999999"));
        if (c.Exists && c.CapacityBytes > 0)
        {
            var ratio = Math.Min(1, c.UsedBytes / (double)c.CapacityBytes);
            g.Add(Rect(x, y + 4, 240 * ratio, 9, c.UsedBytes > c.CapacityBytes ? "#d0021b" : "#7a7a7a", "none"));
        }

        return g;
    }

    private static XElement Rect(double x, double y, double w, double h, string fill, string stroke, double strokeWidth = 1)
        => new(
            Svg + "rect",
            new XAttribute("x", F(x)),
            new XAttribute("y", F(y)),
            new XAttribute("width", F(Math.Max(0, w))),
            new XAttribute("height", F(Math.Max(0, h))),
            new XAttribute("fill", fill),
            new XAttribute("stroke", stroke),
            new XAttribute("stroke-width", F(strokeWidth)));

    private static XElement Text(double x, double y, string text, int size, bool bold = false)
    {
        var e = new XElement(Svg + "text", new XAttribute("x", F(x)), new XAttribute("y", F(y)), new XAttribute("font-size", size), text);
        if (bold)
        {
            e.Add(new XAttribute("font-weight", "bold"));
        }

        return e;
    }

    private static string Fit(string text, int width)
    {
        var max = Math.Max(3, width / 6);
        return text.Length <= max ? text : text[..(max - 1)] + "…";
    }

    private static string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
}
