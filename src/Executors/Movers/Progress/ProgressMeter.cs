namespace Taquin.Executors.Movers.Progress;

/// <summary>Turns bytes counted in the data path into throttled progress reports (the relayed paths).</summary>
internal sealed class ProgressMeter(TimeProvider time, long? total, TimeSpan interval, Func<CopyProgress, Task>? sink)
{
    private readonly long _started = time.GetTimestamp();
    private long _lastReport = time.GetTimestamp();

    public long Bytes { get; private set; }

    public async ValueTask AddAsync(long bytes)
    {
        Bytes += bytes;
        if (sink is not null && time.GetElapsedTime(_lastReport) >= interval)
        {
            await ReportAsync(force: true);
        }
    }

    public async ValueTask ReportAsync(bool force)
    {
        _lastReport = time.GetTimestamp();
        if (sink is not null && force)
        {
            var elapsed = time.GetElapsedTime(_started);
            await sink(new CopyProgress(Bytes, total, elapsed.TotalSeconds > 0 ? Bytes / elapsed.TotalSeconds : 0, elapsed));
        }
    }
}
