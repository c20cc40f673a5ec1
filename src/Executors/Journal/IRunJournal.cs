namespace Taquin.Executors.Journal;

/// <summary>
/// The journal of a run: the source of truth for progress. Every implementation (SQLite for the
/// embedded default, PostgreSQL for shared workers) passes the same contract test suite.
/// Safe for concurrent use from several processes sharing the same store.
/// </summary>
public interface IRunJournal
{
    /// <summary>Creates the schema when missing. Idempotent.</summary>
    Task InitializeAsync(CancellationToken ct = default);

    Task CreateRunAsync(RunRecord run, CancellationToken ct = default);
    Task<RunRecord?> GetRunAsync(string runId, CancellationToken ct = default);
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(CancellationToken ct = default);

    /// <summary>Adds steps in state Pending. Idempotent on (run, subject, step type, wave): existing ones are kept as they are.</summary>
    Task AddStepsAsync(string runId, IReadOnlyList<NewStep> steps, CancellationToken ct = default);
    Task<StepRecord?> GetStepAsync(long stepId, CancellationToken ct = default);
    /// <summary>Steps of a run (optionally one wave), ordered by wave, subject, sequence.</summary>
    Task<IReadOnlyList<StepRecord>> GetStepsAsync(string runId, int? wave = null, CancellationToken ct = default);

    /// <summary>
    /// Compare-and-set: moves the step from <paramref name="expected"/> to <paramref name="next"/> only if it is
    /// still in <paramref name="expected"/>; records the transition with its reason and actor. Entering Running
    /// increments Attempts and sets StartedAt; entering Succeeded, Failed, RolledBack or Skipped sets FinishedAt.
    /// Returns false (and changes nothing) when another writer got there first.
    /// </summary>
    Task<bool> TryTransitionAsync(long stepId, StepState expected, StepState next, string reason, string actor, CancellationToken ct = default);

    /// <summary>Merges keys into the step's checkpoint (a key set to null is removed). Durable when it returns.</summary>
    Task SaveCheckpointAsync(long stepId, IReadOnlyDictionary<string, string?> values, CancellationToken ct = default);

    /// <summary>Appends a line to the step's log tail, keeping the last <see cref="LogTailLines"/> lines.</summary>
    Task AppendLogAsync(long stepId, string line, CancellationToken ct = default);

    Task<IReadOnlyList<StepTransition>> GetTransitionsAsync(long stepId, CancellationToken ct = default);

    Task AppendEventAsync(AuditEvent auditEvent, CancellationToken ct = default);
    Task<IReadOnlyList<AuditEvent>> GetEventsAsync(string runId, CancellationToken ct = default);

    /// <summary>
    /// A named lease (e.g. "vm:web-01") held by one holder until released or expired. Re-acquiring a lease one
    /// already holds extends it. Used for the per-VM lock across worker processes.
    /// </summary>
    Task<bool> TryAcquireLeaseAsync(string resource, string holder, TimeSpan ttl, CancellationToken ct = default);
    Task ReleaseLeaseAsync(string resource, string holder, CancellationToken ct = default);

    /// <summary>
    /// A counting semaphore across processes (e.g. "copy-slots:h3" with capacity 2): true when the holder got one
    /// of <paramref name="capacity"/> slots (or already had one). Expired holders lose their slot.
    /// </summary>
    Task<bool> TryAcquireSlotAsync(string pool, int capacity, string holder, TimeSpan ttl, CancellationToken ct = default);
    Task ReleaseSlotAsync(string pool, string holder, CancellationToken ct = default);

    /// <summary>
    /// The VM's VLAN: the one it already holds (whatever the range now says, so re-plans keep it), else the lowest
    /// id of [<paramref name="from"/>, <paramref name="to"/>] no other VM holds, taken atomically: two workers
    /// allocating at once never get the same VLAN (unique VLAN and unique VM in the store). Not tied to a run.
    /// Throws <see cref="VlanRangeExhaustedException"/> when every id of the range is held.
    /// </summary>
    Task<int> AllocateVlanAsync(string vm, int from, int to, string actor, CancellationToken ct = default);

    /// <summary>Every VLAN held, by VLAN id.</summary>
    Task<IReadOnlyList<VlanAllocation>> GetVlanAllocationsAsync(CancellationToken ct = default);

    /// <summary>Frees a VM's VLAN; only for a retired VM (the VM no longer exists anywhere). False when it held none.</summary>
    Task<bool> ReleaseVlanAsync(string vm, CancellationToken ct = default);

    const int LogTailLines = 50;
}
