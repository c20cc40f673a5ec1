using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Taquin.Executors.Compilation;
using Taquin.Executors.Journal;
using Taquin.Executors.States;
using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Orchestration;

/// <summary>Counts of a wave's steps by state, and whether it is over.</summary>
public sealed record WaveStatus(int Wave, bool Started, IReadOnlyDictionary<StepState, int> Counts, bool Completed, bool Quiescent)
{
    public int Total => Counts.Values.Sum();
}

/// <summary>
/// Creates runs from an approved plan, starts waves when asked, and dispatches the steps that are ready: the
/// previous steps of their pipeline are done, and the steps they wait for (a host's gate chain, the PVE Ceph)
/// are done or settled. A wave starts only when the previous one completed.
/// </summary>
public sealed class RunOrchestrator(IRunJournal journal, IStepDispatcher dispatcher, TimeProvider time)
{

    public IRunJournal Journal => journal;

    public static string Digest(string planJson) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(planJson)));

    public async Task<RunRecord> CreateRunAsync(string planJson, MigrationPlan plan, FleetInventory inventory, string actor,
        string mode = "simulated", string? planPath = null, CancellationToken ct = default)
    {
        var digest = Digest(planJson);
        var run = new RunRecord
        {
            RunId = $"run-{time.GetUtcNow():yyyyMMdd-HHmmss}-{digest[..8]}",
            PlanDigest = digest,
            InventoryDigest = plan.InventoryDigest,
            PlanPath = planPath,
            CreatedAt = time.GetUtcNow(),
            CreatedBy = actor,
            Mode = mode,
        };
        await journal.CreateRunAsync(run, ct);
        await journal.AddStepsAsync(run.RunId, PlanCompiler.Compile(plan, inventory), ct);
        await journal.AppendEventAsync(new AuditEvent
        {
            RunId = run.RunId,
            At = time.GetUtcNow(),
            Actor = actor,
            Kind = "run-created",
            Details = $"plan {digest[..12]}, mode {mode}",
        }, ct);
        return run;
    }

    public async Task<IReadOnlyList<int>> GetWavesAsync(string runId, CancellationToken ct = default)
        => [.. (await journal.GetStepsAsync(runId, ct: ct)).Select(s => s.Wave).Distinct().Order()];

    /// <summary>Starts a wave (audited) and dispatches its ready steps. Refused while an earlier wave is not completed.</summary>
    public async Task StartWaveAsync(string runId, int wave, string actor, CancellationToken ct = default)
    {
        var waves = await GetWavesAsync(runId, ct);
        if (!waves.Contains(wave))
        {
            throw new InvalidOperationException($"run {runId} has no wave {wave} (waves: {string.Join(", ", waves)})");
        }

        foreach (var earlier in waves.Where(w => w < wave))
        {
            var status = await GetWaveStatusAsync(runId, earlier, ct);
            if (!status.Completed)
            {
                throw new InvalidOperationException($"wave {earlier} is not completed: finish it (or skip what must be skipped) before starting wave {wave}");
            }
        }

        if (!(await StartedWavesAsync(runId, ct)).Contains(wave))
        {
            await journal.AppendEventAsync(new AuditEvent
            {
                RunId = runId,
                At = time.GetUtcNow(),
                Actor = actor,
                Kind = "wave-started",
                Subject = "wave:" + wave.ToString(CultureInfo.InvariantCulture),
            }, ct);
        }

        await DispatchReadyAsync(runId, ct);
    }

    /// <summary>Dispatches every ready step of the started waves; returns how many.</summary>
    public async Task<int> DispatchReadyAsync(string runId, CancellationToken ct = default)
    {
        var ready = await GetReadyStepsAsync(runId, ct);
        foreach (var step in ready)
        {
            await dispatcher.DispatchAsync(runId, step.StepId, ct);
        }

        return ready.Count;
    }

    /// <summary>
    /// After a worker restart: dispatches the steps left Running or Compensating (the engine takes each once the
    /// dead worker's lease expired, verifies before redoing, finishes interrupted rollbacks), then the ready ones.
    /// </summary>
    public async Task ResumeAsync(string runId, CancellationToken ct = default)
    {
        foreach (var step in (await journal.GetStepsAsync(runId, ct: ct)).Where(s => s.State is StepState.Running or StepState.Compensating))
        {
            await dispatcher.DispatchAsync(runId, step.StepId, ct);
        }

        await DispatchReadyAsync(runId, ct);
    }

    public async Task<IReadOnlyList<StepRecord>> GetReadyStepsAsync(string runId, CancellationToken ct = default)
    {
        var started = await StartedWavesAsync(runId, ct);
        var all = await journal.GetStepsAsync(runId, ct: ct);
        return [.. started.SelectMany(w => ReadySteps(all.Where(s => s.Wave == w).ToList()))];
    }

    /// <summary>Steps of one wave that may run now.</summary>
    public static IEnumerable<StepRecord> ReadySteps(IReadOnlyList<StepRecord> wave)
    {
        var byKey = wave.ToDictionary(s => (s.Subject, s.StepType));
        var bySubject = wave.ToLookup(s => s.Subject, StringComparer.Ordinal);
        foreach (var step in wave.Where(s => s.State == StepState.Pending))
        {
            var pipeline = bySubject[step.Subject];
            if (pipeline.Any(s => s.Sequence < step.Sequence && !StepStateMachine.IsDone(s.State)))
            {
                continue;
            }

            if (pipeline.Any(s => s.StepId != step.StepId && StepStateMachine.IsActive(s.State)))
            {
                continue;
            }

            var input = StepInput.Cached(step.InputJson);
            if (input.WaitFor.Any(k => byKey.TryGetValue(SplitKey(k), out var dep) && !StepStateMachine.IsDone(dep.State)))
            {
                continue;
            }

            if (input.WaitForSettled.Any(k => byKey.TryGetValue(SplitKey(k), out var dep) && !StepStateMachine.IsSettled(dep.State)))
            {
                continue;
            }

            yield return step;
        }
    }

    /// <summary>"subject/step-type" (see <see cref="PlanCompiler.Key"/>) back into its parts.</summary>
    public static (string Subject, string StepType) SplitKey(string key)
    {
        var slash = key.LastIndexOf('/');
        return (key[..slash], key[(slash + 1)..]);
    }

    public async Task<WaveStatus> GetWaveStatusAsync(string runId, int wave, CancellationToken ct = default)
    {
        var steps = await journal.GetStepsAsync(runId, wave, ct);
        var counts = steps.GroupBy(s => s.State).ToDictionary(g => g.Key, g => g.Count());
        var completed = steps.All(s => StepStateMachine.IsDone(s.State));
        var quiescent = !steps.Any(s => StepStateMachine.IsActive(s.State)) && !ReadySteps(steps).Any();
        return new WaveStatus(wave, (await StartedWavesAsync(runId, ct)).Contains(wave), counts, completed, quiescent);
    }

    private async Task<HashSet<int>> StartedWavesAsync(string runId, CancellationToken ct)
        => [.. (await journal.GetEventsAsync(runId, ct)).Where(e => e.Kind == "wave-started" && e.Subject is not null)
            .Select(e => int.Parse(e.Subject!["wave:".Length..], CultureInfo.InvariantCulture))];
}
