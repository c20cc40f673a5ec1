using System.Text.Json;
using System.Text.Json.Serialization;
using Taquin.Executors.Journal;

namespace Taquin.Executors.Simulation;

/// <summary>One step as it ran in the simulation, in simulated time.</summary>
public sealed record StepSpan(long StepId, int Wave, string Subject, string StepType, StepState State, int Attempts, DateTimeOffset Start, DateTimeOffset End)
{
    public double Seconds => (End - Start).TotalSeconds;
}

public sealed record VmTimeline(string Vm, double DowntimeSeconds, IReadOnlyList<string> RunningOn, bool RolledBack);

public sealed record WaveTimeline(int Wave, DateTimeOffset Start, DateTimeOffset End, int Steps, int FailedSteps, bool Completed)
{
    public double DurationSeconds => (End - Start).TotalSeconds;
}

/// <summary>What a dry run shows: per VM downtime, per wave duration, the total, and every step's span.</summary>
public sealed record SimulationTimeline
{
    public required DateTimeOffset Start { get; init; }
    public required DateTimeOffset End { get; init; }
    public double TotalSeconds => (End - Start).TotalSeconds;
    public required IReadOnlyList<WaveTimeline> Waves { get; init; }
    public required IReadOnlyList<VmTimeline> Vms { get; init; }
    public required IReadOnlyList<StepSpan> Steps { get; init; }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
