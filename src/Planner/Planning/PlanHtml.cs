using System.Net;
using System.Text;
using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>One self-contained HTML page: the review as HTML tables, then the board as inline SVG.</summary>
public static class PlanHtml
{
    public static string Render(MigrationPlan plan, FleetInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(inventory);
        var html = new StringBuilder();
        html.AppendLine("<!DOCTYPE html>")
            .AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Taquin migration plan</title>")
            .AppendLine("<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1em}" +
                "td,th{border:1px solid #ccc;padding:.2em .5em;font-size:.9em;text-align:left;vertical-align:top}th{background:#f0f0f0}" +
                ".board{overflow-x:auto;border:1px solid #ddd;padding:.5em}</style></head><body>");
        foreach (var block in PlanReport.Build(plan, inventory))
        {
            switch (block)
            {
                case ReportHeading h:
                    html.Append("<h").Append(h.Level).Append('>').Append(E(h.Text)).Append("</h").Append(h.Level).AppendLine(">");
                    break;
                case ReportParagraph p:
                    html.Append("<p>").Append(E(p.Text)).AppendLine("</p>");
                    break;
                case ReportList l:
                    html.Append("<ul>");
                    foreach (var item in l.Items)
                    {
                        html.Append("<li>").Append(E(item)).Append("</li>");
                    }

                    html.AppendLine("</ul>");
                    break;
                case ReportTable t:
                    html.Append("<table><thead><tr>");
                    foreach (var head in t.Header)
                    {
                        html.Append("<th>").Append(E(head)).Append("</th>");
                    }

                    html.Append("</tr></thead><tbody>");
                    foreach (var row in t.Rows)
                    {
                        html.Append("<tr>");
                        foreach (var cell in row)
                        {
                            html.Append("<td>").Append(E(cell)).Append("</td>");
                        }

                        html.Append("</tr>");
                    }

                    html.AppendLine("</tbody></table>");
                    break;
                default:
                    break;
            }
        }

        html.AppendLine("<h2>Board</h2><div class=\"board\">").AppendLine(PlanSvg.Render(plan, inventory)).AppendLine("</div></body></html>");
        return html.ToString();
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
