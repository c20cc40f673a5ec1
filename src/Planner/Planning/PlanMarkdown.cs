using System.Text;
using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>The plan as Markdown: what an admin reads before approving it.</summary>
public static class PlanMarkdown
{
    public static string Render(MigrationPlan plan, FleetInventory inventory) => Render(PlanReport.Build(plan, inventory));

    public static string Render(IReadOnlyList<ReportBlock> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        var md = new StringBuilder();
        foreach (var block in blocks)
        {
            switch (block)
            {
                case ReportHeading h:
                    md.Append('#', h.Level).Append(' ').AppendLine(h.Text).AppendLine();
                    break;
                case ReportParagraph p:
                    md.AppendLine(p.Text).AppendLine();
                    break;
                case ReportList l:
                    foreach (var item in l.Items)
                    {
                        md.Append("- ").AppendLine(item);
                    }

                    md.AppendLine();
                    break;
                case ReportTable t:
                    md.Append("| ").AppendJoin(" | ", t.Header.Select(Cell)).AppendLine(" |");
                    md.Append('|').AppendJoin("|", t.Header.Select(_ => "---")).AppendLine("|");
                    foreach (var row in t.Rows)
                    {
                        md.Append("| ").AppendJoin(" | ", row.Select(Cell)).AppendLine(" |");
                    }

                    md.AppendLine();
                    break;
                default:
                    break;
            }
        }

        return md.ToString();
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
