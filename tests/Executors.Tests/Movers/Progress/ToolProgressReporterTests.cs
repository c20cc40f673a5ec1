using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Taquin.Executors.Movers;
using Taquin.Executors.Movers.Progress;

namespace Taquin.Executors.Tests.Movers.Progress;

public sealed class ToolProgressReporterTests
{
    private const long Total = 1000;
    private readonly FakeTimeProvider _time = new();
    private readonly Channel<CopyProgress> _reports = Channel.CreateUnbounded<CopyProgress>();

    private ToolProgressReporter Reporter(ToolProgressFormat format, TimeSpan interval) =>
        new(format, Total, ToolProgressReporter.PercentOf(Total), _time, _time.GetTimestamp(), interval, p => _reports.Writer.WriteAsync(p).AsTask());

    private static void Print(ToolProgressReporter reporter, string output) => reporter.Tap.Write(Encoding.ASCII.GetBytes(output));

    private Task<CopyProgress> NextReportAsync() => _reports.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

    [Fact]
    public async Task Reports_come_at_most_every_interval_and_carry_the_newest_reading()
    {
        await using var reporter = Reporter(ToolProgressFormat.RbdExport, TimeSpan.FromSeconds(5));
        _time.Advance(TimeSpan.FromSeconds(2));

        Print(reporter, "\rExporting image: 10% complete...");
        var first = await NextReportAsync();
        Print(reporter, "\rExporting image: 20% complete...");
        Print(reporter, "\rExporting image: 30% complete...");
        _time.Advance(TimeSpan.FromSeconds(5));
        var second = await NextReportAsync();
        await reporter.StopAsync();

        Assert.Equal(new CopyProgress(100, Total, 50, TimeSpan.FromSeconds(2)), first);
        Assert.Equal(300, second.Bytes); // 20 % fell inside the interval: the newer 30 % replaced it
        Assert.Equal(TimeSpan.FromSeconds(7), second.Elapsed);
        Assert.False(_reports.Reader.TryRead(out _));
        Assert.Equal(2, reporter.Reports);
        Assert.Equal(3, reporter.Readings);
    }

    [Fact]
    public async Task A_tool_that_prints_no_progress_gives_no_report_and_no_error()
    {
        var reporter = Reporter(ToolProgressFormat.QemuImg, TimeSpan.Zero);
        Print(reporter, "qemu-img: warning: some unrelated notice\n");

        await reporter.StopAsync();
        await reporter.DisposeAsync();

        Assert.Equal(0, reporter.Readings);
        Assert.False(_reports.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Bytes_never_exceed_the_planned_total()
    {
        // dd counts the file it reads; a file that grew since it was measured must not report more than planned.
        await using var reporter = Reporter(ToolProgressFormat.DdBytes, TimeSpan.Zero);

        Print(reporter, "\r5000 bytes (5 kB, 4.9 KiB) copied, 1 s, 5 kB/s");

        Assert.Equal(Total, (await NextReportAsync()).Bytes);
    }

    [Fact]
    public async Task A_failing_progress_sink_surfaces_when_the_reporter_stops()
    {
        var called = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reporter = new ToolProgressReporter(ToolProgressFormat.RbdExport, Total, ToolProgressReporter.PercentOf(Total), _time, _time.GetTimestamp(), TimeSpan.Zero,
            _ =>
            {
                called.SetResult();
                throw new IOException("journal is gone");
            });
        Print(reporter, "\rExporting image: 10% complete...");
        await called.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var error = await Assert.ThrowsAsync<IOException>(reporter.StopAsync);

        Assert.Equal("journal is gone", error.Message);
        await reporter.DisposeAsync();
    }
}
