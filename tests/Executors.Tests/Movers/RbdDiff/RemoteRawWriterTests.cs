using System.Diagnostics;
using Taquin.Executors.Movers.RbdDiff;

namespace Taquin.Executors.Tests.Movers.RbdDiff;

/// <summary>
/// The perl writer that PVE nodes run for raw targets, held to the C# applier it mirrors: the same streams leave the
/// same bytes and the same counts, and it refuses what the C# applier refuses.
/// </summary>
public sealed class RemoteRawWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-rawwriter-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<byte[]> BuildAsync(RbdDiffHeader header, Func<RbdDiffWriter, Task> body, bool end = true)
    {
        using var stream = new MemoryStream();
        var writer = new RbdDiffWriter(stream);
        await writer.WriteHeaderAsync(header);
        await body(writer);
        if (end)
        {
            await writer.WriteEndAsync();
        }

        return stream.ToArray();
    }

    private static byte[] Pattern(int length, byte seed) => [.. Enumerable.Range(0, length).Select(i => (byte)(seed + (i * 7) + (i >> 11)))];

    /// <summary>Runs the writer as a node would (perl, the script on the command line, the stream on stdin).</summary>
    private static async Task<(int Exit, string Stdout, string Stderr)> RunWriterAsync(byte[] diff, string path, string? from)
    {
        var argv = RemoteRawWriter.Argv(path, from);
        var start = new ProcessStartInfo(argv[0]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in argv.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.StandardInput.BaseStream.WriteAsync(diff);
        }
        catch (IOException)
        {
            // The writer stopped reading (a refused stream): its exit code and message tell why.
        }

        process.StandardInput.Close();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    private static async Task<byte[]> FullDiffAsync(int size) => await BuildAsync(new RbdDiffHeader(1, null, "base", size), async w =>
    {
        await w.WriteDataAsync(4096, Pattern(5000, 1));
        // A zero run inside a data record, as Ceph sends for an object allocated from its start.
        await w.WriteDataAsync(1 << 20, new byte[1 << 20]);
        await w.WriteDataAsync((2 << 20) + 100, Pattern((1 << 20) + 333, 9));
        await w.WriteZeroAsync(3 << 20, 65536);
    });

    private static async Task<byte[]> IncrementAsync(int size) => await BuildAsync(new RbdDiffHeader(1, "base", "final", size), async w =>
    {
        await w.WriteDataAsync(8192, Pattern(777, 4));
        await w.WriteZeroAsync(2 << 20, 4096);
        await w.WriteDataAsync(size - 1000, Pattern(1000, 5));
    });

    [Fact]
    public async Task A_full_copy_then_an_increment_leave_the_same_bytes_and_counts_as_the_csharp_applier()
    {
        const int size = 4 << 20;
        var (full, increment) = (await FullDiffAsync(size), await IncrementAsync(size));
        var (bySharp, byPerl) = (Path.Combine(_dir, "sharp.raw"), Path.Combine(_dir, "perl.raw"));

        var sharpFull = await RbdDiffApplier.ApplyAsync(new MemoryStream(full), bySharp, new RbdDiffApplyOptions { TargetIsZeroed = true });
        var perlFull = await RunWriterAsync(full, byPerl, null);
        var sharpIncrement = await RbdDiffApplier.ApplyAsync(new MemoryStream(increment), bySharp, new RbdDiffApplyOptions { ExpectedFromSnapshot = "base" });
        var perlIncrement = await RunWriterAsync(increment, byPerl, "base");

        Assert.Equal((0, ""), (perlFull.Exit, perlFull.Stderr));
        Assert.Equal((0, ""), (perlIncrement.Exit, perlIncrement.Stderr));
        Assert.Equal(await File.ReadAllBytesAsync(bySharp), await File.ReadAllBytesAsync(byPerl));
        Assert.Equal(size, new FileInfo(byPerl).Length);
        Assert.Equal((sharpFull.StreamBytes, sharpFull.DataBytes, sharpFull.ZeroBytes, sharpFull.Extents), RemoteRawWriter.ParseSummary(perlFull.Stdout));
        Assert.Equal((sharpIncrement.StreamBytes, sharpIncrement.DataBytes, sharpIncrement.ZeroBytes, sharpIncrement.Extents), RemoteRawWriter.ParseSummary(perlIncrement.Stdout));
        // The fresh file skipped the zero run inside the data record, the existing one wrote its zero extent.
        Assert.Equal(5000 + (1 << 20) + 333, sharpFull.DataBytes);
        Assert.Equal(4096, sharpIncrement.ZeroBytes);
    }

    [Theory]
    [InlineData(null, "base", "the diff is a full copy but")]
    [InlineData("base", null, "the diff starts at snapshot 'base' but")]
    [InlineData("other", "base", "the diff starts at snapshot 'other' but")]
    public async Task A_diff_from_another_snapshot_than_the_target_holds_is_refused_and_nothing_is_written(string? streamFrom, string? targetHolds, string message)
    {
        var diff = await BuildAsync(new RbdDiffHeader(1, streamFrom, "final", 1 << 20), w => w.WriteDataAsync(0, Pattern(4096, 3)));
        var path = Path.Combine(_dir, "held.raw");
        await File.WriteAllBytesAsync(path, new byte[1 << 20]);

        var (exit, _, stderr) = await RunWriterAsync(diff, path, targetHolds);

        Assert.Equal(3, exit);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.All(await File.ReadAllBytesAsync(path), b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task A_stream_cut_before_its_end_fails_naming_the_byte_where_it_stopped()
    {
        var diff = await BuildAsync(new RbdDiffHeader(1, null, "base", 1 << 20), w => w.WriteDataAsync(0, Pattern(100_000, 3)), end: false);
        var cut = diff[..(diff.Length - 50_000)];

        var (exit, stdout, stderr) = await RunWriterAsync(cut, Path.Combine(_dir, "cut.raw"), null);

        Assert.Equal(4, exit);
        Assert.Contains($"the diff stream is truncated at byte {cut.Length}", stderr, StringComparison.Ordinal);
        Assert.Null(RemoteRawWriter.ParseSummary(stdout));
    }

    [Fact]
    public async Task A_v2_stream_or_no_diff_at_all_is_refused_before_the_target_is_opened()
    {
        var path = Path.Combine(_dir, "never.raw");

        var (exit, _, stderr) = await RunWriterAsync("rbd diff v2\n"u8.ToArray(), path, null);

        Assert.Equal(3, exit);
        Assert.Contains("not an rbd diff v1 stream", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }
}
