using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Renci.SshNet;
using Renci.SshNet.Common;
using Renci.SshNet.Messages.Transport;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Ssh;

/// <summary>
/// <see cref="ISshRunner"/> over SSH.NET. One shared connection per host carries <see cref="RunAsync"/> commands
/// (concurrently, one channel each; reconnected when dropped). <see cref="RunStreamingAsync"/> opens a connection
/// of its own, because its back-pressure pauses the whole connection (see <see cref="BlockingPipeSinkStream"/>).
/// Host keys are pinned (<see cref="HostKeyTrust"/>), authentication is by key only, argv is quoted with
/// <see cref="ShellQuoting"/>. Failures are <see cref="SshCommandException"/>s, transient or not; a non-zero exit
/// is a result, not an exception (callers decide; <see cref="SshResultExtensions.EnsureSuccess"/>).
/// </summary>
public sealed partial class SshNetRunner : ISshRunner, IDisposable
{
    private static readonly PropertyInfo OutputStreamProperty = RequireSettable(nameof(SshCommand.OutputStream));
    private static readonly PropertyInfo ErrorStreamProperty = RequireSettable(nameof(SshCommand.ExtendedOutputStream));

    private readonly IReadOnlyDictionary<string, SshEndpoint> _hosts;
    private readonly SshAccessOptions _options;
    private readonly HostKeyTrust _trust;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, SharedConnection> _shared = new(StringComparer.Ordinal);
    private readonly Lazy<PrivateKeyFile> _key;
    private long _connectionsOpened;
    private bool _disposed;

    public SshNetRunner(IReadOnlyDictionary<string, SshEndpoint> hosts, SshAccessOptions options, ILogger<SshNetRunner>? logger = null)
        : this(hosts, options, HostKeyTrust.From(options), logger)
    {
    }

    public SshNetRunner(IReadOnlyDictionary<string, SshEndpoint> hosts, SshAccessOptions options, HostKeyTrust trust, ILogger<SshNetRunner>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        ArgumentNullException.ThrowIfNull(options);
        _hosts = hosts;
        _options = options;
        _trust = trust;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _key = new Lazy<PrivateKeyFile>(LoadKey, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>SSH connections opened so far (shared and streaming): shows reuse and reconnects.</summary>
    public long ConnectionsOpened => Interlocked.Read(ref _connectionsOpened);

    public Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default)
        => RunSharedAsync(host, argv, stdin, null, ct);

    public Task<SshResult> RunWithStderrTapAsync(string host, IReadOnlyList<string> argv, Stream stderrTap, Stream? stdin = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(stderrTap);
        return RunSharedAsync(host, argv, stdin, stderrTap, ct);
    }

    private async Task<SshResult> RunSharedAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream? stderrTap, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var endpoint = Resolve(host);
        var commandLine = ShellQuoting.Join(argv);
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // Never cancel on the caller's thread: that is SSH.NET's receive thread, which the stop needs.
        var stdout = new CappedCaptureStream(_options.MaxCapturedStdoutBytes, () => _ = abort.CancelAsync());
        var stderr = new TailCaptureStream(_options.StderrTailBytes);

        var input = await StdinFeed.PrepareAsync(stdin, ct);
        var slot = _shared.GetOrAdd(host, _ => new SharedConnection());
        SshClient client;
        RunningCommand running;
        for (var attempt = 1; ; attempt++)
        {
            client = await SharedClientAsync(slot, host, endpoint, ct);
            try
            {
                // The tap sees stderr after the pid announcement is taken off (RemotePidStream), as the capture does.
                running = Start(client, commandLine + input.Redirection, stdout, stderrTap is null ? stderr : new TeeSinkStream(stderr, stderrTap));
                break;
            }
            catch (Exception ex) when (attempt == 1 && IsConnectionFailure(ex))
            {
                // A stale connection (dropped while idle): the start failed, so run it on a fresh one (see ADR 0005 for the gap).
                Log.SharedConnectionDropped(_logger, host, ex);
                slot.Invalidate(client);
            }
            catch (Exception ex) when (IsConnectionFailure(ex))
            {
                slot.Invalidate(client);
                throw Transient(host, endpoint, "could not start a command", ex);
            }
        }

        using (running.Command)
        {
            try
            {
                var exitCode = await CompleteAsync(host, endpoint, client, running, input, abort, ct);
                if (stdout.Overflowed)
                {
                    throw new SshCommandException(
                        $"{argv[0]} on {host} wrote more than {stdout.Limit} bytes to stdout; the command was stopped " +
                        "(use RunStreamingAsync for bulk output)", isTransient: false);
                }

                return new SshResult(exitCode, stdout.Text(), stderr.Text());
            }
            catch (SshCommandException ex) when (ex.IsTransient)
            {
                if (!client.IsConnected)
                {
                    slot.Invalidate(client);
                }

                throw;
            }
        }
    }

    public async Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(stdout);
        var endpoint = Resolve(host);
        var commandLine = ShellQuoting.Join(argv);
        using var client = await ConnectAsync(host, endpoint, ct);
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var stderr = new TailCaptureStream(_options.StderrTailBytes);
        var buffer = Math.Max(64 * 1024, _options.StreamBufferBytes);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: buffer, resumeWriterThreshold: buffer / 2, useSynchronizationContext: false));
        var sink = new BlockingPipeSinkStream(pipe.Writer, abort.Token);

        var input = await StdinFeed.PrepareAsync(stdin, ct);
        var pumping = PumpAsync(pipe.Reader, stdout, abort);
        RunningCommand running;
        try
        {
            running = Start(client, commandLine + input.Redirection, sink, stderr);
        }
        catch (Exception ex)
        {
            sink.Dispose();
            await pumping.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (IsConnectionFailure(ex))
            {
                throw Transient(host, endpoint, "could not start a command", ex);
            }

            throw;
        }

        using (running.Command)
        {
            int exitCode;
            try
            {
                exitCode = await CompleteAsync(host, endpoint, client, running, input, abort, ct);
            }
            finally
            {
                sink.Dispose();
            }

            await pumping; // rethrows the consumer's own failure (its stream, its exception)
            return new SshResult(exitCode, "", stderr.Text());
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var slot in _shared.Values)
        {
            slot.Dispose();
        }

        if (_key.IsValueCreated)
        {
            _key.Value.Dispose();
        }
    }

    private SshEndpoint Resolve(string host) =>
        _hosts.TryGetValue(host, out var endpoint)
            ? endpoint
            : throw new SshCommandException(
                $"host '{host}' has no SSH address: add `ssh: root@<address>[:port]` to its entry in fleet.yaml", isTransient: false);

    private static RunningCommand Start(SshClient client, string commandLine, Stream stdout, Stream stderr)
    {
        // The pid announcement lets a cancelled or timed-out command be killed (see RemotePidStream).
        var command = client.CreateCommand("echo $$ >&2; exec " + commandLine);
        try
        {
            var pid = new RemotePidStream(stderr);
            // SSH.NET buffers output in unbounded PipeStreams; ours bound it (see BlockingPipeSinkStream).
            OutputStreamProperty.SetValue(command, stdout);
            ErrorStreamProperty.SetValue(command, pid);
            return new RunningCommand(command, command.ExecuteAsync(), pid, commandLine);
        }
        catch
        {
            command.Dispose();
            throw;
        }
    }

    private sealed record RunningCommand(SshCommand Command, Task Execution, RemotePidStream Pid, string CommandLine);

    /// <summary>Feeds stdin, waits for the exit (or stops the program on abort), and turns SSH.NET's outcomes into ours.</summary>
    private async Task<int> CompleteAsync(
        string host, SshEndpoint endpoint, SshClient client, RunningCommand running, StdinFeed stdin, CancellationTokenSource abort, CancellationToken ct)
    {
        using var timeout = _options.CommandTimeout is { } limit ? new CancellationTokenSource(limit) : null;
        using var onTimeout = timeout?.Token.Register(abort.Cancel);
        using var stdinDone = CancellationTokenSource.CreateLinkedTokenSource(abort.Token);
        var feeding = stdin.FeedAsync(running.Command, stdinDone.Token);
        var command = running.Command;
        try
        {
            try
            {
                await running.Execution.WaitAsync(abort.Token);
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested && !running.Execution.IsCompleted)
            {
                // Leave whatever thread cancelled (it may be SSH.NET's receive thread, which the stop needs).
                await Task.Yield();
                await StopAsync(host, client, running);
            }

            ct.ThrowIfCancellationRequested();
            if (timeout?.IsCancellationRequested == true)
            {
                throw new SshCommandException(
                    $"{FirstWord(running.CommandLine)} on {host} ({endpoint}) did not finish within {_options.CommandTimeout}; it was killed",
                    isTransient: true);
            }

            if (abort.IsCancellationRequested)
            {
                return -1; // stopped by the runner itself (stdout over its limit, consumer failed): the caller reports it
            }

            await running.Execution;
        }
        catch (Exception ex) when (IsConnectionFailure(ex) || ex is SshOperationTimeoutException)
        {
            throw Transient(host, endpoint, "the connection was lost while the command ran", ex);
        }
        finally
        {
            await stdinDone.CancelAsync();
            await feeding.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (command.ExitStatus is { } status)
        {
            return status;
        }

        if (command.ExitSignal is { } signal)
        {
            return 128 + SignalNumber(signal);
        }

        throw new SshCommandException(
            $"{FirstWord(running.CommandLine)} on {host} ({endpoint}) ended without an exit status (connection closed?)", isTransient: true);
    }

    /// <summary>Kills the remote command's process group (TERM, then KILL after 5 s) over a second channel.</summary>
    private async Task StopAsync(string host, SshClient client, RunningCommand running)
    {
        try
        {
            if (await running.Pid.Pid.WaitAsync(TimeSpan.FromSeconds(5)) is { } pid && client.IsConnected)
            {
                var p = pid.ToString(CultureInfo.InvariantCulture);
                using var kill = client.CreateCommand(
                    $"kill -TERM -- -{p} 2>/dev/null || kill -TERM {p} 2>/dev/null; i=0; " +
                    $"while [ $i -lt 50 ] && kill -0 {p} 2>/dev/null; do sleep 0.1; i=$((i+1)); done; " +
                    $"if kill -0 {p} 2>/dev/null; then kill -KILL -- -{p} 2>/dev/null || kill -KILL {p}; fi; true");
                await kill.ExecuteAsync().WaitAsync(TimeSpan.FromSeconds(15));
            }

            // The program is gone: its channel closes once sshd has sent the rest of its output.
            await running.Execution.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        catch (Exception ex) when (ex is TimeoutException || IsConnectionFailure(ex) || ex is SshException)
        {
            Log.StopFailed(_logger, host, ex);
        }
    }

    private static async Task PumpAsync(PipeReader reader, Stream stdout, CancellationTokenSource abort)
    {
        await Task.Yield();
        try
        {
            await reader.CopyToAsync(stdout, abort.Token);
        }
        catch
        {
            // The consumer failed: stop the remote program too, then report the consumer's error.
            await abort.CancelAsync();
            throw;
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private async Task<SshClient> SharedClientAsync(SharedConnection slot, string host, SshEndpoint endpoint, CancellationToken ct)
    {
        if (slot.Current is { IsConnected: true } current)
        {
            return current;
        }

        await slot.Gate.WaitAsync(ct);
        try
        {
            if (slot.Current is { IsConnected: true } other)
            {
                return other;
            }

            slot.Current?.Dispose();
            slot.Current = null;
            slot.Current = await ConnectAsync(host, endpoint, ct);
            return slot.Current;
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    private async Task<SshClient> ConnectAsync(string host, SshEndpoint endpoint, CancellationToken ct)
    {
        var info = new ConnectionInfo(endpoint.Address, endpoint.Port, endpoint.User, new PrivateKeyAuthenticationMethod(endpoint.User, Key()))
        {
            Timeout = _options.ConnectTimeout,
        };
        RestrictHostKeyAlgorithms(info, _trust.KnownKeyTypes(endpoint));
        var client = new SshClient(info) { KeepAliveInterval = _options.KeepAliveInterval };
        HostKeyDecision? decision = null;
        client.HostKeyReceived += (_, e) =>
        {
            decision = _trust.Check(host, endpoint, e.HostKeyName, e.HostKey);
            e.CanTrust = decision.Trusted;
        };

        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        connectTimeout.CancelAfter(_options.ConnectTimeout);
        try
        {
            await client.ConnectAsync(connectTimeout.Token);
        }
        catch (Exception ex)
        {
            client.Dispose();
            if (decision is { Trusted: false })
            {
                Log.HostKeyRefused(_logger, host, endpoint, decision.Fingerprint);
                throw new SshCommandException(decision.Message, isTransient: false);
            }

            ct.ThrowIfCancellationRequested();
            throw ConnectFailure(host, endpoint, ex);
        }

        Interlocked.Increment(ref _connectionsOpened);
        Log.Connected(_logger, host, endpoint, decision?.Fingerprint ?? "?");
        return client;
    }

    private SshCommandException ConnectFailure(string host, SshEndpoint endpoint, Exception ex)
    {
        var target = $"{host} ({endpoint})";
        return ex switch
        {
            SshAuthenticationException => new SshCommandException(
                $"host {target} refused key authentication as {endpoint.User} with {_options.IdentityFile}: add its public key " +
                $"to ~{endpoint.User}/.ssh/authorized_keys on the host, or set {SshAccessOptions.IdentityFileVariable} to the right key",
                isTransient: false, innerException: ex),
            SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData } => new SshCommandException(
                $"host {target}: the address does not resolve; fix `ssh:` of {host} in fleet.yaml", isTransient: false, innerException: ex),
            SocketException socket => new SshCommandException(
                $"cannot connect to {target}: {socket.SocketErrorCode}", isTransient: true, innerException: ex),
            OperationCanceledException or SshOperationTimeoutException => new SshCommandException(
                $"connecting to {target} timed out after {_options.ConnectTimeout}", isTransient: true, innerException: ex),
            SshConnectionException
            {
                DisconnectReason: DisconnectReason.ProtocolVersionNotSupported or DisconnectReason.KeyExchangeFailed
                or DisconnectReason.NoMoreAuthenticationMethodsAvailable or DisconnectReason.IllegalUserName
            } => new SshCommandException(
                $"host {target} and Taquin cannot agree on SSH ({((SshConnectionException)ex).DisconnectReason})", isTransient: false, innerException: ex),
            SshConnectionException or IOException => Transient(host, endpoint, "the connection failed", ex),
            SshCommandException command => command,
            _ => new SshCommandException($"cannot connect to {target}: {ex.GetType().Name}", isTransient: false, innerException: ex),
        };
    }

    private PrivateKeyFile Key()
    {
        try
        {
            return _key.Value;
        }
        catch (Exception ex) when (ex is not SshCommandException)
        {
            throw new SshCommandException($"cannot use the SSH identity file {_options.IdentityFile}: {ex.GetType().Name}", isTransient: false);
        }
    }

    private PrivateKeyFile LoadKey()
    {
        var file = _options.IdentityFile ?? throw new SshCommandException(
            $"no SSH identity file: set {SshAccessOptions.IdentityFileVariable} (or --ssh-key) to the private key the fleet's hosts accept",
            isTransient: false);
        if (!File.Exists(file))
        {
            throw new SshCommandException($"SSH identity file {file} does not exist ({SshAccessOptions.IdentityFileVariable})", isTransient: false);
        }

        try
        {
            return _options.Passphrase is null ? new PrivateKeyFile(file) : new PrivateKeyFile(file, _options.Passphrase);
        }
        catch (SshPassPhraseNullOrEmptyException)
        {
            throw new SshCommandException(
                $"SSH identity file {file} is encrypted: set {SshAccessOptions.PassphraseVariable}", isTransient: false);
        }
        catch (Exception ex) when (ex is SshException or InvalidOperationException or ArgumentException or FormatException or NotSupportedException)
        {
            // The library's message may quote key material; name only the file and the kind of failure.
            throw new SshCommandException(
                $"SSH identity file {file} cannot be read as a private key (wrong passphrase or format: {ex.GetType().Name})", isTransient: false);
        }
    }

    /// <summary>Offer only the host key algorithms known_hosts has keys for, so the server cannot pick an unknown type.</summary>
    private static void RestrictHostKeyAlgorithms(ConnectionInfo info, IReadOnlySet<string> knownTypes)
    {
        if (knownTypes.Count == 0)
        {
            return;
        }

        var algorithmsOf = (string algorithm) => algorithm switch
        {
            "rsa-sha2-512" or "rsa-sha2-256" => "ssh-rsa",
            _ => algorithm,
        };
        var unwanted = info.HostKeyAlgorithms.Keys.Where(a => !knownTypes.Contains(algorithmsOf(a))).ToList();
        if (unwanted.Count < info.HostKeyAlgorithms.Count)
        {
            foreach (var algorithm in unwanted)
            {
                info.HostKeyAlgorithms.Remove(algorithm);
            }
        }
    }

    private static bool IsConnectionFailure(Exception ex) =>
        ex is SshConnectionException or SocketException or IOException or ObjectDisposedException
        || (ex is SshException && ex.InnerException is SocketException or IOException);

    private static SshCommandException Transient(string host, SshEndpoint endpoint, string what, Exception ex) =>
        new($"{what} on {host} ({endpoint}): {ex.GetType().Name}: {ex.Message}", isTransient: true, innerException: ex);

    private static string FirstWord(string commandLine)
    {
        var space = commandLine.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? commandLine : commandLine[..space];
    }

    private static int SignalNumber(string signal) => signal switch
    {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "ABRT" => 6,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => 0,
    };

    private static PropertyInfo RequireSettable(string name)
    {
        var property = typeof(SshCommand).GetProperty(name);
        return property?.GetSetMethod(nonPublic: true) is not null && property.PropertyType == typeof(Stream)
            ? property
            : throw new InvalidOperationException(
                $"this SSH.NET version no longer lets SshCommand.{name} be replaced; SshNetRunner needs it for bounded output buffers");
    }

    private sealed class SharedConnection : IDisposable
    {
        private SshClient? _current;

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public SshClient? Current
        {
            get => Volatile.Read(ref _current);
            set => Volatile.Write(ref _current, value);
        }

        /// <summary>Forgets <paramref name="client"/> (only if it is still the current one) and closes it.</summary>
        public void Invalidate(SshClient client)
        {
            Interlocked.CompareExchange(ref _current, null, client);
            client.Dispose();
        }

        public void Dispose()
        {
            Current?.Dispose();
            Gate.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "SSH connected to {Host} ({Endpoint}), host key {Fingerprint}")]
        public static partial void Connected(ILogger logger, string host, SshEndpoint endpoint, string fingerprint);

        [LoggerMessage(Level = LogLevel.Warning, Message = "SSH host key of {Host} ({Endpoint}) refused: {Fingerprint}")]
        public static partial void HostKeyRefused(ILogger logger, string host, SshEndpoint endpoint, string fingerprint);

        [LoggerMessage(Level = LogLevel.Information, Message = "SSH connection to {Host} dropped; reconnecting")]
        public static partial void SharedConnectionDropped(ILogger logger, string host, Exception reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not stop a remote command on {Host}; its channel is closed")]
        public static partial void StopFailed(ILogger logger, string host, Exception reason);
    }
}

public static class SshResultExtensions
{
    /// <summary>Throws a permanent <see cref="SshCommandException"/> with the exit code and stderr when the command failed.</summary>
    public static SshResult EnsureSuccess(this SshResult result, string host, IReadOnlyList<string> argv)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(argv);
        return result.Succeeded
            ? result
            : throw new SshCommandException(
                $"{string.Join(' ', argv.Take(3))}{(argv.Count > 3 ? " ..." : "")} on {host} exited with {result.ExitCode}: {result.Stderr.Trim()}",
                isTransient: false, result.ExitCode);
    }
}
