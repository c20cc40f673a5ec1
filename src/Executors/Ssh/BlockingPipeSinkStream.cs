using System.IO.Pipelines;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Ssh;

/// <summary>
/// Where SSH.NET writes a command's stdout for <see cref="SshNetRunner.RunStreamingAsync"/>. SSH.NET calls Write on
/// its connection's receive thread and would otherwise buffer without limit; here Write blocks while the pipe holds
/// more than its pause threshold, so that thread stops reading the socket and TCP flow control pauses the remote
/// program. That is why streamed commands get a connection of their own (<see cref="SshNetRunner"/>).
/// Once the reader is gone or <paramref name="abort"/> fires, writes are dropped so the receive thread never hangs.
/// </summary>
internal sealed class BlockingPipeSinkStream(PipeWriter writer, CancellationToken abort) : OutputSinkStream
{
    private readonly Lock _gate = new();
    private bool _closed;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            try
            {
                buffer.CopyTo(writer.GetSpan(buffer.Length));
                writer.Advance(buffer.Length);
                var flushed = writer.FlushAsync(abort).AsTask().GetAwaiter().GetResult();
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    Close(null);
                }
            }
            catch (OperationCanceledException)
            {
                Close(null);
            }
            catch (InvalidOperationException)
            {
                // The reader completed concurrently.
                _closed = true;
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_gate)
            {
                Close(null);
            }
        }

        base.Dispose(disposing);
    }

    private void Close(Exception? error)
    {
        if (!_closed)
        {
            _closed = true;
            writer.Complete(error);
        }
    }
}
