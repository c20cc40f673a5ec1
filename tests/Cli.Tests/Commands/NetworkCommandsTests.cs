using System.CommandLine;
using Spectre.Console;
using Taquin.Cli.Commands;
using Taquin.Executors.Journal;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Tests.Shared;

namespace Taquin.Cli.Tests.Commands;

public sealed class NetworkCommandsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("taquin-network-").FullName;
    private readonly StringWriter _output = new();
    private readonly FleetInventory _inventory;
    private readonly MigrationPlan _plan;

    public NetworkCommandsTests()
    {
        var loaded = Assert.IsType<FleetInventory>(InventoryLoader.Load(RepositoryPaths.Sample("fleet-tiny")).Inventory);
        _inventory = loaded with { Fleet = loaded.Fleet with { Router = new RouterSpec { Host = "r1", Trunk = "bond0" } } };
        _plan = new GreedyPlanner().Solve(_inventory, new PlannerOptions(), CancellationToken.None);
        File.WriteAllText(PlanPath, PlanJson.Serialize(_plan));
    }

    private string PlanPath => Path.Combine(_folder, "plan.json");

    public void Dispose()
    {
        _output.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private async Task<int> InvokeAsync(params string[] args)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(_output),
        });
        var inputs = new SimulationInputs(SimulationInputs.ReadPlan, _ => _inventory);
        var plan = new Command("plan") { NetworkCommands.Build(inputs, console) };
        return await new RootCommand { plan }.Parse(args).InvokeAsync();
    }

    [Fact]
    public async Task Each_vm_moved_to_pve_gets_its_journal_vlan_or_a_preview_and_routed_vms_show_their_router_diff()
    {
        var moved = _plan.Stages.SelectMany(s => s.Actions).Where(a => a.Kind == ActionKind.MoveToPve).Select(a => a.Vm!).ToList();
        var first = moved.Order(StringComparer.Ordinal).First();
        using (var journal = new SqliteRunJournal(Path.ChangeExtension(PlanPath, ".journal.db"), TimeProvider.System))
        {
            await journal.InitializeAsync();
            await journal.AllocateVlanAsync(first, 150, 150, "earlier run");
        }

        // --journal: the test bed's TAQUIN_PG_CONNECTION must not redirect the command to another store.
        Assert.Equal(0, await InvokeAsync("plan", "network", PlanPath, "fleet-tiny", "--journal", Path.ChangeExtension(PlanPath, ".journal.db")));

        var text = _output.ToString();
        var rows = text.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| Stage", StringComparison.Ordinal)).ToList();
        Assert.Equal(moved.Count, rows.Count);
        Assert.Contains(rows, r => r.Contains($"| {first} |", StringComparison.Ordinal) && r.Contains("| 150 |", StringComparison.Ordinal));
        var previews = rows.Where(r => r.Contains("(preview)", StringComparison.Ordinal)).ToList();
        Assert.Equal(moved.Count - 1, previews.Count);
        Assert.Contains("| 100 (preview) |", previews[0], StringComparison.Ordinal);

        var routed = _inventory.Vms.First(v => moved.Contains(v.Name) && v.Domain.Interfaces.Any(n => n.Type == "ethernet" && n.Ips.Count > 0));
        Assert.Contains($"## {routed.Name} (stage ", text, StringComparison.Ordinal);
        Assert.Contains("```diff\n# " + routed.Name + ": VLAN ", text, StringComparison.Ordinal);
        Assert.Contains("+++ r1:/etc/bird/taquin.d/vlan", text, StringComparison.Ordinal);
        var tap = routed.Domain.Interfaces.First(n => n.Type == "ethernet" && n.Ips.Count > 0).TargetDev;
        // The tap route is retired on the host the VM leaves (where the plan has it just before its move).
        var from = _plan.Stages.SelectMany(s => s.Actions).Single(a => a.Kind == ActionKind.MoveToPve && a.Vm == routed.Name).From?.Host;
        Assert.Contains(text.Split('\n'), l => l.StartsWith("--- ", StringComparison.Ordinal) && l.EndsWith($" dev {tap}", StringComparison.Ordinal)
            && (from is null || l.StartsWith($"--- {from}: ip route ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Without_a_journal_every_vlan_is_a_preview_and_none_is_allocated()
    {
        Assert.Equal(0, await InvokeAsync("plan", "network", PlanPath, "fleet-tiny", "--journal", Path.ChangeExtension(PlanPath, ".journal.db")));

        Assert.Contains("0 VLAN(s) already allocated in the journal", _output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.ChangeExtension(PlanPath, ".journal.db")));
    }
}
