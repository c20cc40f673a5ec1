using System.Globalization;
using System.Text;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Ssh;

/// <summary>
/// The stderr sink of a remote command started as <c>echo $$ &gt;&amp;2; exec …</c>: takes the first line (the pid,
/// which is also the process group, as sshd starts each command in its own session) and passes the rest on.
/// OpenSSH refuses "signal" requests from root sessions, so stopping a command means <c>kill</c>ing that group.
/// </summary>
internal sealed class RemotePidStream(Stream stderr) : OutputSinkStream
{
    private const int MaxAnnouncementBytes = 24;
    private readonly TaskCompletionSource<int?> _pid = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<byte> _firstLine = [];

    /// <summary>The pid, or null when the first stderr line was something else (then it is kept as stderr).</summary>
    public Task<int?> Pid => _pid.Task;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (!_pid.Task.IsCompleted)
        {
            var newline = buffer.IndexOf((byte)'\n');
            var take = newline < 0 ? buffer.Length : newline;
            _firstLine.AddRange(buffer[..take]);
            if (newline < 0 && _firstLine.Count <= MaxAnnouncementBytes)
            {
                return;
            }

            var line = Encoding.ASCII.GetString([.. _firstLine]);
            if (newline >= 0 && int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 1)
            {
                _pid.TrySetResult(pid);
                buffer = buffer[(newline + 1)..];
            }
            else
            {
                _pid.TrySetResult(null);
                stderr.Write([.. _firstLine]);
                buffer = buffer[take..];
            }
        }

        stderr.Write(buffer);
    }

    protected override void Dispose(bool disposing)
    {
        _pid.TrySetResult(null);
        base.Dispose(disposing);
    }
}
