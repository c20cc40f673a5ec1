using Taquin.Executors.Adapters;
using Taquin.Executors.Ssh;

namespace Taquin.Executors.Tests.Ssh;

/// <summary>The quoted command line is parsed by real local shells (the remote login shell is one of them).</summary>
public sealed class ShellQuotingTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("taquin-quote-test-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    public static TheoryData<string> Shells => new(new[] { "/bin/sh", "/bin/bash", "/bin/dash" }.Where(File.Exists));

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task Every_argument_reaches_the_program_unchanged_and_nothing_else_runs(string shell)
    {
        var canary = Path.Combine(_scratch, "canary");
        string[] names =
        [
            "vm-01",
            $"a'b; touch {canary}",
            $"a'b; rm -rf /nonexistent-taquin; touch {canary}",
            "'",
            "''",
            "\\'",
            $"$(touch {canary})",
            $"`touch {canary}`",
            $"x && touch {canary} || touch {canary}",
            $"x\ntouch {canary}",
            "tab\there",
            "",
            " ",
            "*",
            "~",
            "$HOME ${PATH} $1 $@",
            "!!",
            "#comment",
            "é ü 日本",
            "-n",
        ];

        var result = await new LocalProcessRunner().RunAsync("localhost", [shell, "-c", "printf '[%s]\\n' " + ShellQuoting.Join(names)]);

        Assert.True(result.Succeeded, result.Stderr);
        Assert.Equal(string.Concat(names.Select(n => $"[{n}]\n")), result.Stdout);
        Assert.False(File.Exists(canary), "a metacharacter in an argument executed a command");
    }

    [Fact]
    public void Plain_words_stay_readable_and_everything_else_is_single_quoted()
    {
        Assert.Equal("rbd export-diff --from-snap s1 pool/vm-1@s2 -", ShellQuoting.Join(["rbd", "export-diff", "--from-snap", "s1", "pool/vm-1@s2", "-"]));
        Assert.Equal("echo 'a b' '' 'it'\\''s'", ShellQuoting.Join(["echo", "a b", "", "it's"]));
    }

    [Fact]
    public void A_nul_byte_or_an_empty_argv_is_refused_before_anything_runs()
    {
        var nul = Assert.Throws<SshCommandException>(() => ShellQuoting.Join(["echo", "vm\0name"]));
        var empty = Assert.Throws<SshCommandException>(() => ShellQuoting.Join([]));

        Assert.False(nul.IsTransient);
        Assert.Contains("argument 1", nul.Message, StringComparison.Ordinal);
        Assert.False(empty.IsTransient);
    }
}
