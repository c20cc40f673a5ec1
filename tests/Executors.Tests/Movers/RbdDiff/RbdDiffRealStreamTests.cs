using System.Text;
using Taquin.Executors.Movers.RbdDiff;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Movers.RbdDiff;

/// <summary>The parser against streams the test bed's Ceph produced, and the writer against Ceph's own reader.</summary>
[Collection(TestbedCollections.Ceph)]
public sealed class RbdDiffRealStreamTests : IDisposable
{
    private readonly TestbedCeph _ceph = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-diff-real-").FullName;

    public void Dispose()
    {
        _ceph.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static byte[] Pattern(int length, byte seed) => [.. Enumerable.Range(0, length).Select(i => (byte)(seed ^ (i * 31)))];

    [IntegrationFact]
    public async Task A_full_export_diff_applied_to_a_file_equals_the_snapshot_and_carries_only_allocated_data()
    {
        var image = _ceph.CreateImage("diff-full", 64 << 20);
        _ceph.Write(image, 0, Pattern(1 << 20, 1));
        _ceph.Write(image, 40 << 20, Pattern(3 << 20, 2));
        _ceph.Snapshot(image, "s1");
        var diff = _ceph.ExportDiff(image, null, "s1");
        var path = Path.Combine(_dir, "full.raw");

        var result = await RbdDiffApplier.ApplyAsync(new MemoryStream(diff), path, new RbdDiffApplyOptions { TargetIsZeroed = true });

        Assert.Equal(_ceph.Sha256(image + "@s1"), RbdDiffApplierTests.Sha256(await File.ReadAllBytesAsync(path)));
        Assert.Equal(4 << 20, result.DataBytes);
        Assert.True(diff.Length <= (4 << 20) * 1.01, $"diff of a 64 MiB image with 4 MiB written is {diff.Length} bytes");
        Assert.Equal(64 << 20, result.Header.ImageSize);
    }

    [IntegrationFact]
    public async Task A_base_then_an_incremental_diff_bring_a_file_to_the_final_snapshot()
    {
        var image = _ceph.CreateImage("diff-inc", 32 << 20);
        _ceph.Write(image, 0, Pattern(8 << 20, 3));
        _ceph.Snapshot(image, "base");
        _ceph.Write(image, 4 << 20, Pattern(1 << 20, 4));
        _ceph.Rbd("snap", "create", image + "@final");
        var path = Path.Combine(_dir, "inc.raw");

        await RbdDiffApplier.ApplyAsync(new MemoryStream(_ceph.ExportDiff(image, null, "base")), path, new RbdDiffApplyOptions { TargetIsZeroed = true });
        var incremental = _ceph.ExportDiff(image, "base", "final");
        var result = await RbdDiffApplier.ApplyAsync(new MemoryStream(incremental), path, new RbdDiffApplyOptions { ExpectedFromSnapshot = "base" });

        Assert.Equal(_ceph.Sha256(image + "@final"), RbdDiffApplierTests.Sha256(await File.ReadAllBytesAsync(path)));
        Assert.Equal("base", result.Header.FromSnapshot);
        Assert.True(result.DataBytes <= 4 << 20, $"increment carried {result.DataBytes} bytes for 1 MiB changed");
    }

    [IntegrationFact]
    public async Task The_v2_diffs_inside_an_export_format_2_stream_apply_in_sequence()
    {
        var image = _ceph.CreateImage("diff-v2", 16 << 20);
        _ceph.Write(image, 1 << 20, Pattern(1 << 20, 5));
        _ceph.Snapshot(image, "a");
        _ceph.Write(image, 9 << 20, Pattern(1 << 20, 6));
        _ceph.Snapshot(image, "b");
        var export = _ceph.Export(image + "@b", "--export-format", "2");
        var marker = Encoding.ASCII.GetBytes("rbd image diffs v2\n");
        var at = export.AsSpan().IndexOf(marker);
        Assert.True(at > 0, "no diff section in the export-format 2 stream");
        using var stream = new MemoryStream(export, at + marker.Length + 8, export.Length - at - marker.Length - 8);
        var path = Path.Combine(_dir, "v2.raw");

        string? previous = null;
        var versions = new List<int>();
        while (stream.Position < stream.Length - 1)
        {
            var applied = await RbdDiffApplier.ApplyAsync(stream, path, new RbdDiffApplyOptions { ExpectedFromSnapshot = previous });
            versions.Add(applied.Header.Version);
            previous = applied.Header.ToSnapshot;
        }

        Assert.All(versions, v => Assert.Equal(2, v));
        Assert.True(versions.Count >= 2, $"{versions.Count} diff(s) in the export");
        Assert.Equal(_ceph.Sha256(image + "@b"), RbdDiffApplierTests.Sha256(await File.ReadAllBytesAsync(path)));
    }

    [IntegrationFact]
    public async Task Diffs_written_here_are_accepted_by_rbd_import_diff_v1_and_rbd_import_export_format_2()
    {
        var data = Pattern(65536, 7);
        async Task<byte[]> Build(int version)
        {
            using var diff = new MemoryStream();
            var writer = new RbdDiffWriter(diff, version);
            await writer.WriteHeaderAsync(new RbdDiffHeader(version, null, "mine", 8 << 20));
            await writer.WriteDataAsync(2 << 20, data);
            await writer.WriteZeroAsync(0, 4096);
            await writer.WriteEndAsync();
            return diff.ToArray();
        }

        var v1Image = _ceph.CreateImage("diff-writer1", 8 << 20);
        TestbedCeph.Run(["rbd", "--conf", _ceph.Conf, "import-diff", "--no-progress", "-", v1Image], await Build(1));
        Assert.Equal(data, _ceph.Export(v1Image + "@mine")[(2 << 20)..((2 << 20) + 65536)]);

        // rbd import-diff takes v1 only; v2 diffs travel inside an "rbd image v2" stream (rbd import --export-format 2).
        var v2Image = $"{_ceph.Pool}/diff-writer2-{Guid.NewGuid():N}"[..40];
        _ceph.Track(v2Image);
        byte[] imageStream = [.. "rbd image v2\n"u8, (byte)'E', .. "rbd image diffs v2\n"u8, 1, 0, 0, 0, 0, 0, 0, 0, .. await Build(2)];
        TestbedCeph.Run(["rbd", "--conf", _ceph.Conf, "import", "--no-progress", "--export-format", "2", "-", v2Image], imageStream);
        Assert.Equal(data, _ceph.Export(v2Image + "@mine")[(2 << 20)..((2 << 20) + 65536)]);
    }
}
