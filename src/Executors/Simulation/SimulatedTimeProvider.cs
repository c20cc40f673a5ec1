namespace Taquin.Executors.Simulation;

/// <summary>
/// Accelerated time for the simulation: nothing sleeps, waiting moves the clock forward. Each simulated step runs
/// in its own <see cref="Lane"/> (its own "now", started at the time the step may start), so steps that would run
/// side by side on real hosts are simulated one after the other and still get the right start and end times.
/// Timers never fire: timeouts are checked by the simulated adapters against <see cref="GetUtcNow"/>.
/// </summary>
public sealed class SimulatedTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly AsyncLocal<Lane?> _lane = new();
    private readonly Lock _gate = new();
    private DateTimeOffset _global = start;

    /// <summary>The "now" of one simulated worker; mutable so time spent in awaited calls is seen by the caller.</summary>
    public sealed class Lane(DateTimeOffset now)
    {
        public DateTimeOffset Now { get; internal set; } = now;
    }

    public override DateTimeOffset GetUtcNow()
    {
        var lane = _lane.Value;
        if (lane is not null)
        {
            return lane.Now;
        }

        lock (_gate)
        {
            return _global;
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new DormantTimer();

    /// <summary>Moves the current lane's time (or the global time outside a lane) forward.</summary>
    public void Advance(TimeSpan delay)
    {
        var lane = _lane.Value;
        if (lane is not null)
        {
            lane.Now += delay;
            return;
        }

        lock (_gate)
        {
            _global += delay;
        }
    }

    /// <summary>Moves the global time to <paramref name="to"/> when it is later.</summary>
    public void AdvanceGlobalTo(DateTimeOffset to)
    {
        lock (_gate)
        {
            if (to > _global)
            {
                _global = to;
            }
        }
    }

    /// <summary>Runs the caller's flow (and everything it awaits) in a lane starting at <paramref name="at"/>.</summary>
    public Lane EnterLane(DateTimeOffset at)
    {
        var lane = new Lane(at);
        _lane.Value = lane;
        return lane;
    }

    public void LeaveLane() => _lane.Value = null;

    private sealed class DormantTimer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
