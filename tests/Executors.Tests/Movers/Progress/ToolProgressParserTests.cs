using System.Text;
using Taquin.Executors.Movers.Progress;

namespace Taquin.Executors.Tests.Movers.Progress;

public sealed class ToolProgressParserTests
{
    /// <summary>
    /// The newest reading after each chunk of <paramref name="chunk"/> bytes (with chunks shorter than a record: every
    /// reading in order); the parser's own count of distinct readings must agree when it saw them all.
    /// </summary>
    private static List<ToolProgressReading> Readings(ToolProgressFormat format, string output, int chunk)
    {
        var parser = new ToolProgressParser(format);
        var readings = new List<ToolProgressReading>();
        var bytes = Encoding.ASCII.GetBytes(output);
        for (var at = 0; at < bytes.Length; at += chunk)
        {
            if (parser.Feed(bytes.AsSpan(at, Math.Min(chunk, bytes.Length - at))))
            {
                readings.Add(parser.Latest!.Value);
            }
        }

        Assert.True(readings.Count <= parser.Readings);
        return readings;
    }

    [Fact]
    public void Many_records_in_one_write_count_as_readings_and_leave_the_newest()
    {
        var parser = new ToolProgressParser(ToolProgressFormat.RbdExport);

        Assert.True(parser.Feed(Encoding.ASCII.GetBytes(ToolProgressSamples.RbdExportDiffFull)));

        Assert.Equal(16, parser.Readings);
        Assert.Equal(100, parser.Latest!.Value.Percent);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(13)]
    public void Rbd_export_diff_percentages_are_read_in_order_however_the_output_is_split(int chunk)
    {
        var readings = Readings(ToolProgressFormat.RbdExport, ToolProgressSamples.RbdExportDiffFull, chunk);

        Assert.Equal([6, 12, 18, 25, 31, 37, 43, 50, 56, 62, 68, 75, 81, 87, 93, 100], readings.Select(r => r.Percent!.Value));
        Assert.All(readings, r => Assert.Null(r.Bytes));
    }

    [Fact]
    public void A_split_percentage_is_not_read_half_written()
    {
        var parser = new ToolProgressParser(ToolProgressFormat.RbdExport);

        Assert.False(parser.Feed("\rExporting image: 1"u8));
        Assert.True(parser.Feed("6% complete..."u8));

        Assert.Equal(16, parser.Latest!.Value.Percent);
    }

    [Fact]
    public void A_pending_rbd_record_is_read_before_its_terminator_arrives()
    {
        // rbd writes "\r" before each record: the newest one has no terminator until the next record starts.
        var parser = new ToolProgressParser(ToolProgressFormat.RbdExport);

        Assert.True(parser.Feed("\rExporting image: 6% complete..."u8));

        Assert.Equal(6, parser.Latest!.Value.Percent);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Qemu_img_percentages_with_two_decimals_are_read_and_repeats_are_not_new(int chunk)
    {
        var readings = Readings(ToolProgressFormat.QemuImg, ToolProgressSamples.QemuImgConvert, chunk);

        Assert.Equal(17, readings.Count); // 0.00 … 100.00; the repeated 100.00 is no new reading
        Assert.Equal(0, readings[0].Percent);
        Assert.Equal(6.25, readings[1].Percent);
        Assert.Equal(100, readings[^1].Percent);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(11)]
    public void Dd_progress_gives_exact_bytes_including_the_final_summary(int chunk)
    {
        var readings = Readings(ToolProgressFormat.DdBytes, ToolProgressSamples.DdStatusProgress, chunk);

        Assert.Equal([4194304L, 8388608L, 297795584L, 314572800L], readings.Select(r => r.Bytes!.Value));
    }

    [Fact]
    public void Output_of_another_format_or_plain_errors_gives_no_reading()
    {
        Assert.Empty(Readings(ToolProgressFormat.QemuImg, ToolProgressSamples.RbdExportDiffFull, 4096));
        Assert.Empty(Readings(ToolProgressFormat.RbdExport, ToolProgressSamples.QemuImgConvert, 4096));
        Assert.Empty(Readings(ToolProgressFormat.RbdExport, "rbd: error opening image x: (2) No such file or directory\n", 4096));
        Assert.Empty(Readings(ToolProgressFormat.RbdExport, "\rImporting image diff: 50% complete...", 4096));
        Assert.Null(ToolProgressParser.Parse(ToolProgressFormat.QemuImg, "    (250.00/100%)"));
    }

    [Fact]
    public void An_overlong_line_is_skipped_whole_and_reading_resumes_after_it()
    {
        var noise = new string('x', 10_000) + "Exporting image: 50% complete...";

        var readings = Readings(ToolProgressFormat.RbdExport, noise + "\rExporting image: 60% complete...", 512);

        Assert.Equal([60.0], readings.Select(r => r.Percent!.Value));
    }

    [Fact]
    public void The_failure_reason_keeps_the_error_lines_and_drops_the_bare_progress()
    {
        var threeRecords = ToolProgressSamples.RbdExportDiffFull[..ToolProgressSamples.RbdExportDiffFull.IndexOf("\rExporting image: 25%", StringComparison.Ordinal)];
        var stderr = threeRecords + ToolProgressSamples.RbdExportDiffError;

        var reason = ToolProgressParser.WithoutProgress(stderr);

        Assert.Equal("Exporting image: 0% complete...failed.\nrbd: export-diff error: (2) No such file or directory", reason);
        Assert.Equal("", ToolProgressParser.WithoutProgress(ToolProgressSamples.QemuImgConvert + ToolProgressSamples.DdStatusProgress));
    }
}
