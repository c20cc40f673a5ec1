namespace Taquin.Executors.Steps;

/// <summary>Operator settings of the steps of a run (from the access file for real runs; defaults for simulations).</summary>
public sealed record StepSettings
{
    /// <summary>
    /// ACPI grace time per source host before shutdown-source powers a guest off; null (or a null answer): the default
    /// <see cref="ShutdownSourceStep.AcpiGrace"/>.
    /// </summary>
    public Func<string, TimeSpan?>? ShutdownGrace { get; init; }

    /// <summary>How often shutdown-source reads the domain state while it waits (never longer than the grace time).</summary>
    public TimeSpan? ShutdownPoll { get; init; }
}
