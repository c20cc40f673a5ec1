using System.CommandLine;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;

namespace Taquin.Cli;

/// <summary>Loads and validates an inventory for any command; on errors prints them and says which exit code to use.</summary>
internal static class InventoryInput
{
    /// <summary>
    /// The inventory when it loads without errors; otherwise null after printing every problem to stderr.
    /// Warnings are printed only when <paramref name="showWarnings"/> is set, so commands stay quiet by default.
    /// </summary>
    public static FleetInventory? LoadValid(ParseResult parse, string folder, bool showWarnings = false)
    {
        var error = parse.InvocationConfiguration.Error;
        if (!Directory.Exists(folder))
        {
            error.WriteLine($"error: inventory folder '{folder}' does not exist. Pass the folder that holds fleet.yaml, volumes.json and domains/<host>/*.xml.");
            return null;
        }

        var loaded = InventoryLoader.Load(folder);
        var diagnostics = loaded.Diagnostics.ToList();
        if (loaded.Inventory is { } inventory)
        {
            diagnostics.AddRange(InventoryValidator.Validate(inventory));
        }

        var hasErrors = loaded.Inventory is null || diagnostics.Any(d => d.Severity == Severity.Error);
        if (hasErrors || (showWarnings && diagnostics.Count > 0))
        {
            DiagnosticsView.Write(Terminal.For(error), diagnostics);
        }

        if (hasErrors)
        {
            error.WriteLine($"error: the inventory '{folder}' is not valid; fix the errors above (`taquin inventory validate {folder}` lists them).");
            return null;
        }

        return loaded.Inventory;
    }
}
