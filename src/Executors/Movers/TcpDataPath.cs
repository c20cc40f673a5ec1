using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ssh;

namespace Taquin.Executors.Movers;

/// <summary>
/// Settings of the <see cref="DataPath.DirectTcp"/> data path (access file <c>movers.tcp</c>): the bytes cross a trusted
/// migration network as plain TCP (<c>socat</c> at both ends), the control stays on SSH. See docs/adr/0018.
/// </summary>
public sealed record TcpDataPathOptions
{
    public static TcpDataPathOptions Default { get; } = new();

    /// <summary>Migration-network address per fleet host: targets listen on theirs, sources connect from theirs.</summary>
    public IReadOnlyDictionary<string, string> Addresses { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The address of a host without an entry in <see cref="Addresses"/> (null: such a host cannot use the path).</summary>
    public string? DefaultAddress { get; init; }

    public int FirstPort { get; init; } = 60000;

    public int LastPort { get; init; } = 60050;

    /// <summary>The listener gives up when no sender connected within this time.</summary>
    public TimeSpan AcceptTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The sender gives up connecting after this time.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The data connection is probed (TCP keepalive, 3 probes 10 s apart) once idle for this long: a vanished peer never
    /// closes its socket, and with <c>nofork</c> (docs/adr/0024) no socat stays in the data path to time the transfer out.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>The socat program on the hosts (a name on their PATH, or a path).</summary>
    public string Socat { get; init; } = "socat";

    /// <summary>The listener accepts only the source host's address when the source has one (socat <c>range=</c>).</summary>
    public bool RestrictToSource { get; init; } = true;

    /// <summary>The migration address of <paramref name="host"/>, or null.</summary>
    public string? AddressOf(string host) => Addresses.TryGetValue(host, out var address) ? address : DefaultAddress;

    /// <summary>Parses <c>60000-60050</c> (or one port); null and a reason when it is not a range of TCP ports.</summary>
    public static ((int First, int Last)? Range, string? Error) ParsePorts(string? text)
    {
        var parts = (text ?? "").Split('-', StringSplitOptions.TrimEntries);
        if (parts.Length is < 1 or > 2 || !parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            return (null, "not a port or a range FIRST-LAST");
        }

        var first = int.Parse(parts[0], CultureInfo.InvariantCulture);
        var last = int.Parse(parts[^1], CultureInfo.InvariantCulture);
        return first is < 1024 or > 65535 || last is < 1024 or > 65535 ? (null, "ports must be within 1024-65535 (no privileged ports)")
            : last < first ? (null, "the range ends before it starts")
            : ((first, last), null);
    }

    /// <summary>True when <paramref name="text"/> is a literal IPv4 or IPv6 address (no names: the listener binds it).</summary>
    public static bool IsAddress(string? text) => IPAddress.TryParse(text, out _);
}

/// <summary>
/// One copy over plain TCP: a receiver (socat listening on the target's migration address, piped into the target
/// command; or the orchestrator itself for raw volumes on its own machine) and a sender (the source command piped into
/// socat connecting to it), both started over SSH. The receiver chooses its port by binding (atomic: parallel copies
/// never share one), accepts one connection only, and reports the port; on any failure both ends' process groups are
/// killed, so no listener outlives its copy.
/// </summary>
internal sealed class TcpPipe(ISshRunner ssh, MoverOptions options)
{
    /// <summary>Receiver exit: socat is not installed (as a shell's "command not found").</summary>
    public const int ToolMissing = 127;

    /// <summary>Receiver exit: every port of the range is taken.</summary>
    public const int NoFreePort = 75;

    /// <summary>Receiver exit: no sender connected within the accept timeout.</summary>
    public const int AcceptTimedOut = 124;

    private TcpDataPathOptions Tcp => options.Tcp;

    /// <summary>
    /// <paramref name="sourceArgv"/>'s stdout on <paramref name="sourceHost"/> becomes <paramref name="targetArgv"/>'s stdin
    /// on <paramref name="targetHost"/>, over TCP. Both commands go over the hosts' shared SSH connections: a streamed
    /// command would open a connection of its own, a second or so of key exchange on a loaded host, twice per copy. The
    /// receiver announces its port on stderr (read live through the runner's stderr tap, so the sender starts as soon as
    /// the listener is bound). <paramref name="ready"/>, when given, runs while the receiver starts (the caller's own
    /// questions overlap the listener's start-up) and decides whether to send, and where the sender's stderr goes as it
    /// arrives (the source tool's own progress). False when <paramref name="ready"/> said not to send (the receiver is
    /// killed).
    /// </summary>
    public async Task<bool> RunAsync(string sourceHost, IReadOnlyList<string> sourceArgv, string targetHost, IReadOnlyList<string> targetArgv, string what, CancellationToken ct, Func<Task<SenderStart>>? ready = null)
    {
        var (listen, from) = Addresses(Tcp, sourceHost, targetHost, what);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var (receiverControl, senderControl) = (ControlFile(), ControlFile());
        var announcement = new ListeningTap();
        var receiver = ssh.RunWithStderrTapAsync(targetHost, ["bash", "-c", ReceiverScript(targetHost, listen, from, targetArgv), "taquin-tcp-receiver", receiverControl], announcement, ct: cts.Token);
        Task<SshResult>? sender = null;
        int? receiverGroup = null;
        var done = false;
        try
        {
            var start = ready is null ? new SenderStart(true, null) : await ready();
            if (await Task.WhenAny(announcement.Listening, receiver) == receiver && !announcement.Listening.IsCompleted)
            {
                throw Failure(await receiver, $"{what}: the receiver on {targetHost}");
            }

            var (port, group) = await announcement.Listening;
            receiverGroup = group;
            if (!start.Send)
            {
                return false;
            }

            var senderArgv = new[] { "bash", "-c", SenderScript(sourceHost, from, listen, port, sourceArgv), "taquin-tcp-sender", senderControl };
            sender = start.StderrTap is null
                ? ssh.RunAsync(sourceHost, senderArgv, ct: cts.Token)
                : ssh.RunWithStderrTapAsync(sourceHost, senderArgv, start.StderrTap, ct: cts.Token);
            // Whichever end fails first fails the copy: the other end is killed below rather than waited for.
            var first = await Task.WhenAny(sender, receiver);
            var (firstName, otherName, other) = first == sender ? ($"the sender on {sourceHost}", $"the receiver on {targetHost}:{port}", receiver) : ($"the receiver on {targetHost}:{port}", $"the sender on {sourceHost}", sender);
            var result = await first;
            if (!result.Succeeded)
            {
                throw Failure(result, $"{what}: {firstName}");
            }

            result = await other;
            if (!result.Succeeded)
            {
                throw Failure(result, $"{what}: {otherName}");
            }

            done = true;
            return true;
        }
        finally
        {
            if (!done)
            {
                // Failed or cancelled before the receiver announced itself (e.g. the caller's questions failed): it may be
                // about to listen, so wait for its announcement (or its end) to know the group to kill.
                if (receiverGroup is null)
                {
                    await Task.WhenAny(announcement.Listening, receiver, Task.Delay(TimeSpan.FromSeconds(10), CancellationToken.None));
                    receiverGroup = announcement.Listening.IsCompletedSuccessfully ? announcement.Listening.Result.Group : null;
                }

                await KillAsync(targetHost, receiverControl, receiverGroup);
                await KillAsync(sourceHost, senderControl, null);
                await cts.CancelAsync();
                await Settle(receiver);
                await Settle(sender);
            }
        }
    }

    /// <summary>
    /// The orchestrator is the receiver (a raw volume on its own machine): it listens on <paramref name="targetHost"/>'s
    /// migration address, accepts the source's one connection and hands the stream to <paramref name="sink"/>.
    /// </summary>
    public async Task<T> ReceiveAsync<T>(string sourceHost, IReadOnlyList<string> sourceArgv, string targetHost, Func<Stream, CancellationToken, Task<T>> sink, string what, CancellationToken ct)
    {
        var (listen, from) = Addresses(Tcp, sourceHost, targetHost, what);
        var (listener, port) = Bind(listen, targetHost, what);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var senderControl = ControlFile();
        var sender = ssh.RunAsync(sourceHost, ["bash", "-c", SenderScript(sourceHost, from, listen, port, sourceArgv), "taquin-tcp-sender", senderControl], ct: cts.Token);
        var done = false;
        try
        {
            using var client = await AcceptAsync(listener, from, sender, $"{what}: {targetHost}:{port}", cts.Token);
            await using var stream = client.GetStream();
            var data = await sink(stream, cts.Token);
            var result = await sender;
            if (!result.Succeeded)
            {
                throw Failure(result, $"{what}: the sender on {sourceHost}");
            }

            done = true;
            return data;
        }
        finally
        {
            listener.Dispose();
            if (!done)
            {
                await KillAsync(sourceHost, senderControl, null);
                await cts.CancelAsync();
                await Settle(sender);
            }
        }
    }

    /// <summary>A file on a host where one end of one copy writes its process group (and the receiver its port).</summary>
    private static string ControlFile() => $"/tmp/taquin-tcp-{Guid.NewGuid():N}";

    /// <summary>Fails (not transient) when the target host has no migration address: checked before anything runs.</summary>
    public static void CheckAddresses(MoverOptions options, string sourceHost, string targetHost, string what)
        => _ = Addresses(options.Tcp, sourceHost, targetHost, what);

    private static (string Listen, string? From) Addresses(TcpDataPathOptions tcp, string sourceHost, string targetHost, string what)
    {
        var listen = tcp.AddressOf(targetHost)
            ?? throw new AdapterException($"{what}: the direct-tcp data path needs {targetHost}'s migration address (movers.tcp.addresses.{targetHost} or movers.tcp.bindAddress in the access file)", isTransient: false);
        return (listen, tcp.RestrictToSource ? tcp.AddressOf(sourceHost) : null);
    }

    private static string Seconds(TimeSpan span) => Math.Max(1, (int)Math.Ceiling(span.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    /// <summary>The ports in the order to try: from a random one through the range, wrapping (fewer collisions between copies).</summary>
    internal IReadOnlyList<int> PortOrder(int start)
    {
        var count = Tcp.LastPort - Tcp.FirstPort + 1;
        return [.. Enumerable.Range(0, count).Select(i => Tcp.FirstPort + ((start - Tcp.FirstPort + i) % count + count) % count)];
    }

    private static string SocatHost(string address) => address.Contains(':', StringComparison.Ordinal) ? $"[{address}]" : address;

    private static string Family(string address) => address.Contains(':', StringComparison.Ordinal) ? "6" : "4";

    private string MissingTool(string host, string role)
        => $"command -v {ShellQuoting.Quote(Tcp.Socat)} >/dev/null 2>&1 || {{ echo {ShellQuoting.Quote($"{Tcp.Socat} is not installed on {host} (it is the {role} of the direct-tcp data path): apt-get install socat")} >&2; exit {ToolMissing}; }}";

    /// <summary>
    /// TCP keepalive on the data connection: with <c>nofork</c> no socat stays between the tool and the socket to time
    /// out an idle transfer, so a peer that vanished is detected by the kernel instead (idle timeout, then 3 probes 10 s apart).
    /// </summary>
    private string KeepAlive => $"keepalive,keepidle={Seconds(Tcp.IdleTimeout)},keepintvl=10,keepcnt=3";

    /// <summary>
    /// Writes the tool's command line into a script that the end's socat executes in place of itself (<c>nofork</c>): the
    /// tool reads or writes the socket directly, no socat copies the bytes through a pipe (socat's own EXEC splitting
    /// does not honour shell quotes, a script file does).
    /// </summary>
    private static string ToolScript(IReadOnlyList<string> argv)
        => $"run=$(mktemp) && printf '%s\\n' {ShellQuoting.Quote("exec " + ShellQuoting.Join(argv))} > \"$run\" || exit 1";

    /// <summary>
    /// Receiver (control file in <c>$1</c>): tries the ports in turn; socat's "listening on" notice (printed after bind and
    /// listen succeed) makes it write <c>PORT GROUP</c> to the control file and announce <c>taquin-tcp listening PORT GROUP</c>
    /// on stderr; a bind refused as in use moves to the next port; ending before that writes <c>ended</c>. socat accepts
    /// one connection and then becomes the target command (<c>nofork</c>), which reads the socket itself. It runs as its
    /// own process group (<c>set -m</c>), killed as a whole on failure.
    /// </summary>
    internal string ReceiverScript(string host, string listen, string? from, IReadOnlyList<string> targetArgv)
    {
        var range = from is null ? "" : $",range={SocatHost(from)}/{(Family(from) == "4" ? 32 : 128)}";
        var socat = $"{ShellQuoting.Quote(Tcp.Socat)} -d -d -u TCP{Family(listen)}-LISTEN:$port,bind={SocatHost(listen)},accept-timeout={Seconds(Tcp.AcceptTimeout)}{range},{KeepAlive} \"EXEC:bash $run,nofork\"";
        var ports = string.Join(' ', PortOrder(Random.Shared.Next(Tcp.FirstPort, Tcp.LastPort + 1)));
        return string.Join('\n',
        [
            "ctl=$1",
            "trap '[ -n \"${listening:-}\" ] || echo ended > \"$ctl\"; rm -f \"${run:-}\"' EXIT",
            MissingTool(host, "receiver"),
            ToolScript(targetArgv),
            "set -m",
            $"for port in {ports}; do",
            "  log=$(mktemp)",
            $"  {socat} 2>\"$log\" &",
            "  job=$!",
            "  while kill -0 $job 2>/dev/null && ! grep -q 'listening on' \"$log\"; do sleep 0.01; done",
            "  if grep -q 'listening on' \"$log\"; then",
            "    listening=1; echo \"$port $job\" > \"$ctl.new\"; mv \"$ctl.new\" \"$ctl\"",
            "    echo \"taquin-tcp listening $port $job\" >&2",
            "    wait $job; rc=$?",
            $"    if grep -q 'accept: Connection timed out' \"$log\"; then echo \"no sender connected to {listen}:$port within {Seconds(Tcp.AcceptTimeout)} s\" >&2; rc={AcceptTimedOut}; fi",
            // socat's own notices out; its errors and the target command's stderr (it inherited the log) stay.
            "    grep -v -E ' socat\\[[0-9]+\\] [DIN] ' \"$log\" >&2; rm -f \"$log\" \"$ctl\"; exit $rc",
            "  fi",
            "  if grep -q 'Address already in use' \"$log\"; then rm -f \"$log\"; continue; fi",
            "  grep -E ' [EWF] ' \"$log\" >&2; rm -f \"$log\"; exit 1",
            "done",
            $"echo \"no free port in {Tcp.FirstPort}-{Tcp.LastPort} on {listen} (movers.tcp.ports)\" >&2; exit {NoFreePort}",
        ]);
    }

    /// <summary>
    /// Sender (control file in <c>$1</c>): socat connects to the receiver and then becomes the source command (<c>nofork</c>),
    /// which writes the socket itself; its own process group. Its stderr is the tool's (e.g. rbd's progress).
    /// </summary>
    internal string SenderScript(string host, string? from, string listen, int port, IReadOnlyList<string> sourceArgv)
    {
        var bind = from is null ? "" : $",bind={SocatHost(from)}";
        var socat = FormattableString.Invariant($"{ShellQuoting.Quote(Tcp.Socat)} -U TCP{Family(listen)}:{SocatHost(listen)}:{port},connect-timeout={Seconds(Tcp.ConnectTimeout)}{bind},{KeepAlive} \"EXEC:bash $run,nofork\"");
        return string.Join('\n',
        [
            "ctl=$1",
            "trap 'rm -f \"${run:-}\" \"$ctl\"' EXIT",
            MissingTool(host, "sender"),
            ToolScript(sourceArgv),
            "set -m",
            $"{socat} &",
            "job=$!",
            "echo \"0 $job\" > \"$ctl\"",
            "wait $job",
        ]);
    }

    private (TcpListener Listener, int Port) Bind(string listen, string host, string what)
    {
        var address = IPAddress.Parse(listen);
        foreach (var port in PortOrder(Random.Shared.Next(Tcp.FirstPort, Tcp.LastPort + 1)))
        {
            var listener = new TcpListener(address, port);
            try
            {
                listener.Start(1);
                return (listener, port);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                listener.Dispose();
            }
        }

        throw new AdapterException($"{what}: no free port in {Tcp.FirstPort}-{Tcp.LastPort} on {host} ({listen}; movers.tcp.ports)", isTransient: false);
    }

    /// <summary>One connection from the source's address (others are closed); fails when the sender ends first or nobody connects in time.</summary>
    private async Task<TcpClient> AcceptAsync(TcpListener listener, string? from, Task<SshResult> sender, string what, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Tcp.AcceptTimeout);
        while (true)
        {
            var accept = listener.AcceptTcpClientAsync(timeout.Token).AsTask();
            if (await Task.WhenAny(accept, sender) == sender && !accept.IsCompleted)
            {
                var result = await sender;
                throw Failure(result.Succeeded ? result with { ExitCode = 1, Stderr = "the sender ended without connecting" } : result, $"{what}: the sender");
            }

            TcpClient client;
            try
            {
                client = await accept;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new SshCommandException($"{what}: no sender connected within {Seconds(Tcp.AcceptTimeout)} s", isTransient: true);
            }

            if (from is null || client.Client.RemoteEndPoint is IPEndPoint remote && remote.Address.Equals(IPAddress.Parse(from)))
            {
                listener.Stop();
                return client;
            }

            client.Dispose();
        }
    }

    /// <summary>Non-transient: socat missing, no free port. Anything else (a killed end, a reset) restarts the copy.</summary>
    private static SshCommandException Failure(SshResult result, string what)
        => new($"{what} failed (exit {result.ExitCode}): {Progress.ToolProgressParser.WithoutProgress(result.Stderr).Trim()}", isTransient: result.ExitCode is not (ToolMissing or NoFreePort), result.ExitCode);

    /// <summary>
    /// Kills an end's process group on <paramref name="host"/>: <paramref name="group"/> when known, else the one its
    /// control file names (if it got that far); removes the control file.
    /// </summary>
    private async Task KillAsync(string host, string control, int? group)
    {
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await ssh.RunAsync(host, ["bash", "-c", KillScript, "taquin-tcp-kill", control, group?.ToString(CultureInfo.InvariantCulture) ?? ""], ct: limit.Token);
        }
        catch (Exception e) when (e is AdapterException or OperationCanceledException or IOException)
        {
            // Best effort: the copy has failed already; the ends' own timeouts stop them at the latest.
        }
    }

    private const string KillScript = """
        group=$2
        [ -n "$group" ] || read -r _ group < "$1" 2>/dev/null
        if [ "${group:-0}" -gt 1 ] 2>/dev/null; then kill -TERM -- "-$group" 2>/dev/null; fi
        rm -f "$1"
        """;

    private static async Task Settle(Task? task)
    {
        if (task is not null)
        {
            try
            {
                await task;
            }
            catch (Exception e) when (e is AdapterException or OperationCanceledException or IOException)
            {
                // Its failure is already reported, or it was killed on purpose.
            }
        }
    }
}

/// <summary>Whether the sender of a <see cref="TcpPipe"/> copy starts, and where its stderr goes as it arrives (null: nowhere live).</summary>
internal readonly record struct SenderStart(bool Send, Stream? StderrTap);

/// <summary>
/// The receiver's stderr as it arrives: completes <see cref="Listening"/> with the port and process group of the first
/// <c>taquin-tcp listening PORT GROUP</c> line. Written on the runner's reading thread: never blocks, never throws.
/// </summary>
internal sealed class ListeningTap : Stream
{
    private const string Prefix = "taquin-tcp listening ";
    private readonly TaskCompletionSource<(int Port, int Group)> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _line = new();

    public Task<(int Port, int Group)> Listening => _listening.Task;

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        foreach (var b in buffer)
        {
            if (_listening.Task.IsCompleted)
            {
                return;
            }

            if (b == (byte)'\n')
            {
                var line = _line.ToString();
                _line.Clear();
                if (line.StartsWith(Prefix, StringComparison.Ordinal) && line[Prefix.Length..].Split(' ') is [var port, var group]
                    && int.TryParse(port, CultureInfo.InvariantCulture, out var p) && int.TryParse(group, CultureInfo.InvariantCulture, out var g))
                {
                    _listening.TrySetResult((p, g));
                }
            }
            else if (_line.Length < 200)
            {
                _line.Append((char)b);
            }
        }
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
