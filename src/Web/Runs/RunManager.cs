using System.Collections.Concurrent;
using Taquin.Executors.Engine;
using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Executors.Simulation;
using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;
using Taquin.Web.Audit;
using Taquin.Web.Plans;

namespace Taquin.Web.Runs;

/// <summary>
/// A plan's run as this server executes it: the engine over the simulated twin kept beside the plan (as
/// `taquin run --simulate` does), steps run on this process's thread pool, and the run id in the journal.
/// </summary>
public sealed class RunSession(PlanEntry plan, FleetInventory inventory, TwinStore twin, IRunJournal journal, StepEngine engine,
    InProcessStepDispatcher dispatcher, RunOrchestrator orchestrator) : IAsyncDisposable
{
    public PlanEntry Plan { get; } = plan;
    public FleetInventory Inventory { get; } = inventory;
    public TwinStore Twin { get; } = twin;
    public IRunJournal Journal { get; } = journal;
    public StepEngine Engine { get; } = engine;
    public InProcessStepDispatcher Dispatcher { get; } = dispatcher;
    public RunOrchestrator Orchestrator { get; } = orchestrator;
    public string? RunId { get; set; }

    public async ValueTask DisposeAsync()
    {
        await Dispatcher.WhenIdleAsync();
        Twin.Dispose();
        if (Journal is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }
}

/// <summary>Opens runs and carries out the operator's actions on them, each checked and audited.</summary>
public sealed class RunManager(WebOptions options, InventoryCache inventories, JournalHub hub, AuditTrail audit) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<RunSession>>> _sessions = new(StringComparer.Ordinal);

    /// <summary>The latest run of this exact plan.json in the journal, if any (read-only: nothing is opened for it).</summary>
    public async Task<RunRecord?> FindRunAsync(PlanEntry plan)
    {
        var journal = await hub.ForPlanAsync(plan.PlanPath);
        return (await journal.ListRunsAsync()).Where(r => r.PlanDigest == plan.Digest).OrderByDescending(r => r.CreatedAt).FirstOrDefault();
    }

    public async Task<IReadOnlyList<StepRecord>> StepsAsync(PlanEntry plan, string runId, int? wave = null)
        => await (await hub.ForPlanAsync(plan.PlanPath)).GetStepsAsync(runId, wave);

    /// <summary>The session of a plan, if this server already opened it (its twin's clock dates the steps).</summary>
    public RunSession? OpenedSession(string planId)
        => _sessions.TryGetValue(planId, out var lazy) && lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully ? lazy.Value.Result : null;

    /// <summary>Starts a wave: only an approved plan whose inventory is unchanged runs.</summary>
    public async Task StartWaveAsync(PlanEntry plan, int wave, string actor)
    {
        var approval = await audit.ApprovalAsync(plan, inventories.Get(plan.Meta.InventoryFolder));
        if (!approval.Approved)
        {
            throw new WebUserException($"plan {plan.Meta.Name} cannot run: {approval.Problem}");
        }

        var session = await OpenAsync(plan, actor);
        try
        {
            await session.Orchestrator.StartWaveAsync(session.RunId!, wave, actor);
        }
        catch (InvalidOperationException ex)
        {
            throw new WebUserException(ex.Message);
        }
    }

    public async Task ConfirmGateAsync(PlanEntry plan, long stepId, string actor)
    {
        var (session, step) = await StepOfAsync(plan, stepId, actor);
        if (step.State != StepState.WaitingForGate)
        {
            throw new WebUserException($"{step.Subject} {step.StepType} is {step.State}, not waiting for a gate");
        }

        if (step.Subject.StartsWith("host:", StringComparison.Ordinal))
        {
            // Simulated run: the operator's manual act (the reinstall the gate asks for) happens on the twin.
            session.Twin.Twin.ReinstallAsPve(step.Subject["host:".Length..]);
        }

        await Guard(() => session.Engine.ConfirmGateAsync(stepId, actor));
        await session.Orchestrator.DispatchReadyAsync(session.RunId!);
    }

    public async Task DenyGateAsync(PlanEntry plan, long stepId, string actor, string reason)
    {
        var (session, _) = await StepOfAsync(plan, stepId, actor);
        await Guard(() => session.Engine.DenyGateAsync(stepId, actor, Required(reason, "denying a gate")));
    }

    public async Task RetryAsync(PlanEntry plan, long stepId, string actor)
    {
        var (session, _) = await StepOfAsync(plan, stepId, actor);
        await Guard(() => session.Engine.RetryAsync(stepId, actor));
        await session.Orchestrator.DispatchReadyAsync(session.RunId!);
    }

    public async Task SkipAsync(PlanEntry plan, long stepId, string actor, string reason)
    {
        var (session, _) = await StepOfAsync(plan, stepId, actor);
        await Guard(() => session.Engine.SkipAsync(stepId, actor, Required(reason, "skipping a step")));
        await session.Orchestrator.DispatchReadyAsync(session.RunId!);
    }

    public async Task RollBackAsync(PlanEntry plan, int wave, string subject, string actor, string reason)
    {
        var session = await OpenAsync(plan, actor);
        var done = false;
        await Guard(async () => done = await session.Engine.RollBackAsync(session.RunId!, wave, subject, actor, Required(reason, "rolling back")));
        if (!done)
        {
            throw new WebUserException($"the rollback of {subject} did not complete: see its steps (a compensation failed and needs an operator)");
        }
    }

    /// <summary>Simulated runs only: makes the twin's adapters fail for a step, to rehearse retries and rollbacks.</summary>
    public async Task InjectFaultAsync(PlanEntry plan, string faultText, string actor)
    {
        if (!FaultSpec.TryParse(faultText.Trim(), out var fault, out var error))
        {
            throw new WebUserException(error);
        }

        var session = await OpenAsync(plan, actor);
        session.Twin.Twin.Faults.Add(fault);
        await session.Journal.AppendEventAsync(new AuditEvent
        {
            RunId = session.RunId!,
            At = session.Twin.Clock.GetUtcNow(),
            Actor = actor,
            Kind = "fault-injected",
            Subject = fault.Target,
            Details = fault.ToString(),
        });
    }

    /// <summary>Opens (once) the plan's twin, engine and run; creates the run the first time.</summary>
    public async Task<RunSession> OpenAsync(PlanEntry plan, string actor)
    {
        if (!options.Simulate)
        {
            throw new WebUserException("the real adapters (SSH, PVE API, libvirt, Ceph) are not implemented yet: start the server with `taquin serve --simulate` to run plans on a simulated twin of the fleet");
        }

        var lazy = _sessions.GetOrAdd(plan.Meta.Id, _ => new Lazy<Task<RunSession>>(() => CreateSessionAsync(plan, actor)));
        try
        {
            var session = await lazy.Value;
            if (session.Plan.Digest != plan.Digest)
            {
                throw new WebUserException("plan.json changed on disk since its run was opened: restart the server to run the new plan");
            }

            return session;
        }
        catch (Exception ex) when (ex is not WebUserException)
        {
            _sessions.TryRemove(plan.Meta.Id, out _);
            throw;
        }
    }

    private async Task<RunSession> CreateSessionAsync(PlanEntry plan, string actor)
    {
        var inventory = inventories.Get(plan.Meta.InventoryFolder).Usable
            ?? throw new WebUserException($"the inventory '{plan.Meta.InventoryFolder}' is not valid");
        TwinStore twin;
        try
        {
            twin = TwinStore.Open(TwinStore.PathBesidePlan(plan.PlanPath), inventory, plan.Plan, options.TimeScale);
        }
        catch (IOException ex)
        {
            throw new WebUserException($"another taquin process holds the simulated twin of this plan ({ex.Message}): stop it first");
        }

        var journal = await hub.OpenWithClockAsync(plan.PlanPath, twin.Clock);
        var engine = new StepEngine(journal, StepRegistry.CreateDefault(), twin.Adapters, twin.Clock, EngineOptions.For(inventory.Fleet, $"web-{Environment.ProcessId}"));
        var runner = new StepJobRunner(engine);
        var dispatcher = new InProcessStepDispatcher(runner);
        var orchestrator = new RunOrchestrator(journal, dispatcher, twin.Clock);
        runner.Orchestrator = orchestrator;
        var session = new RunSession(plan, inventory, twin, journal, engine, dispatcher, orchestrator);
        var existing = await FindRunAsync(plan);
        if (existing is null)
        {
            session.RunId = (await orchestrator.CreateRunAsync(plan.Json, plan.Plan, inventory, actor, "simulated", plan.PlanPath)).RunId;
        }
        else
        {
            session.RunId = existing.RunId;
            await orchestrator.ResumeAsync(existing.RunId);
        }

        return session;
    }

    private async Task<(RunSession Session, StepRecord Step)> StepOfAsync(PlanEntry plan, long stepId, string actor)
    {
        var session = await OpenAsync(plan, actor);
        var step = await session.Journal.GetStepAsync(stepId);
        if (step is null || step.RunId != session.RunId)
        {
            throw new WebUserException($"step {stepId} is not a step of this plan's run");
        }

        return (session, step);
    }

    private static string Required(string? reason, string what)
        => string.IsNullOrWhiteSpace(reason) ? throw new WebUserException($"{what} needs a reason") : reason.Trim();

    private static async Task Guard(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            throw new WebUserException(ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lazy in _sessions.Values.Where(l => l.IsValueCreated))
        {
            try
            {
                await (await lazy.Value).DisposeAsync();
            }
            catch (WebUserException)
            {
                // A session that never opened holds nothing.
            }
        }
    }
}
