using System.Text.Json;
using Taquin.Executors.Simulation;
using Taquin.Executors.Steps;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Tests.Simulation;

/// <summary>
/// file-01 (a 10 GiB qcow2 file with 5 GiB used) moved warm: the twin puts it on an overlay while it runs, copies the
/// base, and final-sync only carries what the guest wrote since (docs/adr/0012).
/// </summary>
public sealed class SimulatorFileDiskWarmTests
{
    private static MigrationPlan PlanWithFile01(string strategy)
    {
        var plan = TestFleet.Plan();
        return plan with
        {
            Stages = [.. plan.Stages.Select(stage => stage with
            {
                Actions = [.. stage.Actions.Select(a => a.Vm == "file-01" ? a with { Strategy = strategy } : a)],
            })],
        };
    }

    private static Task<SimulationResult> SimulateAsync(string strategy, params FaultSpec[] faults)
    {
        var plan = PlanWithFile01(strategy);
        return Simulator.RunAsync(plan, JsonSerializer.Serialize(plan), TestFleet.Inventory(), new SimulationOptions { Start = TestFleet.Start, Faults = faults });
    }

    private static StepSpan Step(SimulationResult result, string type)
        => result.Timeline.Steps.Single(s => s.Subject == "vm:file-01" && s.StepType == type);

    [Fact]
    public async Task A_warm_file_disk_copies_its_base_while_running_and_only_the_overlay_while_off()
    {
        var cold = await SimulateAsync("cold");
        var warm = await SimulateAsync("warm");

        Assert.True(warm.Succeeded, string.Join("\n", warm.InvariantViolations.Concat(warm.NotRunningExactlyOnce).Append(warm.StoppedReason ?? "")));
        Assert.Equal(["pve:h1"], warm.Timeline.Vms.Single(v => v.Vm == "file-01").RunningOn);
        // Cold: nothing moves while the VM runs, the 5 GiB in the downtime. Warm: the base copy (5 GiB at 10 Gbit/s) runs before the stop.
        Assert.Equal(0, Step(cold, StepTypes.CopyDisks).Seconds, precision: 3);
        Assert.True(Step(warm, StepTypes.CopyDisks).Seconds >= 0.99 * 5 * 1024.0 * 1024 * 1024 / 1.25e9, $"warm base copy took {Step(warm, StepTypes.CopyDisks).Seconds} s");
        Assert.True(Step(warm, StepTypes.FinalSync).Seconds < Step(cold, StepTypes.FinalSync).Seconds / 2,
            $"final-sync warm {Step(warm, StepTypes.FinalSync).Seconds} s vs cold {Step(cold, StepTypes.FinalSync).Seconds} s");
        var downtime = (Warm: warm.Timeline.Vms.Single(v => v.Vm == "file-01").DowntimeSeconds, Cold: cold.Timeline.Vms.Single(v => v.Vm == "file-01").DowntimeSeconds);
        Assert.True(downtime.Warm < downtime.Cold, $"file-01 downtime warm {downtime.Warm} s vs cold {downtime.Cold} s");
    }

    [Fact]
    public async Task A_failed_final_sync_of_a_warm_file_disk_rolls_back_onto_the_base_and_the_VM_runs_once()
    {
        var result = await SimulateAsync("warm", new FaultSpec(StepTypes.FinalSync, "file-01", FaultKind.Permanent));

        Assert.Equal(["file-01"], result.RolledBackVms);
        Assert.Empty(result.InvariantViolations);
        Assert.Empty(result.NotRunningExactlyOnce);
        Assert.Equal(["libvirt:h2"], result.Timeline.Vms.Single(v => v.Vm == "file-01").RunningOn);
        Assert.DoesNotContain(result.FailedSteps, f => f.StartsWith("copy-disks@vm:file-01", StringComparison.Ordinal));
    }
}
