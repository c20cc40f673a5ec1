using Taquin.Executors.Movers.Progress;

namespace Taquin.Executors.Tests.Movers.Progress;

public sealed class RbdExportProgressMapTests
{
    private const long MiB = 1 << 20;
    private const long Header = 20;

    private static long Record(long data) => RbdExportProgressMap.RecordBytes + data;

    [Fact]
    public void On_a_sparse_image_a_small_percentage_of_the_address_space_is_all_the_data()
    {
        // The captured sparse case: 256 MiB, data at 0–4 MiB and 16–20 MiB; rbd printed 6 % after the second extent.
        var total = Header + Record(4 * MiB) + Record(4 * MiB) + 1;
        var map = new RbdExportProgressMap(256 * MiB, Header, total, [new(16 * MiB, 4 * MiB, true), new(0, 4 * MiB, true)]);

        Assert.Equal(Header + Record(4 * MiB), map.StreamBytesAt(3));
        Assert.Equal(total - 1, map.StreamBytesAt(6)); // all data out, the end tag not yet: still below the total
        Assert.Equal(total, map.StreamBytesAt(100));
    }

    [Fact]
    public void On_a_full_image_bytes_follow_the_percentage_extent_by_extent()
    {
        var extents = Enumerable.Range(0, 16).Select(i => new RbdDiffEntry(i * 4 * MiB, 4 * MiB, true)).ToList();
        var total = Header + (16 * Record(4 * MiB)) + 1;
        var map = new RbdExportProgressMap(64 * MiB, Header, total, extents);

        // 50 % = offset 32 MiB: the extents at 0 … 32 MiB (nine) are out.
        Assert.Equal(Header + (9 * Record(4 * MiB)), map.StreamBytesAt(50));
        Assert.True(map.StreamBytesAt(12) < map.StreamBytesAt(18));
        Assert.InRange(map.StreamBytesAt(93), 1, total - 1);
    }

    [Fact]
    public void Zero_extents_count_their_record_only()
    {
        var total = Header + Record(0) + Record(1 * MiB) + 1;
        var map = new RbdExportProgressMap(8 * MiB, Header, total, [new(0, 4 * MiB, false), new(4 * MiB, 1 * MiB, true)]);

        Assert.Equal(Header + Record(0), map.StreamBytesAt(25));
    }
}
