using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

public class WindowSearchTests
{
    // Three 64 GiB hosts converting h1, h2, h3 in waves 1, 2, 3; two 8 GiB VMs on each. The excluded,
    // empty h4 keeps the old Ceph up after the last conversion.
    private static FleetInventory ThreeHosts() => new TestFleet()
        .Host("h1", 64).Host("h2", 64).Host("h3", 64).Host("h4", 64, excluded: true)
        .Vms("a", 2, "h1", 8).Vms("b", 2, "h2", 8).Vms("c", 2, "h3", 8)
        .Build();

    /// <summary>
    /// The packing a naive first fit produces: h1's VMs go to h2 in wave 1, to h3 in wave 2 when h2 converts,
    /// and cross in wave 3 — two live migrations each where one is enough.
    /// </summary>
    private static SolverDecisions NeedlessHops(PlanningProblem problem)
    {
        int Host(string name) => problem.Hosts.Single(h => h.Name == name).Index;
        var decisions = problem.Vms.Select(vm => vm.Name[0] switch
        {
            'a' => new VmDecision(3, Host("h1"), false, [new LiveHop(1, Host("h2")), new LiveHop(2, Host("h3"))]),
            'b' => new VmDecision(2, Host("h1"), false, []),
            _ => new VmDecision(3, Host("h2"), false, []),
        }).ToList();
        return new SolverDecisions(3, problem.Hosts.Select(h => h.Convertible ? h.Index + 1 : (int?)null).ToList(), decisions);
    }

    [Theory]
    [InlineData(WindowSearch.FullModelLimit)]
    [InlineData(0)]
    public void Needless_second_hops_are_removed_down_to_the_VMs_of_the_host_converted_first(int fullModelLimit)
    {
        var inventory = ThreeHosts();
        var options = Planning.Options();
        var problem = PlanningProblem.From(inventory, options);
        var start = NeedlessHops(problem);
        Assert.Empty(new PlanSimulation(problem, start).Violations());
        Assert.Equal(4, start.LiveMigrations);

        var improved = Search(problem, options).Improve(start, 2, fullModelLimit: fullModelLimit);

        // Nothing is PVE in wave 1, so h1's VMs must live-migrate once; nothing else has to.
        var bound = LowerBounds.Compute(inventory, options).LiveMigrations;
        Assert.Equal(inventory.Vms.Count(v => v.Host == "h1"), bound);
        Assert.Equal(bound, improved.LiveMigrations);
        Assert.Equal(start.ConversionStage, improved.ConversionStage);
        Assert.Equal(start.Stages, improved.Stages);
        Assert.Empty(PlanVerifier.Verify(Build(inventory, problem, improved, options), inventory));
    }

    [Fact]
    public void A_plan_already_at_the_bound_comes_back_unchanged_in_count_and_still_valid()
    {
        var inventory = ThreeHosts();
        var options = Planning.Options();
        var problem = PlanningProblem.From(inventory, options);
        var once = Search(problem, options).Improve(NeedlessHops(problem), 2);

        var again = Search(problem, options).Improve(once, 2, fullModelLimit: 0);

        Assert.Equal(once.LiveMigrations, again.LiveMigrations);
        Assert.Empty(new PlanSimulation(problem, again).Violations());
    }

    [Theory]
    [InlineData(WindowSearch.FullModelLimit)]
    [InlineData(0)]
    public void On_a_generated_fleet_the_search_never_returns_more_live_migrations_than_its_input_and_repeats_itself(int fullModelLimit)
    {
        var inventory = SolverFleets.Generated(5, vms: 60, hosts: 5);
        var options = Planning.Options();
        var problem = PlanningProblem.From(inventory, options);
        var start = GreedyDecisions.Solve(problem);
        Assert.NotNull(start);

        var first = Search(problem, options).Improve(start, 1, maxSteps: 6, fullModelLimit: fullModelLimit);
        var second = Search(problem, options).Improve(start, 1, maxSteps: 6, fullModelLimit: fullModelLimit);

        Assert.True(first.LiveMigrations <= start.LiveMigrations, $"{first.LiveMigrations} live migrations from {start.LiveMigrations}");
        Assert.Equal(start.Stages, first.Stages);
        Assert.Empty(PlanVerifier.Verify(Build(inventory, problem, first, options), inventory));
        Assert.Equal(Describe(first), Describe(second));
    }

    private static WindowSearch Search(PlanningProblem problem, PlannerOptions options)
        => new(new SearchContext(problem, options, new CpSatTuning(), [], CancellationToken.None));

    private static MigrationPlan Build(FleetInventory inventory, PlanningProblem problem, SolverDecisions decisions, PlannerOptions options)
        => PlanBuilder.Build(inventory, CpSatPlanner.ToPlanDecisions(problem, decisions), options, new SolverReport { Status = "FEASIBLE" });

    private static List<string> Describe(SolverDecisions decisions)
        => decisions.Vms.Select(v => $"{v.CrossStage}/{v.TargetHost}/{v.OnPveCeph}/{string.Join(",", v.Hops)}").ToList();
}
