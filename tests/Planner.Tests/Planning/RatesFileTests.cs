using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Tests.Shared;

namespace Taquin.Planner.Tests.Planning;

public sealed class RatesFileTests : IDisposable
{
    private static readonly string Sample = Path.Combine(RepositoryPaths.Root, "samples", "rates", "testbed-2026-11-24.yaml");
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-rates-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Valid = """
        source: taquin bench movers
        measuredOn: pve1..pve3
        measuredAt: 2026-11-24T06:10:00Z
        paths:
          direct: { fullMiBps: 42.0, diffMiBps: 5.357, diffFixedSeconds: 1.303 }
        verification: { fullMiBps: 70.588, sampleSeconds: 0.287 }
        switchSeconds: 0.26
        """;

    /// <summary>Bench run2's cutover section, split as the sample's note explains (copy part from the full-verify slope).</summary>
    private static MoversMeasurements Run2 => new()
    {
        MeasuredOn = "test bed",
        MeasuredAt = new DateTimeOffset(2026, 11, 24, 6, 10, 0, TimeSpan.Zero),
        DirectMiBps = 42.0,
        RelayedMiBps = 92.6,
        FileMiBps = 117.7,
        Cutovers =
        [
            new CutoverRun(256, 8, 5.12 - (256 / (768 / 10.88)), 4, 2.72 - (5.12 - (256 / (768 / 10.88))), 256 / (768 / 10.88), 0.25),
            new CutoverRun(1024, 8, 16.00 - (1024 / (768 / 10.88)), 4, 2.56 - (16.00 - (1024 / (768 / 10.88))), 1024 / (768 / 10.88), 0.26),
        ],
    };

    [Fact]
    public void The_sample_holds_what_the_bench_derivation_gives_for_run2()
    {
        var sample = RatesFile.Load(Sample);
        var derived = Run2.ToRates();

        Assert.Equal("taquin bench movers", sample.Source);
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 6, 10, 0, TimeSpan.Zero), sample.MeasuredAt);
        Assert.Equal(["direct", "file", "relayed"], sample.Paths.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, rates) in derived.Paths)
        {
            Assert.Equal(rates.FullMiBps, sample.Paths[path].FullMiBps, 3);
            Assert.Equal(rates.DiffMiBps, sample.Paths[path].DiffMiBps);
            Assert.Equal(rates.DiffFixedSeconds ?? 0, sample.Paths[path].DiffFixedSeconds ?? 0, 3);
        }

        Assert.Equal(1.303, sample.Paths["direct"].DiffFixedSeconds);

        Assert.Equal(derived.Verification!.FullMiBps!.Value, sample.Verification!.FullMiBps!.Value, 3);
        Assert.Equal(derived.Verification.SampleSeconds!.Value, sample.Verification.SampleSeconds!.Value, 3);
        Assert.Equal(derived.SwitchSeconds, sample.SwitchSeconds);
        Assert.Null(sample.ShutdownSeconds);
    }

    [Fact]
    public void A_measured_direct_tcp_rate_is_written_read_back_and_used_by_a_fleet_copying_over_tcp()
    {
        var measured = Run2 with { DirectTcpMiBps = 180.5 };

        var back = RatesFile.Read(RatesFile.Write(measured.ToRates(), ["bench"]), "tcp.yaml");
        var model = DowntimeModel.FromRates(back, new PolicySpec { VlanRange = new VlanRange(100, 200), CopyDataPath = "direct-tcp" }, "tcp.yaml");

        Assert.Equal(180.5, back.Paths["direct-tcp"].FullMiBps);
        Assert.Equal(42.0, back.Paths["direct"].FullMiBps);
        Assert.Equal("direct-tcp", model.DataPath);
        Assert.Equal(180.5 * 1024 * 1024, model.CopyBytesPerSecond);
    }

    [Fact]
    public void What_the_bench_writes_reads_back_the_same()
    {
        var derived = Run2.ToRates();
        var rates = derived with
        {
            ShutdownSeconds = 35,
            BootSeconds = 22.5,
            LiveMigrationMiBps = 900,
            Paths = new Dictionary<string, PathRates>(derived.Paths) { ["relayed"] = new(92.6, 88.25, 0.5) },
        };

        var yaml = RatesFile.Write(rates, ["written by a test", "second line"]);
        var back = RatesFile.Read(yaml, "out.yaml");

        Assert.StartsWith("# written by a test\n# second line\n", yaml, StringComparison.Ordinal);
        Assert.Equal((rates.Source, rates.MeasuredOn, rates.MeasuredAt, rates.Note), (back.Source, back.MeasuredOn, back.MeasuredAt, back.Note));
        Assert.Equal(rates.Paths.Keys.Order(StringComparer.Ordinal), back.Paths.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, r) in rates.Paths)
        {
            Assert.Equal(Math.Round(r.FullMiBps, 3), back.Paths[path].FullMiBps);
            Assert.Equal(r.DiffMiBps is { } d ? Math.Round(d, 3) : null, back.Paths[path].DiffMiBps);
            Assert.Equal(r.DiffFixedSeconds is { } x ? Math.Round(x, 3) : null, back.Paths[path].DiffFixedSeconds);
        }

        Assert.Equal(Math.Round(rates.Verification!.SampleSeconds!.Value, 3), back.Verification!.SampleSeconds);
        Assert.Equal((0.26, 35.0, 22.5, 900.0), (back.SwitchSeconds, back.ShutdownSeconds, back.BootSeconds, back.LiveMigrationMiBps));
    }

    [Fact]
    public void A_minimal_file_leaves_the_unmeasured_figures_unset()
    {
        var rates = RatesFile.Read("source: hand\nmeasuredOn: lab\nmeasuredAt: 2026-01-02\npaths:\n  relayed: { fullMiBps: 300 }\n");

        Assert.Equal(new PathRates(300), rates.Paths["relayed"]);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero), rates.MeasuredAt);
        Assert.Equal((null, null, null, null), (rates.Verification, rates.SwitchSeconds, rates.ShutdownSeconds, rates.BootSeconds));
    }

    [Theory]
    [InlineData("fullMiBps: 42.0", "fullMiBps: -3", "paths.direct.fullMiBps (line 5)", "-3")]
    [InlineData("fullMiBps: 42.0", "fullMiBps: 42MB/s", "paths.direct.fullMiBps (line 5)", "42MB/s")]
    [InlineData("diffMiBps: 5.357", "diffMiBps: 0", "paths.direct.diffMiBps (line 5)", "0")]
    [InlineData("diffFixedSeconds: 1.303", "diffFixedSeconds: -0.5", "paths.direct.diffFixedSeconds (line 5)", "-0.5")]
    [InlineData("sampleSeconds: 0.287", "sampleSeconds: soon", "verification.sampleSeconds (line 6)", "soon")]
    [InlineData("switchSeconds: 0.26", "switchSeconds: -1", "switchSeconds (line 7)", "-1")]
    [InlineData("measuredAt: 2026-11-24T06:10:00Z", "measuredAt: yesterday", "measuredAt (line 3)", "yesterday")]
    [InlineData("  direct:", "  carrier-pigeon:", "paths.carrier-pigeon (line 5)", "carrier-pigeon")]
    [InlineData("switchSeconds: 0.26", "swichSeconds: 0.26", "swichSeconds (line 7)", "swichSeconds")]
    [InlineData("source: taquin bench movers\n", "", "source (line 1)", "")]
    public void A_bad_value_is_named_by_file_key_line_and_value(string original, string replacement, string key, string value)
    {
        Assert.Contains(original, Valid, StringComparison.Ordinal);
        var yaml = Valid.Replace(original, replacement, StringComparison.Ordinal);

        var e = Assert.Throws<RatesFileException>(() => RatesFile.Read(yaml, "site/rates.yaml"));

        Assert.Equal(("site/rates.yaml", key, value), (e.File, e.Key, e.Value));
        Assert.StartsWith($"site/rates.yaml: {key}: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("Fix: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_problem_of_a_file_is_reported_at_once_not_only_the_first()
    {
        var yaml = Valid.Replace("fullMiBps: 42.0", "fullMiBps: -3", StringComparison.Ordinal)
            .Replace("switchSeconds: 0.26", "swichSeconds: 0.26", StringComparison.Ordinal);

        var e = Assert.Throws<RatesFileException>(() => RatesFile.Read(yaml, "site/rates.yaml"));

        Assert.Equal(["paths.direct.fullMiBps", "swichSeconds"], e.Diagnostics.Select(d => d.Element));
        Assert.Contains("(value '-3')", e.Message, StringComparison.Ordinal);
        Assert.Contains("swichSeconds (line 7): Unknown key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Broken_yaml_names_the_line()
    {
        var e = Assert.Throws<RatesFileException>(() => RatesFile.Read("source: a\npaths: [direct\n", "r.yaml"));

        Assert.Equal("yaml (line 3)", e.Key);
        Assert.Contains("not valid YAML", e.Problem, StringComparison.Ordinal);
    }

    private static Fleet FleetWith(string? ratesFile, string dataPath = "direct") => new()
    {
        Hosts = [],
        OldCeph = new OldCephSpec(),
        Policy = new PolicySpec { VlanRange = new VlanRange(100, 200), RatesFile = ratesFile, CopyDataPath = dataPath },
    };

    [Fact]
    public void The_flag_wins_over_fleet_yaml_whose_path_is_relative_to_the_inventory()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "inv", "rates"));
        File.WriteAllText(Path.Combine(_dir, "inv", "rates", "site.yaml"), Valid);
        var flagFile = Path.Combine(_dir, "flag.yaml");
        File.WriteAllText(flagFile, Valid.Replace("fullMiBps: 42.0", "fullMiBps: 84.0", StringComparison.Ordinal));
        var inventory = Path.Combine(_dir, "inv");

        var fromFleet = RatesFile.ModelFor(FleetWith("rates/site.yaml"), inventory, null);
        var fromFlag = RatesFile.ModelFor(FleetWith("rates/site.yaml"), inventory, flagFile);
        var none = RatesFile.ModelFor(FleetWith(null), inventory, null);

        Assert.Equal(42.0 * ByteSize.MiB, fromFleet.CopyBytesPerSecond);
        Assert.Equal(Path.Combine(inventory, "rates/site.yaml"), fromFleet.Provenance.File);
        Assert.Equal(84.0 * ByteSize.MiB, fromFlag.CopyBytesPerSecond);
        Assert.Equal(flagFile, fromFlag.Provenance.File);
        Assert.False(none.Provenance.Measured);
    }

    [Fact]
    public void A_missing_file_named_in_fleet_yaml_says_where_it_was_named()
    {
        var e = Assert.Throws<RatesFileException>(() => RatesFile.ModelFor(FleetWith("nope.yaml"), _dir, null));

        Assert.Equal(Path.Combine(_dir, "nope.yaml"), e.File);
        Assert.Contains("named by fleet.yaml policy.rates", e.Problem, StringComparison.Ordinal);
        Assert.Contains("policy.rates", e.Fix, StringComparison.Ordinal);
    }
}
