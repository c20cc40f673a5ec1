using Taquin.Executors.Simulation;

namespace Taquin.Executors.Adapters;

public static class TimeProviderExtensions
{
    /// <summary>
    /// Waits <paramref name="delay"/> on the given clock. The simulated clock moves its own time forward instead
    /// of sleeping, so a simulation of hours runs in milliseconds with the same code.
    /// </summary>
    public static Task WaitAsync(this TimeProvider time, TimeSpan delay, CancellationToken ct = default)
    {
        if (delay <= TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }

        if (time is SimulatedTimeProvider simulated)
        {
            simulated.Advance(delay);
            return Task.CompletedTask;
        }

        return Task.Delay(delay, time, ct);
    }
}
