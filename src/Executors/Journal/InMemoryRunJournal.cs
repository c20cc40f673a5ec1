namespace Taquin.Executors.Journal;

/// <summary>
/// A journal held in memory: for the engine's unit tests and the simulation fast path. Same semantics as the
/// durable stores (compare-and-set transitions, idempotent step creation, leases and slots with expiry) behind
/// one lock; nothing survives the process.
/// </summary>
public sealed class InMemoryRunJournal(TimeProvider time) : IRunJournal
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, RunRecord> _runs = new(StringComparer.Ordinal);
    private readonly Dictionary<long, StepRecord> _steps = [];
    private readonly Dictionary<string, List<long>> _stepsByRun = new(StringComparer.Ordinal);
    private readonly Dictionary<long, List<StepTransition>> _transitions = [];
    private readonly List<AuditEvent> _events = [];
    private readonly Dictionary<string, (string Holder, DateTimeOffset Expires)> _leases = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, DateTimeOffset>> _slots = new(StringComparer.Ordinal);
    private readonly SortedDictionary<int, VlanAllocation> _vlans = [];
    private long _nextStepId = 1;
    private long _nextEventId = 1;

    public InMemoryRunJournal()
        : this(TimeProvider.System)
    {
    }

    public Task InitializeAsync(CancellationToken ct = default) => Task.CompletedTask;

    /// <summary>UTC truncated to microseconds, as the durable stores return it.</summary>
    private DateTimeOffset Now() => JournalValues.Normalize(time.GetUtcNow());

    public Task CreateRunAsync(RunRecord run, CancellationToken ct = default)
    {
        lock (_gate)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(run.RunId);
            if (_runs.TryGetValue(run.RunId, out var existing))
            {
                // Re-creating the same run (a resumed CLI call) is harmless; reusing its id for another plan is not.
                if (existing.PlanDigest != run.PlanDigest || existing.InventoryDigest != run.InventoryDigest)
                {
                    throw JournalValues.RunIdTaken(run.RunId);
                }

                return Task.CompletedTask;
            }

            _runs[run.RunId] = run with { CreatedAt = JournalValues.Normalize(run.CreatedAt) };
            _stepsByRun[run.RunId] = [];
        }

        return Task.CompletedTask;
    }

    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken ct = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_runs.GetValueOrDefault(runId));
        }
    }

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(CancellationToken ct = default)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<RunRecord>>([.. _runs.Values.OrderBy(r => r.CreatedAt).ThenBy(r => r.RunId, StringComparer.Ordinal)]);
        }
    }

    public Task AddStepsAsync(string runId, IReadOnlyList<NewStep> steps, CancellationToken ct = default)
    {
        lock (_gate)
        {
            if (!_stepsByRun.TryGetValue(runId, out var ids))
            {
                throw JournalValues.UnknownRun(runId);
            }

            var now = Now();
            foreach (var step in steps)
            {
                var exists = ids.Select(id => _steps[id]).Any(s =>
                    s.Subject == step.Subject && s.StepType == step.StepType && s.Wave == step.Wave);
                if (exists)
                {
                    continue;
                }

                var id = _nextStepId++;
                _steps[id] = new StepRecord
                {
                    StepId = id,
                    RunId = runId,
                    Wave = step.Wave,
                    Subject = step.Subject,
                    StepType = step.StepType,
                    Sequence = step.Sequence,
                    InputJson = step.InputJson,
                    State = StepState.Pending,
                    Attempts = 0,
                    CreatedAt = now,
                    UpdatedAt = now,
                    Version = 1,
                };
                ids.Add(id);
                _transitions[id] = [];
            }

            // Ordering keys never change: sort once here so reads stay linear.
            ids.Sort((a, b) =>
            {
                var (x, y) = (_steps[a], _steps[b]);
                var c = x.Wave.CompareTo(y.Wave);
                c = c != 0 ? c : string.CompareOrdinal(x.Subject, y.Subject);
                return c != 0 ? c : x.Sequence.CompareTo(y.Sequence);
            });
        }

        return Task.CompletedTask;
    }

    public Task<StepRecord?> GetStepAsync(long stepId, CancellationToken ct = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_steps.GetValueOrDefault(stepId));
        }
    }

    public Task<IReadOnlyList<StepRecord>> GetStepsAsync(string runId, int? wave = null, CancellationToken ct = default)
    {
        lock (_gate)
        {
            if (!_stepsByRun.TryGetValue(runId, out var ids))
            {
                return Task.FromResult<IReadOnlyList<StepRecord>>([]);
            }

            IReadOnlyList<StepRecord> result = [.. ids.Select(id => _steps[id]).Where(s => wave is null || s.Wave == wave)];
            return Task.FromResult(result);
        }
    }

    public Task<bool> TryTransitionAsync(long stepId, StepState expected, StepState next, string reason, string actor, CancellationToken ct = default)
    {
        lock (_gate)
        {
            var step = _steps.GetValueOrDefault(stepId) ?? throw JournalValues.UnknownStep(stepId);
            if (step.State != expected)
            {
                return Task.FromResult(false);
            }

            var now = Now();
            var running = JournalValues.EntersRunning(next);
            _steps[stepId] = step with
            {
                State = next,
                Attempts = running ? step.Attempts + 1 : step.Attempts,
                StartedAt = running ? now : step.StartedAt,
                FinishedAt = JournalValues.Finishes(next) ? now : running ? null : step.FinishedAt,
                LastReason = reason,
                UpdatedAt = now,
                Version = step.Version + 1,
            };
            _transitions[stepId].Add(new StepTransition(stepId, expected, next, reason, actor, now));
            return Task.FromResult(true);
        }
    }

    public Task SaveCheckpointAsync(long stepId, IReadOnlyDictionary<string, string?> values, CancellationToken ct = default)
    {
        lock (_gate)
        {
            var step = _steps.GetValueOrDefault(stepId) ?? throw JournalValues.UnknownStep(stepId);
            var merged = new Dictionary<string, string>(step.Checkpoint, StringComparer.Ordinal);
            foreach (var (key, value) in values)
            {
                if (value is null)
                {
                    merged.Remove(key);
                }
                else
                {
                    merged[key] = value;
                }
            }

            _steps[stepId] = step with { Checkpoint = merged, UpdatedAt = Now(), Version = step.Version + 1 };
        }

        return Task.CompletedTask;
    }

    public Task AppendLogAsync(long stepId, string line, CancellationToken ct = default)
    {
        lock (_gate)
        {
            var step = _steps.GetValueOrDefault(stepId) ?? throw JournalValues.UnknownStep(stepId);
            var tail = step.LogTail.Append(line).TakeLast(IRunJournal.LogTailLines).ToList();
            _steps[stepId] = step with { LogTail = tail, UpdatedAt = Now(), Version = step.Version + 1 };
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<StepTransition>> GetTransitionsAsync(long stepId, CancellationToken ct = default)
    {
        lock (_gate)
        {
            IReadOnlyList<StepTransition> result = _transitions.TryGetValue(stepId, out var list) ? [.. list] : [];
            return Task.FromResult(result);
        }
    }

    public Task AppendEventAsync(AuditEvent auditEvent, CancellationToken ct = default)
    {
        lock (_gate)
        {
            _events.Add(auditEvent with { EventId = _nextEventId++, At = JournalValues.Normalize(auditEvent.At) });
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<AuditEvent>> GetEventsAsync(string runId, CancellationToken ct = default)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<AuditEvent>>([.. _events.Where(e => e.RunId == runId)]);
        }
    }

    public Task<bool> TryAcquireLeaseAsync(string resource, string holder, TimeSpan ttl, CancellationToken ct = default)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_leases.TryGetValue(resource, out var lease) && lease.Holder != holder && lease.Expires > now)
            {
                return Task.FromResult(false);
            }

            _leases[resource] = (holder, now + ttl);
            return Task.FromResult(true);
        }
    }

    public Task ReleaseLeaseAsync(string resource, string holder, CancellationToken ct = default)
    {
        lock (_gate)
        {
            if (_leases.TryGetValue(resource, out var lease) && lease.Holder == holder)
            {
                _leases.Remove(resource);
            }
        }

        return Task.CompletedTask;
    }

    public Task<bool> TryAcquireSlotAsync(string pool, int capacity, string holder, TimeSpan ttl, CancellationToken ct = default)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (!_slots.TryGetValue(pool, out var holders))
            {
                holders = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
                _slots[pool] = holders;
            }

            foreach (var expired in holders.Where(h => h.Value <= now).Select(h => h.Key).ToList())
            {
                holders.Remove(expired);
            }

            if (!holders.ContainsKey(holder) && holders.Count >= capacity)
            {
                return Task.FromResult(false);
            }

            holders[holder] = now + ttl;
            return Task.FromResult(true);
        }
    }

    public Task ReleaseSlotAsync(string pool, string holder, CancellationToken ct = default)
    {
        lock (_gate)
        {
            if (_slots.TryGetValue(pool, out var holders))
            {
                holders.Remove(holder);
            }
        }

        return Task.CompletedTask;
    }

    public Task<int> AllocateVlanAsync(string vm, int from, int to, string actor, CancellationToken ct = default)
    {
        JournalValues.ValidateVlanRequest(vm, from, to);
        lock (_gate)
        {
            if (_vlans.Values.FirstOrDefault(a => a.Vm == vm) is { } held)
            {
                return Task.FromResult(held.Vlan);
            }

            var vlan = JournalValues.LowestFreeVlan(_vlans.Keys, from, to) ?? throw new VlanRangeExhaustedException(vm, from, to);
            _vlans[vlan] = new VlanAllocation(vlan, vm, Now(), actor);
            return Task.FromResult(vlan);
        }
    }

    public Task<IReadOnlyList<VlanAllocation>> GetVlanAllocationsAsync(CancellationToken ct = default)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<VlanAllocation>>([.. _vlans.Values]);
        }
    }

    public Task<bool> ReleaseVlanAsync(string vm, CancellationToken ct = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_vlans.Values.FirstOrDefault(a => a.Vm == vm) is { } held && _vlans.Remove(held.Vlan));
        }
    }
}
