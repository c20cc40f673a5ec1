using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;

namespace Taquin.Cli.Commands;

/// <summary><c>taquin inventory ...</c>: read and check an inventory folder.</summary>
internal static class InventoryCommands
{
    internal static Command Build() => Build(SshRunners.ForFleet);

    /// <param name="runnerFactory">How <c>inventory collect</c> reaches the fleet's hosts.</param>
    internal static Command Build(Func<Fleet, Executors.Adapters.ISshRunner> runnerFactory)
    {
        var command = new Command("inventory", "Read and check an inventory folder (fleet.yaml, volumes.json, domains/<host>/*.xml), or collect one from live hosts.");
        command.Subcommands.Add(BuildValidate());
        command.Subcommands.Add(CollectCommands.Build(runnerFactory));
        return command;
    }

    private static Command BuildValidate()
    {
        var folder = new Argument<string>("folder") { Description = "The inventory folder." };
        var validate = new Command("validate", "Load an inventory, print its summary and every problem found; exit 2 when there is an error.");
        validate.Arguments.Add(folder);
        validate.SetAction(parse => Validate(parse, parse.GetRequiredValue(folder)));
        return validate;
    }

    private static int Validate(ParseResult parse, string folder)
    {
        if (!Directory.Exists(folder))
        {
            parse.InvocationConfiguration.Error.WriteLine(
                $"error: inventory folder '{folder}' does not exist. Pass the folder that holds fleet.yaml, volumes.json and domains/<host>/*.xml.");
            return Program.ExitInvalidInput;
        }

        var loaded = InventoryLoader.Load(folder);
        var diagnostics = loaded.Diagnostics.ToList();
        var console = Terminal.Out(parse);
        if (loaded.Inventory is { } inventory)
        {
            diagnostics.AddRange(InventoryValidator.Validate(inventory));
            WriteSummary(console, inventory);
        }
        else
        {
            console.MarkupLine("[red]The inventory could not be read; no summary.[/]");
        }

        console.WriteLine();
        DiagnosticsView.Write(console, diagnostics);
        return diagnostics.Any(d => d.Severity == Severity.Error) ? Program.ExitInvalidInput : Program.ExitOk;
    }

    private static void WriteSummary(IAnsiConsole console, FleetInventory inventory)
    {
        var s = InventorySummary.From(inventory);
        var table = new Table { Border = TableBorder.Simple, Title = new TableTitle($"Inventory {Markup.Escape(inventory.Root)}") };
        table.AddColumn("");
        table.AddColumn("");
        table.HideHeaders();

        var excluded = s.ExcludedHosts > 0 ? $" ({s.ExcludedHosts} excluded)" : "";
        table.AddRow("Hosts", $"{s.Hosts}{excluded}, {ByteSize.Format(s.HostRamBytes)} RAM, {s.HostCores} cores");
        table.AddRow("VMs", $"{s.Vms} ({s.RunningVms} running), {ByteSize.Format(s.VmRamBytes)} RAM, {s.UefiVms} UEFI");
        table.AddRow("RBD disks", $"{s.RbdDisks}, {ByteSize.Format(s.RbdBytes)} provisioned, {ByteSize.Format(s.RbdUsedBytes)} used");
        table.AddRow("File disks", $"{s.FileDisks}, {ByteSize.Format(s.FileBytes)} provisioned, {ByteSize.Format(s.FileUsedBytes)} used");
        table.AddRow("Disk buses", s.Buses.Count == 0 ? "-" : string.Join(", ", s.Buses.Select(b => $"{b.Key} {b.Value}")));
        table.AddRow("Old Ceph", string.Create(CultureInfo.InvariantCulture,
            $"{Tib(s.OldCephRawBytes)} raw, {Tib(s.OldCephUsableBytes)} usable at nearfull, {Tib(s.RbdUsedBytes)} data ({s.OldCephFillRatio:P0} of usable)"));
        table.AddRow("After reinstall", $"ZFS {Tib(s.ZfsUsableBytes)} usable, new Ceph {Tib(s.NewCephRawBytes)} raw / {Tib(s.NewCephUsableBytes)} usable at nearfull");
        table.AddRow("Digest", inventory.Digest[..16]);
        console.Write(table);
    }

    private static string Tib(long bytes) => (bytes / (double)ByteSize.TiB).ToString("0.0", CultureInfo.InvariantCulture) + " TiB";
}
