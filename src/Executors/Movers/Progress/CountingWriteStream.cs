namespace Taquin.Executors.Movers.Progress;

/// <summary>
/// A write-only stream that passes everything on to <paramref name="inner"/> and counts it into <paramref name="meter"/>
/// (which reports progress at most every interval). The relayed paths of <see cref="CommandDiskMover"/> and
/// <see cref="FileOverlaySync"/> put it between the source's output and the relay pipe.
/// </summary>
internal sealed class CountingWriteStream(Stream inner, ProgressMeter meter) : Stream
{
    public long Bytes => meter.Bytes;
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken);
        await meter.AddAsync(buffer.Length);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
}
