using Taquin.Executors.Engine;
using Taquin.Executors.Journal;
using Taquin.Executors.Simulation;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Engine;

public sealed class StepEngineTests
{
    [Fact]
    public async Task A_VM_pipeline_run_step_by_step_ends_with_the_VM_running_once_on_its_target()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();

        await h.RunPipelineAsync(run, "vm:web-01");

        Assert.Equal(["pve:h4"], h.Twin.WhereRunning("web-01"));
        Assert.All((await h.Journal.GetStepsAsync(run, 1)).Where(s => s.Subject == "vm:web-01"), s => Assert.Equal(StepState.Succeeded, s.State));
        Assert.Empty(h.Twin.CheckInvariants());
        Assert.False(h.Twin.RbdImages.ContainsKey("libvirt/web-01"));
    }

    [Fact]
    public async Task A_transient_error_is_retried_and_the_attempts_show_in_the_journal()
    {
        var h = new TestFleet.Harness();
        h.Twin.Faults.Add(new FaultSpec(StepTypes.CreateTargetVm, "web-01", FaultKind.Transient));
        var run = await h.CreateRunAsync();

        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.CopyDisks);

        var step = await h.StepAsync(run, "vm:web-01", StepTypes.CreateTargetVm);
        Assert.Equal(StepState.Succeeded, step.State);
        Assert.Equal(2, step.Attempts);
        var transitions = await h.Journal.GetTransitionsAsync(step.StepId);
        Assert.Contains(transitions, t => t.From == StepState.Running && t.To == StepState.Pending && t.Reason.Contains("transient", StringComparison.Ordinal));
        Assert.Equal(1, h.Twin.CallCount("pve.create-vm"));
    }

    [Fact]
    public async Task Transient_errors_stop_being_retried_when_the_policy_attempts_are_used_up()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.CreateTargetVm);
        h.Twin.BeforeAdapterCall = (op, _) => op == "pve.nextid" ? throw new Adapters.PveApiException("503 busy", isTransient: true) : Task.CompletedTask;

        var step = await h.StepAsync(run, "vm:web-01", StepTypes.CreateTargetVm);
        var outcome = await h.Engine().RunStepAsync(step.StepId);

        step = (await h.Journal.GetStepAsync(step.StepId))!;
        Assert.Equal(StepRunOutcome.Failed, outcome);
        Assert.Equal(new CreateTargetVmStep().Policy.Retry.MaxAttempts, step.Attempts);
        Assert.Contains("attempt(s) used", step.LastReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_commit_failing_after_it_undefined_the_source_leaves_the_target_running_instead_of_rolling_back()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.Commit);
        h.Twin.BeforeAdapterCall = (op, _) => op == "rbd.rm" ? throw new Adapters.AdapterException("rbd: error removing image: (16) Device or resource busy", isTransient: false) : Task.CompletedTask;

        var outcome = await h.Engine().RunStepAsync((await h.StepAsync(run, "vm:web-01", StepTypes.Commit)).StepId);

        Assert.Equal(StepRunOutcome.Failed, outcome);
        var steps = (await h.Journal.GetStepsAsync(run, 1)).Where(s => s.Subject == "vm:web-01").ToList();
        Assert.All(steps.Where(s => s.StepType != StepTypes.Commit), s => Assert.Equal(StepState.Succeeded, s.State));
        Assert.StartsWith("undefining web-01", steps.Single(s => s.StepType == StepTypes.Commit).Checkpoint[StepBase.PastNoReturnKey], StringComparison.Ordinal);
        // The source is undefined: the target is the only copy left, and it still runs.
        Assert.Equal(["pve:h4"], h.Twin.WhereRunning("web-01"));
        Assert.Contains(await h.Journal.GetEventsAsync(run), e => e.Kind == "rollback-stopped");
    }

    [Fact]
    public async Task A_commit_failing_before_it_acts_still_rolls_the_VM_back_to_its_source()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.Commit);
        // Its first look at the source fails: nothing is retired yet.
        h.Twin.BeforeAdapterCall = (op, _) => op == "libvirt.domstate" && StepScope.Current is { StepType: StepTypes.Commit, Compensating: false }
            ? throw new Adapters.AdapterException("virsh: cannot connect to the hypervisor", isTransient: false)
            : Task.CompletedTask;

        var outcome = await h.Engine().RunStepAsync((await h.StepAsync(run, "vm:web-01", StepTypes.Commit)).StepId);

        Assert.Equal(StepRunOutcome.Failed, outcome);
        Assert.Equal(["libvirt:h1"], h.Twin.WhereRunning("web-01"));
        Assert.Equal(StepState.RolledBack, (await h.StepAsync(run, "vm:web-01", StepTypes.CreateTargetVm)).State);
    }

    [Fact]
    public async Task A_permanent_error_fails_at_once_and_rolls_the_VM_back_in_reverse_order()
    {
        var h = new TestFleet.Harness();
        h.Twin.Faults.Add(new FaultSpec(StepTypes.FinalSync, "web-01", FaultKind.Permanent));
        var run = await h.CreateRunAsync();
        var engine = h.Engine();
        var compensated = new List<string>();
        h.Twin.BeforeAdapterCall = (_, _) =>
        {
            if (Executors.Engine.StepScope.Current is { Compensating: true } scope)
            {
                compensated.Add(scope.StepType);
            }

            return Task.CompletedTask;
        };

        var outcomes = new List<StepRunOutcome>();
        foreach (var step in (await h.Journal.GetStepsAsync(run, 1)).Where(s => s.Subject == "vm:web-01").OrderBy(s => s.Sequence).Take(5))
        {
            outcomes.Add(await engine.RunStepAsync(step.StepId));
        }

        Assert.Equal([StepRunOutcome.Succeeded, StepRunOutcome.Succeeded, StepRunOutcome.Succeeded, StepRunOutcome.Succeeded, StepRunOutcome.Failed], outcomes);
        var steps = (await h.Journal.GetStepsAsync(run, 1)).Where(s => s.Subject == "vm:web-01").ToDictionary(s => s.StepType);
        Assert.Equal(1, steps[StepTypes.FinalSync].Attempts);
        Assert.Equal(StepState.Failed, steps[StepTypes.FinalSync].State);
        Assert.All(new[] { StepTypes.Preflight, StepTypes.CreateTargetVm, StepTypes.CopyDisks, StepTypes.ShutdownSource },
            t => Assert.Equal(StepState.RolledBack, steps[t].State));
        Assert.Equal(StepState.Pending, steps[StepTypes.StartTarget].State);

        // Reverse order: the steps that touched the world were undone newest first.
        Assert.Equal([StepTypes.FinalSync, StepTypes.ShutdownSource, StepTypes.CopyDisks, StepTypes.CreateTargetVm], compensated.Distinct());

        // The world is back: source running with autostart, no target VM, no snapshot left.
        Assert.Equal(["libvirt:h1"], h.Twin.WhereRunning("web-01"));
        Assert.True(h.Twin.Hosts["h1"].Domains["web-01"].Autostart);
        Assert.Empty(h.Twin.PveVms);
        Assert.Empty(h.Twin.RbdImages["libvirt/web-01"].Snapshots);
        Assert.Contains(await h.Journal.GetEventsAsync(run), e => e.Kind == "vm-rolled-back" && e.Subject == "vm:web-01");
    }

    [Fact]
    public async Task A_failed_VM_leaves_the_other_VMs_of_its_wave_running_their_pipelines()
    {
        var h = new TestFleet.Harness();
        h.Twin.Faults.Add(new FaultSpec(StepTypes.StartTarget, "db-01", FaultKind.Permanent));
        var run = await h.CreateRunAsync();
        var engine = h.Engine();
        var vmSteps = (await h.Journal.GetStepsAsync(run, 1)).Where(s => s.Subject.StartsWith("vm:", StringComparison.Ordinal))
            .OrderBy(s => s.Sequence).ThenBy(s => s.Subject, StringComparer.Ordinal).ToList();

        foreach (var step in vmSteps)
        {
            await engine.RunStepAsync(step.StepId);
        }

        var states = (await h.Journal.GetStepsAsync(run, 1)).Where(s => s.Subject.StartsWith("vm:", StringComparison.Ordinal))
            .GroupBy(s => s.Subject).ToDictionary(g => g.Key, g => g.Select(s => s.State).ToList());
        Assert.All(states["vm:web-01"], s => Assert.Equal(StepState.Succeeded, s));
        Assert.Contains(StepState.Failed, states["vm:db-01"]);
        Assert.Equal(["pve:h4"], h.Twin.WhereRunning("web-01"));
        Assert.Equal(["libvirt:h1"], h.Twin.WhereRunning("db-01"));
    }

    [Fact]
    public async Task Start_target_refuses_to_start_while_the_source_runs()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.StartTarget);
        // Someone starts the source again by hand behind Taquin's back.
        await h.Adapters.Libvirt.StartAsync("h1", "web-01");

        var start = await h.StepAsync(run, "vm:web-01", StepTypes.StartTarget);
        var outcome = await h.Engine().RunStepAsync(start.StepId);

        start = (await h.Journal.GetStepAsync(start.StepId))!;
        Assert.Equal(StepRunOutcome.Failed, outcome);
        Assert.StartsWith("precondition not met", start.LastReason, StringComparison.Ordinal);
        Assert.Equal(0, h.Twin.CallCount("pve.start"));
        Assert.Empty(h.Twin.CheckInvariants());
    }

    [Fact]
    public async Task A_step_found_running_after_a_crash_is_not_redone_when_verify_says_it_completed()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.CreateTargetVm);
        var step = await h.StepAsync(run, "vm:web-01", StepTypes.CreateTargetVm);

        // The worker dies while waiting on the create task: the VM exists, the step is still Running.
        using var crash = new CancellationTokenSource();
        h.Twin.BeforeAdapterCall = (op, _) =>
        {
            if (op == "pve.wait-task")
            {
                crash.Cancel();
            }

            return Task.CompletedTask;
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => h.Engine("w1").RunStepAsync(step.StepId, crash.Token));
        h.Twin.BeforeAdapterCall = null;
        Assert.Equal(StepState.Running, (await h.Journal.GetStepAsync(step.StepId))!.State);
        Assert.NotNull((await h.Journal.GetStepAsync(step.StepId))!.Checkpoint.GetValueOrDefault("createTask"));

        // Another worker cannot take it while the dead worker's lease lives, and resumes it once it expired.
        var second = h.Engine("w2");
        Assert.Equal(StepRunOutcome.Busy, await second.RunStepAsync(step.StepId));
        h.Clock.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(StepRunOutcome.Succeeded, await second.RunStepAsync(step.StepId));

        Assert.Equal(1, h.Twin.CallCount("pve.create-vm"));
        var transitions = await h.Journal.GetTransitionsAsync(step.StepId);
        Assert.Contains("not redone", transitions[^1].Reason, StringComparison.Ordinal);
        Assert.Equal("w2", transitions[^1].Actor);
    }

    [Fact]
    public async Task A_step_found_running_after_a_crash_is_executed_again_when_it_had_not_completed()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.CreateTargetVm);
        var step = await h.StepAsync(run, "vm:web-01", StepTypes.CreateTargetVm);

        // The worker dies after reserving the VMID, before creating anything.
        using var crash = new CancellationTokenSource();
        h.Twin.BeforeAdapterCall = (op, _) =>
        {
            if (op == "pve.create-vm")
            {
                crash.Cancel();
            }

            return Task.CompletedTask;
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => h.Engine("w1").RunStepAsync(step.StepId, crash.Token));
        h.Twin.BeforeAdapterCall = null;
        var vmid = (await h.Journal.GetStepAsync(step.StepId))!.Checkpoint["vmid"];
        Assert.Empty(h.Twin.PveVms);

        h.Clock.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(StepRunOutcome.Succeeded, await h.Engine("w2").RunStepAsync(step.StepId));

        Assert.Equal(1, h.Twin.CallCount("pve.create-vm"));
        Assert.Equal(int.Parse(vmid, System.Globalization.CultureInfo.InvariantCulture), Assert.Single(h.Twin.PveVms.Keys));
        Assert.Contains(await h.Journal.GetTransitionsAsync(step.StepId), t => t.Actor == "w2" && t.To == StepState.Succeeded);
        Assert.Contains("executing again", (await h.Journal.GetStepAsync(step.StepId))!.LogTail[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rollback_interrupted_by_a_crash_is_finished_by_the_next_worker()
    {
        var h = new TestFleet.Harness();
        h.Twin.Faults.Add(new FaultSpec(StepTypes.FinalSync, "web-01", FaultKind.Permanent));
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.FinalSync);
        using var crash = new CancellationTokenSource();
        h.Twin.BeforeAdapterCall = (op, _) =>
        {
            if (op == "pve.delete")
            {
                crash.Cancel();
            }

            return Task.CompletedTask;
        };
        var sync = await h.StepAsync(run, "vm:web-01", StepTypes.FinalSync);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => h.Engine("w1").RunStepAsync(sync.StepId, crash.Token));
        h.Twin.BeforeAdapterCall = null;
        var create = await h.StepAsync(run, "vm:web-01", StepTypes.CreateTargetVm);
        Assert.Equal(StepState.Compensating, create.State);

        h.Clock.Advance(TimeSpan.FromMinutes(3));
        var dispatcher = new Executors.Orchestration.InProcessStepDispatcher(new Executors.Orchestration.StepJobRunner(h.Engine("w2")));
        await new Executors.Orchestration.RunOrchestrator(h.Journal, dispatcher, h.Clock).ResumeAsync(run);
        await dispatcher.WhenIdleAsync();

        Assert.Equal(StepState.RolledBack, (await h.Journal.GetStepAsync(create.StepId))!.State);
        Assert.Equal(StepState.RolledBack, (await h.StepAsync(run, "vm:web-01", StepTypes.Preflight)).State);
        Assert.Empty(h.Twin.PveVms);
        Assert.Equal(["libvirt:h1"], h.Twin.WhereRunning("web-01"));
    }

    [Fact]
    public async Task A_gate_waits_for_confirmation_and_then_completes_with_the_confirmer_audited()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await RunVmsOffHostAsync(h, run);
        await h.RunPipelineAsync(run, "host:h1", stopBefore: StepTypes.GateReinstall);
        var gate = await h.StepAsync(run, "host:h1", StepTypes.GateReinstall);
        var engine = h.Engine();

        Assert.Equal(StepRunOutcome.WaitingForGate, await engine.RunStepAsync(gate.StepId));
        Assert.Equal(StepRunOutcome.NotRunnable, await engine.RunStepAsync(gate.StepId));

        h.Twin.ReinstallAsPve("h1");
        await engine.ConfirmGateAsync(gate.StepId, "alice");
        Assert.Equal(StepRunOutcome.Succeeded, await engine.RunStepAsync(gate.StepId));

        gate = (await h.Journal.GetStepAsync(gate.StepId))!;
        Assert.Equal("alice", gate.Checkpoint["confirmedBy"]);
        Assert.Contains(await h.Journal.GetEventsAsync(run), e => e.Kind == "gate-confirmed" && e.Actor == "alice" && e.Subject == "host:h1");
    }

    [Fact]
    public async Task A_denied_gate_fails_and_puts_the_host_back_into_the_old_Ceph()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await RunVmsOffHostAsync(h, run);
        await h.RunPipelineAsync(run, "host:h1", stopBefore: StepTypes.GateReinstall);
        Assert.All(h.Twin.Osds.Where(o => o.Host == "h1"), o => Assert.False(o.In));
        var gate = await h.StepAsync(run, "host:h1", StepTypes.GateReinstall);
        var engine = h.Engine();
        await engine.RunStepAsync(gate.StepId);

        await engine.DenyGateAsync(gate.StepId, "bob", "disk controller dead");

        Assert.Equal(StepState.Failed, (await h.Journal.GetStepAsync(gate.StepId))!.State);
        Assert.All(h.Twin.Osds.Where(o => o.Host == "h1"), o => Assert.True(o.In));
        Assert.True(h.Twin.Hosts["h1"].PlacementEnabled);
        Assert.Equal(StepState.RolledBack, (await h.StepAsync(run, "host:h1", StepTypes.CephOsdsOut)).State);
        Assert.Contains(await h.Journal.GetEventsAsync(run), e => e.Kind == "gate-denied" && e.Actor == "bob" && e.Details == "disk controller dead");
    }

    [Fact]
    public async Task An_operator_can_retry_a_failed_pipeline_which_then_completes()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        var broken = true;
        h.Twin.BeforeAdapterCall = (op, _) => broken && op == "ssh.qemu-img" ? throw new Adapters.SshCommandException("disk full", isTransient: false) : Task.CompletedTask;
        var engine = h.Engine();
        var copy = await h.StepAsync(run, "vm:web-01", StepTypes.CopyDisks);
        foreach (var step in (await h.Journal.GetStepsAsync(run, 1)).Where(s => s.Subject == "vm:web-01" && s.Sequence <= copy.Sequence).OrderBy(s => s.Sequence))
        {
            await engine.RunStepAsync(step.StepId);
        }

        Assert.Equal(StepState.Failed, (await h.Journal.GetStepAsync(copy.StepId))!.State);
        broken = false;

        await engine.RetryAsync(copy.StepId, "carol");
        await h.RunPipelineAsync(run, "vm:web-01");

        Assert.Equal(["pve:h4"], h.Twin.WhereRunning("web-01"));
        Assert.Contains(await h.Journal.GetEventsAsync(run), e => e.Kind == "step-retried" && e.Actor == "carol");
    }

    [Fact]
    public async Task Skipping_needs_a_reason_and_is_audited()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        var engine = h.Engine();
        var preflight = await h.StepAsync(run, "vm:web-01", StepTypes.Preflight);

        await Assert.ThrowsAsync<ArgumentException>(() => engine.SkipAsync(preflight.StepId, "dave", " "));
        await engine.SkipAsync(preflight.StepId, "dave", "checked by hand");

        Assert.Equal(StepState.Skipped, (await h.Journal.GetStepAsync(preflight.StepId))!.State);
        Assert.Contains(await h.Journal.GetEventsAsync(run), e => e.Kind == "step-skipped" && e.Details!.Contains("checked by hand", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_operator_rollback_of_a_moved_but_uncommitted_VM_brings_it_back_to_its_source()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.Commit);
        Assert.Equal(["pve:h4"], h.Twin.WhereRunning("web-01"));

        await h.Engine().RollBackAsync(run, 1, "vm:web-01", "erin", "application team says no");

        Assert.Equal(["libvirt:h1"], h.Twin.WhereRunning("web-01"));
        Assert.Empty(h.Twin.PveVms);
        Assert.Empty(h.Twin.CheckInvariants());
        Assert.Contains(await h.Journal.GetEventsAsync(run), e => e.Kind == "vm-rolled-back" && e.Actor == "erin");
    }

    [Fact]
    public async Task A_committed_VM_cannot_be_rolled_back()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => h.Engine().RollBackAsync(run, 1, "vm:web-01", "erin", "too late"));
        Assert.Contains("point of no return", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_failing_after_its_reinstall_is_not_put_back_into_the_old_Ceph()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01");
        await h.RunPipelineAsync(run, "vm:db-01");
        await h.RunPipelineAsync(run, "host:h1", stopBefore: StepTypes.GateReinstall);
        var engine = h.Engine();
        var gate = await h.StepAsync(run, "host:h1", StepTypes.GateReinstall);
        await engine.RunStepAsync(gate.StepId);
        h.Twin.ReinstallAsPve("h1");
        await engine.ConfirmGateAsync(gate.StepId, "alice");
        await engine.RunStepAsync(gate.StepId);
        h.Twin.Faults.Add(new FaultSpec(StepTypes.JoinCluster, "h1", FaultKind.Permanent));

        await engine.RunStepAsync((await h.StepAsync(run, "host:h1", StepTypes.VerifyNode)).StepId);
        var outcome = await engine.RunStepAsync((await h.StepAsync(run, "host:h1", StepTypes.JoinCluster)).StepId);

        Assert.Equal(StepRunOutcome.Failed, outcome);
        Assert.Equal(StepState.RolledBack, (await h.StepAsync(run, "host:h1", StepTypes.VerifyNode)).State);
        Assert.Equal(StepState.Succeeded, (await h.StepAsync(run, "host:h1", StepTypes.GateReinstall)).State);
        Assert.Equal(StepState.Succeeded, (await h.StepAsync(run, "host:h1", StepTypes.CephOsdsOut)).State);
        Assert.All(h.Twin.Osds.Where(o => o.Host == "h1"), o => Assert.False(o.In));
        Assert.Contains(await h.Journal.GetEventsAsync(run), e => e.Kind == "rollback-stopped" && e.Subject == "host:h1");
    }

    [Fact]
    public async Task Copy_steps_wait_for_a_free_copy_slot_on_their_target_host()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.CopyDisks);
        var copy = await h.StepAsync(run, "vm:web-01", StepTypes.CopyDisks);
        // Policy: one copy slot per host; another worker holds h4's.
        Assert.True(await h.Journal.TryAcquireSlotAsync("copy-slots:h4", 1, "other/99", TimeSpan.FromHours(1)));

        Assert.Equal(StepRunOutcome.Busy, await h.Engine().RunStepAsync(copy.StepId));
        Assert.Equal(StepState.Pending, (await h.Journal.GetStepAsync(copy.StepId))!.State);

        await h.Journal.ReleaseSlotAsync("copy-slots:h4", "other/99");
        Assert.Equal(StepRunOutcome.Succeeded, await h.Engine().RunStepAsync(copy.StepId));
    }

    private static async Task RunVmsOffHostAsync(TestFleet.Harness h, string run)
    {
        await h.RunPipelineAsync(run, "vm:web-01");
        await h.RunPipelineAsync(run, "vm:db-01");
    }
}
