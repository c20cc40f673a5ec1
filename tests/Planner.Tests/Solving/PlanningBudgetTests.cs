using Microsoft.Extensions.Time.Testing;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

public class PlanningBudgetTests
{
    [Fact]
    public void Each_phase_gets_its_share_of_what_is_left_and_the_final_reserve_stays_untouched()
    {
        var clock = new FakeTimeProvider();
        var budget = new PlanningBudget(clock, 10);

        budget.Enter("greedy", 1, reserveSeconds: 1);
        Assert.Equal(9, budget.PhaseRemaining, 6);
        clock.Advance(TimeSpan.FromSeconds(1));

        // 10 s − 1 s spent − 1 s reserve = 8 s left: 10 % for the bounds.
        budget.Enter("stage bounds", 0.1, reserveSeconds: 1);
        Assert.Equal(0.8, budget.PhaseRemaining, 6);
        clock.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal(0.3, budget.PhaseRemaining, 6);

        // 7.5 s left before the reserve: the search takes 75 %, its first step 45 % of that, the next step the rest.
        budget.Enter("search", 0.75, reserveSeconds: 1);
        Assert.Equal(5.625, budget.PhaseRemaining, 6);
        budget.EnterWithin("schedules", 0.45);
        Assert.Equal(5.625 * 0.45, budget.PhaseRemaining, 6);
        clock.Advance(TimeSpan.FromSeconds(2));
        budget.EnterWithin("window search", 1);
        Assert.Equal(5.625 - 2, budget.PhaseRemaining, 6);
        clock.Advance(TimeSpan.FromSeconds(3));

        budget.Enter("plan and checks", 1);
        Assert.Equal(10 - 6.5, budget.PhaseRemaining, 6);
        budget.Close();

        // The search's first step took its place: no empty "search" row.
        Assert.Equal(["greedy", "stage bounds", "schedules", "window search", "plan and checks"], budget.Phases.Select(p => p.Name));
        Assert.Equal([1, 0.5, 2, 3, 0], budget.Phases.Select(p => Math.Round(p.WallSeconds, 6)));
        Assert.False(budget.WallCapHit);
    }

    [Fact]
    public void A_loop_that_outlives_its_phase_stops_and_the_phase_is_reported_as_cut_by_the_wall_clock()
    {
        var clock = new FakeTimeProvider();
        var budget = new PlanningBudget(clock, 4);
        budget.Enter("window search", 0.5);

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(budget.StopNow());
        clock.Advance(TimeSpan.FromSeconds(1.5));
        Assert.True(budget.StopNow());

        budget.Enter("plan and checks", 1);
        Assert.Equal(1.5, budget.PhaseRemaining, 6);
        budget.Close();
        Assert.True(budget.WallCapHit);
        Assert.Equal(["window search"], budget.CappedPhases);
        Assert.True(budget.Phases[0].WallLimitHit);
        Assert.False(budget.Phases[1].WallLimitHit);
    }

    [Fact]
    public void The_run_never_gets_more_than_its_total_whatever_the_shares_ask()
    {
        var clock = new FakeTimeProvider();
        var budget = new PlanningBudget(clock, 2);
        clock.Advance(TimeSpan.FromSeconds(3));

        budget.Enter("search", 1);

        Assert.Equal(0, budget.PhaseRemaining);
        Assert.Equal(0, budget.Remaining);
        Assert.True(budget.PhaseOver);
    }

    public static TheoryData<string> Fleets => ["exact", "decomposition"];

    [Fact]
    public void A_run_whose_clock_runs_out_at_once_still_returns_a_verified_plan_and_says_the_wall_limit_stopped_it()
    {
        // 216 VMs: the decomposition's loops and solves all meet a spent budget (a tiny exact model may still be
        // solved to optimality within the last 10 ms, which is then no loss of reproducibility).
        var inventory = Fleet("decomposition");
        // Every read of the clock moves it on by a second: the 3 s budget is gone before the first solve.
        var clock = new FakeTimeProvider { AutoAdvanceAmount = TimeSpan.FromSeconds(1) };
        var options = Planning.Options(timeLimit: 3);

        var result = new CpSatPlanner(clock: clock).Plan(inventory, options);

        Assert.True(result.IsFeasible);
        Assert.Empty(PlanVerifier.Verify(result.Plan!, inventory));
        Assert.True(result.Plan!.Solver.WallLimitHit);
        Assert.Contains("stopped by the wall-clock limit (not reproducible)", result.Plan.Solver.StatusLine(), StringComparison.Ordinal);
        Assert.Contains(result.Plan.Solver.Phases, p => p.WallLimitHit);
        Assert.Equal("plan and checks", result.Plan.Solver.Phases[^1].Name);
    }

    [Fact]
    public void A_wall_budget_below_the_time_limit_caps_the_run_and_the_report_keeps_the_time_limit()
    {
        var inventory = Fleet("decomposition");
        // The CLI passes what is left after loading the inventory; here nothing is left, on a clock that never moves.
        var options = Planning.Options(timeLimit: 3) with { WallBudgetSeconds = 0 };

        var result = new CpSatPlanner(clock: new FakeTimeProvider()).Plan(inventory, options);

        Assert.True(result.IsFeasible);
        Assert.Empty(PlanVerifier.Verify(result.Plan!, inventory));
        Assert.True(result.Plan!.Solver.WallLimitHit);
        Assert.Equal(3, result.Plan.Solver.TimeLimitSeconds);
    }

    [Theory]
    [MemberData(nameof(Fleets))]
    public void A_run_within_its_budget_lists_its_phases_in_order_and_reports_no_wall_limit(string fleet)
    {
        var inventory = Fleet(fleet);

        var plan = Planning.Verified(inventory, Planning.Options(timeLimit: 3));

        Assert.False(plan.Solver.WallLimitHit);
        Assert.DoesNotContain("wall-clock", plan.Solver.StatusLine(), StringComparison.Ordinal);
        var phases = plan.Solver.Phases.Select(p => p.Name).ToList();
        Assert.Equal("greedy", phases[0]);
        Assert.Equal("stage bounds", phases[1]);
        Assert.Equal("plan and checks", phases[^1]);
        Assert.Contains(fleet == "exact" ? "search" : "schedules", phases);
        Assert.True(plan.Solver.Phases.Sum(p => p.Solves) > 0);
        Assert.Equal(3, plan.Solver.TimeLimitSeconds);
        Assert.NotNull(plan.Solver.FirstFeasibleSeconds);
    }

    [Fact]
    public void The_timing_line_names_each_phase_its_solves_and_the_phases_cut_short()
    {
        var inventory = Fleet("exact");
        var solver = new SolverReport
        {
            Status = "FEASIBLE",
            WallSeconds = 9.5,
            TimeLimitSeconds = 10,
            WallLimitHit = true,
            Phases = [new PhaseTiming("greedy", 0.12, 0, 0, false), new PhaseTiming("window search", 6, 3, 2.5, true)],
        };
        var line = PlanReport.TimingLine(GreedyPlanner.Plan(inventory, Planning.Options()) with { Solver = solver });

        Assert.Equal("Planning time 9.5 s of a 10 s budget: greedy 0.12 s, window search 6 s (3 solves, 2.5 det. s) [wall limit].", line);
    }

    private static FleetInventory Fleet(string kind) => kind == "exact"
        ? new TestFleet().Host("h1", 64).Host("h2", 64).Host("h3", 64).Host("h4", 64, excluded: true).Vms("a", 2, "h1", 8).Vms("b", 2, "h2", 8).Vms("c", 2, "h3", 8).Build()
        : SolverFleets.Generated(3, vms: 216, hosts: 7);
}
