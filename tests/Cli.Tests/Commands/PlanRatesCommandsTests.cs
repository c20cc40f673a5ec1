using System.CommandLine;
using Taquin.Cli.Commands;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Planning;
using Taquin.Tests.Shared;

namespace Taquin.Cli.Tests.Commands;

/// <summary><c>taquin plan --rates</c> and fleet.yaml <c>policy.rates</c>: measured rates reach the plan and its reviews.</summary>
public sealed class PlanRatesCommandsTests : IDisposable
{
    private const long G = ByteSize.GiB;
    private static readonly string SampleRates = Path.Combine(RepositoryPaths.Root, "samples", "rates", "testbed-2026-11-24.yaml");
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-plan-rates-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static FleetInventory Fleet(string? ratesFile = null)
    {
        HostSpec Host(string name) => new()
        {
            Name = name,
            RamBytes = 128 * G,
            Cores = 16,
            NicGbits = 10,
            ZfsLayout = ZfsLayout.Stripe,
            Disks = [new HostDiskGroup("osd", 1, 2000 * G, DiskRole.OldCephOsd, DiskRole.NewCephOsd), new HostDiskGroup("zfs", 1, 2000 * G, DiskRole.None, DiskRole.Zfs)],
        };
        VmRecord Vm(string name, string host, int diskGib) => new()
        {
            Domain = new LibvirtDomain { Name = name, Uuid = Guid.Empty, MemoryBytes = 8 * G, VcpuMax = 2 },
            Host = host,
            SourceFile = $"domains/{host}/{name}.xml",
            Disks = [new VmDisk(new DiskDevice { SourceKind = DiskSourceKind.Network, Protocol = "rbd", NetworkName = "libvirt/" + name, TargetDev = "vda", Bus = "virtio" }, new VolumeInfo(diskGib * G, diskGib * G / 2))],
        };
        return new FleetInventory
        {
            Root = "fleet",
            Fleet = new Fleet
            {
                Hosts = [Host("h1"), Host("h2"), Host("h3")],
                OldCeph = new OldCephSpec(),
                Policy = new PolicySpec { VlanRange = new VlanRange(100, 200), RamReservePerHostBytes = 16 * G, RatesFile = ratesFile },
            },
            Vms = [Vm("vm-web-01", "h1", 40), Vm("vm-db-01", "h2", 400), Vm("vm-app-01", "h3", 20)],
            Volumes = new VolumeCatalog(),
            Digest = "sha256:fleet",
        };
    }

    private (int Exit, string Output) Run(FleetInventory inventory, params string[] args)
    {
        IReadOnlyList<Diagnostic> none = [];
        var root = new RootCommand("taquin") { PlanCommands.Build(_ => (inventory, none), null) };
        using var output = new StringWriter();
        var exit = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = output });
        return (exit, output.ToString());
    }

    /// <summary>The output with the console's line wrapping undone: words separated by single spaces.</summary>
    private static string Flat(string output) => string.Join(' ', output.Split((char[])['\r', '\n', ' '], StringSplitOptions.RemoveEmptyEntries));

    [Fact]
    public void Plan_with_rates_writes_their_provenance_and_the_estimates_from_them()
    {
        var planPath = Path.Combine(_dir, "plan.json");

        var (exit, output) = Run(Fleet(), "plan", _dir, "--rates", SampleRates, "-o", planPath);

        Assert.Equal(0, exit);
        Assert.Contains("Estimates use measured rates from " + SampleRates, Flat(output), StringComparison.Ordinal);
        var plan = PlanJson.Load(planPath);
        Assert.Equal((true, SampleRates, "taquin bench movers", new DateTimeOffset(2026, 11, 24, 6, 10, 0, TimeSpan.Zero)), (plan.Rates!.Measured, plan.Rates.File, plan.Rates.Source, plan.Rates.MeasuredAt));
        // warm, 200 GiB written, 400 GiB disk: 5 % at 42 MiB/s + 1.303 s fixed, 400 GiB checksummed at 70.588 MiB/s, 30 s + 30 s.
        var db = plan.Vms["vm-db-01"];
        Assert.Equal("warm", db.Strategy);
        Assert.Equal(60 + (200 * 1024 * 0.05 / 42.0) + 1.303 + (400 * 1024 / 70.588), db.DowntimeSeconds, 6);
    }

    [Fact]
    public void Fleet_yaml_rates_are_read_relative_to_the_inventory_and_the_flag_wins()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "rates"));
        string WithDiff(double mibps) => File.ReadAllText(SampleRates).Replace("diffFixedSeconds: 1.303", FormattableString.Invariant($"diffMiBps: {mibps}"), StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(_dir, "rates", "site.yaml"), WithDiff(21));
        var faster = Path.Combine(_dir, "faster.yaml");
        File.WriteAllText(faster, WithDiff(42));
        var fromFleet = Path.Combine(_dir, "fleet-plan.json");
        var fromFlag = Path.Combine(_dir, "flag-plan.json");

        Assert.Equal(0, Run(Fleet("rates/site.yaml"), "plan", _dir, "-o", fromFleet).Exit);
        Assert.Equal(0, Run(Fleet("rates/site.yaml"), "plan", _dir, "--rates", faster, "-o", fromFlag).Exit);

        var fleetPlan = PlanJson.Load(fromFleet);
        var flagPlan = PlanJson.Load(fromFlag);
        Assert.Equal(Path.Combine(_dir, "rates/site.yaml"), fleetPlan.Rates!.File);
        Assert.Equal(faster, flagPlan.Rates!.File);
        // Twice the diff rate: half of warm's copy part.
        var slow = fleetPlan.Vms["vm-db-01"].Estimate!;
        var fast = flagPlan.Vms["vm-db-01"].Estimate!;
        Assert.Equal(slow.DowntimeCopySeconds / 2, fast.DowntimeCopySeconds, 3);
        Assert.Equal(slow.DowntimeSeconds - (slow.DowntimeCopySeconds / 2), fast.DowntimeSeconds, 3);
    }

    [Fact]
    public void A_bad_rates_file_exits_2_naming_the_file_key_value_and_who_named_it()
    {
        var bad = Path.Combine(_dir, "bad.yaml");
        File.WriteAllText(bad, File.ReadAllText(SampleRates).Replace("fullMiBps: 42.0", "fullMiBps: fast", StringComparison.Ordinal));

        var (exit, output) = Run(Fleet(), "plan", _dir, "--rates", bad, "-o", Path.Combine(_dir, "plan.json"));
        var text = Flat(output);

        Assert.Equal(2, exit);
        Assert.Contains("rates file named by --rates", text, StringComparison.Ordinal);
        Assert.Contains($"{bad}: paths.direct.fullMiBps (line ", text, StringComparison.Ordinal);
        Assert.Contains("(value 'fast')", text, StringComparison.Ordinal);
        Assert.Contains("Fix: Write a plain number", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "plan.json")));
    }

    [Fact]
    public void A_missing_rates_file_from_fleet_yaml_exits_2_and_names_policy_rates()
    {
        var (exit, output) = Run(Fleet("rates/missing.yaml"), "plan", _dir, "-o", Path.Combine(_dir, "plan.json"));

        Assert.Equal(2, exit);
        Assert.Contains("rates file named by fleet.yaml policy.rates", Flat(output), StringComparison.Ordinal);
        Assert.Contains("missing.yaml", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_names_the_rates_and_gives_each_vm_its_strategy_reason_and_downtime()
    {
        var planPath = Path.Combine(_dir, "plan.json");
        Run(Fleet(), "plan", _dir, "--rates", SampleRates, "-o", planPath);
        var plan = PlanJson.Load(planPath);

        var (exit, output) = Run(Fleet(), "plan", "show", planPath);
        var text = Flat(output);

        Assert.Equal(0, exit);
        Assert.Contains("Estimates use measured rates from", text, StringComparison.Ordinal);
        Assert.Contains("VMs — strategy, why, estimated downtime", text, StringComparison.Ordinal);
        foreach (var (name, info) in plan.Vms)
        {
            Assert.Contains($"{name} wave {info.MoveStage} · {info.Strategy} · downtime {PlanReport.Duration(info.DowntimeSeconds)} (shutdown 30 s + copy ", text, StringComparison.Ordinal);
        }

        Assert.Contains("RBD disks, policy defaultStrategy is warm", text, StringComparison.Ordinal);
    }
}
