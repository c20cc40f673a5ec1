namespace Taquin.Executors.Adapters;

/// <summary>Result of one remote command.</summary>
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
}
