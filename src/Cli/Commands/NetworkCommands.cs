using System.CommandLine;
using Spectre.Console;
using Taquin.Executors.Journal;
using Taquin.Planner.Network;

namespace Taquin.Cli.Commands;

/// <summary>
/// <c>taquin plan network plan.json INVENTORY</c>: each VM's VLAN (from the journal when allocated, else a preview)
/// and the router change its cutover applies, as a diff (docs/adr/0009). Reads the journal, never allocates.
/// </summary>
internal static class NetworkCommands
{
    internal static Command Build() => Build(SimulationInputs.Default, null);

    internal static Command Build(SimulationInputs inputs, IAnsiConsole? console)
    {
        var planArgument = new Argument<string>("plan") { Description = "plan.json" };
        var inventoryArgument = new Argument<string>("inventory") { Description = "Inventory folder the plan was made from" };
        var postgresOption = new Option<string?>("--postgres") { Description = $"Journal in PostgreSQL (else {RunOptions.PostgresVariable}, else plan.journal.db beside the plan when it exists)" };
        var journalOption = new Option<string?>("--journal") { Description = "SQLite journal file to read (wins over the environment; default plan.journal.db beside the plan)" };
        var outputOption = new Option<string?>("--output", "-o") { Description = "Write the Markdown here instead of the terminal" };
        var command = new Command("network", "Each VM's VLAN and router change (networkd files, bird2, retired tap routes) as the cutover will apply them");
        command.Arguments.Add(planArgument);
        command.Arguments.Add(inventoryArgument);
        command.Options.Add(postgresOption);
        command.Options.Add(journalOption);
        command.Options.Add(outputOption);
        command.SetAction(async (parseResult, ct) =>
        {
            var ui = console ?? AnsiConsole.Console;
            try
            {
                var planPath = parseResult.GetValue(planArgument)!;
                var (plan, _) = inputs.LoadPlan(planPath);
                var inventory = inputs.LoadInventory(parseResult.GetValue(inventoryArgument)!);
                var sqlite = parseResult.GetValue(journalOption);
                var postgres = parseResult.GetValue(postgresOption) ?? (sqlite is null ? Environment.GetEnvironmentVariable(RunOptions.PostgresVariable) : null);
                var allocated = await ReadAllocationsAsync(postgres, sqlite ?? JournalFactory.SqlitePathBesidePlan(planPath), ct);
                var markdown = NetworkPlan.ToMarkdown(NetworkPlan.Build(plan, inventory, allocated), inventory);
                if (parseResult.GetValue(outputOption) is { } output)
                {
                    await File.WriteAllTextAsync(output, markdown, ct);
                    ui.MarkupLineInterpolated($"Network cutover written to {output}.");
                }
                else
                {
                    ui.Profile.Out.Writer.Write(markdown);
                }

                return 0;
            }
            catch (InputException ex)
            {
                ui.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>The journal's VLAN allocations; none when there is no journal yet (no run started).</summary>
    private static async Task<IReadOnlyDictionary<string, int>> ReadAllocationsAsync(string? postgres, string sqlite, CancellationToken ct)
    {
        if (postgres is null && !File.Exists(sqlite))
        {
            return new Dictionary<string, int>(StringComparer.Ordinal);
        }

        var journal = JournalFactory.Open(postgres, sqlite, TimeProvider.System);
        try
        {
            await journal.InitializeAsync(ct);
            return (await journal.GetVlanAllocationsAsync(ct)).ToDictionary(a => a.Vm, a => a.Vlan, StringComparer.Ordinal);
        }
        finally
        {
            (journal as IDisposable)?.Dispose();
        }
    }
}
