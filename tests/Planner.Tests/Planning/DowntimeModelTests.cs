using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using static Taquin.Planner.Tests.Planning.TestFleets;

namespace Taquin.Planner.Tests.Planning;

public sealed class DowntimeModelTests
{
    private const double MiB = ByteSize.MiB;

    /// <summary>Round figures so the expected values read like the formula: 100 MiB/s full, 10 MiB/s diff, 50 MiB/s checksum.</summary>
    private static MeasuredRates Rates(double fullMiBps = 100, double diffMiBps = 10, double? verifyMiBps = 50, double? sampleSeconds = 0.5, double? fileMiBps = null)
        => new()
        {
            Source = "test",
            MeasuredOn = "whiteboard",
            MeasuredAt = new DateTimeOffset(2026, 11, 24, 6, 10, 0, TimeSpan.Zero),
            Paths = fileMiBps is { } file
                ? new Dictionary<string, PathRates> { ["direct"] = new(fullMiBps, diffMiBps), ["file"] = new(file, file / 2) }
                : new Dictionary<string, PathRates> { ["direct"] = new(fullMiBps, diffMiBps) },
            Verification = new VerificationRates(verifyMiBps, sampleSeconds),
            SwitchSeconds = 2,
            ShutdownSeconds = 20,
            BootSeconds = 40,
        };

    private static readonly PolicySpec Policy = new() { VlanRange = new VlanRange(100, 200) };

    private static DowntimeModel Model(MeasuredRates rates, string verify = "full") => DowntimeModel.FromRates(rates, Policy with { Verify = verify }, "rates.yaml");

    [Fact]
    public void Cold_downtime_is_shutdown_plus_full_copy_plus_full_checksum_plus_boot()
    {
        // 10 GiB disk, 4 GiB written: the copy sends the written data, the checksum reads the whole disk.
        var vm = RbdVm("web", "h1", ramGib: 4, diskGib: 10, usedGib: 4);

        var e = Model(Rates()).EstimateMoveToPve(vm, DiskStrategy.Cold);

        Assert.Equal(4 * G / (100 * MiB), e.DowntimeCopySeconds, 9);
        Assert.Equal(10 * G / (50 * MiB), e.VerifySeconds, 9);
        Assert.Equal(20 + (4 * 1024 / 100.0) + (10 * 1024 / 50.0) + 40, e.DowntimeSeconds, 9);
        Assert.Equal(e.DowntimeSeconds, Model(Rates()).MoveToPve(vm, DiskStrategy.Cold).DowntimeSeconds);
    }

    [Fact]
    public void Twice_the_incremental_rate_halves_the_copy_part_of_warm_downtime_and_nothing_else()
    {
        var vm = RbdVm("db", "h1", ramGib: 8, diskGib: 100);
        var slow = Model(Rates(diffMiBps: 10)).EstimateMoveToPve(vm, DiskStrategy.Warm);
        var fast = Model(Rates(diffMiBps: 20)).EstimateMoveToPve(vm, DiskStrategy.Warm);

        // 5 % of 100 GiB changed: 5 GiB at 10 MiB/s = 512 s, at 20 MiB/s = 256 s.
        Assert.Equal(512, slow.DowntimeCopySeconds, 9);
        Assert.Equal(256, fast.DowntimeCopySeconds, 9);
        Assert.Equal(slow.DowntimeSeconds - 256, fast.DowntimeSeconds, 9);
        Assert.Equal(slow.VerifySeconds, fast.VerifySeconds);
        Assert.Equal(slow.Bytes, fast.Bytes);
        Assert.Equal(100 * G + (5 * G), slow.Bytes);
        Assert.Contains("10 MiB/s", slow.Rate, StringComparison.Ordinal);
    }

    [Fact]
    public void The_fixed_cost_of_an_incremental_copy_is_paid_once_per_disk_whatever_the_change()
    {
        var rates = Rates() with { Paths = new Dictionary<string, PathRates> { ["direct"] = new(100, 10, 1.5) } };
        var model = Model(rates);
        var oneDisk = RbdVm("small", "h1", ramGib: 4, diskGib: 10);
        var twoDisks = oneDisk with { Disks = [oneDisk.Disks[0], new VmDisk(oneDisk.Disks[0].Device with { TargetDev = "vdb" }, oneDisk.Disks[0].Volume)] };

        var one = model.EstimateMoveToPve(oneDisk, DiskStrategy.Warm);
        var two = model.EstimateMoveToPve(twoDisks, DiskStrategy.Warm);

        Assert.Equal(1.5 + (10 * 1024 * 0.05 / 10), one.DowntimeCopySeconds, 9);
        Assert.Equal(3 + (20 * 1024 * 0.05 / 10), two.DowntimeCopySeconds, 9);
        Assert.Contains("+ 1.5 s fixed", one.Rate, StringComparison.Ordinal);
        // cold copies in full: no incremental copy, no fixed cost.
        Assert.Equal(10 * 1024 / 100.0, model.EstimateMoveToPve(oneDisk, DiskStrategy.Cold).DowntimeCopySeconds, 9);
    }

    [Fact]
    public void Attach_and_move_downtime_does_not_depend_on_the_disk_size_while_cold_does()
    {
        var model = Model(Rates());
        var small = RbdVm("small", "h1", ramGib: 4, diskGib: 10);
        var huge = RbdVm("huge", "h1", ramGib: 4, diskGib: 2000);

        var attachSmall = model.EstimateMoveToPve(small, DiskStrategy.AttachAndMove);
        var attachHuge = model.EstimateMoveToPve(huge, DiskStrategy.AttachAndMove);
        var coldSmall = model.EstimateMoveToPve(small, DiskStrategy.Cold);
        var coldHuge = model.EstimateMoveToPve(huge, DiskStrategy.Cold);

        Assert.Equal(20 + 2 + 40, attachSmall.DowntimeSeconds, 9);
        Assert.Equal(attachSmall.DowntimeSeconds, attachHuge.DowntimeSeconds);
        // The online move takes the time, not the downtime.
        Assert.Equal(2000 * 1024 / 100.0, attachHuge.CopySeconds, 9);
        Assert.Equal(attachHuge.DowntimeSeconds + attachHuge.CopySeconds, attachHuge.TotalSeconds, 9);
        // Cold: 1990 GiB more copied at 100 MiB/s and checksummed at 50 MiB/s.
        Assert.Equal(1990 * 1024 * ((1 / 100.0) + (1 / 50.0)), coldHuge.DowntimeSeconds - coldSmall.DowntimeSeconds, 6);
    }

    [Fact]
    public void Sampled_verification_keeps_warm_downtime_flat_where_full_verification_grows_with_the_disk()
    {
        var small = RbdVm("small", "h1", ramGib: 4, diskGib: 10, usedGib: 1);
        var huge = RbdVm("huge", "h1", ramGib: 4, diskGib: 1000, usedGib: 1);

        var sampled = Model(Rates(), verify: "sampled");
        var full = Model(Rates(), verify: "full");

        // Same written data (1 GiB) so the same change; 16 blocks at 0.5 s per RBD disk.
        Assert.Equal(8, sampled.EstimateMoveToPve(huge, DiskStrategy.Warm).VerifySeconds, 9);
        Assert.Equal(sampled.EstimateMoveToPve(small, DiskStrategy.Warm).DowntimeSeconds, sampled.EstimateMoveToPve(huge, DiskStrategy.Warm).DowntimeSeconds, 9);
        Assert.Equal(990 * 1024 / 50.0, full.EstimateMoveToPve(huge, DiskStrategy.Warm).DowntimeSeconds - full.EstimateMoveToPve(small, DiskStrategy.Warm).DowntimeSeconds, 6);
        Assert.StartsWith("sampled: 16 blocks x 1 disk(s)", sampled.EstimateMoveToPve(huge, DiskStrategy.Warm).Verification, StringComparison.Ordinal);
    }

    [Fact]
    public void Sampled_verification_of_a_warm_file_disk_counts_the_blocks_and_the_overlay_change_in_full_not_the_disk()
    {
        // 8 GiB file disk, fully used: warm changes 5 % (409.6 MiB), which the movers hash in full at 50 MiB/s.
        var vm = FileVm("legacy", "h1", ramGib: 2, diskGib: 8);
        var sampled = Model(Rates(), verify: "sampled");

        var warm = sampled.EstimateMoveToPve(vm, DiskStrategy.Warm);
        var cold = sampled.EstimateMoveToPve(vm, DiskStrategy.Cold);
        var full = Model(Rates(), verify: "full").EstimateMoveToPve(vm, DiskStrategy.Warm);

        Assert.Equal((16 * 0.5) + (8 * 1024 * 0.05 / 50), warm.VerifySeconds, 6);
        Assert.Equal(16 * 0.5, cold.VerifySeconds, 9);
        Assert.Equal(8 * 1024 / 50.0, full.VerifySeconds, 9);
        Assert.Contains("overlay extents in full", warm.Verification, StringComparison.Ordinal);
        Assert.DoesNotContain("overlay", cold.Verification, StringComparison.Ordinal);
    }

    [Fact]
    public void File_disks_use_the_file_path_rates_and_rbd_disks_the_fleet_path()
    {
        var model = Model(Rates(fullMiBps: 100, fileMiBps: 400));
        var file = FileVm("legacy", "h1", ramGib: 2, diskGib: 8);
        var mixed = MixedVm("both", "h1", ramGib: 2, rbdGib: 10, fileGib: 8);

        var cold = model.EstimateMoveToPve(file, DiskStrategy.Cold);
        var warm = model.EstimateMoveToPve(file, DiskStrategy.Warm);
        var coldMixed = model.EstimateMoveToPve(mixed, DiskStrategy.Cold);

        Assert.Equal(8 * 1024 / 400.0, cold.DowntimeCopySeconds, 9);
        Assert.Contains("file 400 MiB/s", cold.Rate, StringComparison.Ordinal);
        // The file path's diff rate (200 MiB/s here) for the changes.
        Assert.Equal(8 * 1024 * 0.05 / 200, warm.DowntimeCopySeconds, 9);
        Assert.Equal((10 * 1024 / 100.0) + (8 * 1024 / 400.0), coldMixed.DowntimeCopySeconds, 9);
        Assert.Contains("direct 100 MiB/s (RBD), file 400 MiB/s (files)", coldMixed.Rate, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_rates_the_old_defaults_hold_and_say_so()
    {
        var model = new DowntimeModel();
        var vm = RbdVm("web", "h1", ramGib: 4, diskGib: 40, usedGib: 20);
        var bytes = 20 * G;

        Assert.Equal(new MoveEstimate(bytes, (bytes / 400e6) + 60, (bytes / 400e6) + 60), model.MoveToPve(vm, DiskStrategy.Cold));
        Assert.Equal((bytes * 0.05 / 400e6) + 60, model.MoveToPve(vm, DiskStrategy.Warm).DowntimeSeconds, 9);
        Assert.Equal(bytes + (long)(bytes * 0.05), model.MoveToPve(vm, DiskStrategy.Warm).Bytes);
        Assert.Equal(60, model.MoveToPve(vm, DiskStrategy.AttachAndMove).DowntimeSeconds);
        Assert.False(model.Provenance.Measured);
        Assert.StartsWith("default rates (not measured)", (model.Provenance with { Summary = model.Summary() }).Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_shut_off_vm_has_no_downtime_whatever_the_strategy()
    {
        var model = Model(Rates());
        var off = RbdVm("off", "h1", ramGib: 4, diskGib: 40) with { Running = false };

        Assert.All([DiskStrategy.Cold, DiskStrategy.Warm, DiskStrategy.AttachAndMove], s => Assert.Equal(0, model.EstimateMoveToPve(off, s).DowntimeSeconds));
        Assert.Equal(40 * 1024 * ((1 / 100.0) + (1 / 50.0)), model.EstimateMoveToPve(off, DiskStrategy.Cold).TotalSeconds, 6);
    }

    [Fact]
    public void A_fleet_copying_through_the_target_client_path_uses_that_paths_measured_rate()
    {
        var rates = Rates() with { Paths = new Dictionary<string, PathRates> { ["direct"] = new(100, 10), ["target-client"] = new(200) } };
        var vm = RbdVm("tc", "h1", ramGib: 4, diskGib: 40) with { Running = false };

        var direct = DowntimeModel.FromRates(rates, Policy, "rates.yaml").EstimateMoveToPve(vm, DiskStrategy.Cold).TotalSeconds;
        var targetClient = DowntimeModel.FromRates(rates, Policy with { CopyDataPath = "target-client" }, "rates.yaml").EstimateMoveToPve(vm, DiskStrategy.Cold).TotalSeconds;

        // Copy at 100 vs 200 MiB/s, checksum at 50 MiB/s either way.
        Assert.Equal(40 * 1024 * ((1 / 100.0) + (1 / 50.0)), direct, 6);
        Assert.Equal(40 * 1024 * ((1 / 200.0) + (1 / 50.0)), targetClient, 6);
    }

    [Fact]
    public void Rates_without_the_fleets_data_path_name_the_missing_key_and_the_fix()
    {
        var e = Assert.Throws<RatesFileException>(() => DowntimeModel.FromRates(Rates(), Policy with { CopyDataPath = "relayed" }, "measured.yaml"));

        Assert.Equal(("measured.yaml", "paths.relayed"), (e.File, e.Key));
        Assert.Contains("policy.copyDataPath is relayed", e.Problem, StringComparison.Ordinal);
        Assert.Contains("it has: direct", e.Problem, StringComparison.Ordinal);
        Assert.Contains("--rates-out", e.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Measured_provenance_names_the_file_place_time_path_and_verification()
    {
        var model = Model(Rates(), verify: "sampled");

        Assert.Equal(
            (true, "rates.yaml", "test", "whiteboard", new DateTimeOffset(2026, 11, 24, 6, 10, 0, TimeSpan.Zero), "direct", "sampled"),
            (model.Provenance.Measured, model.Provenance.File, model.Provenance.Source, model.Provenance.MeasuredOn, model.Provenance.MeasuredAt, model.Provenance.DataPath, model.Provenance.Verification));
        Assert.Contains("direct full 100 MiB/s, diff 10 MiB/s", model.Summary(), StringComparison.Ordinal);
        Assert.Contains("shutdown 20 s + boot 40 s", model.Summary(), StringComparison.Ordinal);
    }
}
