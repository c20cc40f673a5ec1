using Renci.SshNet;
using Renci.SshNet.Common;

namespace Taquin.Executors.Ssh;

/// <summary>
/// A command's stdin. SSH.NET sends EOF only after at least one byte was written, so an absent or empty stdin
/// becomes <c>&lt;/dev/null</c> on the command line (the program reads EOF at once, never hangs). To know whether a
/// given stream is empty, its first chunk is read before the command starts.
/// </summary>
internal sealed class StdinFeed
{
    private const int ChunkBytes = 256 * 1024;
    private readonly Stream? _rest;
    private readonly byte[] _first;
    private readonly int _firstLength;

    private StdinFeed(Stream? rest, byte[] first, int firstLength)
    {
        _rest = rest;
        _first = first;
        _firstLength = firstLength;
    }

    /// <summary>Appended to the command line: <c> &lt;/dev/null</c> when there is nothing to send.</summary>
    public string Redirection => _firstLength == 0 ? " </dev/null" : "";

    public static async Task<StdinFeed> PrepareAsync(Stream? stdin, CancellationToken ct)
    {
        if (stdin is null)
        {
            return new StdinFeed(null, [], 0);
        }

        var first = new byte[ChunkBytes];
        var length = await stdin.ReadAtLeastAsync(first, 1, throwOnEndOfStream: false, ct);
        return new StdinFeed(length == 0 ? null : stdin, first, length);
    }

    public async Task FeedAsync(SshCommand command, CancellationToken ct)
    {
        if (_firstLength == 0)
        {
            return;
        }

        // Disposing the channel's input stream sends EOF.
        await using var input = command.CreateInputStream();
        try
        {
            await input.WriteAsync(_first.AsMemory(0, _firstLength), ct);
            await _rest!.CopyToAsync(input, ChunkBytes, ct);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SshException or ObjectDisposedException or InvalidOperationException)
        {
            // The program exited (or stopped reading) before taking all its input: its exit status tells.
        }
    }
}
