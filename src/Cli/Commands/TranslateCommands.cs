using System.CommandLine;
using Spectre.Console;
using Taquin.Planner.Inventory;
using Taquin.Planner.Translation;

namespace Taquin.Cli.Commands;

/// <summary><c>taquin translate</c>: the Proxmox VE creation parameters of each VM, with every approximation named.</summary>
internal static class TranslateCommands
{
    internal static Command Build()
    {
        var folder = new Argument<string>("inventory") { Description = "The inventory folder." };
        var vm = new Option<string?>("--vm") { Description = "Translate only this VM." };
        var json = new Option<bool>("--json") { Description = "Print JSON: an array of { vm, params, warnings, refusals }." };
        var node = new Option<string>("--node") { Description = "Target PVE node name.", DefaultValueFactory = _ => "pve1" };
        var storage = new Option<string>("--storage") { Description = "Target storage for the disks.", DefaultValueFactory = _ => "local-zfs" };
        var vlan = new Option<int?>("--vlan") { Description = "VLAN tag for the NICs (allocated per VM at run time otherwise)." };

        var command = new Command("translate", "Translate libvirt domains to Proxmox VE `POST /nodes/{node}/qemu` parameters.");
        command.Arguments.Add(folder);
        command.Options.Add(vm);
        command.Options.Add(json);
        command.Options.Add(node);
        command.Options.Add(storage);
        command.Options.Add(vlan);
        command.SetAction(parse => Translate(
            parse,
            parse.GetRequiredValue(folder),
            parse.GetValue(vm),
            parse.GetValue(json),
            new TranslationTarget
            {
                Node = parse.GetRequiredValue(node),
                DiskStorage = parse.GetRequiredValue(storage),
                VlanTag = parse.GetValue(vlan),
            }));
        return command;
    }

    private static int Translate(ParseResult parse, string folder, string? vmName, bool json, TranslationTarget target)
    {
        var inventory = InventoryInput.LoadValid(parse, folder);
        if (inventory is null)
        {
            return Program.ExitInvalidInput;
        }

        IEnumerable<VmRecord> vms = inventory.Vms.OrderBy(v => v.Name, StringComparer.Ordinal);
        if (vmName is not null)
        {
            var match = inventory.Vms.FirstOrDefault(v => v.Name == vmName);
            if (match is null)
            {
                var near = inventory.Vms.Select(v => v.Name)
                    .Where(n => n.Contains(vmName, StringComparison.OrdinalIgnoreCase) || vmName.Contains(n, StringComparison.OrdinalIgnoreCase))
                    .Take(5).ToList();
                var hint = near.Count > 0 ? $" Did you mean: {string.Join(", ", near)}?" : " `taquin inventory validate` lists the inventory.";
                parse.InvocationConfiguration.Error.WriteLine($"error: no VM named '{vmName}' in '{folder}'.{hint}");
                return Program.ExitInvalidInput;
            }

            vms = [match];
        }

        var configs = vms.Select(v => PveTranslator.Translate(v, target)).ToList();
        if (json)
        {
            parse.InvocationConfiguration.Output.WriteLine(PveTranslator.ToJson(configs));
        }
        else
        {
            var console = Terminal.Out(parse);
            foreach (var config in configs)
            {
                Write(console, config);
            }

            var warned = configs.Count(c => c.Warnings.Count > 0);
            var refused = configs.Count(c => c.IsRefused);
            console.MarkupLine($"{configs.Count} VM(s) translated, {warned} with warnings, {refused} refused.");
        }

        return configs.Any(c => c.IsRefused) ? Program.ExitFailed : Program.ExitOk;
    }

    private static void Write(IAnsiConsole console, PveVmConfig config)
    {
        var table = new Table { Border = TableBorder.Simple, Title = new TableTitle(Markup.Escape(config.Vm)) };
        table.AddColumn("parameter");
        table.AddColumn("value");
        foreach (var (key, value) in config.Params)
        {
            table.AddRow(Markup.Escape(key), Markup.Escape(value));
        }

        console.Write(table);
        foreach (var refusal in config.Refusals)
        {
            console.MarkupLine($"  [red]refused[/]: {Markup.Escape(refusal.ToString())}");
        }

        foreach (var warning in config.Warnings)
        {
            console.MarkupLine($"  [yellow]warning[/]: {Markup.Escape(warning.ToString())}");
        }

        console.WriteLine();
    }
}
