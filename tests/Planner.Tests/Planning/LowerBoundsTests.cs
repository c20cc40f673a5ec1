using Taquin.Planner.Planning;
using static Taquin.Planner.Tests.Planning.TestFleets;

namespace Taquin.Planner.Tests.Planning;

public sealed class LowerBoundsTests
{
    [Fact]
    public void Rbd_data_on_the_old_ceph_needs_a_wave_to_reach_pve_before_the_last_host_leaves()
    {
        var inventory = MakeInventory([Host("h1"), Host("h2"), Host("h3")], [RbdVm("a", "h1", 8, 20), RbdVm("b", "h2", 8, 20), RbdVm("c", "h3", 8, 20)]);

        var bound = LowerBounds.Compute(inventory, new PlannerOptions());
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        // Wave 1: a host converts (nothing is PVE yet); wave 2: data reaches PVE; wave 3: the last OSDs may leave.
        Assert.Equal(3, bound.Stages);
        Assert.Equal(3, plan.Metrics.Stages);
    }

    [Fact]
    public void Ram_limits_how_many_hosts_can_be_out_at_once()
    {
        // Six 112 GiB-usable hosts running 400 GiB: at most two can be out at a time, so three stages.
        var hosts = Enumerable.Range(1, 6).Select(i => Host($"h{i}")).ToList();
        var vms = hosts.SelectMany(h => Enumerable.Range(0, 5).Select(j => RbdVm($"vm-{h.Name}-{j}", h.Name, 13, 10))).Take(30).ToList();
        var inventory = MakeInventory(hosts, vms.Concat([RbdVm("extra", "h1", 10, 10)]).ToList());

        Assert.Equal(2, LowerBounds.MaxConvertingAtOnce(inventory, new PlannerOptions()));
        Assert.True(LowerBounds.Compute(inventory, new PlannerOptions()).Stages >= 3);
    }

    [Fact]
    public void A_spare_pve_host_removes_the_forced_live_migrations()
    {
        var inventory = MakeInventory([Host("h1"), Host("h2"), Host("spare", alreadyPve: true)], [RbdVm("a", "h1", 8, 20), RbdVm("b", "h2", 8, 20)]);

        var bound = LowerBounds.Compute(inventory, new PlannerOptions());

        Assert.Equal(0, bound.LiveMigrations);
        Assert.Equal(2, bound.Reboots);
        Assert.Equal(40 * G, bound.BytesCopied);
    }
}
