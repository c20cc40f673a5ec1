using System.Security.Cryptography;

namespace Taquin.Executors.Tests.Ssh;

/// <summary>A read-only stream of <c>length</c> pseudo-random bytes from a seed, hashing what it hands out.</summary>
internal sealed class RandomSourceStream(long length, int seed) : Stream
{
    private readonly Random _random = new(seed);
    private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _position;

    public string Sha256 => Convert.ToHexString(_sha.GetCurrentHash());
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = (int)Math.Min(buffer.Length, length - _position);
        _random.NextBytes(buffer[..n]);
        _sha.AppendData(buffer[..n]);
        _position += n;
        return n;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sha.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// A write-only consumer that hashes what it gets. Optionally slow (a pause after every <c>pauseEvery</c> bytes)
/// and sampling the live managed heap (after a full collection) every <c>sampleEvery</c> bytes.
/// </summary>
internal sealed class HashingSinkStream(long pauseEvery = 0, TimeSpan pause = default, long sampleEvery = 0) : Stream
{
    private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _sincePause;
    private long _sinceSample;

    public long BytesWritten { get; private set; }
    public long PeakLiveHeapBytes { get; private set; }
    public string Sha256 => Convert.ToHexString(_sha.GetCurrentHash());
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _sha.AppendData(buffer);
        BytesWritten += buffer.Length;
        _sincePause += buffer.Length;
        _sinceSample += buffer.Length;
        if (pauseEvery > 0 && _sincePause >= pauseEvery)
        {
            _sincePause = 0;
            Thread.Sleep(pause);
        }

        if (sampleEvery > 0 && _sinceSample >= sampleEvery)
        {
            _sinceSample = 0;
            PeakLiveHeapBytes = Math.Max(PeakLiveHeapBytes, GC.GetTotalMemory(forceFullCollection: true));
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer, offset, count);
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sha.Dispose();
        }

        base.Dispose(disposing);
    }
}
