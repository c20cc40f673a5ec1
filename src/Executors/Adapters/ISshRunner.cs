namespace Taquin.Executors.Adapters;

/// <summary>Result of one remote command. <see cref="Stdout"/> is empty when the output was streamed.</summary>
public sealed record SshResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>Runs one program on a host over SSH. Arguments are an argv list, never a shell string.</summary>
public interface ISshRunner
{
    /// <param name="host">Fleet host name (the runner resolves user@address from the fleet file).</param>
    /// <param name="argv">Program and arguments, each passed as is (quoted for the remote shell by the runner).</param>
    /// <param name="stdin">Streamed to the program's standard input when given.</param>
    Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default);

    /// <summary>
    /// Like <see cref="RunAsync"/>, but the program's standard output goes to <paramref name="stdout"/> as raw bytes,
    /// with back-pressure (the remote side is not read faster than <paramref name="stdout"/> accepts), for disk data.
    /// The returned <see cref="SshResult.Stdout"/> is empty; stderr is still captured (bounded).
    /// </summary>
    Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default);

    /// <summary>
    /// Like <see cref="RunAsync"/>, and every byte the program writes to stderr is also written to
    /// <paramref name="stderrTap"/> as it arrives (a tool's live progress, e.g. <c>rbd export-diff</c>'s percentages);
    /// <see cref="SshResult.Stderr"/> still holds the tail. The tap is written on the runner's reading thread: it must not
    /// block and must not throw. This default hands the whole stderr over once the program has ended (no live output).
    /// </summary>
    async Task<SshResult> RunWithStderrTapAsync(string host, IReadOnlyList<string> argv, Stream stderrTap, Stream? stdin = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(stderrTap);
        var result = await RunAsync(host, argv, stdin, ct);
        stderrTap.Write(System.Text.Encoding.UTF8.GetBytes(result.Stderr));
        return result;
    }
}
