using System.Diagnostics.CodeAnalysis;
using Taquin.Executors.Adapters;
using Taquin.Executors.Engine;

namespace Taquin.Executors.Simulation;

public enum FaultKind
{
    /// <summary>The first matching adapter call fails with a transient error; the retry succeeds.</summary>
    Transient,
    /// <summary>Every matching adapter call fails with a permanent error.</summary>
    Permanent,
}

/// <summary>"&lt;step&gt;@&lt;vm or host&gt;[:transient|:permanent]", e.g. "copy-disks@web-01:transient".</summary>
public sealed record FaultSpec(string StepType, string Target, FaultKind Kind)
{
    public static bool TryParse(string text, [NotNullWhen(true)] out FaultSpec? spec, [NotNullWhen(false)] out string? error)
    {
        spec = null;
        var at = text.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at == text.Length - 1)
        {
            error = $"fault '{text}' must look like <step>@<vm or host>[:transient|:permanent], e.g. copy-disks@web-01:transient";
            return false;
        }

        var stepType = text[..at];
        var rest = text[(at + 1)..];
        var kind = FaultKind.Permanent;
        var colon = rest.LastIndexOf(':');
        if (colon >= 0)
        {
            var kindText = rest[(colon + 1)..];
            switch (kindText)
            {
                case "transient":
                    kind = FaultKind.Transient;
                    break;
                case "permanent":
                    kind = FaultKind.Permanent;
                    break;
                default:
                    error = $"fault '{text}': kind '{kindText}' is neither 'transient' nor 'permanent'";
                    return false;
            }

            rest = rest[..colon];
        }

        if (rest.Length == 0)
        {
            error = $"fault '{text}' names no VM or host after '@'";
            return false;
        }

        spec = new FaultSpec(stepType, rest, kind);
        error = null;
        return true;
    }

    public override string ToString() => $"{StepType}@{Target}:{Kind.ToString().ToLowerInvariant()}";
}

/// <summary>Makes the simulated adapters fail for chosen steps, to show retries and rollbacks.</summary>
public sealed class FaultInjector
{
    private readonly Lock _gate = new();
    private readonly List<FaultSpec> _faults = [];
    private readonly HashSet<FaultSpec> _transientFired = [];
    private readonly List<(FaultSpec Fault, string Operation)> _fired = [];

    public void Add(FaultSpec fault)
    {
        lock (_gate)
        {
            _faults.Add(fault);
        }
    }

    /// <summary>Every fault that fired, with the adapter operation it broke.</summary>
    public IReadOnlyList<(FaultSpec Fault, string Operation)> Fired
    {
        get
        {
            lock (_gate)
            {
                return [.. _fired];
            }
        }
    }

    /// <summary>Throws when a fault targets the step running on this flow.</summary>
    public void OnAdapterCall(string operation)
    {
        var scope = StepScope.Current;
        if (scope is null || scope.Compensating)
        {
            return;
        }

        lock (_gate)
        {
            foreach (var fault in _faults)
            {
                if (fault.StepType != scope.StepType || fault.Target != scope.SubjectName)
                {
                    continue;
                }

                if (fault.Kind == FaultKind.Transient && !_transientFired.Add(fault))
                {
                    continue;
                }

                _fired.Add((fault, operation));
                throw new InjectedFaultException(
                    $"injected {fault.Kind.ToString().ToLowerInvariant()} fault in {operation} for {fault.StepType}@{fault.Target}",
                    fault.Kind == FaultKind.Transient);
            }
        }
    }
}
