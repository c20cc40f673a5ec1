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

    // One file-disk VM on h3; every host has local-image disks of the given size.
    private static FleetInventory OneFileVm(int localImagesGib, int diskGib = 20, int usedGib = 10, double nic = 10)
        => MakeInventory(
            [.. new[] { "h1", "h2", "h3", "h4" }.Select(n => Host(n, nic: nic, localImagesGib: localImagesGib))],
            [FileVm("legacy", "h3", 8, diskGib, usedGib)],
            p => p with { WaveWindowHours = 1 });

    // Wave 1: h1..h3 convert, legacy is copied to h4; wave 2: legacy moves to PVE h1 and h4 converts.
    private static PlanDecisions CopyThenMove() => new()
    {
        ConversionStages = new Dictionary<string, int> { ["h1"] = 1, ["h2"] = 1, ["h3"] = 1, ["h4"] = 2 },
        LiveMigrations = [new LiveMigrationDecision("legacy", 1, "h4")],
        Moves = [new MoveDecision("legacy", 2, "h1", "zfs:h1")],
    };

    [Fact]
    public void A_file_vm_live_migrates_with_its_storage_copied_to_the_new_host()
    {
        var inventory = OneFileVm(localImagesGib: 100);
        var plan = Build(inventory, CopyThenMove());

        Assert.Empty(PlanVerifier.Verify(plan, inventory).Select(v => v.ToString()));
        var copy = Assert.Single(plan.Stages[1].Actions, a => a.Vm == "legacy");
        Assert.Equal(new Placement("h4", "file:h4"), copy.To);
        Assert.Equal((8 + 10) * G, copy.Bytes);
        Assert.Equal(0, copy.DowntimeSeconds);
        Assert.Equal("live-migrate + storage copy", PlanReport.ActionLabel(copy));
        Assert.Equal(1, plan.Metrics.LiveMigrations);
        var moveBytes = plan.Stages[2].Actions.Single(a => a.Kind == ActionKind.MoveToPve).Bytes;
        Assert.Equal((10 * G) + moveBytes, plan.Metrics.BytesCopied);
        Assert.Equal(20 * G, PlanVerifier.CapacityAt(plan, inventory, 1).Hosts.Single(h => h.Host == "h4").LocalImagesUsedBytes);
    }

    [Fact]
    public void A_vm_with_rbd_and_file_disks_copies_only_its_file_part_and_keeps_its_rbd_on_the_old_ceph()
    {
        var inventory = MakeInventory(
            [.. new[] { "h1", "h2", "h3", "h4" }.Select(n => Host(n, localImagesGib: 100))],
            [MixedVm("mixed", "h3", 8, rbdGib: 30, fileGib: 20)]);
        // h4 keeps its OSDs one wave longer: the RBD image copied in wave 2 is deleted only after it.
        var plan = Build(inventory, CopyThenMove() with
        {
            ConversionStages = new Dictionary<string, int> { ["h1"] = 1, ["h2"] = 1, ["h3"] = 1, ["h4"] = 3 },
            LiveMigrations = [new LiveMigrationDecision("mixed", 1, "h4")],
            Moves = [new MoveDecision("mixed", 2, "h1", "zfs:h1")],
        });

        Assert.Empty(PlanVerifier.Verify(plan, inventory).Select(v => v.ToString()));
        var copy = Assert.Single(plan.Stages[1].Actions, a => a.Vm == "mixed");
        Assert.Equal(new Placement("h4", "file:h4"), copy.To);
        Assert.Equal((8 + 20) * G, copy.Bytes);
        Assert.Contains("RBD disks stay on the old Ceph", copy.Reason, StringComparison.Ordinal);
        var stage1 = PlanVerifier.CapacityAt(plan, inventory, 1);
        Assert.Equal(30 * G, stage1.OldCeph.UsedBytes);
        Assert.Equal(20 * G, stage1.Hosts.Single(h => h.Host == "h4").LocalImagesUsedBytes);
    }

    [Fact]
    public void A_copy_beyond_the_local_image_capacity_of_the_target_is_a_violation()
    {
        var inventory = OneFileVm(localImagesGib: 15);
        var plan = Build(inventory, CopyThenMove());

        var full = Violations(plan, inventory, PlanRule.LocalImages);

        // Stage 2 too: h4's copy is deleted only once wave 2 (its move to PVE) is committed.
        Assert.Equal([1, 2], full.Select(v => v.Stage));
        Assert.Contains("host h4 local images 20 GiB provisioned", full[0].Message, StringComparison.Ordinal);
        Assert.Contains("> 15 GiB (its local-images disks)", full[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_host_without_local_image_disks_can_receive_no_copy()
    {
        var inventory = OneFileVm(localImagesGib: 0);
        var plan = Build(inventory, CopyThenMove());

        var full = Violations(plan, inventory, PlanRule.LocalImages)[0];

        Assert.Equal(1, full.Stage);
        Assert.Contains("> 0 B (no more than it holds at stage 0", full.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_vm_that_leaves_its_files_behind_is_a_violation()
    {
        var inventory = OneFileVm(localImagesGib: 100);
        var plan = Build(inventory, CopyThenMove());
        var stranded = new Placement("h4", "file:h3");
        var stage1 = plan.Stages[1] with
        {
            Placements = new Dictionary<string, Placement>(plan.Stages[1].Placements) { ["legacy"] = stranded },
            Actions = [.. plan.Stages[1].Actions.Select(a => a.Vm == "legacy" ? a with { To = stranded } : a)],
        };
        var stage2 = plan.Stages[2] with { Actions = [.. plan.Stages[2].Actions.Select(a => a.Vm == "legacy" ? a with { From = stranded } : a)] };
        plan = plan with { Stages = [plan.Stages[0], stage1, stage2] };

        var file = Assert.Single(Violations(plan, inventory, PlanRule.FileDiskLiveMigration));

        Assert.Contains("VM legacy has a local file disk: it live-migrates h3 → h4 only with a storage copy to file:h4, not to file:h3", file.Message, StringComparison.Ordinal);
        Assert.Contains(Violations(plan, inventory, PlanRule.Storage), v => v.Message.Contains("file:h3 is not on host h4", StringComparison.Ordinal));
    }

    [Fact]
    public void A_storage_copy_charges_both_nics_and_cannot_understate_its_bytes()
    {
        // 1 Gbit/s × 1 h = 450 GB; copying 600 GiB of file disk does not fit on either host.
        var inventory = OneFileVm(localImagesGib: 1000, diskGib: 700, usedGib: 600, nic: 1);
        var plan = Build(inventory, CopyThenMove());

        var budget = Violations(plan, inventory, PlanRule.CopyBudget).Where(v => v.Stage == 1).ToList();

        Assert.Equal(["h3", "h4"], budget.Select(v => v.Subject).Order(StringComparer.Ordinal));
        Assert.All(budget, v => Assert.Contains("moves 608 GiB in wave 1", v.Message, StringComparison.Ordinal));

        var understated = plan with { Stages = [plan.Stages[0], plan.Stages[1] with { Actions = [.. plan.Stages[1].Actions.Select(a => a.Vm == "legacy" ? a with { Bytes = 8 * G } : a)] }, plan.Stages[2]] };
        Assert.Contains(Violations(understated, inventory, PlanRule.CopyBudget), v => v.Message.Contains("live-migrate of legacy claims 8 GiB but moves at least 608 GiB (RAM 8 GiB + file disks 600 GiB)", StringComparison.Ordinal));
    }

    [Fact]
    public void A_move_to_pve_cannot_claim_less_than_its_disks_data()
    {
        // The stage and live-migration bounds count each move's disk data against the NICs: a plan must not understate it.
        var inventory = OneFileVm(localImagesGib: 1000, diskGib: 700, usedGib: 600, nic: 10);
        var plan = Build(inventory, CopyThenMove());
        var move = plan.Stages.Single(s => s.Actions.Any(a => a.Kind == ActionKind.MoveToPve));
        var understated = plan with
        {
            Stages = [.. plan.Stages.Select(s => s.Index != move.Index ? s : s with { Actions = [.. s.Actions.Select(a => a.Kind == ActionKind.MoveToPve ? a with { Bytes = 1 * G } : a)] })],
        };

        Assert.DoesNotContain(Violations(plan, inventory, PlanRule.CopyBudget), v => v.Message.Contains("move-to-pve", StringComparison.Ordinal));
        Assert.Contains(Violations(understated, inventory, PlanRule.CopyBudget), v => v.Message.Contains("move-to-pve of legacy claims 1 GiB but copies at least its disks' data, 600 GiB", StringComparison.Ordinal));
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
