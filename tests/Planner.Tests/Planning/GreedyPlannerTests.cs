using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Tests.Shared;
using static Taquin.Planner.Tests.Planning.TestFleets;

namespace Taquin.Planner.Tests.Planning;

public sealed class GreedyPlannerTests
{
    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 40)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Greedy_plans_on_random_fleets_pass_the_verifier(int seed)
    {
        var inventory = Random(seed, hostCount: 3 + (seed % 5), vmsPerHost: 4 + (seed % 7));

        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        Assert.Empty(PlanVerifier.Verify(plan, inventory).Select(v => v.ToString()));
        Assert.Equal("GREEDY", plan.Solver.Status);
        Assert.All(plan.Stages[^1].Placements.Values, p => Assert.Equal(HostState.Pve, plan.Stages[^1].Hosts[p.Host]));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Greedy_plans_verify_with_spares_exclusions_small_pools_and_slow_nics(int seed)
    {
        var inventory = Random(seed, hostCount: 4 + (seed % 4), vmsPerHost: 3 + (seed % 6), varied: true);

        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        Assert.Empty(PlanVerifier.Verify(plan, inventory).Select(v => v.ToString()));
        var bound = LowerBounds.Compute(inventory, new PlannerOptions());
        Assert.InRange(bound.Stages, 1, plan.Metrics.Stages);
        Assert.InRange(bound.LiveMigrations, 0, plan.Metrics.LiveMigrations);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Lower_bounds_never_exceed_the_greedy_metrics(int seed)
    {
        var inventory = Random(seed, hostCount: 3 + (seed % 5), vmsPerHost: 4 + (seed % 7));

        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());
        var bound = LowerBounds.Compute(inventory, new PlannerOptions());

        Assert.InRange(bound.Stages, 1, plan.Metrics.Stages);
        Assert.InRange(bound.Reboots, 0, plan.Metrics.Reboots);
        Assert.InRange(bound.BytesCopied, 0, plan.Metrics.BytesCopied);
        Assert.InRange(bound.LiveMigrations, 0, plan.Metrics.LiveMigrations);
        Assert.InRange(bound.Moves, 0, plan.Metrics.Moves);
        Assert.True(bound.DowntimeSeconds <= plan.Metrics.DowntimeSeconds + 1e-6);
    }

    [Fact]
    public void Every_vm_on_the_first_host_live_migrates_because_nothing_is_pve_yet()
    {
        var inventory = MakeInventory(
            [Host("h1"), Host("h2"), Host("h3")],
            [RbdVm("a", "h1", 8, 20), RbdVm("b", "h1", 8, 20), RbdVm("c", "h2", 8, 20), RbdVm("d", "h2", 8, 20), RbdVm("e", "h2", 8, 20), RbdVm("f", "h3", 8, 20), RbdVm("g", "h3", 8, 20), RbdVm("i", "h3", 8, 20)]);

        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        var wave1 = plan.Stages[1];
        Assert.Equal(HostState.Converting, wave1.Hosts["h1"]);
        var migrated = wave1.Actions.Where(a => a.Kind == ActionKind.LiveMigrate).Select(a => a.Vm).ToList();
        Assert.Contains("a", migrated);
        Assert.Contains("b", migrated);
        Assert.Equal(2, LowerBounds.Compute(inventory, new PlannerOptions()).LiveMigrations);
        Assert.Empty(PlanVerifier.Verify(plan, inventory));
    }

    [Fact]
    public void A_vm_bigger_than_any_host_is_reported_with_the_numbers()
    {
        var inventory = MakeInventory([Host("h1", ramGib: 128), Host("h2", ramGib: 64)], [RbdVm("vm-foo", "h1", 120, 20)]);

        var error = Assert.Throws<PlanInfeasibleException>(() => GreedyPlanner.Plan(inventory, new PlannerOptions()));

        Assert.Contains(error.Blockers, b => b.Contains("vm-foo needs 120 GiB RAM", StringComparison.Ordinal) && b.Contains("128 GiB − 16 GiB reserve = 112 GiB", StringComparison.Ordinal));
    }

    [Fact]
    public void A_file_vm_with_no_local_image_room_elsewhere_blocks_with_an_explanation()
    {
        // Two hosts without local-image disks, each full with its own file-disk VM: nothing is PVE at wave 1
        // and neither host can take the other's copy.
        var inventory = MakeInventory([Host("h1"), Host("h2")], [FileVm("legacy-1", "h1", 8, 20), FileVm("legacy-2", "h2", 8, 20)]);

        var error = Assert.Throws<PlanInfeasibleException>(() => GreedyPlanner.Plan(inventory, new PlannerOptions()));

        Assert.Contains(error.Blockers, b => b.Contains("no PVE host exists yet", StringComparison.Ordinal)
            && b.Contains("a live migration with storage copy needs 20 GiB of local image storage", StringComparison.Ordinal)
            && b.Contains("has 0 B free (of 20 GiB)", StringComparison.Ordinal));
    }

    [Fact]
    public void File_vms_of_the_first_host_are_copied_to_the_host_that_stays_libvirt_longest()
    {
        // Every host has a file-disk VM, so the first host to convert must copy its file disks away.
        var inventory = MakeInventory(
            [Host("h1", localImagesGib: 500), Host("h2", localImagesGib: 500), Host("h3", localImagesGib: 500)],
            [FileVm("legacy-1", "h1", 8, 100, 40), RbdVm("web-1", "h1", 4, 20), FileVm("legacy-2", "h2", 16, 100), RbdVm("web-2", "h2", 16, 20), FileVm("legacy-3", "h3", 24, 100), RbdVm("web-3", "h3", 24, 20)]);

        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        Assert.Empty(PlanVerifier.Verify(plan, inventory).Select(v => v.ToString()));
        var copy = Assert.Single(plan.Stages[1].Actions, a => a.Vm == "legacy-1");
        Assert.Equal(ActionKind.LiveMigrate, copy.Kind);
        Assert.Equal(new Placement("h1", "file:h1"), copy.From);
        // h3 holds the most RAM and file data: it converts last, so the copy lands there and is not moved again.
        Assert.Equal(new Placement("h3", "file:h3"), copy.To);
        Assert.Equal((8 + 40) * G, copy.Bytes);
        Assert.Contains("storage copy", copy.Reason, StringComparison.Ordinal);
        int ConversionStage(string host) => plan.Stages.First(s => s.Hosts[host] == HostState.Converting).Index;
        Assert.True(ConversionStage("h3") > ConversionStage("h1"));
        Assert.Single(plan.Stages.SelectMany(s => s.Actions), a => a.Vm == "legacy-1" && a.Kind == ActionKind.LiveMigrate);
        // Bytes copied = the moves to PVE + the file data of every storage copy.
        var actions = plan.Stages.SelectMany(s => s.Actions).ToList();
        var copied = actions.Where(PlanReport.IsLiveMigrationWithStorageCopy).Sum(a => inventory.Vms.Single(v => v.Name == a.Vm).LocalFileBytes);
        Assert.Equal(actions.Where(a => a.Kind == ActionKind.MoveToPve).Sum(a => a.Bytes) + copied, plan.Metrics.BytesCopied);
    }

    [Theory]
    [InlineData("fleet-216", true)]
    [InlineData("fleet-tiny", false)]
    public void Greedy_plans_the_bundled_samples_copying_file_disks_off_the_first_hosts(string sample, bool fileVmsOnEveryHost)
    {
        var inventory = Assert.IsType<FleetInventory>(InventoryLoader.Load(RepositoryPaths.Sample(sample)).Inventory);

        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        Assert.Empty(PlanVerifier.Verify(plan, inventory).Select(v => v.ToString()));
        Assert.Equal(inventory.Vms.Count, plan.Metrics.Reboots);
        var bound = LowerBounds.Compute(inventory, new PlannerOptions());
        Assert.InRange(bound.Stages, 1, plan.Metrics.Stages);
        Assert.InRange(bound.BytesCopied, 0, plan.Metrics.BytesCopied);
        Assert.InRange(bound.LiveMigrations, 0, plan.Metrics.LiveMigrations);
        // The hosts converting first hold file-disk VMs and nothing is PVE yet: they leave by live migration with storage copy.
        var first = plan.Stages[1].Actions.Where(a => a.Kind == ActionKind.ConvertHost).Select(a => a.Host!).ToList();
        var firstFileVms = first.SelectMany(inventory.VmsOn).Where(v => v.Storage == SourceStorage.LocalFile).Select(v => v.Name).ToList();
        Assert.Equal(fileVmsOnEveryHost, firstFileVms.Count > 0);
        Assert.All(firstFileVms, vm => Assert.Contains(plan.Stages[1].Actions, a => a.Vm == vm && PlanReport.IsLiveMigrationWithStorageCopy(a) && a.To!.Storage == "file:" + a.To.Host));
    }

    [Fact]
    public void An_old_ceph_that_cannot_lose_any_host_blocks_with_its_numbers()
    {
        // 3 × 300 GiB raw ÷ 3 × 0.85 = 255 GiB usable; 200 GiB of data leaves no room to lose a host (170 GiB).
        var hosts = new[] { "h1", "h2", "h3" }.Select(n => Host(n, oldOsdGib: 300)).ToList();
        var inventory = MakeInventory(hosts, [RbdVm("a", "h1", 8, 100, 100), RbdVm("b", "h2", 8, 100, 100)]);

        var error = Assert.Throws<PlanInfeasibleException>(() => GreedyPlanner.Plan(inventory, new PlannerOptions()));

        Assert.Contains("would shrink the old Ceph to 170 GiB usable while it still holds 200 GiB", error.Blockers[0], StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_input_gives_the_same_plan()
    {
        var first = PlanJson.Serialize(GreedyPlanner.Plan(Random(21, hostCount: 6, vmsPerHost: 8), new PlannerOptions()) with { Solver = new SolverReport { Status = "GREEDY" } });
        var second = PlanJson.Serialize(GreedyPlanner.Plan(Random(21, hostCount: 6, vmsPerHost: 8), new PlannerOptions()) with { Solver = new SolverReport { Status = "GREEDY" } });

        Assert.Equal(first, second);
    }

    [Fact]
    public void A_fixed_conversion_order_is_followed()
    {
        var inventory = Random(7, hostCount: 4, vmsPerHost: 5);
        var options = new PlannerOptions { ConversionOrder = ["h2", "h1", "h4", "h3"] };

        var plan = GreedyPlanner.Plan(inventory, options);

        int ConversionStage(string host) => plan.Stages.First(s => s.Hosts[host] == HostState.Converting).Index;
        var stages = options.ConversionOrder.Select(ConversionStage).ToList();
        Assert.Equal(stages.Order(), stages);
        Assert.True(ConversionStage("h2") < ConversionStage("h3"));
        Assert.Empty(PlanVerifier.Verify(plan, inventory));
    }

    [Fact]
    public void Pinned_host_and_stage_are_honoured()
    {
        // Unpinned, h1..h3 convert together in wave 1 and everything is on PVE by wave 2.
        var inventory = MakeInventory(
            [Host("h1", 256), Host("h2", 256), Host("h3", 256), Host("h4", 256)],
            [RbdVm("a", "h1", 4, 20), RbdVm("b", "h2", 4, 20), RbdVm("c", "h3", 8, 20), RbdVm("d", "h4", 8, 20), RbdVm("e", "h4", 8, 20)]);
        var options = new PlannerOptions { PinnedHosts = new Dictionary<string, string> { ["d"] = "h1" }, PinnedStages = new Dictionary<string, int> { ["d"] = 3 } };

        var plan = GreedyPlanner.Plan(inventory, options);

        Assert.Equal(3, plan.Vms["d"].MoveStage);
        Assert.Equal(new Placement("h1", "zfs:h1"), plan.Stages[3].Placements["d"]);
        Assert.Empty(PlanVerifier.Verify(plan, inventory));
    }

    [Fact]
    public void Excluded_hosts_are_never_converted_nor_targets()
    {
        var inventory = Random(5, hostCount: 5, vmsPerHost: 4);
        var options = new PlannerOptions { ExcludedHosts = ["h2"] };

        var plan = GreedyPlanner.Plan(inventory, options);

        Assert.All(plan.Stages, s => Assert.Equal(HostState.Libvirt, s.Hosts["h2"]));
        Assert.DoesNotContain(plan.Stages.SelectMany(s => s.Actions), a => a.To?.Host == "h2");
        Assert.Empty(PlanVerifier.Verify(plan, inventory));
    }

    [Fact]
    public void Greedy_handles_a_thousand_vms_and_the_plan_verifies()
    {
        var inventory = Random(3, hostCount: 20, vmsPerHost: 50);

        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        Assert.Empty(PlanVerifier.Verify(plan, inventory));
        Assert.Equal(inventory.Vms.Count, plan.Metrics.Reboots);
    }
}
