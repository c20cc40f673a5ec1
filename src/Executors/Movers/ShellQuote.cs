namespace Taquin.Executors.Movers;

/// <summary>POSIX shell quoting, for the pipelines the direct data path runs on a source host.</summary>
public static class ShellQuote
{
    /// <summary>One word, single-quoted unless it is made of characters no shell treats specially.</summary>
    public static string Word(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        if (word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@,+%".Contains(c, StringComparison.Ordinal)))
        {
            return word;
        }

        return "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>A command line: each argument quoted, joined by spaces.</summary>
    public static string Command(IEnumerable<string> argv) => string.Join(' ', argv.Select(Word));
}
