using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>
/// The per-VM live-migration relaxation as an LP (ADR 0034): a bound no higher than what the CP-SAT version proves, and a
/// dive to a schedule whose crossing waves the greedy packs into a plan the 1,000-VM fleet had no other way to reach.
/// </summary>
public class LinearMoveRelaxationTests
{
    [Theory]
    [InlineData(2, 36, 4)]
    [InlineData(3, 90, 5)]
    [InlineData(12, 216, 7)]
    public void Never_claims_more_than_the_per_vm_relaxation_proves(int seed, int vms, int hosts)
    {
        var (context, relaxed) = SolverFleets.Problems(seed, vms, hosts);
        var stages = MoveRelaxation.RaiseLowerBound(context, relaxed, 2, 8, 10, out var perVm);
        using var linear = new LinearMoveRelaxation(relaxed, stages);

        var bound = linear.LiveMigrationBound(wallSeconds: 60);

        Assert.NotNull(perVm);
        Assert.True(perVm.Exact);
        Assert.NotNull(bound);
        Assert.InRange(bound.Value, 0, perVm.LiveMigrations);
    }

    [Fact]
    public void Bounds_a_thousand_vm_fleet_above_the_host_level_relaxation()
    {
        // fleet-1000 of the benchmark (file disks kept) in its 5 proven stages: the host-level bound splits only RAM per
        // home host; the LP keeps every VM's RAM, disks and copy bytes together.
        var (context, relaxed) = SolverFleets.Problems(1, 1000, 20);
        var hostLevel = HostMoveRelaxation.LiveMigrationBound(context, relaxed, stages: 5, deterministicSeconds: 2);
        using var linear = new LinearMoveRelaxation(relaxed, 5);

        var bound = linear.LiveMigrationBound(wallSeconds: 60);

        Assert.NotNull(hostLevel);
        Assert.NotNull(bound);
        Assert.True(bound > hostLevel, $"LP bound {bound}, host-level bound {hostLevel}");
    }

    [Fact]
    public void A_dived_schedule_packs_a_thousand_vm_fleet_in_its_proven_stages_with_fewer_live_migrations()
    {
        var (context, relaxed) = SolverFleets.Problems(1, 1000, 20);
        var problem = context.Problem;
        using var bounds = new LinearMoveRelaxation(relaxed, 5);
        var bound = bounds.LiveMigrationBound(wallSeconds: 60)!.Value;
        // The baseline: 6 stages, 301 live migrations.
        var baseline = GreedyPlanner.Plan(SolverFleets.Generated(1, vms: 1000, hosts: 20, keepFileDisks: true), Planning.Options(10)).Metrics;

        var (schedule, waves, best) = DiveAndPack(problem, margin: 0.99, grouped: false);

        // Every host gets one wave in 1..5, and the waves the LP gives put every VM on PVE by the last stage.
        Assert.All(problem.Hosts.Where(h => h.Convertible), h => Assert.InRange(schedule[h.Index]!.Value, 1, 5));
        Assert.All(waves, w => Assert.InRange(w, 1, 5));
        Assert.NotNull(best);
        Assert.Equal(6, baseline.Stages);
        Assert.InRange(best.LiveMigrations, bound, baseline.LiveMigrations - 50);
    }

    [Fact]
    public void Similar_vms_of_a_host_dive_as_one_group_and_each_vm_gets_a_wave_from_its_groups_share()
    {
        var (context, _) = SolverFleets.Problems(1, 1000, 20);
        var problem = context.Problem;
        var groups = LinearMoveRelaxation.Groups(problem);
        var baseline = GreedyPlanner.Plan(SolverFleets.Generated(1, vms: 1000, hosts: 20, keepFileDisks: true), Planning.Options(10)).Metrics;

        var (_, waves, best) = DiveAndPack(problem, margin: 0.985, grouped: true);

        // Every VM in exactly one group of its own home, and far fewer groups than VMs (the LP shrinks with them).
        Assert.Equal(problem.Vms.Count, groups.Sum(g => g.Vms.Count));
        Assert.All(groups, g => Assert.All(g.Vms, v => Assert.Equal(g.Home, v.Home)));
        Assert.InRange(groups.Count, 1, problem.Vms.Count / 2);
        // A group's members cross in index order (its first members first), each in 1..5.
        Assert.All(groups, g => Assert.True(g.Vms.Select(v => waves[v.Index]).SequenceEqual(g.Vms.Select(v => waves[v.Index]).Order())));
        Assert.NotNull(best);
        Assert.True(best.LiveMigrations <= baseline.LiveMigrations - 50, $"grouped dive {best.LiveMigrations}, baseline {baseline.LiveMigrations}");
    }

    [Fact]
    public void The_planner_takes_the_dived_plan_and_the_lp_bound_on_a_thousand_vm_fleet()
    {
        // Deterministic limits of a 10 s run: before the dives the plan had 5 stages and 252 live migrations against a bound of 139.
        var inventory = SolverFleets.Generated(1, vms: 1000, hosts: 20, keepFileDisks: true);

        var result = Planning.Planner().Plan(inventory, Planning.Options(10));

        Assert.True(result.IsFeasible);
        Assert.Empty(PlanVerifier.Verify(result.Plan!, inventory));
        Assert.Contains(result.Log, line => line.StartsWith("schedule dive (5 stages", StringComparison.Ordinal));
        Assert.Equal(5, result.Plan!.Metrics.Stages);
        Assert.InRange(result.Plan.Metrics.LiveMigrations, result.Plan.LowerBound!.LiveMigrations, 230);
        Assert.True(result.Plan.LowerBound.LiveMigrations >= 145, $"bound {result.Plan.LowerBound.LiveMigrations}");
    }

    /// <summary>A dive at 5 stages, its crossing waves, and the best valid 5-stage packing at them (null when none).</summary>
    private static (int?[] Schedule, int[] Waves, SolverDecisions? Best) DiveAndPack(PlanningProblem problem, double margin, bool grouped)
    {
        using var relaxation = new LinearMoveRelaxation(problem, 5, margin, grouped);
        Assert.NotNull(relaxation.Solve(wallSeconds: 60));
        var schedule = relaxation.Dive(() => 60, () => false);
        Assert.NotNull(schedule);
        var waves = relaxation.CrossingWaves(schedule, wallSeconds: 60);
        Assert.NotNull(waves);
        var order = problem.Hosts.Where(h => h.Convertible).OrderBy(h => schedule[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();
        var best = Enum.GetValues<WavePacking>()
            .Select(packing => GreedyDecisions.Solve(problem, order, [.. schedule.Select(c => c ?? 0)], targetWaves: waves, packing: packing))
            .Where(plan => plan is not null && plan.Stages == 5 && new PlanSimulation(problem, plan).Violations().Count == 0)
            .MinBy(plan => plan!.LiveMigrations);
        return (schedule, waves, best);
    }
}
