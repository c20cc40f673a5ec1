using Taquin.Executors.Adapters;
using Taquin.Executors.Tests.Ssh;

// Not ".Adapters": that namespace would shadow Taquin.Executors.Adapters in the other test files.
namespace Taquin.Executors.Tests.LocalProcess;

/// <summary>The local runner runs real programs (coreutils) on this machine.</summary>
public sealed class LocalProcessRunnerTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly string _scratch = Directory.CreateTempSubdirectory("taquin-local-test-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task Exit_code_stdout_and_stderr_are_returned()
    {
        var result = await new LocalProcessRunner().RunAsync("localhost", ["sh", "-c", "echo out; echo oops >&2; exit 4"]);

        Assert.Equal(new SshResult(4, "out\n", "oops\n"), result);
    }

    [Fact]
    public async Task The_stderr_tap_sees_output_while_the_program_still_runs_and_the_result_keeps_the_tail()
    {
        // The program ends only once the tap has seen its first line: a tap fed at the end would never let it end.
        var seen = Path.Combine(_scratch, "seen");
        var tap = new FlagOnFirstByteStream(seen);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var result = await new LocalProcessRunner().RunWithStderrTapAsync("localhost",
            ["sh", "-c", "printf 'working\\r' >&2; while [ ! -e \"$1\" ]; do sleep 0.05; done; echo out; echo done >&2", "sh", seen], tap, ct: guard.Token);

        Assert.Equal(new SshResult(0, "out\n", "working\rdone\n"), result);
        Assert.Equal("working\rdone\n", tap.Text);
    }

    [Fact]
    public async Task Arguments_are_passed_without_a_shell()
    {
        var canary = Path.Combine(_scratch, "canary");

        var result = await new LocalProcessRunner().RunAsync("localhost", ["printf", "[%s]", $"a'b; touch {canary}", "$(id)"]);

        Assert.Equal($"[a'b; touch {canary}][$(id)]", result.Stdout);
        Assert.False(File.Exists(canary));
    }

    [Fact]
    public async Task A_missing_program_exits_127()
    {
        var result = await new LocalProcessRunner().RunAsync("localhost", ["taquin-no-such-program"]);

        Assert.Equal(127, result.ExitCode);
        Assert.Contains("taquin-no-such-program", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_binary_stream_round_trips_through_cat_and_no_stdin_means_end_of_file()
    {
        using var source = new RandomSourceStream(16 * MiB, seed: 9);
        using var sink = new HashingSinkStream();
        var runner = new LocalProcessRunner();

        var streamed = await runner.RunStreamingAsync("localhost", ["cat"], source, sink);
        var noInput = await runner.RunAsync("localhost", ["cat"]);

        Assert.Equal(0, streamed.ExitCode);
        Assert.Equal(16 * MiB, sink.BytesWritten);
        Assert.Equal(source.Sha256, sink.Sha256);
        Assert.Equal("", noInput.Stdout);
    }

    [Fact]
    public async Task Cancelling_kills_the_process()
    {
        var pidFile = Path.Combine(_scratch, "pid");
        using var cancel = new CancellationTokenSource();

        var running = new LocalProcessRunner().RunAsync("localhost", ["sh", "-c", $"echo $$ > {pidFile}.tmp && mv {pidFile}.tmp {pidFile}; exec sleep 300"], ct: cancel.Token);
        while (!File.Exists(pidFile))
        {
            await Task.Delay(20);
        }

        var pid = int.Parse(await File.ReadAllTextAsync(pidFile), System.Globalization.CultureInfo.InvariantCulture);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.False(File.Exists($"/proc/{pid}/stat") && !(await File.ReadAllTextAsync($"/proc/{pid}/stat")).Contains(") Z ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_command_over_its_time_limit_is_killed_with_a_transient_error()
    {
        var runner = new LocalProcessRunner(commandTimeout: TimeSpan.FromMilliseconds(300));

        var timedOut = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync("localhost", ["sleep", "30"]));

        Assert.True(timedOut.IsTransient);
        Assert.Contains("did not finish within", timedOut.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Output_beyond_the_capture_limit_is_a_permanent_error()
    {
        var runner = new LocalProcessRunner(maxCapturedStdoutBytes: MiB);

        var tooBig = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync("localhost", ["head", "-c", "100000000", "/dev/zero"]));

        Assert.False(tooBig.IsTransient);
    }
}

/// <summary>A stderr tap that creates a flag file when the first byte arrives, and keeps what it saw.</summary>
internal sealed class FlagOnFirstByteStream(string flag) : OutputSinkStream
{
    private readonly System.Text.StringBuilder _seen = new();

    public string Text
    {
        get
        {
            lock (_seen)
            {
                return _seen.ToString();
            }
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_seen)
        {
            _seen.Append(System.Text.Encoding.UTF8.GetString(buffer));
        }

        if (buffer.Length > 0 && !File.Exists(flag))
        {
            File.WriteAllText(flag, "");
        }
    }
}
