using Spectre.Console;

namespace Taquin.Cli;

/// <summary>
/// Spectre.Console bound to a given writer: colour only on a real terminal without NO_COLOR,
/// plain text and a fixed width when redirected, so output stays readable in files and pipes.
/// </summary>
internal static class Terminal
{
    public static IAnsiConsole For(TextWriter writer)
    {
        var isTerminal = (ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected)
            || (ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected);
        var colour = isTerminal
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))
            && Environment.GetEnvironmentVariable("TERM") != "dumb";
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = colour ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = colour ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        if (!isTerminal)
        {
            // No terminal to fit: never wrap, so each diagnostic stays on lines grep can find.
            console.Profile.Width = 4096;
        }

        return console;
    }

    /// <summary>Writes of the command being invoked go to the writer the invocation was given (tests pass their own).</summary>
    public static IAnsiConsole Out(System.CommandLine.ParseResult parse) => For(parse.InvocationConfiguration.Output);

    public static IAnsiConsole Error(System.CommandLine.ParseResult parse) => For(parse.InvocationConfiguration.Error);
}
