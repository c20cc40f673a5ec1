using System.Text.Json.Serialization;

namespace Taquin.Executors.Journal;

/// <summary>States of one step execution. Past-tense names for ended states.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<StepState>))]
public enum StepState
{
    Pending,
    Running,
    Succeeded,
    Failed,
    Compensating,
    RolledBack,
    Skipped,
    WaitingForGate,
}
