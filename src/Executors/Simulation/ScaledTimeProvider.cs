namespace Taquin.Executors.Simulation;

/// <summary>
/// Real time sped up: <c>now = simulatedEpoch + (real elapsed since realEpoch) × scale</c>, and timers fire after
/// <c>due / scale</c> of real time. Used by durable simulated runs (`taquin run --simulate`): steps genuinely take
/// time, so a worker can be killed in the middle of one, and the epochs are kept with the twin so the next process
/// continues the same simulated clock.
/// </summary>
public sealed class ScaledTimeProvider : TimeProvider
{
    private readonly TimeProvider _real;

    public ScaledTimeProvider(DateTimeOffset simulatedEpoch, DateTimeOffset realEpoch, double scale, TimeProvider? real = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(scale, 0);
        SimulatedEpoch = simulatedEpoch;
        RealEpoch = realEpoch;
        Scale = scale;
        _real = real ?? System;
    }

    public DateTimeOffset SimulatedEpoch { get; }
    public DateTimeOffset RealEpoch { get; }
    /// <summary>Simulated seconds per real second.</summary>
    public double Scale { get; }

    public override DateTimeOffset GetUtcNow() =>
        SimulatedEpoch + TimeSpan.FromTicks((long)((_real.GetUtcNow() - RealEpoch).Ticks * Scale));

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    /// <summary>The same simulated "now", at another speed from here on.</summary>
    public ScaledTimeProvider WithScale(double scale) => new(GetUtcNow(), _real.GetUtcNow(), scale, _real);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        _real.CreateTimer(callback, state, Shrink(dueTime), Shrink(period));

    private TimeSpan Shrink(TimeSpan span) =>
        span == Timeout.InfiniteTimeSpan || span <= TimeSpan.Zero ? span : TimeSpan.FromTicks(Math.Max(1, (long)(span.Ticks / Scale)));
}
