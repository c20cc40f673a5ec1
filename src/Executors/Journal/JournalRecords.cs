namespace Taquin.Executors.Journal;

/// <summary>A run: one execution of one approved plan.</summary>
public sealed record RunRecord
{
    public required string RunId { get; init; }
    /// <summary>SHA-256 of plan.json as approved.</summary>
    public required string PlanDigest { get; init; }
    public required string InventoryDigest { get; init; }
    /// <summary>Where the plan file lives (for humans; the journal never reads it).</summary>
    public string? PlanPath { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public string? CreatedBy { get; init; }
    /// <summary>"simulated" or "real": which adapters the run's steps use.</summary>
    public string Mode { get; init; } = "simulated";
}

/// <summary>Identifies a step inside a run: its subject ("vm:NAME", "host:NAME", "run") and type.</summary>
public sealed record NewStep
{
    public required int Wave { get; init; }
    public required string Subject { get; init; }
    /// <summary>Kebab-case step type, e.g. "create-target-vm", "drain-host".</summary>
    public required string StepType { get; init; }
    /// <summary>Order of the step in its subject's pipeline within the wave.</summary>
    public required int Sequence { get; init; }
    /// <summary>Step-specific input (small JSON object), e.g. target host and storage.</summary>
    public string? InputJson { get; init; }
}

public sealed record StepRecord
{
    public required long StepId { get; init; }
    public required string RunId { get; init; }
    public required int Wave { get; init; }
    public required string Subject { get; init; }
    public required string StepType { get; init; }
    public required int Sequence { get; init; }
    public string? InputJson { get; init; }
    public required StepState State { get; init; }
    public required int Attempts { get; init; }
    /// <summary>Checkpoint data saved by the step (new VMID, task id, snapshot, bytes done...).</summary>
    public IReadOnlyDictionary<string, string> Checkpoint { get; init; } = new Dictionary<string, string>();
    /// <summary>The last lines the step logged (bounded).</summary>
    public IReadOnlyList<string> LogTail { get; init; } = [];
    /// <summary>Reason given with the last transition.</summary>
    public string? LastReason { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Monotonic version, bumped on every change (optimistic concurrency).</summary>
    public required long Version { get; init; }
}

/// <summary>One state change of a step, with who caused it and why.</summary>
public sealed record StepTransition(long StepId, StepState From, StepState To, string Reason, string Actor, DateTimeOffset At);

/// <summary>Append-only audit trail: approvals, gate confirmations, rollbacks, skips...</summary>
public sealed record AuditEvent
{
    public long EventId { get; init; }
    public required string RunId { get; init; }
    public required DateTimeOffset At { get; init; }
    public required string Actor { get; init; }
    /// <summary>Kebab-case kind, e.g. "plan-approved", "gate-confirmed", "vm-rolled-back".</summary>
    public required string Kind { get; init; }
    public string? Subject { get; init; }
    public string? Details { get; init; }
}

/// <summary>A VM's VLAN: held from its first cutover until the VM is retired (docs/adr/0009).</summary>
public sealed record VlanAllocation(int Vlan, string Vm, DateTimeOffset AllocatedAt, string AllocatedBy);

/// <summary>Every VLAN of the policy range is held by another VM.</summary>
public sealed class VlanRangeExhaustedException(string vm, int from, int to)
    : InvalidOperationException($"No free VLAN for VM {vm}: all of {from}..{to} are held by other VMs. Widen policy.vlanRange in fleet.yaml, or release the VLANs of retired VMs.");
