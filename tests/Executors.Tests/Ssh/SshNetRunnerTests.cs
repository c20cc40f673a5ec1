using System.Diagnostics;
using System.Globalization;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ssh;
using Taquin.Executors.Tests.Support;
using Xunit.Abstractions;

namespace Taquin.Executors.Tests.Ssh;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SshTestbedTests
{
    // Alone: the memory-bound test samples the process heap and the drop tests kill sshd children.
    public const string Name = "ssh testbed";
}

/// <summary>The real SSH runner against the test bed's OpenSSH server (scripts/testbed up --only ssh).</summary>
[Collection(SshTestbedTests.Name)]
public sealed class SshNetRunnerTests(ITestOutputHelper output) : IDisposable
{
    private const string Host = "testbed-host";
    private const long MiB = 1024 * 1024;
    private readonly string _scratch = Directory.CreateTempSubdirectory("taquin-ssh-test-").FullName;
    private readonly List<SshNetRunner> _runners = [];

    public void Dispose()
    {
        foreach (var runner in _runners)
        {
            runner.Dispose();
        }

        Directory.Delete(_scratch, recursive: true);
    }

    [IntegrationFact]
    public async Task A_command_returns_its_stdout_exit_code_and_stderr()
    {
        var runner = Runner();

        var result = await runner.RunAsync(Host, ["sh", "-c", "echo out; echo oops >&2; exit 3"]);

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("out\n", result.Stdout);
        Assert.Equal("oops\n", result.Stderr);
        var failure = Assert.Throws<SshCommandException>(() => result.EnsureSuccess(Host, ["sh", "-c", "..."]));
        Assert.False(failure.IsTransient);
        Assert.Equal(3, failure.ExitCode);
        Assert.Contains("oops", failure.Message, StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task The_stderr_tap_sees_output_while_the_remote_program_still_runs_without_the_pid_line()
    {
        // The test bed's sshd runs on this machine: the program ends once the tap (here) has created the flag file.
        var seen = Path.Combine(_scratch, "seen");
        var tap = new LocalProcess.FlagOnFirstByteStream(seen);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var result = await Runner().RunWithStderrTapAsync(Host,
            ["sh", "-c", "printf 'working\\r' >&2; while [ ! -e \"$1\" ]; do sleep 0.05; done; echo out; echo done >&2", "sh", seen], tap, ct: guard.Token);

        Assert.Equal(new SshResult(0, "out\n", "working\rdone\n"), result);
        Assert.Equal("working\rdone\n", tap.Text);
    }

    [IntegrationFact]
    public async Task An_unknown_host_key_is_refused_and_the_message_says_how_to_trust_it()
    {
        var testbed = Testbed.RequireSsh();
        var emptyKnownHosts = Path.Combine(_scratch, "known_hosts");
        await File.WriteAllTextAsync(emptyKnownHosts, "");
        var runner = Runner(o => o with { KnownHostsFiles = [emptyKnownHosts] });

        var refused = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync(Host, ["true"]));

        Assert.False(refused.IsTransient);
        Assert.Contains("unknown host key", refused.Message, StringComparison.Ordinal);
        Assert.Contains(Host, refused.Message, StringComparison.Ordinal);
        Assert.Contains(testbed.HostKeyFingerprint, refused.Message, StringComparison.Ordinal);
        Assert.Contains($"TAQUIN_SSH_HOST_KEYS={Host}={testbed.HostKeyFingerprint}", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, runner.ConnectionsOpened);
    }

    [IntegrationFact]
    public async Task A_host_key_that_differs_from_known_hosts_is_refused_as_a_mismatch()
    {
        var testbed = Testbed.RequireSsh();
        var otherKey = await OtherEd25519PublicKeyAsync();
        var knownHosts = Path.Combine(_scratch, "known_hosts");
        await File.WriteAllTextAsync(knownHosts, $"[{testbed.Host}]:{testbed.Port} {otherKey}\n");
        var runner = Runner(o => o with { KnownHostsFiles = [knownHosts] });

        var refused = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync(Host, ["touch", Path.Combine(_scratch, "ran")]));

        Assert.False(refused.IsTransient);
        Assert.Contains("HOST KEY MISMATCH", refused.Message, StringComparison.Ordinal);
        Assert.Contains(testbed.HostKeyFingerprint, refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_scratch, "ran")));
    }

    [IntegrationFact]
    public async Task A_wrong_pinned_fingerprint_is_refused_and_the_right_one_is_trusted_without_known_hosts()
    {
        var testbed = Testbed.RequireSsh();
        var wrongPin = "SHA256:" + new string('A', 43);
        var wrong = Runner(o => o with { KnownHostsFiles = [], PinnedFingerprints = SshAccessOptions.ParsePins($"{Host}={wrongPin}") });
        var right = Runner(o => o with { KnownHostsFiles = [], PinnedFingerprints = SshAccessOptions.ParsePins($"{Host}={testbed.HostKeyFingerprint}") });

        var refused = await Assert.ThrowsAsync<SshCommandException>(() => wrong.RunAsync(Host, ["true"]));
        var trusted = await right.RunAsync(Host, ["echo", "pinned"]);

        Assert.Contains("HOST KEY MISMATCH", refused.Message, StringComparison.Ordinal);
        Assert.Contains(wrongPin, refused.Message, StringComparison.Ordinal);
        Assert.Equal("pinned\n", trusted.Stdout);
    }

    [IntegrationFact]
    public async Task Shell_metacharacters_in_arguments_reach_the_program_literally_and_run_nothing()
    {
        var canary = Path.Combine(_scratch, "canary");
        string[] names =
        [
            $"a'b; touch {canary}",
            $"a'b; rm -rf /nonexistent-taquin; touch {canary}",
            $"$(touch {canary})",
            $"`touch {canary}`",
            $"x && touch {canary}",
            $"x | touch {canary}",
            $"x\ntouch {canary}",
            $"\"; touch {canary}; echo \"",
            "",
            "*",
            "~root",
            "$HOME",
        ];
        var runner = Runner();

        var result = await runner.RunAsync(Host, ["printf", "[%s]\\n", .. names]);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Concat(names.Select(n => $"[{n}]\n")), result.Stdout);
        Assert.False(File.Exists(canary), "a metacharacter in an argument executed a command");
    }

    [IntegrationFact]
    public async Task A_random_64_MiB_stream_round_trips_through_cat_with_an_equal_sha256()
    {
        var runner = Runner();
        using var source = new RandomSourceStream(64 * MiB, seed: 5);
        using var sink = new HashingSinkStream();

        var watch = Stopwatch.StartNew();
        var result = await runner.RunStreamingAsync(Host, ["cat"], source, sink);
        watch.Stop();

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Equal(64 * MiB, sink.BytesWritten);
        Assert.Equal(source.Sha256, sink.Sha256);
        output.WriteLine($"64 MiB through remote cat (up and down): {watch.Elapsed.TotalSeconds:F2} s, " +
            $"{64 / watch.Elapsed.TotalSeconds:F1} MiB/s each way");
    }

    [IntegrationFact]
    public async Task Streaming_256_MiB_into_a_slow_consumer_keeps_managed_memory_bounded()
    {
        var runner = Runner(o => o with { StreamBufferBytes = (int)MiB });
        // About 64 MiB/s at most: far slower than the remote producer, so without back-pressure the
        // difference (well over 100 MiB) would pile up in memory.
        using var sink = new HashingSinkStream(pauseEvery: MiB, pause: TimeSpan.FromMilliseconds(15), sampleEvery: 16 * MiB);
        var baseline = GC.GetTotalMemory(forceFullCollection: true);

        var watch = Stopwatch.StartNew();
        var result = await runner.RunStreamingAsync(Host, ["head", "-c", (256 * MiB).ToString(CultureInfo.InvariantCulture), "/dev/zero"], null, sink);
        watch.Stop();

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(256 * MiB, sink.BytesWritten);
        var growth = sink.PeakLiveHeapBytes - baseline;
        output.WriteLine($"256 MiB into a slow consumer in {watch.Elapsed.TotalSeconds:F1} s; live managed heap: " +
            $"baseline {baseline / (double)MiB:F1} MiB, peak {sink.PeakLiveHeapBytes / (double)MiB:F1} MiB, growth {growth / (double)MiB:F1} MiB");
        Assert.True(growth < 32 * MiB, $"live managed heap grew by {growth / (double)MiB:F1} MiB while streaming 256 MiB");
    }

    [IntegrationFact]
    public async Task A_command_over_its_time_limit_is_stopped_with_a_transient_error()
    {
        var pidFile = Path.Combine(_scratch, "pid");
        var runner = Runner(o => o with { CommandTimeout = TimeSpan.FromSeconds(1) });

        var timedOut = await Assert.ThrowsAsync<SshCommandException>(
            () => runner.RunAsync(Host, ["sh", "-c", $"echo $$ > {pidFile}; exec sleep 60"]));

        Assert.True(timedOut.IsTransient);
        Assert.Contains("did not finish within", timedOut.Message, StringComparison.Ordinal);
        await AssertProcessEndsAsync(ReadPid(pidFile));
    }

    [IntegrationFact]
    public async Task Cancelling_a_command_stops_the_remote_program()
    {
        var pidFile = Path.Combine(_scratch, "pid");
        var runner = Runner();
        using var cancel = new CancellationTokenSource();

        var running = runner.RunAsync(Host, ["sh", "-c", $"echo $$ > {pidFile}.tmp && mv {pidFile}.tmp {pidFile}; exec sleep 300"], ct: cancel.Token);
        var pid = await WaitForPidAsync(pidFile);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        await AssertProcessEndsAsync(pid);
    }

    [IntegrationFact]
    public async Task Cancelling_a_stream_held_back_by_a_slow_consumer_stops_the_remote_program()
    {
        var pidFile = Path.Combine(_scratch, "pid");
        var runner = Runner();
        using var cancel = new CancellationTokenSource();
        using var sink = new HashingSinkStream(pauseEvery: MiB, pause: TimeSpan.FromMilliseconds(50));

        var streaming = runner.RunStreamingAsync(
            Host, ["sh", "-c", $"echo $$ > {pidFile}.tmp && mv {pidFile}.tmp {pidFile}; exec cat /dev/zero"], null, sink, cancel.Token);
        var pid = await WaitForPidAsync(pidFile);
        await WaitUntilAsync(() => sink.BytesWritten > 2 * MiB);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => streaming);
        await AssertProcessEndsAsync(pid);
    }

    [IntegrationFact]
    public async Task A_failing_consumer_surfaces_its_own_error_and_stops_the_remote_program()
    {
        var pidFile = Path.Combine(_scratch, "pid");
        var runner = Runner();

        var failed = await Assert.ThrowsAsync<IOException>(() => runner.RunStreamingAsync(
            Host, ["sh", "-c", $"echo $$ > {pidFile}.tmp && mv {pidFile}.tmp {pidFile}; exec cat /dev/zero"], null, new FailingAfterStream(4 * MiB)));

        Assert.Equal("disk full", failed.Message);
        await AssertProcessEndsAsync(await WaitForPidAsync(pidFile));
    }

    [IntegrationFact]
    public async Task Concurrent_commands_on_one_host_share_one_connection()
    {
        var runner = Runner();

        // Each channel's shell is a child of the same per-connection sshd process, so $PPID names the connection.
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            runner.RunAsync(Host, ["sh", "-c", "echo $PPID; sleep 0.3; echo $1 >&2", "sh", i.ToString(CultureInfo.InvariantCulture)])));
        var later = await runner.RunAsync(Host, ["sh", "-c", "echo $PPID"]);

        Assert.Single(results.Select(r => r.Stdout).Append(later.Stdout).Distinct());
        Assert.Equal(Enumerable.Range(0, 16).Select(i => $"{i}\n"), results.Select(r => r.Stderr));
        Assert.Equal(1, runner.ConnectionsOpened);
    }

    [IntegrationFact]
    public async Task A_dropped_shared_connection_is_reopened_for_the_next_command()
    {
        var testbed = Testbed.RequireSsh();
        var runner = Runner();
        var before = await runner.RunAsync(Host, ["sh", "-c", "echo $PPID"]);

        KillServingSshd(testbed, int.Parse(before.Stdout.Trim(), CultureInfo.InvariantCulture));
        var after = await runner.RunAsync(Host, ["sh", "-c", "echo $PPID"]);

        Assert.Equal(0, after.ExitCode);
        Assert.NotEqual(before.Stdout, after.Stdout);
        Assert.Equal(2, runner.ConnectionsOpened);
    }

    [IntegrationFact]
    public async Task A_connection_dropped_mid_stream_is_a_transient_error_and_the_next_command_runs()
    {
        var testbed = Testbed.RequireSsh();
        var ppidFile = Path.Combine(_scratch, "ppid");
        var runner = Runner();
        using var sink = new HashingSinkStream();

        var streaming = runner.RunStreamingAsync(
            Host, ["sh", "-c", $"echo $PPID > {ppidFile}.tmp && mv {ppidFile}.tmp {ppidFile}; exec cat /dev/zero"], null, sink);
        var sshd = await WaitForPidAsync(ppidFile);
        await WaitUntilAsync(() => sink.BytesWritten > 0);
        KillServingSshd(testbed, sshd);

        var dropped = await Assert.ThrowsAsync<SshCommandException>(() => streaming);
        var next = await runner.RunStreamingAsync(Host, ["echo", "again"], null, new MemoryStream());

        Assert.True(dropped.IsTransient, dropped.Message);
        Assert.True(sink.BytesWritten > 0);
        Assert.Equal(0, next.ExitCode);
    }

    [IntegrationFact]
    public async Task A_key_the_host_does_not_accept_is_a_permanent_authentication_error()
    {
        var otherKey = Path.Combine(_scratch, "other_key");
        await RunLocalAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey);
        var runner = Runner(o => o with { IdentityFile = otherKey });

        var refused = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync(Host, ["true"]));

        Assert.False(refused.IsTransient);
        Assert.Contains("refused key authentication", refused.Message, StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task A_refused_connection_is_transient_and_an_unknown_host_is_permanent()
    {
        var testbed = Testbed.RequireSsh();
        var closedPort = ClosedLocalPort();
        var runner = new SshNetRunner(
            new Dictionary<string, SshEndpoint> { [Host] = new(testbed.User, "127.0.0.1", closedPort) }, Options(testbed));
        _runners.Add(runner);

        var refused = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync(Host, ["true"]));
        var unknown = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync("not-in-fleet", ["true"]));

        Assert.True(refused.IsTransient, refused.Message);
        Assert.Contains("ConnectionRefused", refused.Message, StringComparison.Ordinal);
        Assert.False(unknown.IsTransient);
        Assert.Contains("fleet.yaml", unknown.Message, StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task Without_stdin_the_remote_program_reads_end_of_file_and_stdin_is_streamed_when_given()
    {
        var runner = Runner();

        var empty = await runner.RunAsync(Host, ["cat"]);
        var fed = await runner.RunAsync(Host, ["wc", "-c"], new MemoryStream(new byte[123_457]));

        Assert.Equal("", empty.Stdout);
        Assert.Equal("123457", fed.Stdout.Trim());
    }

    [IntegrationFact]
    public async Task Output_beyond_the_capture_limit_is_a_permanent_error_not_unbounded_memory()
    {
        var runner = Runner(o => o with { MaxCapturedStdoutBytes = (int)MiB });

        var tooBig = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync(Host, ["head", "-c", "10000000", "/dev/zero"]));

        Assert.False(tooBig.IsTransient);
        Assert.Contains("RunStreamingAsync", tooBig.Message, StringComparison.Ordinal);
    }

    private SshNetRunner Runner(Func<SshAccessOptions, SshAccessOptions>? adjust = null)
    {
        var testbed = Testbed.RequireSsh();
        var options = Options(testbed);
        var runner = new SshNetRunner(
            new Dictionary<string, SshEndpoint> { [Host] = SshEndpoint.Parse($"{testbed.User}@{testbed.Host}:{testbed.Port}") },
            adjust is null ? options : adjust(options));
        _runners.Add(runner);
        return runner;
    }

    private static SshAccessOptions Options(SshTestbed testbed) => new()
    {
        IdentityFile = testbed.KeyFile,
        KnownHostsFiles = [testbed.KnownHostsFile],
        ConnectTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>Kills the sshd processes serving one connection (the session child and its monitor), never the listener.</summary>
    private static void KillServingSshd(SshTestbed testbed, int sessionPid)
    {
        var listener = testbed.ListenerPid;
        var monitor = ParentOf(sessionPid);
        using (var session = Process.GetProcessById(sessionPid))
        {
            session.Kill();
        }

        if (monitor > 1 && monitor != listener)
        {
            using var process = Process.GetProcessById(monitor);
            process.Kill();
        }
    }

    private static int ParentOf(int pid)
    {
        // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so parse after the last ')'.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[1], CultureInfo.InvariantCulture);
    }

    private static int ReadPid(string file) => int.Parse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture);

    private static async Task<int> WaitForPidAsync(string file)
    {
        await WaitUntilAsync(() => File.Exists(file));
        return ReadPid(file);
    }

    private static async Task AssertProcessEndsAsync(int pid)
    {
        var ended = await WaitUntilAsync(() => !File.Exists($"/proc/{pid}/stat") || File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal), throwOnTimeout: false);
        Assert.True(ended, $"remote process {pid} still runs");
    }

    private static async Task<bool> WaitUntilAsync(Func<bool> condition, bool throwOnTimeout = true)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return throwOnTimeout ? throw new TimeoutException("condition not met within 20 s") : false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    private async Task<string> OtherEd25519PublicKeyAsync()
    {
        var file = Path.Combine(_scratch, "other_host_key");
        await RunLocalAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", file);
        var fields = (await File.ReadAllTextAsync(file + ".pub")).Split(' ');
        return $"{fields[0]} {fields[1]}";
    }

    private static async Task RunLocalAsync(params string[] argv)
    {
        var result = await new LocalProcessRunner().RunAsync("localhost", argv);
        Assert.True(result.Succeeded, result.Stderr);
    }

    private static int ClosedLocalPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A consumer whose disk fills up after <c>limit</c> bytes.</summary>
internal sealed class FailingAfterStream(long limit) : Stream
{
    private long _written;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count)
    {
        _written += count;
        if (_written > limit)
        {
            throw new IOException("disk full");
        }
    }

    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
