using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

public class InfeasibilityAndPinTests
{
    [Fact]
    public void A_vm_larger_than_every_host_is_named_with_its_numbers()
    {
        var inventory = new TestFleet().Reserve(16)
            .Host("h1", 112).Host("h2", 112).Host("h3", 112)
            .Vm("vm-foo", "h1", 100)
            .Vms("a", 2, "h2", 4)
            .Build();

        var reasons = Planning.Reasons(inventory);

        Assert.Contains(reasons, r => r.Contains("vm-foo needs 100 GiB RAM", StringComparison.Ordinal)
            && r.Contains("offers 96 GiB", StringComparison.Ordinal)
            && r.Contains("16 GiB reserve", StringComparison.Ordinal));
    }

    [Fact]
    public void Ram_that_fits_in_total_but_not_in_any_order_is_explained_by_the_host_ram_constraints()
    {
        // 120 GiB of VMs on 3 × 64 GiB passes the totals, but whichever host converts first,
        // its 40 GiB VM meets another 40 GiB VM on a 64 GiB host.
        var inventory = new TestFleet()
            .Host("h1", 64).Host("h2", 64).Host("h3", 64)
            .Vm("x", "h1", 40).Vm("y", "h2", 40).Vm("z", "h3", 40)
            .Build();

        var reasons = Planning.Reasons(inventory);

        Assert.StartsWith("no plan within", reasons[0], StringComparison.Ordinal);
        Assert.Contains(reasons, r => r.StartsWith("RAM of h", StringComparison.Ordinal));
    }

    [Fact]
    public void A_file_disk_vm_on_every_host_no_longer_blocks_one_hops_with_storage_copy()
    {
        var inventory = new TestFleet()
            .Host("h1", 64, localImagesGiB: 100).Host("h2", 64, localImagesGiB: 100)
            .Vm("q1", "h1", 4, file: true).Vm("q2", "h2", 4, file: true)
            .Build();

        var plan = Planning.Verified(inventory);

        var copy = Assert.Single(plan.Stages.SelectMany(s => s.Actions), PlanReport.IsLiveMigrationWithStorageCopy);
        Assert.Equal(StorageIds.File(copy.To!.Host), copy.To.Storage);
        Assert.Equal(StorageIds.File(copy.From!.Host), copy.From.Storage);
    }

    [Fact]
    public void Pins_on_host_stage_and_conversion_order_are_honoured()
    {
        var inventory = PinFleet();
        var options = Planning.Options() with
        {
            PinnedHosts = new Dictionary<string, string> { ["b-01"] = "h1" },
            PinnedStages = new Dictionary<string, int> { ["c-02"] = 4 },
            ConversionOrder = ["h3", "h1"],
        };

        var plan = Planning.Verified(inventory, options);

        Assert.Equal("h1", plan.Stages[^1].Placements["b-01"].Host);
        Assert.Equal(4, Planning.StageOf(plan, "c-02", ActionKind.MoveToPve));
        Assert.True(Planning.ConversionStage(plan, "h3") < Planning.ConversionStage(plan, "h1"));
        Assert.True(Planning.ConversionStage(plan, "h1") < Planning.ConversionStage(plan, "h2"));
    }

    [Fact]
    public void An_excluded_host_is_never_converted_nor_a_target()
    {
        var inventory = PinFleet();
        var plan = Planning.Verified(inventory, Planning.Options() with { ExcludedHosts = ["h2"] });

        Assert.All(plan.Stages, s => Assert.Equal(HostState.Libvirt, s.Hosts["h2"]));
        Assert.DoesNotContain(plan.Stages.SelectMany(s => s.Actions), a => a.To?.Host == "h2");
    }

    [Fact]
    public void A_pin_that_cannot_hold_is_named()
    {
        // Nothing is PVE at stage 1, so no VM can move to PVE in wave 1.
        var options = Planning.Options() with { PinnedStages = new Dictionary<string, int> { ["a-01"] = 1 } };

        var reasons = Planning.Reasons(PinFleet(), options);

        Assert.Contains(reasons, r => r.Contains("pin: a-01 → stage 1", StringComparison.Ordinal));
    }

    [Fact]
    public void A_pin_to_an_unknown_host_is_an_input_error()
    {
        var options = Planning.Options() with { PinnedHosts = new Dictionary<string, string> { ["a-01"] = "h9" } };

        var error = Assert.Throws<PlanningInputException>(() => Planning.Planner().Plan(PinFleet(), options));

        Assert.Contains("h9", error.Problems.Single(), StringComparison.Ordinal);
    }

    private static Taquin.Planner.Inventory.FleetInventory PinFleet() => new TestFleet()
        .Host("h1", 64).Host("h2", 64).Host("h3", 64)
        .Vms("a", 2, "h1", 8).Vms("b", 2, "h2", 8).Vms("c", 2, "h3", 8)
        .Build();
}
