using Taquin.Executors.Adapters;

namespace Taquin.Executors.Steps;

/// <summary>Retries for transient errors only: up to <see cref="MaxAttempts"/> attempts, exponential backoff.</summary>
public sealed record RetryPolicy(int MaxAttempts, TimeSpan InitialBackoff, double Multiplier = 2)
{
    public static RetryPolicy Default { get; } = new(3, TimeSpan.FromSeconds(10));

    /// <summary>Wait before attempt <paramref name="nextAttempt"/> (2, 3, …).</summary>
    public TimeSpan BackoffBefore(int nextAttempt)
        => TimeSpan.FromTicks((long)(InitialBackoff.Ticks * Math.Pow(Multiplier, Math.Max(0, nextAttempt - 2))));
}

/// <param name="Timeout">Longest one attempt may take.</param>
/// <param name="CanCompensate">Whether the step knows how to undo itself (declared, shown to operators).</param>
/// <param name="UsesCopySlots">Holds one copy slot on the source and target hosts while it runs.</param>
/// <param name="PointOfNoReturn">Once it succeeded, the steps before it are not undone any more (the source is retired, the host reinstalled).</param>
public sealed record StepPolicy(TimeSpan Timeout, RetryPolicy Retry, bool CanCompensate, bool UsesCopySlots = false, bool PointOfNoReturn = false);

public enum StepOutcomeKind
{
    Done,
    /// <summary>The step waits for an operator to confirm a manual gate.</summary>
    WaitForGate,
}

public sealed record StepResult(StepOutcomeKind Kind, string Reason)
{
    public static StepResult Done(string reason) => new(StepOutcomeKind.Done, reason);

    public static StepResult WaitForGate(string reason) => new(StepOutcomeKind.WaitForGate, reason);
}

public sealed record Precondition(bool Met, string Reason)
{
    public static Precondition Ok { get; } = new(true, "ok");

    public static Precondition NotMet(string reason) => new(false, reason);
}

/// <summary>
/// One kind of step. Execute is idempotent (it may run again after a crash or a retry and must then finish the
/// job, not redo it); Verify checks the postcondition on the world, not on the journal alone.
/// </summary>
public interface IStep
{
    /// <summary>Kebab-case type, e.g. "create-target-vm".</summary>
    string Type { get; }
    StepPolicy Policy { get; }
    /// <summary>What must hold before the step starts, in words (checked by <see cref="CheckPreconditionAsync"/>).</summary>
    string PreconditionText { get; }
    Task<Precondition> CheckPreconditionAsync(StepContext context);
    Task<StepResult> ExecuteAsync(StepContext context);
    Task<bool> VerifyAsync(StepContext context);
    /// <summary>Undoes the step's effects; tolerant of partial effects. Only called when <see cref="StepPolicy.CanCompensate"/>.</summary>
    Task CompensateAsync(StepContext context);
}

/// <summary>Defaults: no precondition beyond pipeline order, nothing to compensate.</summary>
public abstract class StepBase : IStep
{
    /// <summary>
    /// Checkpoint key a point-of-no-return step saves right before its first irreversible act (value: what it does).
    /// Once set, the engine no longer rolls the subject back when the step fails: the steps before it stay done.
    /// </summary>
    public const string PastNoReturnKey = "pastNoReturn";

    public abstract string Type { get; }
    public abstract StepPolicy Policy { get; }
    public virtual string PreconditionText => "the previous steps of its pipeline succeeded";

    public virtual Task<Precondition> CheckPreconditionAsync(StepContext context) => Task.FromResult(Precondition.Ok);

    public abstract Task<StepResult> ExecuteAsync(StepContext context);

    public abstract Task<bool> VerifyAsync(StepContext context);

    public virtual Task CompensateAsync(StepContext context) => Task.CompletedTask;

    /// <summary>Fails the step for good: retrying cannot help.</summary>
    protected static AdapterException Permanent(string message) => new(message, isTransient: false);

    /// <summary>Waits for a PVE task and fails permanently when it ended badly.</summary>
    protected static async Task WaitTaskAsync(StepContext context, string node, string upid, string what)
    {
        var status = await context.Pve.WaitForTaskAsync(node, upid, context.Remaining, context.CancellationToken);
        if (!status.Succeeded)
        {
            throw new PveApiException($"{what}: task {upid} ended with '{status.ExitStatus}'", isTransient: false);
        }
    }
}
