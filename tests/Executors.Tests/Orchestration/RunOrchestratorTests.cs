using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Orchestration;

public sealed class RunOrchestratorTests
{
    private static (TestFleet.Harness Harness, RunOrchestrator Orchestrator, InProcessStepDispatcher Dispatcher) Create()
    {
        var h = new TestFleet.Harness();
        var runner = new StepJobRunner(h.Engine());
        var dispatcher = new InProcessStepDispatcher(runner);
        var orchestrator = new RunOrchestrator(h.Journal, dispatcher, h.Clock);
        runner.Orchestrator = orchestrator;
        return (h, orchestrator, dispatcher);
    }

    [Fact]
    public async Task Nothing_runs_until_a_wave_is_started()
    {
        var (h, orchestrator, dispatcher) = Create();
        var run = await orchestrator.CreateRunAsync(h.PlanJson, h.Plan, h.Inventory, "test");

        await orchestrator.DispatchReadyAsync(run.RunId);
        await dispatcher.WhenIdleAsync();

        Assert.All(await h.Journal.GetStepsAsync(run.RunId), s => Assert.Equal(StepState.Pending, s.State));
        Assert.Equal(RunOrchestrator.Digest(h.PlanJson), run.PlanDigest);
    }

    [Fact]
    public async Task A_started_wave_runs_in_process_up_to_the_reinstall_gate_and_on_after_confirmation()
    {
        var (h, orchestrator, dispatcher) = Create();
        var run = await orchestrator.CreateRunAsync(h.PlanJson, h.Plan, h.Inventory, "test");

        await orchestrator.StartWaveAsync(run.RunId, 1, "alice");
        await dispatcher.WhenIdleAsync();

        var gate = (await h.Journal.GetStepsAsync(run.RunId, 1)).Single(s => s.StepType == StepTypes.GateReinstall);
        Assert.Equal(StepState.WaitingForGate, gate.State);
        Assert.Equal(["pve:h4"], h.Twin.WhereRunning("web-01"));
        Assert.False((await orchestrator.GetWaveStatusAsync(run.RunId, 1)).Completed);
        await Assert.ThrowsAsync<InvalidOperationException>(() => orchestrator.StartWaveAsync(run.RunId, 2, "alice"));

        h.Twin.ReinstallAsPve("h1");
        await dispatcher.Engine().ConfirmGateAsync(gate.StepId, "alice");
        await orchestrator.DispatchReadyAsync(run.RunId);
        await dispatcher.WhenIdleAsync();

        var status = await orchestrator.GetWaveStatusAsync(run.RunId, 1);
        Assert.True(status.Completed, string.Join(", ", status.Counts));
        Assert.Empty(dispatcher.Errors);
        Assert.Empty(h.Twin.CheckInvariants());
    }

    [Fact]
    public async Task Drain_waits_until_the_VMs_leaving_its_host_have_ended_their_pipelines()
    {
        var (h, orchestrator, _) = Create();
        var run = await orchestrator.CreateRunAsync(h.PlanJson, h.Plan, h.Inventory, "test");
        await h.Journal.AppendEventAsync(new AuditEvent { RunId = run.RunId, At = h.Clock.GetUtcNow(), Actor = "t", Kind = "wave-started", Subject = "wave:1" });
        var engine = h.Engine();
        await engine.RunStepAsync((await h.StepAsync(run.RunId, "host:h1", StepTypes.DisablePlacement)).StepId);

        Assert.DoesNotContain(await orchestrator.GetReadyStepsAsync(run.RunId), s => s.StepType == StepTypes.Drain);

        await h.RunPipelineAsync(run.RunId, "vm:web-01");
        Assert.DoesNotContain(await orchestrator.GetReadyStepsAsync(run.RunId), s => s.StepType == StepTypes.Drain);
        await h.RunPipelineAsync(run.RunId, "vm:db-01");

        Assert.Contains(await orchestrator.GetReadyStepsAsync(run.RunId), s => s.StepType == StepTypes.Drain);
    }
}
