using Taquin.Planner.Solving;

namespace Taquin.Planner.Tests.Solving;

/// <summary>The greedy packing at the schedule relaxation's crossing waves (ADR 0029, ADR 0033).</summary>
public class GreedyDecisionsTests
{
    [Fact]
    public void At_the_relaxations_waves_the_vms_due_later_wait_on_libvirt_and_every_vm_crosses_in_its_wave()
    {
        // Seed 13's 6-stage schedule, the per-VM relaxation's best: crossing waves that need 10 live migrations or more.
        var (context, relaxed) = SolverFleets.Problems(13, 216, 7);
        var problem = context.Problem;
        int?[] schedule = [1, 6, 2, 4, 4, 2, 6];
        var relaxation = ScheduleRelaxation.Solve(context, relaxed, schedule, 6, 1);
        var waves = relaxation.Waves!;
        var order = problem.Hosts.Where(h => h.Convertible).OrderBy(h => schedule[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();
        SolverDecisions Pack(WavePacking packing) => GreedyDecisions.Solve(problem, order, [.. schedule.Select(c => c ?? 0)], targetWaves: waves, packing: packing)!;
        int Late(SolverDecisions plan) => plan.Vms.Where((vm, i) => vm.CrossStage > waves[i]).Count();

        // Crossing a VM due later early, when no libvirt host took it, took the PVE room of VMs due in that wave: they
        // crossed late, and those left on converting hosts live-migrated.
        var lastConverted = Pack(WavePacking.LastConvertedHost);

        Assert.True(Late(lastConverted) > 10, $"{Late(lastConverted)} late");
        foreach (var packing in new[] { WavePacking.EvacuationsFirst, WavePacking.DueFirst })
        {
            var plan = Pack(packing);
            Assert.Empty(new PlanSimulation(problem, plan).Violations());
            Assert.Equal(6, plan.Stages);
            Assert.Equal(0, Late(plan));
            Assert.InRange(plan.LiveMigrations, relaxation.Bound, (lastConverted.LiveMigrations / 2) - 1);
        }
    }
}
