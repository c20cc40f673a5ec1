using System.Security.Cryptography;
using Taquin.Executors.Movers.RbdDiff;

namespace Taquin.Executors.Tests.Movers.RbdDiff;

public sealed class RbdDiffApplierTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-diff-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<byte[]> BuildAsync(int version, RbdDiffHeader header, Func<RbdDiffWriter, Task> body, bool end = true)
    {
        using var stream = new MemoryStream();
        var writer = new RbdDiffWriter(stream, version);
        await writer.WriteHeaderAsync(header);
        await body(writer);
        if (end)
        {
            await writer.WriteEndAsync();
        }

        return stream.ToArray();
    }

    private static byte[] Pattern(int length, byte seed) => [.. Enumerable.Range(0, length).Select(i => (byte)(seed + (i * 7)))];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_full_diff_writes_its_extents_at_their_offsets_into_a_sparse_file_of_the_image_size(int version)
    {
        var a = Pattern(5000, 1);
        var b = Pattern(3000, 9);
        var diff = await BuildAsync(version, new RbdDiffHeader(version, null, "s1", 1 << 20), async w =>
        {
            await w.WriteDataAsync(4096, a);
            await w.WriteDataAsync(700_000, b);
        });
        var path = Path.Combine(_dir, "disk.raw");

        var result = await RbdDiffApplier.ApplyAsync(new MemoryStream(diff), path, new RbdDiffApplyOptions { TargetIsZeroed = true });

        var content = await File.ReadAllBytesAsync(path);
        Assert.Equal(1 << 20, content.Length);
        Assert.Equal(a, content[4096..(4096 + 5000)]);
        Assert.Equal(b, content[700_000..703_000]);
        Assert.All(content[..4096], x => Assert.Equal(0, x));
        Assert.Equal(8000, result.DataBytes);
        Assert.Equal("s1", result.Header.ToSnapshot);
        Assert.Equal(diff.Length, result.StreamBytes);
    }

    [Fact]
    public async Task An_incremental_diff_overwrites_and_zeroes_only_its_extents()
    {
        var path = Path.Combine(_dir, "disk.raw");
        await File.WriteAllBytesAsync(path, Pattern(65536, 3));
        var before = await File.ReadAllBytesAsync(path);
        var diff = await BuildAsync(1, new RbdDiffHeader(1, "base", "final", 65536), async w =>
        {
            await w.WriteDataAsync(100, new byte[] { 1, 2, 3 });
            await w.WriteZeroAsync(8192, 4096);
        });

        var result = await RbdDiffApplier.ApplyAsync(new MemoryStream(diff), path, new RbdDiffApplyOptions { ExpectedFromSnapshot = "base" });

        var after = await File.ReadAllBytesAsync(path);
        Assert.Equal(new byte[] { 1, 2, 3 }, after[100..103]);
        Assert.All(after[8192..12288], x => Assert.Equal(0, x));
        Assert.Equal(before[..100], after[..100]);
        Assert.Equal(before[103..8192], after[103..8192]);
        Assert.Equal(before[12288..], after[12288..]);
        Assert.Equal(4096, result.ZeroBytes);
    }

    [Fact]
    public async Task A_truncated_stream_fails_naming_the_byte_where_it_ended()
    {
        var diff = await BuildAsync(1, new RbdDiffHeader(1, null, "s", 1 << 20), w => w.WriteDataAsync(0, Pattern(4096, 5)));
        var cut = diff[..(diff.Length - 1000)];

        var error = await Assert.ThrowsAsync<RbdDiffFormatException>(() => RbdDiffApplier.ApplyAsync(new MemoryStream(cut), Path.Combine(_dir, "t.raw"), new RbdDiffApplyOptions()));

        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
        Assert.Contains($"byte {cut.Length}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stream_without_its_end_record_is_truncated_too()
    {
        var diff = await BuildAsync(2, new RbdDiffHeader(2, null, "s", 4096), w => w.WriteDataAsync(0, new byte[] { 7 }), end: false);

        var error = await Assert.ThrowsAsync<RbdDiffFormatException>(() => RbdDiffApplier.ApplyAsync(new MemoryStream(diff), Path.Combine(_dir, "t.raw"), new RbdDiffApplyOptions()));

        Assert.Contains("without its end record", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_tag_in_a_v1_stream_is_an_error_but_a_v2_stream_skips_it_by_its_length()
    {
        async Task<byte[]> WithUnknown(int version) => await BuildAsync(version, new RbdDiffHeader(version, null, "s", 4096), async w =>
        {
            await w.WriteRawRecordAsync((byte)'Q', new byte[] { 1, 2, 3, 4, 5 });
            await w.WriteDataAsync(10, new byte[] { 42 });
        });

        var v1 = await Assert.ThrowsAsync<RbdDiffFormatException>(async () => await RbdDiffApplier.ApplyAsync(new MemoryStream(await WithUnknown(1)), Path.Combine(_dir, "v1.raw"), new RbdDiffApplyOptions()));
        Assert.Contains("unknown record tag 0x51 ('Q')", v1.Message, StringComparison.Ordinal);

        var path = Path.Combine(_dir, "v2.raw");
        var result = await RbdDiffApplier.ApplyAsync(new MemoryStream(await WithUnknown(2)), path, new RbdDiffApplyOptions());
        Assert.Equal(42, (await File.ReadAllBytesAsync(path))[10]);
        Assert.Equal(1, result.DataBytes);
    }

    [Fact]
    public async Task An_increment_from_another_snapshot_than_the_target_holds_is_refused_before_writing()
    {
        var path = Path.Combine(_dir, "disk.raw");
        await File.WriteAllBytesAsync(path, new byte[4096]);
        var diff = await BuildAsync(1, new RbdDiffHeader(1, "other", "final", 4096), w => w.WriteDataAsync(0, new byte[] { 9 }));

        var error = await Assert.ThrowsAsync<RbdDiffFormatException>(() => RbdDiffApplier.ApplyAsync(new MemoryStream(diff), path, new RbdDiffApplyOptions { ExpectedFromSnapshot = "base" }));

        Assert.Contains("starts at snapshot 'other'", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, (await File.ReadAllBytesAsync(path))[0]);
    }

    [Fact]
    public async Task An_extent_past_the_image_size_is_rejected()
    {
        var diff = await BuildAsync(1, new RbdDiffHeader(1, null, "s", 4096), w => w.WriteDataAsync(4000, new byte[200]));

        var error = await Assert.ThrowsAsync<RbdDiffFormatException>(() => RbdDiffApplier.ApplyAsync(new MemoryStream(diff), Path.Combine(_dir, "t.raw"), new RbdDiffApplyOptions()));

        Assert.Contains("outside the image size 4096", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Something_that_is_not_a_diff_is_named_as_such()
    {
        var error = await Assert.ThrowsAsync<RbdDiffFormatException>(() => RbdDiffApplier.ApplyAsync(new MemoryStream("QFI\xfb not a diff at all"u8.ToArray()), Path.Combine(_dir, "t.raw"), new RbdDiffApplyOptions()));

        Assert.Contains("not an rbd diff stream", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_reader_stops_at_the_end_record_so_diffs_can_follow_each_other_in_one_stream()
    {
        var first = await BuildAsync(2, new RbdDiffHeader(2, null, "a", 8192), w => w.WriteDataAsync(0, new byte[] { 1 }));
        var second = await BuildAsync(2, new RbdDiffHeader(2, "a", "b", 8192), w => w.WriteDataAsync(1, new byte[] { 2 }));
        using var both = new MemoryStream([.. first, .. second]);

        var path = Path.Combine(_dir, "t.raw");
        await RbdDiffApplier.ApplyAsync(both, path, new RbdDiffApplyOptions());
        await RbdDiffApplier.ApplyAsync(both, path, new RbdDiffApplyOptions { ExpectedFromSnapshot = "a" });

        Assert.Equal(new byte[] { 1, 2 }, (await File.ReadAllBytesAsync(path))[..2]);
        Assert.Equal(both.Length, both.Position);
    }

    internal static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
