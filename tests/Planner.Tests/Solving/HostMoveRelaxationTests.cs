using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>
/// The host-level live-migration bound for big fleets (ADR 0031) against the per-VM relaxation, which is at least as
/// strong (every per-VM solution is a host-level one with as many live migrations), and against a hand-counted fleet.
/// </summary>
public class HostMoveRelaxationTests
{
    [Fact]
    public void Counts_the_vm_a_second_host_cannot_cross_in_time()
    {
        // h1 (one VM) converts first: that VM live-migrates. With h1 the only PVE host, its 10 GiB ZFS takes one of h2's
        // two VMs (8 GiB RAM, 10 GiB disk each) when h2 converts: the other live-migrates. 2, as the exact model proves.
        var inventory = new TestFleet()
            .Host("h1", 64, zfsGiB: 10).Host("h2", 64).Host("h3", 64)
            .Vm("a-01", "h1", 8, diskGiB: 10)
            .Vms("b", 2, "h2", 8, diskGiB: 10).Vms("c", 2, "h3", 8, diskGiB: 10)
            .Build();
        var options = Planning.Options();
        var context = new SearchContext(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None);

        var bound = HostMoveRelaxation.LiveMigrationBound(context, PlanningProblem.From(inventory, options, forBounds: true), stages: 3, deterministicSeconds: 5);

        Assert.Equal(1, LowerBounds.Compute(inventory, options).LiveMigrations);
        Assert.Equal(2, bound);
    }

    [Theory]
    [InlineData(2, 36, 4)]
    [InlineData(3, 36, 4)]
    [InlineData(3, 90, 5)]
    [InlineData(5, 40, 5)]
    [InlineData(12, 216, 7)]
    public void Never_claims_more_than_the_per_vm_relaxation_proves(int seed, int vms, int hosts)
    {
        var (context, relaxed) = SolverFleets.Problems(seed, vms, hosts);
        var stages = MoveRelaxation.RaiseLowerBound(context, relaxed, 2, 8, 10, out var perVm);

        var bound = HostMoveRelaxation.LiveMigrationBound(context, relaxed, stages, 10);

        Assert.NotNull(perVm);
        Assert.True(perVm.Exact);
        Assert.NotNull(bound);
        Assert.InRange(bound.Value, 1, perVm.LiveMigrations);
    }

    [Fact]
    public void Bounds_a_thousand_vm_fleet_far_above_the_first_host_count()
    {
        // 1,000 VMs / 20 hosts in 5 stages (its proven stage count): wave 1 empties hosts while nothing runs PVE, and
        // later waves shed more RAM than the PVE hosts have room for; the first-host bound counts one host only.
        var inventory = SolverFleets.Generated(1, vms: 1000, hosts: 20);
        var options = Planning.Options(10);
        var context = new SearchContext(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None);
        var firstHost = LowerBounds.Compute(inventory, options).LiveMigrations;

        var bound = HostMoveRelaxation.LiveMigrationBound(context, PlanningProblem.From(inventory, options, forBounds: true), stages: 5, deterministicSeconds: 1);

        Assert.NotNull(bound);
        Assert.True(bound > 2 * firstHost, $"host-level bound {bound}, first-host bound {firstHost}");
    }

    [Fact]
    public void Rbd_data_leaves_the_old_ceph_only_with_the_pve_ram_of_the_vms_that_carry_it()
    {
        // 5,000 VMs / 100 hosts in 5 stages: the old Ceph shrinks as hosts leave, so RBD data must cross early, and the
        // VMs carrying it need PVE RAM, which the first PVE hosts have little of. Without the RBD-per-RAM cut the
        // relaxation let RBD cross on storage alone and proved 621; with it, 973 (ADR 0032).
        var inventory = SolverFleets.Generated(1, vms: 5000, hosts: 100);
        var options = Planning.Options(10);
        var context = new SearchContext(PlanningProblem.From(inventory, options), options, new CpSatTuning(), [], CancellationToken.None);

        var bound = HostMoveRelaxation.LiveMigrationBound(context, PlanningProblem.From(inventory, options, forBounds: true), stages: 5, deterministicSeconds: 0.5);

        Assert.NotNull(bound);
        Assert.True(bound >= 900, $"host-level bound {bound}: the RBD crossed is not tied to the PVE RAM it needs");
    }
}
