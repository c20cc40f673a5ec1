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
    public void Local_image_room_limits_how_many_hosts_can_leave_first()
    {
        // Four hosts, 200 GiB of VM RAM: two can be out at once. But 250 GiB of file disks need three of the
        // four 100 GiB local-image stores while nothing is PVE: only one host can convert first, so 1 + ⌈3 / 2⌉ stages.
        var hosts = Enumerable.Range(1, 4).Select(i => Host($"h{i}", localImagesGib: 100)).ToList();
        var inventory = MakeInventory(hosts,
        [
            FileVm("f1", "h1", 25, 100), RbdVm("r1", "h1", 25, 10),
            FileVm("f2", "h2", 25, 100), RbdVm("r2", "h2", 25, 10),
            FileVm("f3", "h3", 25, 50), RbdVm("r3", "h3", 25, 10),
            RbdVm("r4", "h4", 50, 10),
        ]);

        var bound = LowerBounds.Compute(inventory, new PlannerOptions());
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        Assert.Equal(2, LowerBounds.MaxConvertingAtOnce(inventory, new PlannerOptions()));
        Assert.Equal(3, bound.Stages);
        Assert.InRange(plan.Metrics.Stages, 3, int.MaxValue);
        Assert.Empty(PlanVerifier.Verify(plan, inventory));
    }

    [Fact]
    public void The_first_host_copies_its_file_disks_so_the_bytes_bound_counts_the_smallest_such_copy()
    {
        var inventory = MakeInventory(
            [Host("h1", localImagesGib: 500), Host("h2", localImagesGib: 500)],
            [FileVm("f1", "h1", 8, 100, 60), FileVm("f2", "h2", 8, 100, 30), RbdVm("r2", "h2", 8, 20)]);

        var bound = LowerBounds.Compute(inventory, new PlannerOptions());

        // Every byte reaches PVE once (60 + 30 + 20), plus h2's 30 GiB copied away if h2 goes first (h1 would cost 60).
        Assert.Equal((60 + 30 + 20 + 30) * G, bound.BytesCopied);
        Assert.Equal(1, bound.LiveMigrations);
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
