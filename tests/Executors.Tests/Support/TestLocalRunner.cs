using System.Diagnostics;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Tests.Support;

/// <summary>
/// Runs the argv on this machine, ignoring the host name: the test bed's daemons all live here.
/// Stand-in until the real SSH runner lands (then the integration tests go through sshd).
/// </summary>
public sealed class TestLocalRunner : ISshRunner
{
    public List<(string Host, IReadOnlyList<string> Argv)> Calls { get; } = [];

    public Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default)
        => RunCoreAsync(host, argv, stdin, null, ct);

    public Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default)
        => RunCoreAsync(host, argv, stdin, stdout, ct);

    private async Task<SshResult> RunCoreAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream? stdout, CancellationToken ct)
    {
        lock (Calls)
        {
            Calls.Add((host, argv));
        }

        var start = new ProcessStartInfo(argv[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in argv.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new SshCommandException($"cannot start {argv[0]}", isTransient: false);
        var stderrTask = process.StandardError.ReadToEndAsync(ct);
        Task<string> stdoutTask = stdout is null
            ? process.StandardOutput.ReadToEndAsync(ct)
            : process.StandardOutput.BaseStream.CopyToAsync(stdout, ct).ContinueWith(_ => "", ct, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        if (stdin is not null)
        {
            await stdin.CopyToAsync(process.StandardInput.BaseStream, ct);
        }

        process.StandardInput.Close();
        var output = await stdoutTask;
        var error = await stderrTask;
        await process.WaitForExitAsync(ct);
        return new SshResult(process.ExitCode, output, error);
    }
}
