using System.ComponentModel;
using System.Diagnostics;

namespace Taquin.Executors.Adapters;

/// <summary>
/// <see cref="ISshRunner"/> for the orchestrator's own machine: runs argv as a local process, without a shell
/// (arguments reach the program as they are). Same semantics as the SSH runner: stdin streamed in, stdout captured
/// (bounded) or streamed out with back-pressure (the pipe is read only as fast as the consumer writes), the stderr
/// tail kept, a non-zero exit returned as a result, 127 when the program does not exist. Cancellation and the
/// command timeout kill the process tree.
/// </summary>
public sealed class LocalProcessRunner(TimeSpan? commandTimeout = null, int stderrTailBytes = 64 * 1024, long maxCapturedStdoutBytes = 64L * 1024 * 1024)
    : ISshRunner
{
    public async Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var stdout = new CappedCaptureStream(maxCapturedStdoutBytes, () => _ = abort.CancelAsync());
        var (exitCode, stderr) = await RunCoreAsync(argv, stdin, stdout, null, abort, ct);
        if (stdout.Overflowed)
        {
            throw new SshCommandException(
                $"{argv[0]} wrote more than {stdout.Limit} bytes to stdout; it was stopped (use RunStreamingAsync for bulk output)", isTransient: false);
        }

        return new SshResult(exitCode, stdout.Text(), stderr);
    }

    public async Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var (exitCode, stderr) = await RunCoreAsync(argv, stdin, stdout, null, abort, ct);
        return new SshResult(exitCode, "", stderr);
    }

    public async Task<SshResult> RunWithStderrTapAsync(string host, IReadOnlyList<string> argv, Stream stderrTap, Stream? stdin = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(stderrTap);
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var stdout = new CappedCaptureStream(maxCapturedStdoutBytes, () => _ = abort.CancelAsync());
        var (exitCode, stderr) = await RunCoreAsync(argv, stdin, stdout, stderrTap, abort, ct);
        if (stdout.Overflowed)
        {
            throw new SshCommandException(
                $"{argv[0]} wrote more than {stdout.Limit} bytes to stdout; it was stopped (use RunStreamingAsync for bulk output)", isTransient: false);
        }

        return new SshResult(exitCode, stdout.Text(), stderr);
    }

    private async Task<(int ExitCode, string Stderr)> RunCoreAsync(
        IReadOnlyList<string> argv, Stream? stdin, Stream stdout, Stream? stderrTap, CancellationTokenSource abort, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(argv);
        if (argv.Count == 0)
        {
            throw new SshCommandException("empty command: argv needs at least the program name", isTransient: false);
        }

        if (argv.Any(a => a.Contains('\0', StringComparison.Ordinal)))
        {
            throw new SshCommandException("an argument holds a NUL byte, which no program can receive; refusing to run the command", isTransient: false);
        }

        var start = new ProcessStartInfo(argv[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in argv.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            return (127, $"{argv[0]}: {ex.Message}");
        }

        using var timeout = commandTimeout is { } limit ? new CancellationTokenSource(limit) : null;
        using var onTimeout = timeout?.Token.Register(abort.Cancel);
        using var killOnAbort = abort.Token.Register(() => Kill(process));

        var stderr = new TailCaptureStream(stderrTailBytes);
        var stderrCopy = process.StandardError.BaseStream.CopyToAsync(stderrTap is null ? stderr : new TeeSinkStream(stderr, stderrTap), CancellationToken.None);
        var stdoutCopy = CopyStdoutAsync(process, stdout, abort);
        var stdinCopy = FeedStdinAsync(process, stdin, abort.Token);

        await process.WaitForExitAsync(CancellationToken.None);
        await Task.WhenAll(stdoutCopy, stderrCopy).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await stdinCopy.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        ct.ThrowIfCancellationRequested();
        if (timeout?.IsCancellationRequested == true)
        {
            throw new SshCommandException($"{argv[0]} did not finish within {commandTimeout}; it was killed", isTransient: true);
        }

        await stdoutCopy; // the consumer's own failure, if any
        return (process.ExitCode, stderr.Text());
    }

    private static async Task CopyStdoutAsync(Process process, Stream stdout, CancellationTokenSource abort)
    {
        try
        {
            // CopyToAsync reads the next chunk only after the consumer took the last: the pipe fills and the program blocks.
            await process.StandardOutput.BaseStream.CopyToAsync(stdout, 256 * 1024, abort.Token);
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
        }
        catch
        {
            await abort.CancelAsync();
            throw;
        }
    }

    private static async Task FeedStdinAsync(Process process, Stream? stdin, CancellationToken ct)
    {
        var input = process.StandardInput.BaseStream;
        try
        {
            if (stdin is not null)
            {
                await stdin.CopyToAsync(input, 256 * 1024, ct);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The program exited or closed its stdin early: its exit code tells.
        }
        finally
        {
            try
            {
                await input.DisposeAsync();
            }
            catch (IOException)
            {
            }
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }
}
