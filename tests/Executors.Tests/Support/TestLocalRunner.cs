using System.Diagnostics;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Tests.Support;

/// <summary>
/// A test-only <see cref="ISshRunner"/>: runs the argv on this machine, inside the network namespace the host name
/// maps to (<c>ip netns exec NS argv…</c>), with stdin piped, and records every command. Stands in for the SSH
/// runner in the namespace tests; <paramref name="rewrite"/> lets a test replace a command this kernel cannot run.
/// </summary>
public sealed class TestLocalRunner(IReadOnlyDictionary<string, string> namespaces, Func<IReadOnlyList<string>, IReadOnlyList<string>>? rewrite = null) : ISshRunner
{
    private readonly List<(string Host, IReadOnlyList<string> Argv)> _commands = [];

    public IReadOnlyList<(string Host, IReadOnlyList<string> Argv)> Commands
    {
        get
        {
            lock (_commands)
            {
                return [.. _commands];
            }
        }
    }

    public async Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default)
    {
        using var stdout = new MemoryStream();
        var result = await RunStreamingAsync(host, argv, stdin, stdout, ct);
        return result with { Stdout = System.Text.Encoding.UTF8.GetString(stdout.ToArray()) };
    }

    public async Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default)
    {
        if (!namespaces.TryGetValue(host, out var netns))
        {
            return new SshResult(255, "", $"ssh: Could not resolve hostname {host}");
        }

        lock (_commands)
        {
            _commands.Add((host, argv));
        }

        var start = new ProcessStartInfo("ip")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var word in (string[])["netns", "exec", netns, .. rewrite?.Invoke(argv) ?? argv])
        {
            start.ArgumentList.Add(word);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start ip netns exec");
        var error = process.StandardError.ReadToEndAsync(ct);
        var output = process.StandardOutput.BaseStream.CopyToAsync(stdout, ct);
        if (stdin is not null)
        {
            await stdin.CopyToAsync(process.StandardInput.BaseStream, ct);
        }

        process.StandardInput.Close();
        await output;
        await process.WaitForExitAsync(ct);
        return new SshResult(process.ExitCode, "", await error);
    }
}
