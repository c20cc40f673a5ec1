using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>
/// The relaxation of one conversion schedule (ADR 0029) against the exact placement of that schedule: it never claims
/// more live migrations than a verified plan with that schedule needs, it is exactly the free-schedule relaxation
/// restricted to the schedule, and its crossing waves lead the guided packing to a verified plan.
/// </summary>
public class ScheduleRelaxationTests
{
    private static (SearchContext Context, PlanningProblem Relaxed) Fleet(int seed, int vms, int hosts) => SolverFleets.Problems(seed, vms, hosts);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Never_claims_more_live_migrations_than_the_exact_placement_of_the_same_schedule(int seed)
    {
        var (context, relaxed) = Fleet(seed, 36, 4);
        var greedy = GreedyDecisions.Solve(context.Problem)!;
        var schedule = greedy.ConversionStage;
        // The exact placement of that schedule on the bounds' rounding, every VM free: the schedule's true optimum.
        var empty = new SolverDecisions(greedy.Stages, schedule, [.. relaxed.Vms.Select(_ => new VmDecision(greedy.Stages, 0, false, []))]);
        var exact = new PlacementModel(relaxed, empty, [.. relaxed.Vms.Select(v => v.Index)]);
        exact.Model.Minimize(exact.LiveMigrations);
        var (status, solver) = context.Solve(exact.Model, 30);

        var relaxation = ScheduleRelaxation.Solve(context, relaxed, schedule, greedy.Stages, 10);

        Assert.Equal(Google.OrTools.Sat.CpSolverStatus.Optimal, status);
        Assert.True(relaxation.Feasible);
        Assert.InRange(relaxation.Bound, 1, (int)solver.ObjectiveValue);
        Assert.InRange(relaxation.Bound, 0, greedy.LiveMigrations);
        Assert.NotNull(relaxation.Waves);
    }

    [Fact]
    public void Gives_the_free_schedule_relaxation_its_own_optimum_on_the_schedule_it_chose()
    {
        // 90 VMs / 5 hosts seed 3, 5 stages: the free-schedule relaxation's optimum is 11 (ADR 0026). Restricted to the
        // schedule it chose, it is the same number; no schedule goes below it.
        var (context, relaxed) = Fleet(3, 90, 5);
        var free = MoveRelaxation.LiveMigrationBound(context, relaxed, 5, 20)!;

        var restricted = ScheduleRelaxation.Solve(context, relaxed, free.Schedule, 5, 10);

        Assert.True(free.Exact);
        Assert.Equal(11, free.LiveMigrations);
        Assert.Equal(free.LiveMigrations, restricted.Bound);
    }

    [Fact]
    public void Says_no_plan_has_a_schedule_that_empties_every_host_at_once()
    {
        var (context, relaxed) = Fleet(2, 36, 4);
        int?[] everyHostInWaveOne = [.. relaxed.Hosts.Select(h => h.Convertible ? 1 : (int?)null)];

        var relaxation = ScheduleRelaxation.Solve(context, relaxed, everyHostInWaveOne, 3, 5);

        Assert.False(relaxation.Feasible);
    }

    [Fact]
    public void Its_crossing_waves_lead_the_packing_to_a_verified_plan_with_that_schedule()
    {
        var (context, relaxed) = Fleet(3, 90, 5);
        var free = MoveRelaxation.LiveMigrationBound(context, relaxed, 5, 20)!;
        var relaxation = ScheduleRelaxation.Solve(context, context.Problem, free.Schedule, 5, 10);
        var order = context.Problem.Hosts.Where(h => h.Convertible).OrderBy(h => free.Schedule[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();

        var guided = GreedyDecisions.Solve(context.Problem, order, [.. free.Schedule.Select(s => s ?? 0)], targetWaves: relaxation.Waves);
        var unguided = GreedyDecisions.Solve(context.Problem, order, [.. free.Schedule.Select(s => s ?? 0)]);

        Assert.NotNull(guided);
        Assert.Empty(new PlanSimulation(context.Problem, guided).Violations());
        Assert.Equal(free.Schedule, guided.ConversionStage);
        Assert.InRange(guided.LiveMigrations, relaxation.Bound, unguided?.LiveMigrations ?? int.MaxValue);
    }

    [Fact]
    public void The_guided_packing_makes_room_for_a_vm_no_single_host_can_take()
    {
        // a converts first: its 70 GiB VM must live-migrate while nothing is PVE, but b and c have 40 GiB free each.
        // Two of b's 20 GiB VMs go to c first, then the big one fits on b: 3 live migrations, the fewest possible.
        var inventory = new TestFleet()
            .Host("a", 100).Host("b", 100).Host("c", 100)
            .Vm("big", "a", 70)
            .Vms("b", 3, "b", 20)
            .Vms("c", 3, "c", 20)
            .Build();
        var problem = PlanningProblem.From(inventory, Planning.Options(10));
        int Host(string name) => problem.Hosts.Single(h => h.Name == name).Index;
        int[] order = [Host("a"), Host("b"), Host("c")];
        // c holds the last old-Ceph OSDs: it converts once every RBD image has left (wave 4).
        var stages = problem.Hosts.Select(h => h.Index == Host("c") ? 4 : Array.IndexOf(order, h.Index) + 1).ToArray();
        // The relaxation's answer: the big VM and b's cross in wave 2 (onto a), c's in wave 3.
        var waves = problem.Vms.Select(v => v.Home == Host("c") ? 3 : 2).ToArray();

        var guided = GreedyDecisions.Solve(problem, order, stages, targetWaves: waves);
        var unguided = GreedyDecisions.Solve(problem, order, stages);

        Assert.Null(unguided);
        Assert.NotNull(guided);
        Assert.Empty(new PlanSimulation(problem, guided).Violations());
        Assert.Equal(stages.Select(s => (int?)s), guided.ConversionStage);
        Assert.Equal(3, guided.LiveMigrations);
        Assert.Single(guided.Vms[problem.Vms.Single(v => v.RamMiB == 70 * 1024).Index].Hops);
    }
}
