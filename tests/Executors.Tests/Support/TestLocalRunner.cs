using Taquin.Executors.Adapters;

namespace Taquin.Executors.Tests.Support;

/// <summary>
/// <see cref="LocalProcessRunner"/> for tests that treat every host as this machine (the test bed is one machine),
/// recording the commands it runs. <see cref="FailStreamAfterBytes"/> simulates a dropped connection: the next
/// streamed copy breaks after that many bytes with a transient error, as a lost SSH channel does.
/// </summary>
public sealed class TestLocalRunner : ISshRunner
{
    private readonly LocalProcessRunner _local = new();

    /// <summary>When set, the next streaming command's stdout breaks after that many bytes (then it resets).</summary>
    public long? FailStreamAfterBytes { get; set; }

    public List<string> Commands { get; } = [];

    public Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default)
    {
        Record(argv);
        return _local.RunAsync(host, argv, stdin, ct);
    }

    public Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default)
    {
        Record(argv);
        var failAfter = FailStreamAfterBytes;
        FailStreamAfterBytes = null;
        return _local.RunStreamingAsync(host, argv, stdin, failAfter is { } limit ? new BreakingStream(stdout, limit) : stdout, ct);
    }

    public Task<SshResult> RunWithStderrTapAsync(string host, IReadOnlyList<string> argv, Stream stderrTap, Stream? stdin = null, CancellationToken ct = default)
    {
        Record(argv);
        return _local.RunWithStderrTapAsync(host, argv, stderrTap, stdin, ct);
    }

    private void Record(IReadOnlyList<string> argv)
    {
        lock (Commands)
        {
            Commands.Add(string.Join(' ', argv));
        }
    }

    /// <summary>Passes writes through until the limit, then fails as a lost connection would.</summary>
    private sealed class BreakingStream(Stream inner, long limit) : Stream
    {
        private long _written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_written + buffer.Length > limit)
            {
                throw new SshConnectionLostException($"connection lost after {_written} bytes (test fault)");
            }

            await inner.WriteAsync(buffer, cancellationToken);
            _written += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>The runner's stand-in for a dropped SSH connection.</summary>
public sealed class SshConnectionLostException(string message) : AdapterException(message, isTransient: true);
