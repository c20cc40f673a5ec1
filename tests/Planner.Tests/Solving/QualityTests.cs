using System.Text.Json;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

public class QualityTests
{
    [Fact]
    public void Same_input_and_seed_give_the_same_plan()
    {
        var inventory = RandomFleet(seed: 3);

        var first = JsonSerializer.Serialize(Planning.Verified(inventory).Stages);
        var second = JsonSerializer.Serialize(Planning.Verified(inventory).Stages);

        Assert.Equal(first, second);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public void Cp_sat_is_never_worse_than_the_greedy_baseline(int seed)
    {
        var inventory = RandomFleet(seed);

        var plan = Planning.Verified(inventory);
        var baseline = GreedyPlanner.Plan(inventory, Planning.Options());

        Assert.True(plan.Metrics.Stages <= baseline.Metrics.Stages);
        if (plan.Metrics.Stages == baseline.Metrics.Stages)
        {
            Assert.True(plan.Metrics.LiveMigrations <= baseline.Metrics.LiveMigrations);
        }
    }

    [Fact]
    public void Cp_sat_beats_the_cheapest_host_first_greedy()
    {
        // The greedy empties the host with the least RAM first: h2 (3 × 6 GiB = 18 GiB) before
        // h1 (one 20 GiB VM), paying three live migrations where one suffices.
        var inventory = new TestFleet()
            .Host("h1", 48).Host("h2", 48).Host("h3", 48)
            .Vm("solo", "h1", 20)
            .Vms("trio", 3, "h2", 6)
            .Vms("duo", 2, "h3", 10)
            .Build();

        var plan = Planning.Verified(inventory);
        var baseline = GreedyPlanner.Plan(inventory, Planning.Options());

        Assert.Equal(baseline.Metrics.Stages, plan.Metrics.Stages);
        Assert.Equal(1, plan.Metrics.LiveMigrations);
        Assert.True(baseline.Metrics.LiveMigrations > plan.Metrics.LiveMigrations, $"baseline {baseline.Metrics.LiveMigrations} live migrations");
        Assert.Equal("OPTIMAL", plan.Solver.Status);
    }

    /// <summary>3–4 hosts, 6–12 RBD VMs of mixed sizes, reproducible from the seed.</summary>
    private static FleetInventory RandomFleet(int seed)
    {
        var random = new Random(seed);
        var fleet = new TestFleet();
        var hosts = random.Next(3, 5);
        for (var h = 1; h <= hosts; h++)
        {
            fleet.Host($"h{h}", random.Next(48, 97), zfsGiB: random.Next(100, 400), oldOsdGiB: random.Next(300, 600), newOsdGiB: 300);
        }

        var vms = random.Next(6, 13);
        for (var v = 1; v <= vms; v++)
        {
            fleet.Vm($"vm-{v:00}", $"h{random.Next(1, hosts + 1)}", random.Next(2, 17), diskGiB: random.Next(5, 60));
        }

        return fleet.Build();
    }
}
