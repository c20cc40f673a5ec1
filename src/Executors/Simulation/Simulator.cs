using System.Diagnostics;
using Taquin.Executors.Compilation;
using Taquin.Executors.Engine;
using Taquin.Executors.Journal;
using Taquin.Executors.Orchestration;
using Taquin.Executors.States;
using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Simulation;

public sealed record SimulationOptions
{
    public DateTimeOffset Start { get; init; } = new(2026, 1, 5, 20, 0, 0, TimeSpan.Zero);
    /// <summary>How long the operator takes to reinstall a host as PVE before confirming the gate.</summary>
    public TimeSpan ReinstallTime { get; init; } = TimeSpan.FromMinutes(45);
    public IReadOnlyList<FaultSpec> Faults { get; init; } = [];
    public string Actor { get; init; } = "simulator";
}

/// <summary>Progress of the simulation, per wave.</summary>
public sealed record SimulationProgress(int Wave, int StepsSettled, int StepsTotal);

public sealed record SimulationResult
{
    public required SimulationTimeline Timeline { get; init; }
    public required string RunId { get; init; }
    public required int WavesRun { get; init; }
    public required int WavesPlanned { get; init; }
    /// <summary>VMs whose move to PVE committed.</summary>
    public required int VmsMoved { get; init; }
    public required IReadOnlyList<string> RolledBackVms { get; init; }
    public required IReadOnlyList<string> FailedSteps { get; init; }
    /// <summary>Safety or capacity invariants broken after some step ("after step …: …"). Empty on a good run.</summary>
    public required IReadOnlyList<string> InvariantViolations { get; init; }
    /// <summary>RAM above the policy reserve at some point (a plan property; not a safety violation).</summary>
    public required IReadOnlyList<string> ReserveWarnings { get; init; }
    /// <summary>VMs that were running before and do not run exactly once at the end.</summary>
    public required IReadOnlyList<string> NotRunningExactlyOnce { get; init; }
    public required IReadOnlyList<string> FaultsFired { get; init; }
    public required int StepRuns { get; init; }
    public required int InvariantChecks { get; init; }
    public required double WallSeconds { get; init; }
    /// <summary>Why the simulation stopped before the last wave, if it did.</summary>
    public string? StoppedReason { get; init; }
    /// <summary>Hosts converted, the new Ceph, the VMs' VLANs, checked against the plan (docs/adr/0009).</summary>
    public SimulationMilestones Milestones { get; init; } = SimulationMilestones.Empty;

    public double StepsPerSecond => WallSeconds <= 0 ? StepRuns : StepRuns / WallSeconds;
    public bool Succeeded => InvariantViolations.Count == 0 && NotRunningExactlyOnce.Count == 0 && StoppedReason is null && Milestones.Problems.Count == 0;
}

/// <summary>
/// Dry run: the whole plan through the same compiler, journal contract and step engine as a real run, on a cluster
/// twin in accelerated time. Steps that would run side by side are simulated one at a time, each in its own time
/// lane starting when its dependencies and copy slots allow; the safety and capacity invariants are checked after
/// every step; gates are confirmed as an operator would after the reinstall time.
/// </summary>
public static class Simulator
{
    public static async Task<SimulationResult> RunAsync(MigrationPlan plan, string planJson, FleetInventory inventory, SimulationOptions? options = null,
        IProgress<SimulationProgress>? progress = null, CancellationToken ct = default)
    {
        options ??= new SimulationOptions();
        var wall = Stopwatch.StartNew();
        var clock = new SimulatedTimeProvider(options.Start);
        var twin = new ClusterTwin(inventory, plan, clock);
        foreach (var fault in options.Faults.Where(f => f.StepType != StepTypes.GateReinstall))
        {
            twin.Faults.Add(fault);
        }

        var journal = new InMemoryRunJournal(clock);
        var (ssh, ceph) = (new SimulatedSshRunner(twin), new SimulatedCephCluster(twin));
        var adapters = new AdapterSet(ssh, new SimulatedPveApi(twin), new SimulatedLibvirtHost(twin), ceph, new SimulatedDiskMover(twin, ssh, ceph));
        var engine = new StepEngine(journal, StepRegistry.CreateDefault(), adapters, clock, new EngineOptions
        {
            WorkerId = "simulator",
            LeaseTtl = TimeSpan.FromDays(30),
            CopySlotsPerHost = int.MaxValue,
        });
        var orchestrator = new RunOrchestrator(journal, new NoDispatch(), clock);
        var run = await orchestrator.CreateRunAsync(planJson, plan, inventory, options.Actor, ct: ct);
        var waves = await orchestrator.GetWavesAsync(run.RunId, ct);
        var slotsPerHost = Math.Max(1, inventory.Fleet.Policy.CopySlotsPerHost);

        var spans = new Dictionary<long, StepSpan>();
        var waveTimelines = new List<WaveTimeline>();
        var violations = new List<string>();
        var reserve = new SortedSet<string>(StringComparer.Ordinal);
        var stepRuns = 0;
        var checks = 0;
        string? stopped = null;
        IReadOnlyList<string>? cephClusterNodes = null;

        foreach (var wave in waves)
        {
            await orchestrator.StartWaveAsync(run.RunId, wave, options.Actor, ct);
            var waveStart = clock.GetUtcNow();
            var ends = new Dictionary<long, DateTimeOffset>();
            var notBefore = new Dictionary<long, DateTimeOffset>();
            var slots = new Dictionary<string, List<DateTimeOffset>>(StringComparer.Ordinal);
            while (true)
            {
                var steps = await journal.GetStepsAsync(run.RunId, wave, ct);
                progress?.Report(new SimulationProgress(wave, steps.Count(s => StepStateMachine.IsSettled(s.State)), steps.Count));
                var ready = RunOrchestrator.ReadySteps(steps).ToList();
                if (ready.Count == 0)
                {
                    break;
                }

                var keyed = steps.ToDictionary(s => (s.Subject, s.StepType));
                var bySubject = steps.ToLookup(s => s.Subject, StringComparer.Ordinal);
                var (step, at) = ready.Select(s => (Step: s, At: EarliestStart(s, bySubject[s.Subject], keyed, ends, notBefore, slots, slotsPerHost, waveStart)))
                    .OrderBy(x => x.At).ThenBy(x => x.Step.StepId).First();

                if (step.StepType == StepTypes.CreatePveCeph)
                {
                    cephClusterNodes = [.. twin.Hosts.Values.Where(h => h.InPveCluster).Select(h => h.Name).Order(StringComparer.Ordinal)];
                }

                var lane = clock.EnterLane(at);
                StepRunOutcome outcome;
                try
                {
                    outcome = await engine.RunStepAsync(step.StepId, ct);
                }
                finally
                {
                    clock.LeaveLane();
                }

                stepRuns++;
                var end = lane.Now;
                ends[step.StepId] = end;
                if (IsCopy(step))
                {
                    foreach (var host in StepEngine.CopyHosts(StepInput.Cached(step.InputJson)))
                    {
                        Occupy(slots, host, at, end);
                    }
                }

                var after = (await journal.GetStepAsync(step.StepId, ct))!;
                spans[step.StepId] = spans.TryGetValue(step.StepId, out var earlier)
                    ? earlier with { State = after.State, Attempts = after.Attempts, End = end }
                    : new StepSpan(step.StepId, wave, step.Subject, step.StepType, after.State, after.Attempts, at, end);

                checks++;
                violations.AddRange(twin.CheckInvariants().Select(v => $"after {step.StepType} of {step.Subject} (wave {wave}): {v}"));
                reserve.UnionWith(twin.CheckReserve());

                if (outcome == StepRunOutcome.WaitingForGate)
                {
                    var host = StepInput.Cached(step.InputJson).Host!;
                    clock.AdvanceGlobalTo(end + options.ReinstallTime);
                    if (options.Faults.Any(f => f.StepType == StepTypes.GateReinstall && f.Target == host && f.Kind == FaultKind.Permanent))
                    {
                        await engine.DenyGateAsync(step.StepId, options.Actor, $"reinstall of {host} failed (injected fault)", ct);
                        RefreshSpans(spans, await journal.GetStepsAsync(run.RunId, wave, ct));
                    }
                    else
                    {
                        twin.ReinstallAsPve(host);
                        await engine.ConfirmGateAsync(step.StepId, options.Actor, ct);
                        notBefore[step.StepId] = end + options.ReinstallTime;
                    }
                }
                else if (outcome == StepRunOutcome.Failed)
                {
                    RefreshSpans(spans, await journal.GetStepsAsync(run.RunId, wave, ct));
                }
            }

            var waveSteps = await journal.GetStepsAsync(run.RunId, wave, ct);
            var waveEnd = ends.Count == 0 ? waveStart : ends.Values.Max();
            clock.AdvanceGlobalTo(waveEnd);
            var completed = waveSteps.All(s => StepStateMachine.IsDone(s.State));
            waveTimelines.Add(new WaveTimeline(wave, waveStart, waveEnd, waveSteps.Count, waveSteps.Count(s => s.State == StepState.Failed), completed));
            progress?.Report(new SimulationProgress(wave, waveSteps.Count, waveSteps.Count));
            if (!completed)
            {
                var blocked = waveSteps.Where(s => !StepStateMachine.IsDone(s.State)).Select(s => s.Subject).Distinct(StringComparer.Ordinal).Take(5);
                stopped = $"wave {wave} did not complete ({string.Join(", ", blocked)}…): later waves were not started";
                break;
            }
        }

        var all = await journal.GetStepsAsync(run.RunId, ct: ct);
        var rolledBack = all.Where(s => s.Subject.StartsWith("vm:", StringComparison.Ordinal) && s.State == StepState.RolledBack)
            .Select(s => s.Subject[3..]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var moved = all.Count(s => s.StepType == StepTypes.Commit && s.State == StepState.Succeeded);
        var notOnce = inventory.Vms.Where(v => v.Running && twin.CountRunning(v.Name) != 1)
            .Select(v => $"{v.Name} runs in {twin.CountRunning(v.Name)} place(s)").ToList();
        var finish = waveTimelines.Count == 0 ? options.Start : waveTimelines[^1].End;
        var timeline = new SimulationTimeline
        {
            Start = options.Start,
            End = finish,
            Waves = waveTimelines,
            Vms = [.. inventory.Vms.OrderBy(v => v.Name, StringComparer.Ordinal).Select(v => new VmTimeline(
                v.Name, twin.Downtime.GetValueOrDefault(v.Name).TotalSeconds, twin.WhereRunning(v.Name), rolledBack.Contains(v.Name)))],
            Steps = [.. spans.Values.OrderBy(s => s.Start).ThenBy(s => s.StepId)],
        };
        return new SimulationResult
        {
            Timeline = timeline,
            RunId = run.RunId,
            WavesRun = waveTimelines.Count,
            WavesPlanned = waves.Count,
            VmsMoved = moved,
            RolledBackVms = rolledBack,
            FailedSteps = [.. all.Where(s => s.State == StepState.Failed).Select(s => $"{s.StepType}@{s.Subject}: {s.LastReason}")],
            InvariantViolations = violations,
            ReserveWarnings = [.. reserve],
            NotRunningExactlyOnce = notOnce,
            FaultsFired = [.. twin.Faults.Fired.Select(f => $"{f.Fault} ({f.Operation})")],
            StepRuns = stepRuns,
            InvariantChecks = checks,
            WallSeconds = wall.Elapsed.TotalSeconds,
            StoppedReason = stopped,
            Milestones = SimulationMilestones.Collect(plan, inventory, all, spans, cephClusterNodes, twin, await journal.GetVlanAllocationsAsync(ct), completed: stopped is null),
        };
    }

    private static bool IsCopy(StepRecord step) => step.StepType is StepTypes.CopyDisks or StepTypes.FinalSync or StepTypes.PveMoveDisk;

    /// <summary>When a ready step may start: after its pipeline predecessors and awaited steps end, a confirmed gate, and a free copy slot.</summary>
    private static DateTimeOffset EarliestStart(StepRecord step, IEnumerable<StepRecord> pipeline, Dictionary<(string, string), StepRecord> keyed,
        Dictionary<long, DateTimeOffset> ends, Dictionary<long, DateTimeOffset> notBefore, Dictionary<string, List<DateTimeOffset>> slots, int slotsPerHost, DateTimeOffset waveStart)
    {
        var at = waveStart;
        var input = StepInput.Cached(step.InputJson);
        var deps = pipeline.Where(s => s.Sequence < step.Sequence)
            .Concat(input.WaitFor.Concat(input.WaitForSettled).Select(k => keyed.GetValueOrDefault(RunOrchestrator.SplitKey(k))).OfType<StepRecord>());
        foreach (var dep in deps)
        {
            if (ends.TryGetValue(dep.StepId, out var end) && end > at)
            {
                at = end;
            }
        }

        if (notBefore.TryGetValue(step.StepId, out var gate) && gate > at)
        {
            at = gate;
        }

        if (IsCopy(step))
        {
            foreach (var host in StepEngine.CopyHosts(input))
            {
                var busy = slots.GetValueOrDefault(host) ?? [];
                if (busy.Count >= slotsPerHost)
                {
                    var free = busy.Order().ElementAt(busy.Count - slotsPerHost);
                    if (free > at)
                    {
                        at = free;
                    }
                }
            }
        }

        return at;
    }

    /// <summary>Marks a copy slot of <paramref name="host"/> busy until <paramref name="end"/> (slots are end times).</summary>
    private static void Occupy(Dictionary<string, List<DateTimeOffset>> slots, string host, DateTimeOffset start, DateTimeOffset end)
    {
        if (!slots.TryGetValue(host, out var busy))
        {
            busy = [];
            slots[host] = busy;
        }

        busy.RemoveAll(t => t <= start);
        busy.Add(end);
    }

    private static void RefreshSpans(Dictionary<long, StepSpan> spans, IReadOnlyList<StepRecord> steps)
    {
        foreach (var step in steps)
        {
            if (spans.TryGetValue(step.StepId, out var span))
            {
                spans[step.StepId] = span with { State = step.State };
            }
        }
    }

    private sealed class NoDispatch : IStepDispatcher
    {
        public Task DispatchAsync(string runId, long stepId, CancellationToken ct = default) => Task.CompletedTask;
    }
}
