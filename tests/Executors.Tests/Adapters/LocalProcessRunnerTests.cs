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
