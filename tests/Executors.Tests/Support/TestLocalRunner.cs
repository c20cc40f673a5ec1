using System.Diagnostics;
using System.Text;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Tests.Support;

/// <summary>
/// Test-only <see cref="ISshRunner"/> that runs every command on this machine, whatever the host (the test bed is
/// one machine). <see cref="FailStreamAfterBytes"/> simulates a dropped connection: the stream breaks mid-copy.
/// </summary>
public sealed class TestLocalRunner : ISshRunner
{
    private const int StderrLimit = 64 * 1024;

    /// <summary>When set, the next streaming command's stdout breaks after that many bytes (then it resets).</summary>
    public long? FailStreamAfterBytes { get; set; }

    public List<string> Commands { get; } = [];

    public async Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default)
    {
        using var stdout = new MemoryStream();
        var result = await RunCoreAsync(argv, stdin, stdout, null, ct);
        return result with { Stdout = Encoding.UTF8.GetString(stdout.ToArray()) };
    }

    public Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default)
    {
        var failAfter = FailStreamAfterBytes;
        FailStreamAfterBytes = null;
        return RunCoreAsync(argv, stdin, stdout, failAfter, ct);
    }

    private async Task<SshResult> RunCoreAsync(IReadOnlyList<string> argv, Stream? stdin, Stream stdout, long? failAfter, CancellationToken ct)
    {
        lock (Commands)
        {
            Commands.Add(string.Join(' ', argv));
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

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {argv[0]}");
        var stderr = new StringBuilder();
        var stderrTask = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await process.StandardError.ReadAsync(buffer, ct)) > 0)
            {
                if (stderr.Length < StderrLimit)
                {
                    stderr.Append(buffer, 0, n);
                }
            }
        }, ct);
        var stdinTask = Task.Run(async () =>
        {
            try
            {
                if (stdin is not null)
                {
                    await stdin.CopyToAsync(process.StandardInput.BaseStream, ct);
                }
            }
            catch (IOException)
            {
                // the program exited without reading all of its input; its exit code tells
            }
            finally
            {
                try
                {
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                }
            }
        }, ct);
        try
        {
            var buffer = new byte[1 << 20];
            long copied = 0;
            int read;
            while ((read = await process.StandardOutput.BaseStream.ReadAsync(buffer, ct)) > 0)
            {
                if (failAfter is { } limit && copied + read > limit)
                {
                    process.Kill(entireProcessTree: true);
                    throw new SshConnectionLostException($"connection lost after {copied} bytes (test fault)");
                }

                await stdout.WriteAsync(buffer.AsMemory(0, read), ct);
                copied += read;
            }

            await process.WaitForExitAsync(ct);
            await stdinTask;
            await stderrTask;
            return new SshResult(process.ExitCode, "", stderr.ToString());
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
    }
}

/// <summary>The runner's stand-in for a dropped SSH connection.</summary>
public sealed class SshConnectionLostException(string message) : AdapterException(message, isTransient: true);
