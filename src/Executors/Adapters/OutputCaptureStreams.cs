using System.Text;

namespace Taquin.Executors.Adapters;

/// <summary>A write-only sink for a program's output (the runners write into it; nobody reads it as a stream).</summary>
public abstract class OutputSinkStream : Stream
{
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public abstract override void Write(ReadOnlySpan<byte> buffer);
}

/// <summary>Keeps the last <c>capacity</c> bytes written (stderr: the end is where the error is). Never blocks.</summary>
public sealed class TailCaptureStream(int capacity) : OutputSinkStream
{
    private readonly byte[] _ring = new byte[Math.Max(1, capacity)];
    private readonly Lock _gate = new();
    private long _written;

    /// <summary>Total bytes written, including the ones dropped from the front.</summary>
    public long BytesWritten
    {
        get
        {
            lock (_gate)
            {
                return _written;
            }
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_gate)
        {
            if (buffer.Length > _ring.Length)
            {
                // Only the last bytes can survive: count the others as written and drop them.
                _written += buffer.Length - _ring.Length;
                buffer = buffer[^_ring.Length..];
            }

            foreach (var b in buffer)
            {
                _ring[(int)(_written % _ring.Length)] = b;
                _written++;
            }
        }
    }

    /// <summary>The kept bytes as UTF-8, prefixed with a note when the front was dropped.</summary>
    public string Text()
    {
        lock (_gate)
        {
            if (_written <= _ring.Length)
            {
                return Encoding.UTF8.GetString(_ring, 0, (int)_written);
            }

            var start = (int)(_written % _ring.Length);
            var ordered = _ring[start..].Concat(_ring[..start]).ToArray();
            return $"[first {_written - _ring.Length} bytes of stderr dropped]\n" + Encoding.UTF8.GetString(ordered);
        }
    }
}

/// <summary>Captures output up to a limit; past it the output is dropped and <paramref name="onOverflow"/> runs once.</summary>
public sealed class CappedCaptureStream(long limit, Action onOverflow) : OutputSinkStream
{
    private readonly MemoryStream _buffer = new();
    private readonly Lock _gate = new();

    public bool Overflowed { get; private set; }
    public long Limit => limit;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var overflowNow = false;
        lock (_gate)
        {
            if (Overflowed)
            {
                return;
            }

            if (_buffer.Length + buffer.Length > limit)
            {
                Overflowed = overflowNow = true;
            }
            else
            {
                _buffer.Write(buffer);
            }
        }

        if (overflowNow)
        {
            onOverflow();
        }
    }

    public string Text()
    {
        lock (_gate)
        {
            return Encoding.UTF8.GetString(_buffer.GetBuffer(), 0, (int)_buffer.Length);
        }
    }
}

/// <summary>Writes everything to each of its sinks in turn (a program's stderr to its capture and to a live tap).</summary>
public sealed class TeeSinkStream(Stream first, Stream second) : OutputSinkStream
{
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        first.Write(buffer);
        second.Write(buffer);
    }
}
