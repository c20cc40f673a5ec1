using System.Buffers;
using System.Text;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Ssh;

/// <summary>
/// Turns an argv list into the one command line an SSH <c>exec</c> request carries. The remote login shell
/// (POSIX: sh, dash, bash) parses it, so every argument is single-quoted: inside single quotes no character is
/// special except the quote itself, which is written as <c>'\''</c>. Nothing in an argument can start a new command.
/// </summary>
public static class ShellQuoting
{
    // Arguments made only of these need no quotes (as Python's shlex.quote); it keeps logged commands readable.
    private static readonly SearchValues<char> PlainCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-");

    /// <exception cref="SshCommandException">argv is empty or an argument holds a NUL byte (no shell can pass it).</exception>
    public static string Join(IReadOnlyList<string> argv)
    {
        ArgumentNullException.ThrowIfNull(argv);
        if (argv.Count == 0)
        {
            throw new SshCommandException("empty command: argv needs at least the program name", isTransient: false);
        }

        var line = new StringBuilder();
        for (var i = 0; i < argv.Count; i++)
        {
            if (i > 0)
            {
                line.Append(' ');
            }

            line.Append(Quote(argv[i], i));
        }

        return line.ToString();
    }

    /// <summary>One argument, quoted for a POSIX shell.</summary>
    public static string Quote(string argument, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(argument);
        if (argument.Contains('\0', StringComparison.Ordinal))
        {
            throw new SshCommandException(
                $"argument {index} holds a NUL byte, which no remote program can receive; refusing to run the command",
                isTransient: false);
        }

        if (argument.Length > 0 && !argument.AsSpan().ContainsAnyExcept(PlainCharacters))
        {
            return argument;
        }

        return "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
