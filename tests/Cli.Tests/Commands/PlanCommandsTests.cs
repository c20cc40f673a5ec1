using System.CommandLine;
using System.Xml.Linq;
using Taquin.Cli.Commands;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Planning;

namespace Taquin.Cli.Tests.Commands;

public sealed class PlanCommandsTests : IDisposable
{
    private const long G = ByteSize.GiB;
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-plan-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static FleetInventory Fleet(int vmRamGib = 8)
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
        VmRecord Vm(string name, string host) => new()
        {
            Domain = new LibvirtDomain { Name = name, Uuid = Guid.Empty, MemoryBytes = vmRamGib * G, VcpuMax = 2 },
            Host = host,
            SourceFile = $"domains/{host}/{name}.xml",
            Disks = [new VmDisk(new DiskDevice { SourceKind = DiskSourceKind.Network, Protocol = "rbd", NetworkName = "libvirt/" + name, TargetDev = "vda", Bus = "virtio" }, new VolumeInfo(40 * G, 20 * G))],
        };
        return new FleetInventory
        {
            Root = "fleet",
            Fleet = new Fleet
            {
                Hosts = [Host("h1"), Host("h2"), Host("h3"), Host("h4")],
                OldCeph = new OldCephSpec(),
                Policy = new PolicySpec { VlanRange = new VlanRange(100, 200), RamReservePerHostBytes = 16 * G },
            },
            Vms = [Vm("vm-web-01", "h1"), Vm("vm-db-01", "h2"), Vm("vm-app-01", "h3"), Vm("vm-app-02", "h4")],
            Volumes = new VolumeCatalog(),
            Digest = "sha256:fleet",
        };
    }

    private static (int Exit, string Output) Run(FleetInventory? inventory, IPlanSolver? solver, params string[] args)
    {
        IReadOnlyList<Diagnostic> none = [];
        IReadOnlyList<Diagnostic> missing = [Diagnostic.Error("fleet/fleet.yaml", "fleet", "file not found", "create fleet.yaml")];
        var root = new RootCommand("taquin") { PlanCommands.Build(_ => inventory is null ? (null, missing) : (inventory, none), solver) };
        using var output = new StringWriter();
        var exit = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = output });
        return (exit, output.ToString());
    }

    [Fact]
    public void Plan_writes_a_plan_that_verify_accepts()
    {
        var inventory = Fleet();
        var planPath = Path.Combine(_dir, "plan.json");

        var (exit, output) = Run(inventory, null, "plan", "fleet", "-o", planPath, "--seed", "3");

        Assert.Equal(0, exit);
        Assert.Contains("GREEDY", output, StringComparison.Ordinal);
        Assert.Contains("Plan written to", output, StringComparison.Ordinal);
        var plan = PlanJson.Load(planPath);
        Assert.Equal(3, plan.Solver.Seed);
        Assert.Equal(0, Run(inventory, null, "plan", "verify", planPath, "fleet").Exit);
    }

    [Fact]
    public void A_registered_solver_is_used_unless_greedy_is_asked_for()
    {
        var inventory = Fleet();
        var solver = new CountingSolver();

        Run(inventory, solver, "plan", "fleet", "-o", Path.Combine(_dir, "a.json"), "--time-limit", "5");
        Run(inventory, solver, "plan", "fleet", "-o", Path.Combine(_dir, "b.json"), "--greedy");

        Assert.Equal(1, solver.Calls);
        Assert.Equal(5, solver.LastOptions!.TimeLimitSeconds);
        // The planner's wall budget is what the command has left of it after loading the inventory.
        Assert.InRange(solver.LastOptions.WallBudgetSeconds!.Value, 0, 5 - 0.3);
        var solved = PlanJson.Load(Path.Combine(_dir, "a.json"));
        Assert.Equal("FEASIBLE", solved.Solver.Status);
        Assert.NotNull(solved.Baseline);
        Assert.NotNull(solved.LowerBound);
    }

    [Fact]
    public void Verify_names_each_violation_and_exits_1()
    {
        var inventory = Fleet();
        var planPath = Path.Combine(_dir, "plan.json");
        Run(inventory, null, "plan", "fleet", "-o", planPath);
        var tampered = PlanJson.Load(planPath) with { InventoryDigest = "sha256:other" };
        File.WriteAllText(planPath, PlanJson.Serialize(tampered));

        var (exit, output) = Run(inventory, null, "plan", "verify", planPath, "fleet");

        Assert.Equal(1, exit);
        Assert.Contains("violation: inventory digest sha256:other", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_writes_svg_and_markdown()
    {
        var inventory = Fleet();
        var planPath = Path.Combine(_dir, "plan.json");
        var svgPath = Path.Combine(_dir, "board.svg");
        Run(inventory, null, "plan", "fleet", "-o", planPath);

        var svg = Run(inventory, null, "plan", "export", planPath, "fleet", "--format", "svg", "-o", svgPath);
        var md = Run(inventory, null, "plan", "export", planPath, "fleet", "--format", "md");

        Assert.Equal(0, svg.Exit);
        Assert.Equal("svg", XDocument.Load(svgPath).Root!.Name.LocalName);
        Assert.Equal(0, md.Exit);
        Assert.Contains("# Migration plan", md.Output, StringComparison.Ordinal);
        Assert.Contains("vm-web-01", md.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_prints_the_summary_and_the_waves()
    {
        var inventory = Fleet();
        var planPath = Path.Combine(_dir, "plan.json");
        Run(inventory, null, "plan", "fleet", "-o", planPath);
        var plan = PlanJson.Load(planPath);

        var (exit, output) = Run(null, null, "plan", "show", planPath);

        Assert.Equal(0, exit);
        Assert.Contains("Stages", output, StringComparison.Ordinal);
        Assert.Contains("Waves", output, StringComparison.Ordinal);
        var firstConverted = plan.Stages[1].Actions.First(a => a.Kind == ActionKind.ConvertHost).Host!;
        Assert.Contains(firstConverted, output, StringComparison.Ordinal);
    }

    [Fact]
    public void An_infeasible_fleet_exits_1_with_what_blocks()
    {
        var (exit, output) = Run(Fleet(vmRamGib: 120), null, "plan", "fleet", "-o", Path.Combine(_dir, "plan.json"));

        Assert.Equal(1, exit);
        Assert.Contains("vm-web-01 needs 120 GiB RAM", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "plan.json")));
    }

    [Fact]
    public void User_mistakes_exit_2_with_the_fix()
    {
        var bad = Path.Combine(_dir, "bad.json");
        File.WriteAllText(bad, "{ \"schemaVersion\": 9 }");

        var noInventory = Run(null, null, "plan", "fleet", "-o", Path.Combine(_dir, "plan.json"));
        var badPlan = Run(Fleet(), null, "plan", "verify", bad, "fleet");
        var badPin = Run(Fleet(), null, "plan", "fleet", "--pin", "vm-web-01");
        var unknownHost = Run(Fleet(), null, "plan", "fleet", "--exclude", "h9");

        Assert.Equal(2, noInventory.Exit);
        Assert.Contains("fleet/fleet.yaml", noInventory.Output, StringComparison.Ordinal);
        Assert.Equal(2, badPlan.Exit);
        Assert.Contains("$.schemaVersion", badPlan.Output, StringComparison.Ordinal);
        Assert.Equal(2, badPin.Exit);
        Assert.Contains("expected vm=host", badPin.Output, StringComparison.Ordinal);
        Assert.Equal(2, unknownHost.Exit);
        Assert.Contains("host 'h9' is not in fleet.yaml", unknownHost.Output, StringComparison.Ordinal);
    }

    /// <summary>Stands in for the CP-SAT solver: records the call, plans greedily.</summary>
    private sealed class CountingSolver : IPlanSolver
    {
        public int Calls { get; private set; }

        public PlannerOptions? LastOptions { get; private set; }

        public MigrationPlan Solve(FleetInventory inventory, PlannerOptions options, CancellationToken cancellationToken)
        {
            Calls++;
            LastOptions = options;
            var plan = GreedyPlanner.Plan(inventory, options, cancellationToken);
            return plan with { Solver = plan.Solver with { Status = "FEASIBLE" }, Baseline = null, LowerBound = null };
        }
    }
}
