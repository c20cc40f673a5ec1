using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

public class StageRelaxationTests
{
    [Fact]
    public void The_host_level_relaxation_proves_the_copy_budget_needs_five_stages()
    {
        // Three 30 GiB disks into h1 at about 42 GiB per wave, all across before h2 (the last OSD host) leaves:
        // waves 2 and 3 of a 4-stage plan carry 84 GiB at most, short of the 94.5 GiB a warm copy moves.
        var inventory = new TestFleet().WaveWindowHours(0.1)
            .Host("h1", 64, nicGbits: 1).Host("h2", 64, nicGbits: 1)
            .Vms("vm", 3, "h2", 2, diskGiB: 30)
            .Build();
        var options = Planning.Options();
        var context = new SearchContext(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None);

        Assert.Equal(5, StageRelaxation.RaiseLowerBound(context, lower: 2, upper: 6));
    }

    [Fact]
    public void With_a_roomy_window_the_relaxation_rules_nothing_out()
    {
        var inventory = new TestFleet().WaveWindowHours(4)
            .Host("h1", 64, nicGbits: 1).Host("h2", 64, nicGbits: 1)
            .Vms("vm", 3, "h2", 2, diskGiB: 30)
            .Build();
        var options = Planning.Options();
        var context = new SearchContext(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None);

        Assert.Equal(3, StageRelaxation.RaiseLowerBound(context, lower: 2, upper: 6));
    }
}
