namespace Taquin.Executors.Engine;

/// <summary>
/// The step being executed on the current async flow. Set by the engine only; read by logging and by the
/// simulated adapters' fault injection (which only fires while a step executes, never while it compensates).
/// </summary>
public sealed record StepScope(string RunId, long StepId, string StepType, string Subject, bool Compensating)
{
    private static readonly AsyncLocal<StepScope?> CurrentScope = new();

    public static StepScope? Current => CurrentScope.Value;

    /// <summary>The name part of the subject ("web-01" for "vm:web-01").</summary>
    public string SubjectName => Subject[(Subject.IndexOf(':', StringComparison.Ordinal) + 1)..];

    internal static void Set(StepScope? scope) => CurrentScope.Value = scope;
}
