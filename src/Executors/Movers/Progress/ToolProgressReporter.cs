using System.Threading.Channels;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Movers.Progress;

/// <summary>
/// Live progress of a copy that runs entirely on remote hosts (direct, target-client, <c>qemu-img convert</c>): the
/// remote tool's own progress output arrives through <see cref="Tap"/> (a runner's stderr or stdout tap, see
/// <see cref="ISshRunner.RunWithStderrTapAsync"/>), is parsed there, and a reporting loop turns the newest reading into
/// a <see cref="CopyProgress"/> at most every interval (never more often, and never dropping the newest reading).
/// Nothing is added to the data path. A tool that prints nothing gives no report and no error.
/// </summary>
internal sealed class ToolProgressReporter : IAsyncDisposable
{
    private readonly ToolProgressParser _parser;
    private readonly Func<ToolProgressReading, long> _toBytes;
    private readonly long _total;
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly TimeSpan _interval;
    private readonly Func<CopyProgress, Task>? _sink;
    private readonly Lock _gate = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private ToolProgressReading? _latest;
    private int _reports;

    /// <param name="toBytes">Bytes done for a reading (percent × the planned total, or the extent map); clamped to [0, total].</param>
    /// <param name="startedTimestamp">When the copy started (<see cref="TimeProvider.GetTimestamp"/>): rate and elapsed count from it.</param>
    public ToolProgressReporter(ToolProgressFormat format, long total, Func<ToolProgressReading, long> toBytes, TimeProvider time, long startedTimestamp, TimeSpan interval, Func<CopyProgress, Task>? sink)
    {
        _parser = new ToolProgressParser(format);
        _toBytes = toBytes;
        _total = total;
        _time = time;
        _started = startedTimestamp;
        _interval = interval;
        _sink = sink;
        Tap = new TapStream(this);
        _loop = sink is null ? Task.CompletedTask : Task.Run(() => LoopAsync(_stop.Token));
    }

    /// <summary>Percent of a planned total (qemu-img, or rbd without an extent map).</summary>
    public static Func<ToolProgressReading, long> PercentOf(long total)
        => r => r.Bytes ?? (long)((r.Percent ?? 0) / 100 * total);

    /// <summary>Where the tool's output goes: written on the runner's thread, never blocks.</summary>
    public Stream Tap { get; }

    /// <summary>Progress reports made so far.</summary>
    public int Reports => Volatile.Read(ref _reports);

    /// <summary>Readings the tool printed so far (0: it prints none, or none arrived yet).</summary>
    public int Readings
    {
        get
        {
            lock (_gate)
            {
                return _parser.Readings;
            }
        }
    }

    /// <summary>Ends the reporting; a failure of the progress sink (the journal) is rethrown here.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private void Feed(ReadOnlySpan<byte> output)
    {
        lock (_gate)
        {
            if (_parser.Feed(output))
            {
                _latest = _parser.Latest;
                _wake.Writer.TryWrite(true);
            }
        }
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        long? lastReport = null;
        var lastBytes = -1L;
        while (await _wake.Reader.WaitToReadAsync(ct))
        {
            _wake.Reader.TryRead(out _);
            if (lastReport is { } at && _time.GetElapsedTime(at) is var since && since < _interval)
            {
                // Too soon: wait out the interval, then report the newest reading (later ones replace this one).
                await Task.Delay(_interval - since, _time, ct);
                _wake.Reader.TryRead(out _);
            }

            ToolProgressReading reading;
            lock (_gate)
            {
                reading = _latest ?? default;
            }

            var bytes = Math.Clamp(_toBytes(reading), 0, _total);
            if (bytes == lastBytes)
            {
                continue;
            }

            (lastBytes, lastReport) = (bytes, _time.GetTimestamp());
            var elapsed = _time.GetElapsedTime(_started);
            await _sink!(new CopyProgress(bytes, _total, elapsed.TotalSeconds > 0 ? bytes / elapsed.TotalSeconds : 0, elapsed));
            Interlocked.Increment(ref _reports);
        }
    }

    private sealed class TapStream(ToolProgressReporter owner) : OutputSinkStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => owner.Feed(buffer);
    }
}
