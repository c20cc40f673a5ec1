using System.Text.Json;
using Taquin.Executors.Simulation;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Simulation;

public sealed class SimulatorTests
{
    private static Task<SimulationResult> SimulateAsync(params FaultSpec[] faults)
    {
        var plan = TestFleet.Plan();
        return Simulator.RunAsync(plan, JsonSerializer.Serialize(plan), TestFleet.Inventory(), new SimulationOptions { Start = TestFleet.Start, Faults = faults });
    }

    [Fact]
    public async Task The_three_wave_plan_completes_with_every_VM_running_exactly_once()
    {
        var result = await SimulateAsync();

        Assert.True(result.Succeeded, string.Join("\n", result.InvariantViolations.Concat(result.NotRunningExactlyOnce).Append(result.StoppedReason ?? "")));
        Assert.Equal(3, result.WavesRun);
        Assert.Equal(5, result.VmsMoved);
        Assert.Empty(result.RolledBackVms);
        Assert.All(result.Timeline.Vms, vm => Assert.Single(vm.RunningOn));
        Assert.Equal(["pve:h1"], result.Timeline.Vms.Single(v => v.Vm == "file-01").RunningOn);
        Assert.Equal(["pve:h2"], result.Timeline.Vms.Single(v => v.Vm == "app-01").RunningOn);
    }

    [Fact]
    public async Task Invariants_are_checked_after_every_step_run()
    {
        var result = await SimulateAsync();

        Assert.Equal(result.StepRuns, result.InvariantChecks);
        // 5 VM pipelines of 9 steps, 2 host pipelines of 7 steps (the gates run twice).
        Assert.Equal((5 * 9) + (2 * 7) + 2, result.StepRuns);
    }

    [Fact]
    public async Task Simulated_time_follows_data_sizes_so_warm_copies_cut_downtime()
    {
        var result = await SimulateAsync();

        var downtime = result.Timeline.Vms.ToDictionary(v => v.Vm, v => v.DowntimeSeconds);
        // db-01 is copied cold (40 GiB while off); web-01 warm (only the changed blocks while off).
        Assert.True(downtime["db-01"] > 40 * 1024.0 * 1024 * 1024 / 1.25e9, $"db-01 downtime {downtime["db-01"]} s");
        Assert.True(downtime["web-01"] < downtime["db-01"] / 2, $"web-01 {downtime["web-01"]} s vs db-01 {downtime["db-01"]} s");
        // The hosts' gates include the operator's reinstall time.
        Assert.All(result.Timeline.Waves.Take(2), w => Assert.True(w.DurationSeconds > TimeSpan.FromMinutes(45).TotalSeconds));
        Assert.Equal(result.Timeline.Waves.Sum(w => w.DurationSeconds), result.Timeline.TotalSeconds, precision: 3);
    }

    [Fact]
    public async Task Copies_onto_one_host_respect_its_copy_slot()
    {
        var result = await SimulateAsync();

        // Policy: one copy slot per host. web-01 and db-01 both copy onto h4 in wave 1: their copies never overlap.
        var copies = result.Timeline.Steps.Where(s => s.Wave == 1 && s.StepType is StepTypes.CopyDisks or StepTypes.FinalSync && s.Seconds > 0)
            .OrderBy(s => s.Start).ToList();
        for (var i = 1; i < copies.Count; i++)
        {
            Assert.True(copies[i].Start >= copies[i - 1].End, $"{copies[i].Subject} {copies[i].StepType} starts before {copies[i - 1].Subject} {copies[i - 1].StepType} ends");
        }
    }

    [Fact]
    public async Task A_transient_fault_is_retried_and_the_plan_still_completes()
    {
        var result = await SimulateAsync(new FaultSpec(StepTypes.CopyDisks, "web-01", FaultKind.Transient));

        Assert.True(result.Succeeded);
        Assert.Single(result.FaultsFired);
        Assert.Equal(2, result.Timeline.Steps.Single(s => s.Subject == "vm:web-01" && s.StepType == StepTypes.CopyDisks).Attempts);
    }

    [Fact]
    public async Task A_permanent_fault_rolls_the_VM_back_and_every_VM_still_runs_exactly_once()
    {
        var result = await SimulateAsync(new FaultSpec(StepTypes.FinalSync, "web-01", FaultKind.Permanent));

        Assert.Equal(["web-01"], result.RolledBackVms);
        Assert.Empty(result.InvariantViolations);
        Assert.Empty(result.NotRunningExactlyOnce);
        Assert.Equal(["libvirt:h1"], result.Timeline.Vms.Single(v => v.Vm == "web-01").RunningOn);
        Assert.Equal(["pve:h4"], result.Timeline.Vms.Single(v => v.Vm == "db-01").RunningOn);
        // h1 still holds web-01, so it is not converted and wave 2 is not started.
        Assert.Equal(1, result.WavesRun);
        Assert.Contains("wave 1", result.StoppedReason, StringComparison.Ordinal);
        Assert.Contains(result.FailedSteps, f => f.StartsWith("final-sync@vm:web-01", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_denied_reinstall_gate_stops_before_anything_moves_onto_that_host()
    {
        var result = await SimulateAsync(new FaultSpec(StepTypes.GateReinstall, "h1", FaultKind.Permanent));

        Assert.Equal(1, result.WavesRun);
        Assert.Empty(result.InvariantViolations);
        Assert.Empty(result.NotRunningExactlyOnce);
        Assert.Contains(result.FailedSteps, f => f.StartsWith("gate-reinstall@host:h1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_timeline_serialises_to_JSON_and_draws_a_bar_per_step()
    {
        var result = await SimulateAsync();

        using var json = JsonDocument.Parse(result.Timeline.ToJson());
        Assert.Equal(3, json.RootElement.GetProperty("waves").GetArrayLength());
        Assert.Equal(5, json.RootElement.GetProperty("vms").GetArrayLength());
        Assert.True(json.RootElement.GetProperty("totalSeconds").GetDouble() > 0);

        var svg = System.Xml.Linq.XDocument.Parse(GanttSvg.Render(result.Timeline));
        var bars = svg.Descendants().Count(e => e.Name.LocalName == "rect" && e.Element(e.Name.Namespace + "title") is not null);
        Assert.Equal(result.Timeline.Steps.Count, bars);
    }
}
