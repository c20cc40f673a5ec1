using Spectre.Console;
using Taquin.Planner.Diagnostics;

namespace Taquin.Cli;

/// <summary>Prints diagnostics grouped by file, in line order, each with its fix; shared by every command.</summary>
internal static class DiagnosticsView
{
    public static void Write(IAnsiConsole console, IReadOnlyList<Diagnostic> diagnostics)
    {
        foreach (var file in diagnostics.GroupBy(d => d.File, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            console.MarkupLine($"[bold]{Markup.Escape(file.Key)}[/]");
            foreach (var d in file.OrderBy(d => d.Line ?? 0).ThenBy(d => d.Column ?? 0))
            {
                var (label, colour) = d.Severity == Severity.Error ? ("error", "red") : ("warning", "yellow");
                var at = d.Line is { } line ? $"{line}:{d.Column ?? 0} " : "";
                var value = d.Value is null ? "" : $" (value '{d.Value}')";
                console.MarkupLine($"  [{colour}]{label}[/]: {Markup.Escape($"{at}<{d.Element}>{value}: {d.Message}")}");
                console.MarkupLine($"    [dim]fix:[/] {Markup.Escape(d.Fix)}");
            }
        }

        var errors = diagnostics.Count(d => d.Severity == Severity.Error);
        var warnings = diagnostics.Count - errors;
        console.MarkupLine(errors > 0
            ? $"[red]{errors} error(s)[/], {warnings} warning(s)."
            : $"[green]No errors[/], {warnings} warning(s).");
    }
}
