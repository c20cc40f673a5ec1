using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using static Taquin.Planner.Tests.Planning.TestFleets;

namespace Taquin.Planner.Tests.Planning;

/// <summary>One hand-made bad plan per rule family: the verifier must name the rule, the place and the numbers.</summary>
public sealed class PlanVerifierTests
{
    private static readonly SolverReport Hand = new() { Status = "FEASIBLE" };

    // Four 128 GiB hosts (112 GiB usable each); h1 holds a 64 GiB VM, h2 another.
    private static FleetInventory Four(params VmRecord[] extra) => MakeInventory(
        [Host("h1"), Host("h2"), Host("h3"), Host("h4")],
        [RbdVm("big-a", "h1", 64, 40), RbdVm("big-b", "h2", 64, 40), .. extra]);

    private static MigrationPlan Build(FleetInventory inventory, PlanDecisions decisions)
        => PlanBuilder.Build(inventory, decisions, new PlannerOptions(), Hand);

    private static List<PlanViolation> Violations(MigrationPlan plan, FleetInventory inventory, PlanRule rule)
        => [.. PlanVerifier.Verify(plan, inventory).Where(v => v.Rule == rule)];

    [Fact]
    public void A_greedy_plan_of_the_base_fleet_is_clean()
    {
        var inventory = Four();

        Assert.Empty(PlanVerifier.Verify(GreedyPlanner.Plan(inventory, new PlannerOptions()), inventory));
    }

    [Fact]
    public void Ram_over_the_host_capacity_minus_reserve_is_named_with_the_numbers()
    {
        var inventory = Four();
        var plan = Build(inventory, new PlanDecisions
        {
            ConversionStages = new Dictionary<string, int> { ["h1"] = 1 },
            LiveMigrations = [new LiveMigrationDecision("big-a", 1, "h2")],
        });

        var ram = Assert.Single(Violations(plan, inventory, PlanRule.Ram));

        Assert.Equal("stage 1: host h2 RAM 128 GiB > 112 GiB (128 GiB − 16 GiB reserve)", ram.ToString());
    }

    [Fact]
    public void Zfs_over_usable_times_fill_ratio_is_a_violation()
    {
        var inventory = MakeInventory(
            [Host("h1", zfsGib: 100), Host("h2"), Host("h3")],
            [RbdVm("db", "h2", 8, 500, 100), RbdVm("web", "h1", 8, 20)]);
        var plan = Build(inventory, new PlanDecisions
        {
            ConversionStages = new Dictionary<string, int> { ["h1"] = 1 },
            LiveMigrations = [new LiveMigrationDecision("web", 1, "h3")],
            Moves = [new MoveDecision("db", 2, "h1", "zfs:h1")],
        });

        var zfs = Violations(plan, inventory, PlanRule.Zfs);

        Assert.Contains(zfs, v => v.Stage == 2 && v.Message.Contains("host h1 ZFS 500 GiB > 80 GiB (100 GiB usable × 0.8 zfsFillRatio)", StringComparison.Ordinal));
    }

    [Fact]
    public void Old_ceph_counts_images_copied_in_the_wave_against_the_shrunken_capacity()
    {
        // 300 GiB raw of OSD per host, size 3, nearfull 0.85: 4 hosts 340 GiB, 3 hosts 255 GiB, 2 hosts 170 GiB.
        var hosts = new[] { "h1", "h2", "h3", "h4" }.Select(n => Host(n, oldOsdGib: 300)).ToList();
        var inventory = MakeInventory(hosts, [RbdVm("a", "h2", 8, 200, 200), RbdVm("b", "h3", 8, 10, 0)]);
        var plan = Build(inventory, new PlanDecisions
        {
            ConversionStages = new Dictionary<string, int> { ["h1"] = 1, ["h2"] = 2 },
            // "a" leaves h2 for PVE in the wave h2 converts: its 200 GiB image is deleted only after the wave.
            Moves = [new MoveDecision("a", 2, "h1", "zfs:h1"), new MoveDecision("b", 3, "h1", "zfs:h1")],
        });

        var old = Assert.Single(Violations(plan, inventory, PlanRule.OldCeph));

        Assert.Equal(2, old.Stage);
        Assert.Contains("old Ceph holds 200 GiB (incl. images copied in wave 2 and not yet deleted) > 170 GiB usable", old.Message, StringComparison.Ordinal);
        var capacity = PlanVerifier.CapacityAt(plan, inventory, 2);
        Assert.Equal(200 * G, capacity.OldCeph.UsedBytes);
        Assert.Equal(0, PlanVerifier.CapacityAt(plan, inventory, 3).OldCeph.UsedBytes);
    }

    [Fact]
    public void New_ceph_with_fewer_than_three_pve_hosts_is_a_violation()
    {
        var inventory = Four();
        var plan = Build(inventory, new PlanDecisions
        {
            ConversionStages = new Dictionary<string, int> { ["h1"] = 1 },
            LiveMigrations = [new LiveMigrationDecision("big-a", 1, "h3")],
            Moves = [new MoveDecision("big-b", 2, "h1", StorageIds.PveCeph)],
        });

        var newCeph = Violations(plan, inventory, PlanRule.NewCeph);

        Assert.Contains(newCeph, v => v.Stage == 2 && v.Message.Contains("1 PVE host(s) < 3 required", StringComparison.Ordinal));
    }

    [Fact]
    public void A_converting_host_that_still_holds_vms_is_a_violation()
    {
        var inventory = Four();
        var plan = Build(inventory, new PlanDecisions { ConversionStages = new Dictionary<string, int> { ["h1"] = 1 } });

        var lifecycle = Assert.Single(Violations(plan, inventory, PlanRule.HostLifecycle));

        Assert.Equal("stage 1: host h1 is converting but holds 1 VM(s): big-a", lifecycle.ToString());
    }

    [Fact]
    public void Crossing_to_pve_a_second_time_is_a_violation()
    {
        var inventory = Four();
        var plan = Build(inventory, new PlanDecisions
        {
            ConversionStages = new Dictionary<string, int> { ["h1"] = 1 },
            LiveMigrations = [new LiveMigrationDecision("big-a", 1, "h3"), new LiveMigrationDecision("big-b", 3, "h4")],
            Moves = [new MoveDecision("big-b", 2, "h1", "zfs:h1"), new MoveDecision("big-b", 4, "h1", "zfs:h1")],
        });

        var crossing = Violations(plan, inventory, PlanRule.Crossing);

        Assert.Contains(crossing, v => v.Stage == 3 && v.Message.Contains("goes back from PVE host h1 to libvirt host h4", StringComparison.Ordinal));
        Assert.Contains(crossing, v => v.Stage == 4 && v.Message.Contains("crosses libvirt → PVE a second time (first in wave 2)", StringComparison.Ordinal));
    }

    [Fact]
    public void A_vm_with_a_file_disk_must_not_live_migrate()
    {
        var inventory = Four(FileVm("legacy", "h3", 8, 20));
        var plan = Build(inventory, new PlanDecisions { LiveMigrations = [new LiveMigrationDecision("legacy", 1, "h4")] });

        var file = Assert.Single(Violations(plan, inventory, PlanRule.FileDiskLiveMigration));

        Assert.Contains("VM legacy has a local file disk and cannot live-migrate h3 → h4", file.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Copies_beyond_the_nic_rate_times_the_wave_window_break_the_copy_budget()
    {
        // 1 Gbit/s × 1 h = 450 GB; a cold copy of 600 GiB does not fit.
        var inventory = MakeInventory(
            [Host("h1", nic: 1), Host("h2", nic: 1), Host("h3", nic: 1)],
            [RbdVm("big-disk", "h2", 8, 600), RbdVm("small", "h1", 4, 10)],
            p => p with { WaveWindowHours = 1, DefaultStrategy = "cold" });
        var plan = Build(inventory, new PlanDecisions
        {
            ConversionStages = new Dictionary<string, int> { ["h1"] = 1 },
            LiveMigrations = [new LiveMigrationDecision("small", 1, "h3")],
            Moves = [new MoveDecision("big-disk", 2, "h1", "zfs:h1")],
        });

        var budget = Assert.Single(Violations(plan, inventory, PlanRule.CopyBudget));

        Assert.Equal(2, budget.Stage);
        Assert.Contains("host h1 moves 600 GiB in wave 2", budget.Message, StringComparison.Ordinal);
        Assert.Contains("> 1 h wave window", budget.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_vm_missing_from_a_stage_is_reported_and_stops_the_capacity_checks()
    {
        var inventory = Four();
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());
        var stages = plan.Stages.ToList();
        var placements = stages[1].Placements.Where(p => p.Key != "big-b").ToDictionary(p => p.Key, p => p.Value);
        stages[1] = stages[1] with { Placements = placements };

        var violations = PlanVerifier.Verify(plan with { Stages = stages }, inventory);

        var missing = Assert.Single(violations);
        Assert.Equal(PlanRule.Coverage, missing.Rule);
        Assert.Equal("stage 1: VM big-b has no placement", missing.ToString());
    }

    [Fact]
    public void A_plan_made_from_another_inventory_is_rejected_by_digest()
    {
        var inventory = Four();
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions()) with { InventoryDigest = "sha256:0123456789abcdef" };

        var digest = Assert.Single(PlanVerifier.Verify(plan, inventory));

        Assert.Equal(PlanRule.Digest, digest.Rule);
        Assert.Contains("re-run `taquin plan`", digest.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_placement_change_without_its_action_and_forged_metrics_are_caught()
    {
        var inventory = Four();
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());
        var stages = plan.Stages.ToList();
        var wave = stages.First(s => s.Actions.Any(a => a.Kind == ActionKind.MoveToPve));
        var dropped = wave.Actions.First(a => a.Kind == ActionKind.MoveToPve);
        stages[wave.Index] = wave with { Actions = [.. wave.Actions.Where(a => a != dropped)] };
        var forged = plan with { Stages = stages, Metrics = plan.Metrics with { Reboots = plan.Metrics.Reboots } };

        var violations = PlanVerifier.Verify(forged, inventory);

        Assert.Contains(violations, v => v.Rule == PlanRule.Actions && v.Subject == dropped.Vm && v.Message.Contains("with 0 action(s)", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.Rule == PlanRule.Metrics && v.Message.Contains("metrics.reboots", StringComparison.Ordinal));
    }

    [Fact]
    public void A_plan_that_leaves_a_host_unconverted_is_incomplete()
    {
        var inventory = Four();
        var plan = Build(inventory, new PlanDecisions
        {
            ConversionStages = new Dictionary<string, int> { ["h3"] = 1 },
            Moves = [new MoveDecision("big-a", 2, "h3", "zfs:h3"), new MoveDecision("big-b", 2, "h3", "zfs:h3")],
        });

        var incomplete = Violations(plan, inventory, PlanRule.Completeness);

        Assert.Equal(["h1", "h2", "h4"], incomplete.Select(v => v.Subject).Order());
    }

    [Fact]
    public void Capacity_table_shows_ram_and_storage_per_stage()
    {
        var inventory = Four();
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());

        var table = PlanVerifier.CapacityTable(plan, inventory);

        Assert.Equal(plan.Stages.Count, table.Count);
        var zero = table[0];
        Assert.Equal(64 * G, zero.Hosts.Single(h => h.Host == "h1").RamUsedBytes);
        Assert.Equal(112 * G, zero.Hosts.Single(h => h.Host == "h1").RamCapacityBytes);
        Assert.Equal(80 * G, zero.OldCeph.UsedBytes);
        Assert.False(zero.NewCeph.Exists);
        var last = table[^1];
        Assert.Equal(0, last.OldCeph.UsedBytes);
        Assert.Equal(128 * G, last.Hosts.Sum(h => h.RamUsedBytes));
    }
}
