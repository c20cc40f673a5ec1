using System.CommandLine;
using Taquin.Cli.Commands;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Solving;

namespace Taquin.Cli;

/// <summary>The <c>taquin</c> command: a thin shell over src/Planner and src/Executors.</summary>
public static class Program
{
    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitInvalidInput = 2;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>
    /// Command groups of <c>taquin</c>. Register new groups HERE, one line each
    /// (each group lives in src/Cli/Commands/&lt;Name&gt;Commands.cs with <c>internal static Command Build()</c>),
    /// e.g. PlanCommands.Build(), SamplesCommands.Build(), TranslateCommands.Build().
    /// </summary>
    internal static IEnumerable<Command> Commands() =>
    [
        InventoryCommands.Build(),
        TranslateCommands.Build(),
        SamplesCommands.Build(),
        PlanCommands.Build(new CpSatPlanner()),
        SimulateCommands.Build(),
        RunCommands.Build(),
        WorkerCommands.Build(),
        ServeCommands.Build(),
        UserCommands.Build(),
    ];

    internal static RootCommand BuildRoot(IEnumerable<Command> commands)
    {
        var root = new RootCommand("Taquin: plans and runs the in-place migration of a libvirt fleet to Proxmox VE.");
        foreach (var command in commands)
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    /// <summary>Runs the CLI in-process with the given writers; the exit code follows the project rule (0 ok, 1 failed, 2 invalid input).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, stdout, stderr, Commands());

    /// <summary>Same, with a chosen set of command groups (tests exercise the error handling with their own).</summary>
    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr, IEnumerable<Command> commands)
    {
        try
        {
            var parse = BuildRoot(commands).Parse(args);
            var configuration = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
            var exit = parse.Invoke(configuration);
            // A command line System.CommandLine rejects is the user's mistake, like any other invalid input.
            return parse.Errors.Count > 0 && exit != ExitOk ? ExitInvalidInput : exit;
        }
        catch (InvalidInputException ex)
        {
            DiagnosticsView.Write(Terminal.For(stderr), ex.Diagnostics);
            return ExitInvalidInput;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"error: {ex.Message}");
            return ExitInvalidInput;
        }
#pragma warning disable CA1031 // The one place every unexpected failure becomes a one-line message instead of a stack trace.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (Environment.GetEnvironmentVariable("TAQUIN_DEBUG") == "1")
            {
                stderr.WriteLine($"internal error: {ex}");
            }
            else
            {
                stderr.WriteLine($"internal error: {ex.GetType().Name}: {ex.Message} (set TAQUIN_DEBUG=1 for details)");
            }

            return ExitFailed;
        }
    }
}
