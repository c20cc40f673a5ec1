using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Bench;

/// <summary>
/// <c>--greedy-only</c>: the greedy baseline alone, warm. Per instance one untimed run first (JIT, caches), then N timed
/// runs of <see cref="GreedyPlanner.Plan"/> — exactly what the <c>greedy</c> rows' first_s measures: the decisions, the plan
/// built from them (stages, actions, per-VM estimates, metrics) and the lower bounds — each followed by a separately timed
/// <see cref="PlanVerifier.Verify"/> (which the greedy rows run outside their clock). Prints min / median / max, the load
/// average before and after, and whether every run returned the same plan.json. On a shared machine the wall clock
/// counts the time other processes hold the cores: the planning thread's own CPU time (Linux schedstat) is printed too.
/// </summary>
internal static class GreedyTiming
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public const string Header = "instance,vms,hosts,runs,plan_ms_min,plan_ms_median,plan_ms_max,plan_cpu_ms_min,plan_cpu_ms_median,verify_ms_min,verify_ms_median,plan_and_verify_ms_min,plan_and_verify_ms_median,stages,live_migrations,moves,violations,identical_plans,plan_sha256,load1_before,load1_after";

    public static void Run(IReadOnlyList<(string Name, FleetInventory Inventory)> instances, PlannerOptions options, int runs)
    {
        Console.WriteLine("# greedy only, warm: one untimed run per instance, then the timed runs; plan = GreedyPlanner.Plan (decisions + PlanBuilder + LowerBounds), verify = PlanVerifier.Verify");
        Console.WriteLine(Header);
        foreach (var (name, inventory) in instances)
        {
            var loadBefore = Load1();
            var warm = GreedyPlanner.Plan(inventory, options);
            _ = PlanVerifier.Verify(warm, inventory);
            var reference = Digest(warm);
            var plans = new List<double>();
            var cpus = new List<double>();
            var verifies = new List<double>();
            var sums = new List<double>();
            var identical = true;
            var violations = 0;
            MigrationPlan plan = warm;
            for (var i = 0; i < runs; i++)
            {
                var cpu = ThreadCpuNanoseconds();
                var clock = Stopwatch.StartNew();
                plan = GreedyPlanner.Plan(inventory, options);
                var planMs = clock.Elapsed.TotalMilliseconds;
                cpus.Add((ThreadCpuNanoseconds() - cpu) / 1e6);
                clock.Restart();
                violations = Math.Max(violations, PlanVerifier.Verify(plan, inventory).Count);
                var verifyMs = clock.Elapsed.TotalMilliseconds;
                plans.Add(planMs);
                verifies.Add(verifyMs);
                sums.Add(planMs + verifyMs);
                identical &= Digest(plan) == reference;
            }

            var m = plan.Metrics;
            Console.WriteLine(string.Create(Inv,
                $"{name},{inventory.Vms.Count},{inventory.Fleet.Hosts.Count},{runs},{Min(plans):0.0},{Median(plans):0.0},{Max(plans):0.0},{Min(cpus):0.0},{Median(cpus):0.0},{Min(verifies):0.0},{Median(verifies):0.0},{Min(sums):0.0},{Median(sums):0.0},{m.Stages},{m.LiveMigrations},{m.Moves},{violations},{(identical ? "yes" : "no")},{reference[..16]},{loadBefore},{Load1()}"));
        }
    }

    /// <summary>SHA-256 of plan.json without the wall-clock field, so equal plans have equal digests.</summary>
    public static string Digest(MigrationPlan plan)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(PlanJson.Serialize(plan with { Solver = plan.Solver with { WallSeconds = 0 } }))));

    private static double Min(List<double> values) => values.Count == 0 ? double.NaN : values.Min();

    private static double Max(List<double> values) => values.Count == 0 ? double.NaN : values.Max();

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>CPU time of the calling thread in nanoseconds (first field of /proc/thread-self/schedstat); NaN elsewhere.</summary>
    private static double ThreadCpuNanoseconds()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/thread-self/schedstat").Split(' ')[0], Inv);
        }
        catch (IOException)
        {
            return double.NaN;
        }
        catch (UnauthorizedAccessException)
        {
            return double.NaN;
        }
    }

    private static string Load1()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
        catch (UnauthorizedAccessException)
        {
            return "?";
        }
    }
}
