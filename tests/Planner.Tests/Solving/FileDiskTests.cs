using Google.OrTools.Sat;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>File-disk VMs hop between libvirt hosts only with a storage copy, within the local-images capacity.</summary>
public class FileDiskTests
{
    [Fact]
    public void A_file_disk_vm_on_the_host_converted_first_hops_with_storage_copy_where_local_images_have_room()
    {
        // h1 converts first (pinned order); q1's 50 GiB file fits h3's local images, not h2's.
        var inventory = new TestFleet()
            .Host("h1", 64).Host("h2", 64, localImagesGiB: 40).Host("h3", 64, localImagesGiB: 200)
            .Vm("q1", "h1", 8, diskGiB: 50, file: true).Vm("q2", "h2", 8, diskGiB: 10, file: true).Vm("r3", "h3", 8)
            .Build();
        var options = Planning.Options() with { ConversionOrder = ["h1"] };

        var plan = Planning.Verified(inventory, options);

        var hop = Planning.Action(plan, "q1", ActionKind.LiveMigrate);
        Assert.True(PlanReport.IsLiveMigrationWithStorageCopy(hop));
        Assert.Equal(new Placement("h3", "file:h3"), hop.To);
        Assert.Equal(58L * 1024 * 1024 * 1024, hop.Bytes);
    }

    [Fact]
    public void Without_local_images_room_for_a_copy_no_host_can_be_emptied_and_the_explanation_says_so()
    {
        var inventory = new TestFleet()
            .Host("h1", 64).Host("h2", 64)
            .Vm("q1", "h1", 4, file: true).Vm("q2", "h2", 4, file: true)
            .Build();

        var reasons = Planning.Reasons(inventory);

        Assert.Contains(reasons, r => r.StartsWith("every host runs a VM with a local file disk (q1 on h1", StringComparison.Ordinal) && r.Contains("local-images room", StringComparison.Ordinal));
    }

    [Fact]
    public void A_storage_copy_puts_ram_and_file_data_on_both_nics_and_counts_on_its_source_during_the_wave()
    {
        var inventory = new TestFleet()
            .Host("h1", 64, localImagesGiB: 100).Host("h2", 64, localImagesGiB: 100)
            .Vm("q1", "h1", 4, diskGiB: 30, file: true).Vm("q2", "h2", 4, diskGiB: 20, file: true)
            .Build();
        var problem = PlanningProblem.From(inventory, Planning.Options());
        var q1 = problem.Vms.Single(v => v.Name == "q1");
        // q1 hops h1 -> h2 in wave 1, h1 converts at 1, both cross to h1 at 2, h2 converts at 3.
        var decisions = new SolverDecisions(3, [1, 3],
        [
            new VmDecision(2, 0, false, [new LiveHop(1, 1)]),
            new VmDecision(2, 0, false, []),
        ]);
        var simulation = new PlanSimulation(problem, decisions);

        Assert.Empty(simulation.Violations());
        var charge = simulation.NicCharges(1);
        Assert.Equal((4 + 30) * 1024L, charge[0]);
        Assert.Equal((4 + 30) * 1024L, charge[1]);
        Assert.Equal(30 * 1024L, simulation.LocalImages(1)[0]);
        Assert.Equal((30 + 20) * 1024L, simulation.LocalImages(1)[1]);
        Assert.Equal(0, simulation.LocalImages(2)[0]);
        Assert.Empty(PlanVerifier.Verify(PlanBuilder.Build(inventory, CpSatPlanner.ToPlanDecisions(problem, decisions), Planning.Options(), new SolverReport { Status = "TEST" }), inventory));

        var tight = PlanningProblem.From(new TestFleet()
            .Host("h1", 64, localImagesGiB: 100).Host("h2", 64, localImagesGiB: 45)
            .Vm("q1", "h1", 4, diskGiB: 30, file: true).Vm("q2", "h2", 4, diskGiB: 20, file: true)
            .Build(), Planning.Options());
        Assert.Contains(new PlanSimulation(tight, decisions).Violations(), v => v.Contains("local images", StringComparison.Ordinal));
        Assert.Equal(30 * 1024L, q1.StorageCopyMiB);
    }

    [Fact]
    public void The_exact_model_accepts_the_baseline_plan_of_a_fleet_with_file_disks()
    {
        var inventory = SolverFleets.Generated(seed: 1, vms: 216, hosts: 7, keepFileDisks: true);
        var options = new PlannerOptions { Seed = 1 };
        var problem = PlanningProblem.From(inventory, options);
        var baseline = GreedyPlanner.Plan(inventory, options);
        Assert.Contains(baseline.Stages.SelectMany(s => s.Actions), PlanReport.IsLiveMigrationWithStorageCopy);
        var decisions = CpSatPlanner.FromPlan(problem, baseline);
        Assert.NotNull(decisions);
        Assert.Empty(new PlanSimulation(problem, decisions).Violations());

        var model = new CpSatStageModel(problem, decisions.Stages);
        model.Hint(problem, decisions, fix: true);
        var solver = new CpSolver { StringParameters = "num_workers:1, max_deterministic_time:5" };
        Assert.Equal(CpSolverStatus.Optimal, solver.Solve(model.Model));
    }
}
