using System.Globalization;
using System.Xml.Linq;
using Taquin.Executors.Journal;

namespace Taquin.Executors.Simulation;

/// <summary>A Gantt-like picture of a simulated run: one row per VM or host, one bar per step, waves as bands.</summary>
public static class GanttSvg
{
    private const int RowHeight = 16;
    private const int LabelWidth = 180;
    private const int ChartWidth = 1200;
    private const int Header = 30;
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    public static string Render(SimulationTimeline timeline)
    {
        var rows = timeline.Steps.GroupBy(s => s.Subject, StringComparer.Ordinal)
            .OrderBy(g => g.Min(s => s.Start)).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key).ToList();
        var total = Math.Max(1, timeline.TotalSeconds);
        double X(DateTimeOffset t) => LabelWidth + ((t - timeline.Start).TotalSeconds / total * ChartWidth);
        var height = Header + (rows.Count * RowHeight) + 10;
        var root = new XElement(Svg + "svg",
            new XAttribute("width", LabelWidth + ChartWidth + 20),
            new XAttribute("height", height),
            new XAttribute("font-family", "sans-serif"),
            new XAttribute("font-size", "11"));
        root.Add(new XElement(Svg + "title", $"Taquin simulation: {timeline.Waves.Count} wave(s), {Hours(timeline.TotalSeconds)} total"));
        foreach (var wave in timeline.Waves)
        {
            var x0 = X(wave.Start);
            root.Add(new XElement(Svg + "rect", A("x", x0), A("y", 0), A("width", Math.Max(1, X(wave.End) - x0)), A("height", height),
                new XAttribute("fill", wave.Wave % 2 == 0 ? "#f4f4f4" : "#e8eef8")));
            root.Add(new XElement(Svg + "text", A("x", x0 + 3), A("y", 14), $"wave {wave.Wave} ({Hours(wave.DurationSeconds)})"));
        }

        for (var i = 0; i < rows.Count; i++)
        {
            var y = Header + (i * RowHeight);
            root.Add(new XElement(Svg + "text", A("x", 4), A("y", y + 12), rows[i]));
            foreach (var span in timeline.Steps.Where(s => s.Subject == rows[i]))
            {
                var x = X(span.Start);
                root.Add(new XElement(Svg + "rect", A("x", x), A("y", y + 2), A("width", Math.Max(1.5, X(span.End) - x)), A("height", RowHeight - 4),
                    new XAttribute("fill", Color(span)),
                    new XElement(Svg + "title", $"{span.StepType} — {span.State}, {span.Attempts} attempt(s), {Hours(span.Seconds)}")));
            }
        }

        return new XDocument(root).ToString();
    }

    private static XAttribute A(string name, double value) => new(name, value.ToString("0.##", CultureInfo.InvariantCulture));

    private static string Hours(double seconds) => TimeSpan.FromSeconds(seconds).ToString(@"d\.hh\:mm\:ss", CultureInfo.InvariantCulture);

    private static string Color(StepSpan span) => span.State switch
    {
        StepState.Failed => "#d62728",
        StepState.RolledBack or StepState.Compensating => "#ff7f0e",
        StepState.WaitingForGate => "#9467bd",
        _ => span.StepType switch
        {
            "copy-disks" or "final-sync" => "#1f77b4",
            "shutdown-source" or "start-target" => "#2ca02c",
            "drain" or "live-migrate" or "ceph-osds-out" => "#8c564b",
            "gate-reinstall" => "#9467bd",
            _ => "#7f7f7f",
        },
    };
}
