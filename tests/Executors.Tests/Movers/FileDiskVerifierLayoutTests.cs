using Taquin.Executors.Movers;

namespace Taquin.Executors.Tests.Movers;

/// <summary>What a sampled file verification reads (docs/adr/0020): samples, overlay ranges, blocks and the shell groups.</summary>
public sealed class FileDiskVerifierLayoutTests
{
    private const long Mib = 1 << 20;

    [Fact]
    public void Qemu_img_map_depth_0_extents_are_the_overlay_written_and_zeroed_clusters_and_nothing_of_the_base()
    {
        const string Output = """
            { "virtual-size": 1073741824, "filename": "vm.taquin-overlay.qcow2", "format": "qcow2" }
            #map
            [{ "start": 0, "length": 104857600, "depth": 1, "present": true, "zero": false, "data": true, "offset": 327680},
            { "start": 104857600, "length": 3145728, "depth": 0, "present": true, "zero": false, "data": true, "offset": 327680},
            { "start": 107999232, "length": 206573568, "depth": 1, "present": true, "zero": false, "data": true, "offset": 108331008},
            { "start": 314572800, "length": 1048576, "depth": 0, "present": true, "zero": true, "data": false},
            { "start": 315621376, "length": 758120448, "depth": 2, "present": false, "zero": true, "data": false}]
            """;

        var layout = FileDiskVerifier.ParseLayout(Output);

        Assert.Equal(1L << 30, layout.VirtualSize);
        Assert.Equal(new[] { (104857600L, 3145728L), (314572800L, 1048576L) }, layout.OverlayExtents);
    }

    [Fact]
    public void A_file_without_overlay_has_no_extents_to_read_in_full()
        => Assert.Empty(FileDiskVerifier.ParseLayout("{ \"virtual-size\": 4096 }\n#map\n").OverlayExtents);

    [Fact]
    public void Overlay_extents_widen_to_whole_blocks_and_touching_ones_merge()
    {
        // 64 KiB at 1.5 MiB and 64 KiB at 2 MiB + 64 KiB: blocks 1 and 2 → one range of 2 MiB; 4 KiB at 10 MiB → block 10.
        var merged = FileDiskVerifier.MergeExtents([(1536L << 10, 64L << 10), ((2 * Mib) + (64 << 10), 64L << 10), (10 * Mib, 4096L)], Mib, 64 * Mib);

        Assert.Equal(new[] { (Mib, 2 * Mib), (10 * Mib, Mib) }, merged);
    }

    [Fact]
    public void A_scattered_overlay_merges_into_at_most_the_range_limit_and_still_covers_every_extent()
    {
        // 2000 clusters of 64 KiB, one every 3 MiB, on a 6000 MiB disk.
        var extents = Enumerable.Range(0, 2000).Select(i => (i * 3 * Mib, 64L << 10)).ToList();

        var merged = FileDiskVerifier.MergeExtents(extents, Mib, 6000 * Mib);

        Assert.InRange(merged.Count, 1, FileDiskVerifier.MaxOverlayRanges);
        Assert.All(extents, e => Assert.Contains(merged, r => r.Start <= e.Item1 && e.Item1 + e.Item2 <= r.Start + r.Length));
    }

    [Fact]
    public void Samples_come_first_one_block_each_then_the_overlay_in_whole_blocks_clipped_at_the_disk_end()
    {
        var options = MoverOptions.Default with { SampleCount = 3, SampleBytes = (int)Mib };
        // A 10.5 MiB disk: samples at 0, 4.75 MiB (4 KiB aligned) and 9.5 MiB; the overlay's last extent reaches the end.
        var layout = new FileDiskVerifier.Layout(10 * Mib + (Mib / 2), [(2 * Mib, 1000L), (10 * Mib, Mib / 2)]);

        var pieces = FileDiskVerifier.Pieces(options, layout);
        var blocks = FileDiskVerifier.Blocks(pieces, Mib);

        Assert.Equal(
            new FileDiskVerifier.Piece[] { new(0, Mib, false), new(4980736, Mib, false), new(9961472, Mib, false), new(2 * Mib, Mib, true), new(10 * Mib, Mib / 2, true) },
            pieces);
        Assert.Equal(pieces.Count, blocks.Count);
        Assert.Equal(Mib / 2, blocks[^1].Length);
    }

    [Fact]
    public void A_big_overlay_range_is_read_in_bounded_pieces_and_hashed_per_block()
    {
        var options = MoverOptions.Default with { SampleCount = 2, SampleBytes = (int)Mib };
        var layout = new FileDiskVerifier.Layout(1L << 30, [(0, 200 * Mib)]);

        var overlay = FileDiskVerifier.Pieces(options, layout).Where(p => p.Overlay).ToList();

        Assert.Equal(4, overlay.Count);
        Assert.All(overlay, p => Assert.True(p.Length <= FileDiskVerifier.PieceBytes));
        Assert.Equal(200 * Mib, overlay.Sum(p => p.Length));
        Assert.Equal(2 + 200, FileDiskVerifier.Blocks(FileDiskVerifier.Pieces(options, layout), Mib).Count);
    }

    [Fact]
    public void The_script_reads_each_group_with_one_command_and_hashes_its_blocks_with_one_b2sum()
    {
        var pieces = Enumerable.Range(0, 70).Select(i => new FileDiskVerifier.Piece(i * 2 * Mib, Mib, false)).ToList();

        var qemu = FileDiskVerifier.Script(new System.Text.Json.Nodes.JsonObject { ["driver"] = "qcow2" }, pieces, Mib);
        var dd = FileDiskVerifier.Script("/dev/zvol/tank/vm-100-disk-0", pieces, Mib);

        // 70 pieces → groups of 64 and 6: two reads, two splits, two hashings.
        Assert.Equal(2, qemu.Split('\n').Count(l => l.StartsWith("qemu-img convert", StringComparison.Ordinal)));
        Assert.Equal(2, qemu.Split('\n').Count(l => l.StartsWith("b2sum", StringComparison.Ordinal)));
        Assert.Equal(70, qemu.Split("\"driver\":\"raw\"").Length - 1);
        Assert.Equal(2, dd.Split('\n').Count(l => l.StartsWith("{ dd if=/dev/zvol/tank/vm-100-disk-0", StringComparison.Ordinal)));
        Assert.Contains("split -b 1048576 -a 6 -d", dd, StringComparison.Ordinal);
    }
}
