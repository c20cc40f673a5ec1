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

    [Theory]
    [InlineData(3, 5)]
    [InlineData(1, 3)]
    public void The_new_ceph_counts_in_the_relaxation_only_once_enough_hosts_run_pve(int minHosts, int expectedStages)
    {
        // 400 GiB on an old Ceph of 4 × 150 GiB: one host may leave while all of it is there. h1's ZFS takes
        // 250 GiB; the rest needs the new Ceph. With a 1-host minimum it exists as soon as h1 is PVE (3 stages);
        // with 3, the rest waits until h2 and h3 are PVE too, and h4 can leave only after that: 5 stages.
        var inventory = new TestFleet().NewCephMinHosts(minHosts)
            .Host("h1", 64, zfsGiB: 250, oldOsdGiB: 150, newOsdGiB: 500)
            .Host("h2", 64, zfsGiB: 0, oldOsdGiB: 150, newOsdGiB: 500)
            .Host("h3", 64, zfsGiB: 0, oldOsdGiB: 150, newOsdGiB: 500)
            .Host("h4", 64, zfsGiB: 0, oldOsdGiB: 150, newOsdGiB: 500)
            .Vms("vm", 4, "h4", 8, diskGiB: 100)
            .Build();
        var options = Planning.Options();
        var context = new SearchContext(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None);

        Assert.Equal(expectedStages, StageRelaxation.RaiseLowerBound(context, lower: 2, upper: 8));
    }
}
