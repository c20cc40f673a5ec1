using System.Text;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ssh;

namespace Taquin.Executors.Tests.Ssh;

public sealed class RemotePidStreamTests
{
    [Fact]
    public async Task The_first_stderr_line_is_taken_as_the_pid_even_when_split_across_writes()
    {
        var stderr = new TailCaptureStream(1024);
        using var stream = new RemotePidStream(stderr);

        stream.Write("12"u8);
        stream.Write("34\nreal "u8);
        stream.Write("error\n"u8);

        Assert.Equal(1234, await stream.Pid);
        Assert.Equal("real error\n", stderr.Text());
    }

    [Fact]
    public async Task A_first_line_that_is_not_a_pid_stays_in_stderr()
    {
        var stderr = new TailCaptureStream(1024);
        using var stream = new RemotePidStream(stderr);

        stream.Write("bash: warning: setlocale\n1234\n"u8);

        Assert.Null(await stream.Pid);
        Assert.Equal("bash: warning: setlocale\n1234\n", stderr.Text());
    }
}

public sealed class OutputCaptureStreamTests
{
    [Fact]
    public void The_stderr_tail_keeps_the_last_bytes_and_says_how_many_were_dropped()
    {
        var tail = new TailCaptureStream(8);

        tail.Write("0123456789"u8);
        tail.Write("ab"u8);
        tail.Write(Encoding.ASCII.GetBytes(new string('x', 20) + "THE END!"));

        Assert.Equal(40, tail.BytesWritten);
        Assert.Equal("[first 32 bytes of stderr dropped]\nTHE END!", tail.Text());
    }

    [Fact]
    public void The_capped_capture_stops_at_its_limit_and_reports_the_overflow_once()
    {
        var overflows = 0;
        var capture = new CappedCaptureStream(10, () => overflows++);

        capture.Write("12345"u8);
        capture.Write("67890"u8);
        capture.Write("x"u8);
        capture.Write("y"u8);

        Assert.True(capture.Overflowed);
        Assert.Equal(1, overflows);
        Assert.Equal("1234567890", capture.Text());
    }
}
