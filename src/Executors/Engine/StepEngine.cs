using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Taquin.Executors.Adapters;
using Taquin.Executors.Journal;
using Taquin.Executors.States;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Engine;

public enum StepRunOutcome
{
    Succeeded,
    /// <summary>Failed; its subject's pipeline was compensated.</summary>
    Failed,
    WaitingForGate,
    /// <summary>Lease or copy slot held by someone else: dispatch again later.</summary>
    Busy,
    /// <summary>Not Pending nor Running (done, waiting for a person, or taken by another worker).</summary>
    NotRunnable,
}

public sealed record EngineOptions
{
    /// <summary>Identifies this worker in leases, slots and the audit trail.</summary>
    public string WorkerId { get; init; } = $"worker-{Environment.ProcessId}";
    /// <summary>How long a lease lives without renewal: a crashed worker's steps are resumed after that.</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromMinutes(2);
    public int CopySlotsPerHost { get; init; } = 2;

    /// <summary>Options for a worker of the given fleet: copy slots come from its policy.</summary>
    public static EngineOptions For(Planner.Inventory.Fleet fleet, string workerId) => new()
    {
        WorkerId = workerId,
        CopySlotsPerHost = Math.Max(1, fleet.Policy.CopySlotsPerHost),
    };
}

/// <summary>
/// Runs one step by id: lease the subject, take copy slots, Pending → Running, Execute, Verify, Succeeded — with
/// retries of transient errors only, compensation of the subject's pipeline on failure, and verify-before-redo
/// when it finds a step Running whose worker is gone. Adapter exceptions become step states here and nowhere else.
/// </summary>
public sealed class StepEngine(
    IRunJournal journal,
    StepRegistry registry,
    AdapterSet adapters,
    TimeProvider time,
    EngineOptions? options = null,
    ILogger<StepEngine>? logger = null)
{
    private readonly EngineOptions _options = options ?? new EngineOptions();
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    public IRunJournal Journal => journal;
    public string WorkerId => _options.WorkerId;

    public async Task<StepRunOutcome> RunStepAsync(long stepId, CancellationToken ct = default)
    {
        var step = await journal.GetStepAsync(stepId, ct) ?? throw new KeyNotFoundException($"step {stepId} does not exist");
        if (step.State is not (StepState.Pending or StepState.Running or StepState.Compensating))
        {
            return StepRunOutcome.NotRunnable;
        }

        var impl = registry.Get(step.StepType);
        if (!await journal.TryAcquireLeaseAsync(step.Subject, WorkerId, _options.LeaseTtl, ct))
        {
            EngineLog.Busy(_logger, stepId, step.Subject);
            return StepRunOutcome.Busy;
        }

        var slots = new List<string>();
        var crashed = false;
        using var renewal = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var renewing = RenewLeaseAsync(step.Subject, renewal.Token);
        try
        {
            if (impl.Policy.UsesCopySlots)
            {
                foreach (var host in CopyHosts(StepInput.FromJson(step.InputJson)))
                {
                    var pool = "copy-slots:" + host;
                    if (!await journal.TryAcquireSlotAsync(pool, _options.CopySlotsPerHost, $"{WorkerId}/{stepId}", TimeSpan.FromHours(24), ct))
                    {
                        EngineLog.Busy(_logger, stepId, pool);
                        return StepRunOutcome.Busy;
                    }

                    slots.Add(pool);
                }
            }

            // Re-read under the lease: another worker may have moved it while we waited.
            step = (await journal.GetStepAsync(stepId, ct))!;
            return await RunLeasedAsync(step, impl, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The worker is going away mid-step: like a crash, the step stays as it is and the lease expires.
            crashed = true;
            throw;
        }
        finally
        {
            await renewal.CancelAsync();
            await renewing;
            if (!crashed)
            {
                foreach (var pool in slots)
                {
                    await journal.ReleaseSlotAsync(pool, $"{WorkerId}/{stepId}", CancellationToken.None);
                }

                await journal.ReleaseLeaseAsync(step.Subject, WorkerId, CancellationToken.None);
            }
        }
    }

    private async Task<StepRunOutcome> RunLeasedAsync(StepRecord step, IStep impl, CancellationToken ct)
    {
        if (step.State == StepState.Compensating)
        {
            // A worker died while undoing this step: compensation is idempotent, finish it and the rest of the rollback.
            EngineLog.Resumed(_logger, step.StepId, step.StepType, step.Subject, "compensation interrupted, finishing it");
            using (Scope(step, compensating: true))
            {
                try
                {
                    await impl.CompensateAsync(NewContext(step, impl, ct));
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    await MoveAsync(step, StepState.Compensating, StepState.Failed, "compensation failed after resume, an operator must take over: " + ex.Message, WorkerId, ct);
                    return StepRunOutcome.Failed;
                }
            }

            await MoveAsync(step, StepState.Compensating, StepState.RolledBack, "compensated (resumed after its worker left)", WorkerId, ct);
            await CompensateSubjectAsync(step, WorkerId, "rollback resumed after its worker left", ct);
            return StepRunOutcome.Failed;
        }

        if (step.State == StepState.Running)
        {
            // We hold the lease, so the worker that set Running is gone. Only redo what is not verified done.
            var probe = NewContext(step, impl, ct);
            using (Scope(step, compensating: false))
            {
                if (await SafeVerifyAsync(impl, probe))
                {
                    EngineLog.Resumed(_logger, step.StepId, step.StepType, step.Subject, "verified done, not redone");
                    await MoveAsync(step, StepState.Running, StepState.Succeeded, "resumed after its worker left: postcondition verified, not redone", WorkerId, ct);
                    return StepRunOutcome.Succeeded;
                }
            }

            EngineLog.Resumed(_logger, step.StepId, step.StepType, step.Subject, "not done, executing again");
            await journal.AppendLogAsync(step.StepId, "resumed after its worker left: postcondition not met, executing again (idempotent)", ct);
        }
        else
        {
            if (!await MoveAsync(step, StepState.Pending, StepState.Running, $"attempt {step.Attempts + 1} started by {WorkerId}", WorkerId, ct))
            {
                return StepRunOutcome.NotRunnable;
            }
        }

        while (true)
        {
            step = (await journal.GetStepAsync(step.StepId, ct))!;
            var context = NewContext(step, impl, ct, out var attemptToken, out var timeout);
            using var timeoutScope = timeout;
            Exception error;
            using (Scope(step, compensating: false))
            {
                try
                {
                    var pre = await impl.CheckPreconditionAsync(context);
                    if (!pre.Met)
                    {
                        throw new PreconditionNotMetException(pre.Reason);
                    }

                    var result = await impl.ExecuteAsync(context.WithToken(attemptToken));
                    if (result.Kind == StepOutcomeKind.WaitForGate)
                    {
                        await MoveAsync(step, StepState.Running, StepState.WaitingForGate, result.Reason, WorkerId, ct);
                        return StepRunOutcome.WaitingForGate;
                    }

                    if (!await impl.VerifyAsync(context))
                    {
                        throw new AdapterException($"{step.StepType} ran but its postcondition does not hold yet", isTransient: true);
                    }

                    await MoveAsync(step, StepState.Running, StepState.Succeeded, result.Reason, WorkerId, ct);
                    return StepRunOutcome.Succeeded;
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    throw;
                }
                catch (OperationCanceledException ex)
                {
                    error = new AdapterException($"timed out after {AttemptTimeout(impl)}", isTransient: true, ex);
                }
                catch (Exception ex)
                {
                    error = ex;
                }
            }

            var transient = error is AdapterException { IsTransient: true };
            var max = impl.Policy.Retry.MaxAttempts;
            if (transient && step.Attempts < max)
            {
                var backoff = impl.Policy.Retry.BackoffBefore(step.Attempts + 1);
                EngineLog.TransientError(_logger, step.StepId, step.StepType, step.Subject, step.Attempts, backoff, error.Message);
                await MoveAsync(step, StepState.Running, StepState.Pending,
                    $"transient error on attempt {step.Attempts}/{max}: {error.Message}; retrying in {backoff.TotalSeconds:0} s", WorkerId, ct);
                await time.WaitAsync(backoff, ct);
                if (!await MoveAsync(step, StepState.Pending, StepState.Running, $"attempt {step.Attempts + 1} started by {WorkerId} (retry)", WorkerId, ct))
                {
                    return StepRunOutcome.NotRunnable;
                }

                continue;
            }

            var why = error is PreconditionNotMetException ? error.Message
                : transient ? $"transient error, {max} attempt(s) used: {error.Message}"
                : error is AdapterException ? "permanent error: " + error.Message
                : $"unexpected {error.GetType().Name}: {error.Message}";
            EngineLog.StepFailed(_logger, step.StepId, step.StepType, step.Subject, why);
            await MoveAsync(step, StepState.Running, StepState.Failed, why, WorkerId, ct);
            await CompensateSubjectAsync(step, WorkerId, $"{step.StepType} failed", ct);
            return StepRunOutcome.Failed;
        }
    }

    /// <summary>
    /// Undoes a subject's pipeline in this wave, newest step first: the failed step's partial effects, then each
    /// succeeded step (Compensating → RolledBack; RolledBack at once when it declares nothing to undo). Stops at the
    /// first compensation that fails (that step goes to Failed for an operator). Other subjects are not touched.
    /// </summary>
    private async Task<bool> CompensateSubjectAsync(StepRecord cause, string actor, string reason, CancellationToken ct)
    {
        var steps = (await journal.GetStepsAsync(cause.RunId, cause.Wave, ct))
            .Where(s => s.Subject == cause.Subject && s.State is StepState.Succeeded or StepState.Failed)
            .OrderByDescending(s => s.Sequence)
            .ToList();
        foreach (var step in steps)
        {
            var impl = registry.Get(step.StepType);
            var context = NewContext(step, impl, ct);
            using var scope = Scope(step, compensating: true);
            if (step.State == StepState.Failed)
            {
                if (impl.Policy.PointOfNoReturn && step.Checkpoint.ContainsKey(StepBase.PastNoReturnKey))
                {
                    // It failed after its first irreversible act (source undefined, old image removed): undoing the steps
                    // before it would delete the target too, the only copy left. An operator retries it instead.
                    await journal.AppendLogAsync(step.StepId, $"rollback not started: {step.StepType} failed past its point of no return ({step.Checkpoint[StepBase.PastNoReturnKey]}); retry it", ct);
                    await journal.AppendEventAsync(Event(cause.RunId, actor, "rollback-stopped", cause.Subject, $"{step.StepType} failed past its point of no return ({reason})"), ct);
                    return false;
                }

                if (impl.Policy.CanCompensate)
                {
                    try
                    {
                        await impl.CompensateAsync(context);
                        await journal.AppendLogAsync(step.StepId, "partial effects undone", ct);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        EngineLog.CompensationFailed(_logger, step.StepId, step.StepType, step.Subject, ex.Message);
                        await journal.AppendLogAsync(step.StepId, "undoing partial effects failed: " + ex.Message, ct);
                        return false;
                    }
                }

                continue;
            }

            if (impl.Policy.PointOfNoReturn)
            {
                // Past this step the earlier ones cannot be undone (source retired, host reinstalled): stop here.
                await journal.AppendLogAsync(cause.StepId, $"rollback stopped at {step.StepType}: the steps before it stay done", ct);
                await journal.AppendEventAsync(Event(cause.RunId, actor, "rollback-stopped", cause.Subject, $"{step.StepType} is a point of no return ({reason})"), ct);
                return false;
            }

            if (!impl.Policy.CanCompensate)
            {
                await MoveAsync(step, StepState.Succeeded, StepState.RolledBack, $"rolled back ({reason}): {step.StepType} has nothing to undo", actor, ct);
                continue;
            }

            await MoveAsync(step, StepState.Succeeded, StepState.Compensating, $"compensating ({reason})", actor, ct);
            try
            {
                await impl.CompensateAsync(context);
                await MoveAsync(step, StepState.Compensating, StepState.RolledBack, $"compensated ({reason})", actor, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                EngineLog.CompensationFailed(_logger, step.StepId, step.StepType, step.Subject, ex.Message);
                await MoveAsync(step, StepState.Compensating, StepState.Failed, "compensation failed, an operator must take over: " + ex.Message, actor, ct);
                await journal.AppendEventAsync(Event(cause.RunId, actor, "rollback-failed", cause.Subject, $"{step.StepType}: {ex.Message}"), ct);
                return false;
            }
        }

        await journal.AppendEventAsync(Event(cause.RunId, actor, cause.Subject.StartsWith("vm:", StringComparison.Ordinal) ? "vm-rolled-back" : "subject-rolled-back",
            cause.Subject, reason), ct);
        return true;
    }

    /// <summary>Operator: a failed step (and the rolled-back steps before it in its pipeline) go back to Pending.</summary>
    public async Task RetryAsync(long stepId, string actor, CancellationToken ct = default)
    {
        var step = await RequireAsync(stepId, ct);
        if (!await MoveAsync(step, StepState.Failed, StepState.Pending, $"retry requested by {actor}", actor, ct))
        {
            throw new InvalidOperationException($"step {stepId} is {step.State}, only a failed step can be retried");
        }

        foreach (var earlier in (await journal.GetStepsAsync(step.RunId, step.Wave, ct))
            .Where(s => s.Subject == step.Subject && s.State == StepState.RolledBack))
        {
            await MoveAsync(earlier, StepState.RolledBack, StepState.Pending, $"pipeline retried by {actor}", actor, ct);
        }

        await journal.AppendEventAsync(Event(step.RunId, actor, "step-retried", step.Subject, step.StepType), ct);
    }

    /// <summary>Operator: skip a pending, failed or gated step; the reason is mandatory and audited.</summary>
    public async Task SkipAsync(long stepId, string actor, string reason, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new ArgumentException("skipping a step needs a reason", nameof(reason));
        }

        var step = await RequireAsync(stepId, ct);
        if (!StepStateMachine.CanMove(step.State, StepState.Skipped) || !await MoveAsync(step, step.State, StepState.Skipped, $"skipped by {actor}: {reason}", actor, ct))
        {
            throw new InvalidOperationException($"step {stepId} is {step.State} and cannot be skipped");
        }

        await journal.AppendEventAsync(Event(step.RunId, actor, "step-skipped", step.Subject, $"{step.StepType}: {reason}"), ct);
    }

    /// <summary>Operator: confirm a manual gate; the step becomes Pending and completes on its next run.</summary>
    public async Task ConfirmGateAsync(long stepId, string actor, CancellationToken ct = default)
    {
        var step = await RequireAsync(stepId, ct);
        if (step.State != StepState.WaitingForGate)
        {
            throw new InvalidOperationException($"step {stepId} is {step.State}, not waiting for a gate");
        }

        await journal.SaveCheckpointAsync(stepId, new Dictionary<string, string?>
        {
            ["confirmedBy"] = actor,
            ["confirmedAt"] = time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        }, ct);
        await MoveAsync(step, StepState.WaitingForGate, StepState.Pending, $"gate confirmed by {actor}", actor, ct);
        await journal.AppendEventAsync(Event(step.RunId, actor, "gate-confirmed", step.Subject, step.StepType), ct);
    }

    /// <summary>Operator: deny a gate; the step fails and its subject's pipeline is compensated.</summary>
    public async Task DenyGateAsync(long stepId, string actor, string reason, CancellationToken ct = default)
    {
        var step = await RequireAsync(stepId, ct);
        if (!await MoveAsync(step, StepState.WaitingForGate, StepState.Failed, $"gate denied by {actor}: {reason}", actor, ct))
        {
            throw new InvalidOperationException($"step {stepId} is {step.State}, not waiting for a gate");
        }

        await journal.AppendEventAsync(Event(step.RunId, actor, "gate-denied", step.Subject, reason), ct);
        await WithLeaseAsync(step.Subject, () => CompensateSubjectAsync(step, actor, $"gate denied by {actor}", ct), ct);
    }

    /// <summary>
    /// Operator: roll a subject (VM or host) back in a wave — its succeeded steps compensated in reverse order.
    /// Refused once commit succeeded (the source is retired) or while one of its steps runs.
    /// </summary>
    public async Task<bool> RollBackAsync(string runId, int wave, string subject, string actor, string reason, CancellationToken ct = default)
    {
        var steps = (await journal.GetStepsAsync(runId, wave, ct)).Where(s => s.Subject == subject).ToList();
        if (steps.Count == 0)
        {
            throw new InvalidOperationException($"{subject} has no steps in wave {wave}");
        }

        if (steps.FirstOrDefault(s => s.State == StepState.Succeeded && registry.Get(s.StepType).Policy.PointOfNoReturn) is { } noReturn)
        {
            throw new InvalidOperationException($"{subject} is past {noReturn.StepType} in wave {wave} (a point of no return: source retired or host reinstalled); there is nothing to roll back to");
        }

        if (steps.Any(s => StepStateMachine.IsActive(s.State) && s.State != StepState.WaitingForGate))
        {
            throw new InvalidOperationException($"{subject} has a step in progress; wait for it or let it fail first");
        }

        var anchor = steps.OrderByDescending(s => s.Sequence).First();
        var done = await WithLeaseAsync(subject, () => CompensateSubjectAsync(anchor, actor, $"rollback requested by {actor}: {reason}", ct), ct);
        return done;
    }

    private async Task<bool> WithLeaseAsync(string subject, Func<Task<bool>> action, CancellationToken ct)
    {
        var holder = WorkerId + "/operator";
        if (!await journal.TryAcquireLeaseAsync(subject, holder, _options.LeaseTtl, ct))
        {
            throw new InvalidOperationException($"{subject} is busy (a worker holds its lease); try again when its step ends");
        }

        try
        {
            return await action();
        }
        finally
        {
            await journal.ReleaseLeaseAsync(subject, holder, CancellationToken.None);
        }
    }

    private async Task<bool> MoveAsync(StepRecord step, StepState from, StepState to, string reason, string actor, CancellationToken ct)
    {
        if (!StepStateMachine.CanMove(from, to))
        {
            throw new InvalidOperationException($"step {step.StepId}: {from} -> {to} is not a valid transition");
        }

        var moved = await journal.TryTransitionAsync(step.StepId, from, to, reason, actor, ct);
        if (moved)
        {
            EngineLog.Transition(_logger, step.StepId, step.StepType, step.Subject, from, to, reason);
        }

        return moved;
    }

    private async Task RenewLeaseAsync(string subject, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await Task.Delay(_options.LeaseTtl / 3, time, ct);
                await journal.TryAcquireLeaseAsync(subject, WorkerId, _options.LeaseTtl, ct);
            }
        }
        catch (OperationCanceledException)
        {
            // The step ended (or the worker is stopping).
        }
    }

    private static async Task<bool> SafeVerifyAsync(IStep impl, StepContext context)
    {
        try
        {
            return await impl.VerifyAsync(context);
        }
        catch (AdapterException)
        {
            return false;
        }
    }

    private StepContext NewContext(StepRecord step, IStep impl, CancellationToken ct)
        => new(step, adapters, journal, time, time.GetUtcNow() + AttemptTimeout(impl), ct);

    /// <summary>
    /// The step's timeout; on a sped-up simulated clock never under <see cref="MinimumRealAttemptTime"/> of real time,
    /// because the engine's own work (journal round trips on a loaded machine) is sped up too and would otherwise eat
    /// a 5-minute timeout in half a second at 600×.
    /// </summary>
    private TimeSpan AttemptTimeout(IStep impl)
        => time is Simulation.ScaledTimeProvider scaled && impl.Policy.Timeout < MinimumRealAttemptTime * scaled.Scale
            ? MinimumRealAttemptTime * scaled.Scale
            : impl.Policy.Timeout;

    private static readonly TimeSpan MinimumRealAttemptTime = TimeSpan.FromSeconds(10);

    private StepContext NewContext(StepRecord step, IStep impl, CancellationToken ct, out CancellationToken attemptToken, out IDisposable timeoutScope)
    {
        var timeout = new CancellationTokenSource(AttemptTimeout(impl), time);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        attemptToken = linked.Token;
        timeoutScope = new Disposables(linked, timeout);
        return NewContext(step, impl, ct);
    }

    private static ScopeHandle Scope(StepRecord step, bool compensating)
    {
        var previous = StepScope.Current;
        StepScope.Set(new StepScope(step.RunId, step.StepId, step.StepType, step.Subject, compensating));
        return new ScopeHandle(previous);
    }

    private async Task<StepRecord> RequireAsync(long stepId, CancellationToken ct)
        => await journal.GetStepAsync(stepId, ct) ?? throw new KeyNotFoundException($"step {stepId} does not exist");

    private AuditEvent Event(string runId, string actor, string kind, string? subject, string? details)
        => new() { RunId = runId, At = time.GetUtcNow(), Actor = actor, Kind = kind, Subject = subject, Details = details };

    /// <summary>Hosts whose copy slots a copy step holds: the target node, and the source host for file disks.</summary>
    internal static IEnumerable<string> CopyHosts(StepInput input)
    {
        if (input.ToHost is not null)
        {
            yield return input.ToHost;
        }

        if (input.FromHost is not null && input.FromHost != input.ToHost && input.Disks.Any(d => !d.IsRbd))
        {
            yield return input.FromHost;
        }
    }

    /// <summary>The declared precondition does not hold: retrying will not make it hold.</summary>
    private sealed class PreconditionNotMetException(string reason) : AdapterException("precondition not met: " + reason, isTransient: false);

    private readonly struct ScopeHandle(StepScope? previous) : IDisposable
    {
        public void Dispose() => StepScope.Set(previous);
    }

    private sealed class Disposables(params IDisposable[] items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var item in items)
            {
                item.Dispose();
            }
        }
    }
}
