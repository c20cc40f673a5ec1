using Taquin.Planner.Planning;

namespace Taquin.Planner.Tests.Solving;

/// <summary>Each capacity rule on a fleet small enough to see why it binds.</summary>
public class ConstraintFamilyTests
{
    [Fact]
    public void Ram_sends_the_live_migrated_vm_to_the_only_host_with_room()
    {
        // h1 is cheapest to empty (one VM); h2 has 8 GiB free, too little for the 12 GiB VM: only h3 can take it.
        var inventory = new TestFleet()
            .Host("h1", 64).Host("h2", 64).Host("h3", 64)
            .Vm("a", "h1", 12)
            .Vms("b", 7, "h2", 8)
            .Vms("c", 3, "h3", 8)
            .Build();

        var plan = Planning.Verified(inventory);

        Assert.Equal(1, Planning.ConversionStage(plan, "h1"));
        Assert.Equal("h3", Planning.Action(plan, "a", ActionKind.LiveMigrate).To!.Host);
        Assert.Equal(1, plan.Metrics.LiveMigrations);
    }

    [Fact]
    public void A_disk_bigger_than_every_zfs_pool_lands_on_the_new_ceph_once_three_hosts_are_pve()
    {
        var inventory = new TestFleet()
            .Host("h1", 64, zfsGiB: 30, newOsdGiB: 500).Host("h2", 64, zfsGiB: 30, newOsdGiB: 500)
            .Host("h3", 64, zfsGiB: 30, newOsdGiB: 500).Host("h4", 64, zfsGiB: 30, newOsdGiB: 500)
            .Vm("big", "h4", 4, diskGiB: 80)
            .Vms("small", 4, "h2", 4, diskGiB: 10)
            .Build();

        var plan = Planning.Verified(inventory);

        var crossing = Planning.StageOf(plan, "big", ActionKind.MoveToPve);
        var stage = plan.Stages[crossing];
        Assert.Equal("pve-ceph", stage.Placements["big"].Storage);
        Assert.True(stage.Hosts.Count(h => h.Value == HostState.Pve) >= 3);
        Assert.Contains(plan.Stages.Take(crossing + 1).SelectMany(s => s.Actions), a => a.Kind == ActionKind.CreatePveCeph);
    }

    [Fact]
    public void The_new_ceph_waits_for_its_minimum_number_of_pve_hosts()
    {
        // No ZFS anywhere: every VM needs the new Ceph, so nothing crosses before minHosts hosts are PVE.
        static TestFleetPlan PlanWith(int minHosts)
        {
            var fleet = new TestFleet().NewCephMinHosts(minHosts);
            foreach (var h in new[] { "h1", "h2", "h3", "h4" })
            {
                fleet.Host(h, 96, zfsGiB: 0, newOsdGiB: 400);
            }

            var inventory = fleet.Vms("a", 3, "h1", 8).Vms("b", 3, "h2", 8).Vms("c", 3, "h3", 8).Vms("d", 3, "h4", 8).Build();
            return new TestFleetPlan(Planning.Verified(inventory));
        }

        var three = PlanWith(3);
        var firstCrossing = three.Plan.Stages.First(s => s.Actions.Any(a => a.Kind == ActionKind.MoveToPve));
        Assert.True(firstCrossing.Hosts.Count(h => h.Value == HostState.Pve) >= 3);
        Assert.True(firstCrossing.PveCephExists);
        var two = PlanWith(2);
        Assert.True(three.Plan.Metrics.Stages > two.Plan.Metrics.Stages || three.Plan.Metrics.LiveMigrations > two.Plan.Metrics.LiveMigrations);
    }

    [Fact]
    public void The_shrinking_old_ceph_forces_data_off_before_the_second_host_leaves()
    {
        // 4 × 100 GiB of OSDs (pool size 1) hold 240 GiB: after two hosts leave only 200 GiB remain,
        // and a copy made in a wave still counts until that wave ends, so data must cross a wave earlier.
        var fleet = new TestFleet();
        foreach (var h in new[] { "h1", "h2", "h3", "h4" })
        {
            fleet.Host(h, 128, zfsGiB: 400, oldOsdGiB: 100);
        }

        var inventory = fleet.Vms("a", 2, "h1", 4, diskGiB: 30).Vms("b", 2, "h2", 4, diskGiB: 30)
            .Vms("c", 2, "h3", 4, diskGiB: 30).Vms("d", 2, "h4", 4, diskGiB: 30).Build();

        var plan = Planning.Verified(inventory);

        var conversions = plan.Stages.Where(s => s.Actions.Any(a => a.Kind == ActionKind.ConvertHost)).Select(s => s.Index).ToList();
        var table = PlanVerifier.CapacityTable(plan, inventory);
        var secondLeaves = plan.Stages.First(s => s.Hosts.Count(h => h.Value != HostState.Libvirt) >= 2).Index;
        Assert.True(table[secondLeaves].OldCeph.CapacityBytes < 240L * 1024 * 1024 * 1024);
        Assert.True(table[secondLeaves].OldCeph.UsedBytes <= table[secondLeaves].OldCeph.CapacityBytes);
        Assert.Contains(plan.Stages.Take(secondLeaves).SelectMany(s => s.Actions), a => a.Kind == ActionKind.MoveToPve);
        Assert.NotEmpty(conversions);
    }

    [Fact]
    public void The_copy_budget_spreads_the_copies_over_more_waves()
    {
        // 1 Gbit/s for 0.1 h moves about 42 GiB: one 30 GiB disk per wave into h1.
        static MigrationPlan PlanWith(double hours) => Planning.Verified(new TestFleet().WaveWindowHours(hours)
            .Host("h1", 64, nicGbits: 1).Host("h2", 64, nicGbits: 1)
            .Vms("vm", 3, "h2", 2, diskGiB: 30)
            .Build());

        var tight = PlanWith(0.1);
        var roomy = PlanWith(4);

        Assert.Equal(3, roomy.Metrics.Stages);
        Assert.Equal(5, tight.Metrics.Stages);
        Assert.Equal("OPTIMAL", tight.Solver.Status);
        Assert.All(tight.Stages, s => Assert.True(s.Actions.Count(a => a.Kind == ActionKind.MoveToPve) <= 1));
    }

    [Fact]
    public void A_spare_pve_host_takes_the_first_vms_without_any_live_migration()
    {
        var inventory = new TestFleet()
            .Host("spare", 128, alreadyPve: true, oldOsdGiB: 0).Host("h1", 64).Host("h2", 64)
            .Vms("a", 3, "h1", 8).Vms("b", 3, "h2", 8)
            .Build();

        var plan = Planning.Verified(inventory);

        Assert.Equal(0, plan.Metrics.LiveMigrations);
        Assert.All(plan.Stages, s => Assert.Equal(HostState.Pve, s.Hosts["spare"]));
        Assert.Equal("OPTIMAL", plan.Solver.Status);
    }

    private sealed record TestFleetPlan(MigrationPlan Plan);
}
