using System.Diagnostics;
using System.Globalization;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Planning;
using Taquin.Planner.Samples;
using Taquin.Planner.Solving;

namespace Taquin.Bench;

/// <summary>
/// Planner benchmark (see docs/planner-model.md, "Benchmark"): per instance, greedy, CP-SAT with the
/// greedy hint and CP-SAT without it, one CSV row each, then medians/p95 over the seeded variants
/// and a determinism check. Usage: dotnet run -c Release --project bench/Taquin.Bench -- [--seeds N]
/// [--time-limit S] [--sizes small,large] [--repeat N] [--no-nohint] [--rbd-only] [--exact-limit N]
/// [--greedy-only [--greedy-runs N]].
/// </summary>
internal static class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "movers")
        {
            return MoversBench.RunAsync(args).GetAwaiter().GetResult();
        }

        var seeds = IntArg(args, "--seeds", 20);
        var timeLimit = DoubleArg(args, "--time-limit", 10);
        var repeat = IntArg(args, "--repeat", 10);
        var sizes = StringArg(args, "--sizes", "small,large").Split(',');
        var noHint = !args.Contains("--no-nohint");
        var exactLimit = (long)DoubleArg(args, "--exact-limit", new CpSatTuning().ExactModelLimit);
        // --wall S: the wall-clock budget when it should differ from --time-limit (which sets the deterministic limits too).
        double? wall = args.Contains("--wall") ? DoubleArg(args, "--wall", timeLimit) : null;
        var only = StringArg(args, "--only", "");
        var root = Path.Combine(Path.GetTempPath(), "taquin-bench");
        var rows = new List<Row>();
        var instances = new List<(string Name, FleetGeneratorOptions Options)>();
        if (sizes.Contains("small"))
        {
            instances.Add(("sample-216", new FleetGeneratorOptions { Seed = 1 }));
            for (var seed = 2; seed < 2 + seeds; seed++)
            {
                instances.Add(($"seed-{seed}", new FleetGeneratorOptions { Seed = seed }));
            }
        }

        if (sizes.Contains("large"))
        {
            instances.Add(("fleet-1000", new FleetGeneratorOptions { Seed = 1, Vms = 1000, Hosts = 20 }));
            instances.Add(("fleet-5000", new FleetGeneratorOptions { Seed = 1, Vms = 5000, Hosts = 100 }));
        }

        var options = new PlannerOptions { TimeLimitSeconds = timeLimit, Seed = 1, Workers = 2 };
        var rbdOnly = args.Contains("--rbd-only");
        if (args.Contains("--greedy-only"))
        {
            GreedyTiming.Run([.. instances.Where(i => only.Length == 0 || only.Split(',').Contains(i.Name))
                .Select(i => (i.Name, rbdOnly ? RbdOnly(Load(root, i.Name, i.Options)) : Load(root, i.Name, i.Options)))], options, IntArg(args, "--greedy-runs", 10));
            return 0;
        }

        Console.WriteLine(Row.Header);
        foreach (var (name, generatorOptions) in instances.Where(i => only.Length == 0 || only.Split(',').Contains(i.Name)))
        {
            // As generated: file-disk VMs on every host, which hop with storage copy. --rbd-only turns them into RBD VMs.
            var inventory = Load(root, name, generatorOptions);
            inventory = rbdOnly ? RbdOnly(inventory) : inventory;
            rows.Add(RunGreedy(name, inventory, options));
            rows.Add(RunCpSat(name, "cpsat-hint", inventory, options, new CpSatTuning { UseGreedyHint = true, ExactModelLimit = exactLimit, WallLimitSeconds = wall }));
            if (noHint)
            {
                rows.Add(RunCpSat(name, "cpsat-nohint", inventory, options, new CpSatTuning { UseGreedyHint = false, ExactModelLimit = exactLimit, WallLimitSeconds = wall }));
            }
        }

        Summarize(rows);
        if (repeat > 0 && sizes.Contains("small"))
        {
            var sample = Load(root, "sample-216", new FleetGeneratorOptions { Seed = 1 });
            Determinism(rbdOnly ? RbdOnly(sample) : sample, options, repeat);
        }

        return 0;
    }

    /// <summary>Generates and loads a fleet without the inventory validator: the 5,000-VM fleet's VLAN numbers run past the valid range, which the planner does not care about.</summary>
    private static FleetInventory Load(string root, string name, FleetGeneratorOptions options)
    {
        var folder = Path.Combine(root, name);
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        FleetGenerator.Generate(options).WriteTo(folder);
        var loaded = InventoryLoader.Load(folder);
        return loaded.Inventory ?? throw new InvalidOperationException($"{name}: " + string.Join("; ", loaded.Diagnostics));
    }

    /// <summary>The same fleet with every local file disk turned into an RBD image of the same size.</summary>
    private static FleetInventory RbdOnly(FleetInventory inventory)
    {
        DiskDevice ToRbd(string vm, DiskDevice d) => d.IsCdrom || d.IsRbd || d.SourceKind == DiskSourceKind.None
            ? d
            : d with { SourceKind = DiskSourceKind.Network, Protocol = "rbd", NetworkName = $"libvirt/{vm}-{d.TargetDev}", Path = null };
        var vms = inventory.Vms.Select(v => v with
        {
            Domain = v.Domain with { Disks = [.. v.Domain.Disks.Select(d => ToRbd(v.Name, d))] },
            Disks = [.. v.Disks.Select(d => d with { Device = ToRbd(v.Name, d.Device) })],
        }).ToList();
        var rbd = new Dictionary<string, VolumeInfo>(inventory.Volumes.Rbd, StringComparer.Ordinal);
        foreach (var disk in vms.SelectMany(v => v.Disks).Where(d => d.Device.IsRbd && d.Volume is not null))
        {
            rbd[disk.Device.NetworkName!] = disk.Volume!;
        }

        return inventory with { Vms = vms, Volumes = inventory.Volumes with { Rbd = rbd } };
    }

    private static Row RunGreedy(string name, FleetInventory inventory, PlannerOptions options)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        try
        {
            var plan = GreedyPlanner.Plan(inventory, options);
            var seconds = clock.Elapsed.TotalSeconds;
            return Emit(Row.Of(name, "greedy", inventory, plan, seconds, seconds) with { CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds });
        }
        catch (PlanInfeasibleException e)
        {
            return Emit(Row.Failed(name, "greedy", inventory, clock.Elapsed.TotalSeconds, (e.Blockers.Count > 0 ? e.Blockers[0] : "infeasible")));
        }
    }

    private static Row RunCpSat(string name, string method, FleetInventory inventory, PlannerOptions options, CpSatTuning tuning)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var result = new CpSatPlanner(tuning).Plan(inventory, options);
        var seconds = clock.Elapsed.TotalSeconds;
        // CPU seconds of the run (both solver workers): on a loaded machine, what the run would cost on a quiet one.
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        if (Environment.GetEnvironmentVariable("TAQUIN_BENCH_LOG") is not null)
        {
            Console.Error.WriteLine($"{name} {method}: " + string.Join(" | ", result.Log));
            if (result.Plan is not null && PlanReport.TimingLine(result.Plan) is { } timing)
            {
                Console.Error.WriteLine($"{name} {method}: " + timing);
            }
        }

        if (result.Plan is null)
        {
            return Emit(Row.Failed(name, method, inventory, seconds, (result.Infeasibility is { Reasons.Count: > 0 } inf ? inf.Reasons[0] : "none")));
        }

        // First plan that passed the model's check (greedy or solver), measured by the planner from its start.
        var first = Math.Min(seconds, result.Plan.Solver.FirstFeasibleSeconds ?? seconds);
        return Emit(Row.Of(name, method, inventory, result.Plan, first, seconds) with { CpuSeconds = cpuSeconds });
    }

    private static Row Emit(Row row)
    {
        Console.WriteLine(row.Csv());
        return row;
    }

    private static void Summarize(List<Row> rows)
    {
        Console.WriteLine();
        Console.WriteLine("summary over the 216-VM instances (sample + seeds): method, n, median final s, p95 final s, median first s, optimal, stages<=baseline, mean stages, mean live migrations, stages proven, live migrations proven, mean live-migration bound");
        foreach (var group in rows.Where(r => r.Vms == 216).GroupBy(r => r.Method))
        {
            var finals = group.Select(r => r.FinalSeconds).Order().ToList();
            var firsts = group.Select(r => r.FirstSeconds).Order().ToList();
            Console.WriteLine(string.Create(Inv,
                $"{group.Key}, {finals.Count}, {Percentile(finals, 0.5):0.000}, {Percentile(finals, 0.95):0.000}, {Percentile(firsts, 0.5):0.000}, {group.Count(r => r.Status == "OPTIMAL")}, {group.Count(r => r.Stages <= r.BaselineStages)}, {group.Average(r => r.Stages):0.00}, {group.Average(r => r.LiveMigrations):0.0}, {group.Count(r => r.StagesProven)}, {group.Count(r => r.MovesProven)}, {group.Average(r => r.BoundLiveMigrations):0.0}"));
        }
    }

    private static double Percentile(List<double> sorted, double q)
        => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

    private static void Determinism(FleetInventory inventory, PlannerOptions options, int repeat)
    {
        var outcomes = new List<string>();
        for (var i = 0; i < repeat; i++)
        {
            var plan = new CpSatPlanner().Plan(inventory, options).Plan;
            outcomes.Add(plan is null ? "none" : string.Create(Inv, $"{plan.Solver.Status} stages={plan.Metrics.Stages} lm={plan.Metrics.LiveMigrations} imbalance={plan.Metrics.RamImbalance:0.0000}{(plan.Solver.WallLimitHit ? " wall-capped" : "")}"));
        }

        var distinct = outcomes.Distinct().ToList();
        Console.WriteLine();
        Console.WriteLine($"determinism: sample-216, {repeat} runs, {distinct.Count} distinct outcome(s): {string.Join(" | ", distinct)}");
    }

    internal static int IntArg(string[] args, string name, int fallback)
        => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], Inv) : fallback;

    private static double DoubleArg(string[] args, string name, double fallback)
        => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], Inv) : fallback;

    private static string StringArg(string[] args, string name, string fallback)
        => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

internal sealed record Row(
    string Instance, int Vms, int Hosts, string Method, double FirstSeconds, double FinalSeconds, string Status,
    int Stages, int Reboots, long Bytes, int LiveMigrations, int Moves, int BaselineStages, int BaselineMoves,
    int BoundStages, int BoundMoves, int Violations, string Note, int BoundLiveMigrations = 0, string Proven = "", bool WallCapped = false, string Phases = "", double CpuSeconds = 0)
{
    public const string Header = "instance,vms,hosts,method,first_s,final_s,status,stages,reboots,bytes,live_migrations,moves,stages_vs_baseline,moves_vs_baseline,stages_vs_bound,moves_vs_bound,bound_stages,bound_live_migrations,proven,violations,note,wall_capped,cpu_s,phases";

    /// <summary>The stage count equals a proven lower bound.</summary>
    public bool StagesProven => Proven.Contains("stages", StringComparison.Ordinal);

    /// <summary>Stages, reboots, downtime and live migrations all equal proven lower bounds.</summary>
    public bool MovesProven => Proven.Contains("live migrations", StringComparison.Ordinal);

    public static Row Of(string name, string method, FleetInventory inventory, MigrationPlan plan, double first, double final)
    {
        var m = plan.Metrics;
        var baseline = plan.Baseline ?? m;
        var bound = plan.LowerBound ?? LowerBounds.Compute(inventory, new PlannerOptions());
        var violations = PlanVerifier.Verify(plan, inventory);
        return new Row(name, inventory.Vms.Count, inventory.Fleet.Hosts.Count, method, first, final, plan.Solver.Status,
            m.Stages, m.Reboots, m.BytesCopied, m.LiveMigrations, m.Moves, baseline.Stages, baseline.Moves, bound.Stages, bound.Moves,
            violations.Count, (violations.Count > 0 ? violations[0].ToString() : ""), bound.LiveMigrations, string.Join("+", plan.Solver.Proven),
            plan.Solver.WallLimitHit, string.Join(" ", plan.Solver.Phases.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Name.Replace(' ', '-')}={p.WallSeconds:0.00}{(p.WallLimitHit ? "!" : "")}"))));
    }

    public static Row Failed(string name, string method, FleetInventory inventory, double seconds, string why)
        => new(name, inventory.Vms.Count, inventory.Fleet.Hosts.Count, method, seconds, seconds, "NONE", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, why);

    public string Csv() => string.Create(CultureInfo.InvariantCulture,
        $"{Instance},{Vms},{Hosts},{Method},{FirstSeconds:0.000},{FinalSeconds:0.000},{Status},{Stages},{Reboots},{Bytes},{LiveMigrations},{Moves},{Diff(Stages, BaselineStages)},{Diff(Moves, BaselineMoves)},{Diff(Stages, BoundStages)},{Diff(Moves, BoundMoves)},{BoundStages},{BoundLiveMigrations},{Proven},{Violations},\"{Note.Replace("\"", "'", StringComparison.Ordinal)}\",{(WallCapped ? "yes" : "no")},{CpuSeconds:0.00},{Phases}");

    private static string Diff(int value, int reference) => value - reference >= 0 ? $"+{value - reference}" : $"{value - reference}";
}
