using Taquin.Executors.Compilation;
using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;
using Taquin.Planner.Pve;
using Taquin.Tests.Shared;

namespace Taquin.Executors.Tests.Steps;

/// <summary>
/// What create-target-vm sends to PVE for every VM of a sample fleet: the translator's parameters, with the
/// VLAN tag the network step sets and the disks allocated on the plan's target storage, accepted by the real PVE
/// API schema (the simulated API does not validate against it: loading the schema costs more than the whole
/// 216-VM simulation, so the check lives here, once per VM).
/// </summary>
public sealed class CreateTargetVmParametersTests
{
    private static readonly Lazy<PveApiSchema> Schema = new(() =>
        PveApiSchema.LoadFile(Path.Combine(AppContext.BaseDirectory, "pve-api", "pve-apidata.json")));

    [Theory]
    [InlineData("fleet-tiny")]
    [InlineData("fleet-216")]
    public void Every_create_request_of_a_sample_plan_is_the_translation_and_the_real_PVE_schema_accepts_it(string sample)
    {
        var inventory = Assert.IsType<FleetInventory>(InventoryLoader.Load(RepositoryPaths.Sample(sample)).Inventory);
        var plan = GreedyPlanner.Plan(inventory, new PlannerOptions());
        var creates = PlanCompiler.Compile(plan, inventory)
            .Where(s => s.StepType == StepTypes.CreateTargetVm)
            .ToList();
        Assert.Equal(inventory.Vms.Count, creates.Count);

        foreach (var step in creates)
        {
            var input = StepInput.FromJson(step.InputJson);
            var request = CreateTargetVmStep.BuildParameters(input);
            request.TryAdd("vmid", "100");

            Assert.Empty(Schema.Value.ValidateParameters("/nodes/{node}/qemu", "POST", request));
            Assert.NotNull(input.CreateParameters);
            Assert.Equal(input.CreateParameters!["smbios1"], request["smbios1"]);
            Assert.DoesNotContain("tag=", request["net0"], StringComparison.Ordinal);
            Assert.All(input.Disks, disk => Assert.StartsWith(
                input.Strategy == "attach-and-move" && disk.IsRbd ? "old-ceph:" : Executors.Simulation.PveStorageIds.FromPlan(input.ToStorage!) + ":",
                request[disk.PveKey], StringComparison.Ordinal));
        }
    }
}
