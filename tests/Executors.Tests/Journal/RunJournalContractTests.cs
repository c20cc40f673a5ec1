using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using Taquin.Executors.Journal;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Journal;

/// <summary>
/// What every <see cref="IRunJournal"/> store promises. Each subclass runs the whole suite against one store,
/// on a store of its own per test. SQL stores derive from <see cref="SqlRunJournalContractTests"/>; an in-memory
/// store can derive from this class directly (its "same store" is then the same instance).
/// </summary>
public abstract partial class RunJournalContractTests : IAsyncLifetime
{
    protected static readonly DateTimeOffset Start = new(2026, 11, 24, 8, 0, 0, TimeSpan.Zero);

    private readonly List<IRunJournal> _opened = [];

    protected FakeTimeProvider Clock { get; } = new(Start);

    /// <summary>The journal the test talks to; initialised before each test.</summary>
    protected IRunJournal Journal { get; private set; } = null!;

    /// <summary>A new journal instance on the same store (as a second process would open it).</summary>
    protected abstract IRunJournal OpenJournalOnSameStore();

    protected virtual Task CreateStoreAsync() => Task.CompletedTask;

    protected virtual Task DestroyStoreAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        await CreateStoreAsync();
        Journal = Open();
        await Journal.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var journal in _opened)
        {
            if (journal is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }

        await DestroyStoreAsync();
    }

    protected IRunJournal Open()
    {
        var journal = OpenJournalOnSameStore();
        _opened.Add(journal);
        return journal;
    }

    [ContractFact]
    public async Task A_created_run_reads_back_with_its_fields_and_runs_list_in_creation_order()
    {
        var later = NewRun("run-b", createdAt: Start.AddMinutes(5));
        var earlier = NewRun("run-a", createdAt: Start) with { PlanPath = "/srv/plan.json", CreatedBy = "alice", Mode = "real" };
        await Journal.CreateRunAsync(later);
        await Journal.CreateRunAsync(earlier);

        Assert.Equal(earlier, await Journal.GetRunAsync("run-a"));
        Assert.Equal(["run-a", "run-b"], (await Journal.ListRunsAsync()).Select(r => r.RunId));
        Assert.Null(await Journal.GetRunAsync("no-such-run"));
    }

    [ContractFact]
    public async Task Timestamps_come_back_in_UTC_for_the_same_instant()
    {
        var inParis = new DateTimeOffset(2026, 11, 24, 9, 30, 0, TimeSpan.FromHours(1));
        await Journal.CreateRunAsync(NewRun("run-1", createdAt: inParis));

        var run = await Journal.GetRunAsync("run-1");

        Assert.Equal(TimeSpan.Zero, run!.CreatedAt.Offset);
        Assert.Equal(inParis.UtcDateTime, run.CreatedAt.UtcDateTime);
    }

    [ContractFact]
    public async Task Creating_the_same_run_again_is_harmless_but_reusing_its_id_for_another_plan_is_refused()
    {
        var run = NewRun("run-1");
        await Journal.CreateRunAsync(run);
        await Journal.CreateRunAsync(run);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Journal.CreateRunAsync(run with { PlanDigest = "sha256:other" }));

        Assert.Contains("run-1", error.Message);
        Assert.Equal(run, Assert.Single(await Journal.ListRunsAsync()));
    }

    [ContractFact]
    public async Task Added_steps_start_pending_and_adding_them_again_keeps_existing_ones_as_they_are()
    {
        await Journal.CreateRunAsync(NewRun("run-1"));
        await Journal.AddStepsAsync("run-1", [Step(1, "vm:web-01", "preflight", 0, """{"target":"pve1"}"""), Step(1, "vm:web-01", "copy-disks", 1)]);
        var preflight = await SingleStep("run-1", "preflight");
        Assert.True(await Journal.TryTransitionAsync(preflight.StepId, StepState.Pending, StepState.Running, "started", "worker-1"));

        await Journal.AddStepsAsync("run-1", [Step(1, "vm:web-01", "preflight", 0, """{"target":"elsewhere"}"""), Step(1, "vm:web-01", "start-target", 2)]);

        var steps = await Journal.GetStepsAsync("run-1");
        Assert.Equal(["preflight", "copy-disks", "start-target"], steps.Select(s => s.StepType));
        var kept = steps[0];
        Assert.Equal(preflight.StepId, kept.StepId);
        Assert.Equal(StepState.Running, kept.State);
        Assert.Equal("""{"target":"pve1"}""", kept.InputJson);
        Assert.All(steps.Skip(1), s => Assert.Equal(StepState.Pending, s.State));
        Assert.All(steps.Skip(1), s => Assert.Equal(0, s.Attempts));
        Assert.All(steps, s => Assert.Equal("run-1", s.RunId));
        Assert.Equal(Start, steps[2].CreatedAt);
    }

    [ContractFact]
    public async Task Steps_of_an_unknown_run_are_refused()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => Journal.AddStepsAsync("ghost", [Step(1, "vm:a", "preflight", 0)]));
    }

    [ContractFact]
    public async Task Steps_list_by_wave_then_subject_then_sequence_and_filter_by_wave()
    {
        await Journal.CreateRunAsync(NewRun("run-1"));
        await Journal.AddStepsAsync("run-1",
        [
            Step(2, "vm:alpha", "preflight", 0),
            Step(1, "vm:zeta", "verify", 2),
            Step(1, "host:h1", "drain-host", 1),
            Step(1, "vm:zeta", "preflight", 0),
            Step(1, "host:h1", "disable-placement", 0),
            Step(1, "vm:Beta", "preflight", 0),
        ]);

        var all = await Journal.GetStepsAsync("run-1");
        var waveTwo = await Journal.GetStepsAsync("run-1", wave: 2);

        Assert.Equal(
            ["1 host:h1 disable-placement", "1 host:h1 drain-host", "1 vm:Beta preflight", "1 vm:zeta preflight", "1 vm:zeta verify", "2 vm:alpha preflight"],
            all.Select(s => $"{s.Wave} {s.Subject} {s.StepType}"));
        Assert.Equal(["vm:alpha"], waveTwo.Select(s => s.Subject));
        Assert.Empty(await Journal.GetStepsAsync("run-1", wave: 3));
    }

    [ContractFact]
    public async Task A_transition_from_the_expected_state_wins_and_a_stale_one_fails_without_changing_anything()
    {
        var step = await OnePendingStep();
        Clock.Advance(TimeSpan.FromSeconds(3));

        Assert.True(await Journal.TryTransitionAsync(step.StepId, StepState.Pending, StepState.Running, "picked up", "worker-1"));
        var afterWin = await Journal.GetStepAsync(step.StepId);
        Clock.Advance(TimeSpan.FromSeconds(3));
        var stale = await Journal.TryTransitionAsync(step.StepId, StepState.Pending, StepState.Skipped, "operator skip", "bob");

        Assert.False(stale);
        AssertSameStep(afterWin!, (await Journal.GetStepAsync(step.StepId))!);
        Assert.Equal(StepState.Running, afterWin!.State);
        Assert.Equal("picked up", afterWin.LastReason);
        Assert.Equal(step.Version + 1, afterWin.Version);
        Assert.Equal(Start.AddSeconds(3), afterWin.UpdatedAt);
        Assert.Single(await Journal.GetTransitionsAsync(step.StepId));
    }

    [ContractFact]
    public async Task Attempts_count_each_entry_into_Running()
    {
        var step = await OnePendingStep();

        await Journal.TryTransitionAsync(step.StepId, StepState.Pending, StepState.Running, "first try", "worker-1");
        await Journal.TryTransitionAsync(step.StepId, StepState.Running, StepState.Failed, "timeout", "worker-1");
        var afterOne = await Journal.GetStepAsync(step.StepId);
        await Journal.TryTransitionAsync(step.StepId, StepState.Failed, StepState.Running, "operator retry", "alice");

        Assert.Equal(0, step.Attempts);
        Assert.Equal(1, afterOne!.Attempts);
        Assert.Equal(2, (await Journal.GetStepAsync(step.StepId))!.Attempts);
    }

    [ContractFact]
    public async Task Entering_Running_stamps_StartedAt_and_ending_states_stamp_FinishedAt()
    {
        var step = await OnePendingStep();
        Assert.Null(step.StartedAt);

        Clock.Advance(TimeSpan.FromMinutes(1));
        await Journal.TryTransitionAsync(step.StepId, StepState.Pending, StepState.Running, "go", "worker-1");
        var running = await Journal.GetStepAsync(step.StepId);
        Clock.Advance(TimeSpan.FromMinutes(2));
        await Journal.TryTransitionAsync(step.StepId, StepState.Running, StepState.Failed, "ssh refused", "worker-1");
        var failed = await Journal.GetStepAsync(step.StepId);
        Clock.Advance(TimeSpan.FromMinutes(3));
        await Journal.TryTransitionAsync(step.StepId, StepState.Failed, StepState.Running, "retry", "alice");
        var retried = await Journal.GetStepAsync(step.StepId);
        Clock.Advance(TimeSpan.FromMinutes(4));
        await Journal.TryTransitionAsync(step.StepId, StepState.Running, StepState.Succeeded, "verified", "worker-2");
        var done = await Journal.GetStepAsync(step.StepId);

        Assert.Equal((Start.AddMinutes(1), (DateTimeOffset?)null), (running!.StartedAt!.Value, running.FinishedAt));
        Assert.Equal((Start.AddMinutes(1), Start.AddMinutes(3)), (failed!.StartedAt!.Value, failed.FinishedAt!.Value));
        Assert.Equal((Start.AddMinutes(6), (DateTimeOffset?)null), (retried!.StartedAt!.Value, retried.FinishedAt));
        Assert.Equal((Start.AddMinutes(6), Start.AddMinutes(10)), (done!.StartedAt!.Value, done.FinishedAt!.Value));
    }

    [ContractFact]
    public async Task Every_transition_is_recorded_in_order_with_its_reason_and_actor()
    {
        var step = await OnePendingStep();

        await Journal.TryTransitionAsync(step.StepId, StepState.Pending, StepState.WaitingForGate, "reinstall as PVE", "engine");
        Clock.Advance(TimeSpan.FromSeconds(10));
        await Journal.TryTransitionAsync(step.StepId, StepState.WaitingForGate, StepState.Running, "gate confirmed", "alice");
        Clock.Advance(TimeSpan.FromSeconds(10));
        await Journal.TryTransitionAsync(step.StepId, StepState.Running, StepState.Failed, "disk full", "worker-1");
        await Journal.TryTransitionAsync(step.StepId, StepState.Failed, StepState.Compensating, "rollback", "engine");
        await Journal.TryTransitionAsync(step.StepId, StepState.Compensating, StepState.RolledBack, "target VM destroyed", "worker-1");

        Assert.Equal(
        [
            new StepTransition(step.StepId, StepState.Pending, StepState.WaitingForGate, "reinstall as PVE", "engine", Start),
            new StepTransition(step.StepId, StepState.WaitingForGate, StepState.Running, "gate confirmed", "alice", Start.AddSeconds(10)),
            new StepTransition(step.StepId, StepState.Running, StepState.Failed, "disk full", "worker-1", Start.AddSeconds(20)),
            new StepTransition(step.StepId, StepState.Failed, StepState.Compensating, "rollback", "engine", Start.AddSeconds(20)),
            new StepTransition(step.StepId, StepState.Compensating, StepState.RolledBack, "target VM destroyed", "worker-1", Start.AddSeconds(20)),
        ], await Journal.GetTransitionsAsync(step.StepId));
        Assert.Equal("target VM destroyed", (await Journal.GetStepAsync(step.StepId))!.LastReason);
    }

    [ContractFact]
    public async Task Writing_to_an_unknown_step_is_an_error_not_a_silent_no_op()
    {
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Journal.TryTransitionAsync(4242, StepState.Pending, StepState.Running, "go", "w"));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Journal.SaveCheckpointAsync(4242, new Dictionary<string, string?> { ["k"] = "v" }));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Journal.AppendLogAsync(4242, "line"));
        Assert.Null(await Journal.GetStepAsync(4242));
    }

    [ContractFact]
    public async Task Checkpoints_merge_remove_null_keys_and_survive_a_new_journal_instance()
    {
        var step = await OnePendingStep();

        await Journal.SaveCheckpointAsync(step.StepId, new Dictionary<string, string?> { ["vmid"] = "4101", ["snapshot"] = "taquin-1", ["bytes-done"] = "0" });
        await Journal.SaveCheckpointAsync(step.StepId, new Dictionary<string, string?> { ["bytes-done"] = "1073741824", ["snapshot"] = null, ["task"] = "UPID:pve1:0001" });

        var reopened = Open();
        var saved = await reopened.GetStepAsync(step.StepId);
        Assert.Equal(
            new Dictionary<string, string> { ["vmid"] = "4101", ["bytes-done"] = "1073741824", ["task"] = "UPID:pve1:0001" },
            saved!.Checkpoint);
        Assert.Equal(step.Version + 2, saved.Version);
    }

    [ContractFact]
    public async Task The_log_tail_keeps_only_the_last_lines_in_order()
    {
        var step = await OnePendingStep();

        for (var i = 1; i <= IRunJournal.LogTailLines + 7; i++)
        {
            await Journal.AppendLogAsync(step.StepId, $"line {i}");
        }

        var tail = (await Journal.GetStepAsync(step.StepId))!.LogTail;
        Assert.Equal(IRunJournal.LogTailLines, tail.Count);
        Assert.Equal("line 8", tail[0]);
        Assert.Equal($"line {IRunJournal.LogTailLines + 7}", tail[^1]);
        Assert.Equal(Enumerable.Range(8, IRunJournal.LogTailLines).Select(i => $"line {i}"), tail);
    }

    [ContractFact]
    public async Task Concurrent_log_appends_and_checkpoint_saves_lose_nothing()
    {
        var step = await OnePendingStep();

        await RaceAsync(30, async i =>
        {
            await Journal.AppendLogAsync(step.StepId, $"worker {i}");
            await Journal.SaveCheckpointAsync(step.StepId, new Dictionary<string, string?> { [$"disk-{i}"] = "copied" });
            return true;
        });

        var saved = (await Journal.GetStepAsync(step.StepId))!;
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"worker {i}").Order(), saved.LogTail.Order());
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"disk-{i}").Order(), saved.Checkpoint.Keys.Order());
        Assert.Equal(step.Version + 60, saved.Version);
    }

    [ContractFact]
    public async Task Audit_events_read_back_per_run_in_the_order_they_were_appended()
    {
        await Journal.AppendEventAsync(Event("run-1", "plan-approved", "alice", Start));
        await Journal.AppendEventAsync(Event("run-2", "plan-approved", "bob", Start.AddMinutes(1)));
        await Journal.AppendEventAsync(Event("run-1", "gate-confirmed", "carol", Start.AddMinutes(2)) with { Subject = "host:h3", Details = "reinstalled" });
        await Journal.AppendEventAsync(Event("run-1", "vm-rolled-back", "alice", Start.AddMinutes(3)) with { Subject = "vm:web-01" });

        var events = await Journal.GetEventsAsync("run-1");

        Assert.Equal(["plan-approved", "gate-confirmed", "vm-rolled-back"], events.Select(e => e.Kind));
        Assert.Equal(["alice", "carol", "alice"], events.Select(e => e.Actor));
        Assert.True(events[0].EventId < events[1].EventId && events[1].EventId < events[2].EventId);
        Assert.Equal(Event("run-1", "gate-confirmed", "carol", Start.AddMinutes(2)) with { EventId = events[1].EventId, Subject = "host:h3", Details = "reinstalled" }, events[1]);
        Assert.Single(await Journal.GetEventsAsync("run-2"));
    }

    [ContractFact]
    public async Task A_lease_is_exclusive_between_holders_and_reentrant_for_its_holder()
    {
        var ttl = TimeSpan.FromMinutes(1);

        Assert.True(await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-1", ttl));
        Assert.False(await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-2", ttl));
        Assert.True(await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-1", ttl));
        Assert.True(await Journal.TryAcquireLeaseAsync("vm:web-02", "worker-2", ttl));
    }

    [ContractFact]
    public async Task A_lease_expires_after_its_ttl_and_renewing_it_pushes_the_expiry()
    {
        var ttl = TimeSpan.FromMinutes(1);
        await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-1", ttl);

        Clock.Advance(TimeSpan.FromSeconds(50));
        Assert.True(await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-1", ttl));
        Clock.Advance(TimeSpan.FromSeconds(50));
        Assert.False(await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-2", ttl));
        Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-2", ttl));
        Assert.False(await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-1", ttl));
    }

    [ContractFact]
    public async Task Only_the_holder_releases_a_lease()
    {
        var ttl = TimeSpan.FromMinutes(1);
        await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-1", ttl);

        await Journal.ReleaseLeaseAsync("vm:web-01", "worker-2");
        Assert.False(await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-2", ttl));
        await Journal.ReleaseLeaseAsync("vm:web-01", "worker-1");
        Assert.True(await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-2", ttl));
    }

    [ContractFact]
    public async Task Many_workers_racing_for_one_lease_yield_exactly_one_holder()
    {
        var winners = await RaceAsync(20, i => Journal.TryAcquireLeaseAsync("vm:db-01", $"worker-{i}", TimeSpan.FromMinutes(1)));

        Assert.Single(winners, won => won);
    }

    [ContractFact]
    public async Task Slots_grant_up_to_capacity_are_reentrant_and_free_on_release()
    {
        var ttl = TimeSpan.FromMinutes(5);

        Assert.True(await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:a", ttl));
        Assert.True(await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:b", ttl));
        Assert.False(await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:c", ttl));
        Assert.True(await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:a", ttl));
        Assert.True(await Journal.TryAcquireSlotAsync("copy-slots:h4", 2, "vm:c", ttl));

        await Journal.ReleaseSlotAsync("copy-slots:h3", "vm:a");

        Assert.True(await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:c", ttl));
        Assert.False(await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:a", ttl));
    }

    [ContractFact]
    public async Task Expired_slots_are_reclaimed_while_renewed_ones_are_kept()
    {
        var ttl = TimeSpan.FromMinutes(5);
        await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:crashed-worker", ttl);
        await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:alive", ttl);

        Clock.Advance(TimeSpan.FromMinutes(4));
        Assert.True(await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:alive", ttl));
        Assert.False(await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:new", ttl));
        Clock.Advance(TimeSpan.FromMinutes(1));

        Assert.True(await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:new", ttl));
        Assert.False(await Journal.TryAcquireSlotAsync("copy-slots:h3", 2, "vm:another", ttl));
    }

    [ContractFact]
    public async Task Slot_capacity_holds_under_many_concurrent_holders()
    {
        const int capacity = 2;
        const int rounds = 3;
        var inside = 0;
        var mostInside = 0;
        var grants = 0;

        await RaceAsync(20, async i =>
        {
            var holder = $"vm:{i}";
            for (var round = 0; round < rounds; round++)
            {
                var tries = 0;
                while (!await Journal.TryAcquireSlotAsync("copy-slots:h1", capacity, holder, TimeSpan.FromHours(1)))
                {
                    Assert.True(++tries < 100_000, $"{holder} never got a slot");
                    await Task.Yield();
                }

                // Counted only while the store says we hold the slot: the count can exceed capacity only if the store did.
                var now = Interlocked.Increment(ref inside);
                InterlockedMax(ref mostInside, now);
                Interlocked.Increment(ref grants);
                await Task.Yield();
                Interlocked.Decrement(ref inside);
                await Journal.ReleaseSlotAsync("copy-slots:h1", holder);
            }

            return true;
        });

        Assert.InRange(mostInside, 1, capacity);
        Assert.Equal(20 * rounds, grants);
        Assert.True(await Journal.TryAcquireSlotAsync("copy-slots:h1", capacity, "vm:after", TimeSpan.FromHours(1)));
        Assert.True(await Journal.TryAcquireSlotAsync("copy-slots:h1", capacity, "vm:after-2", TimeSpan.FromHours(1)));
    }

    [ContractFact]
    public async Task Many_workers_racing_to_start_one_step_yield_exactly_one_winner()
    {
        var step = await OnePendingStep();

        var winners = await RaceAsync(20, i => Journal.TryTransitionAsync(step.StepId, StepState.Pending, StepState.Running, "picked up", $"worker-{i}"));

        Assert.Single(winners, won => won);
        var started = await Journal.GetStepAsync(step.StepId);
        Assert.Equal(1, started!.Attempts);
        Assert.Equal(step.Version + 1, started.Version);
        Assert.Single(await Journal.GetTransitionsAsync(step.StepId));
    }

    [ContractFact]
    public async Task A_second_journal_instance_on_the_same_store_sees_writes_and_respects_leases()
    {
        var other = Open();
        await other.InitializeAsync();
        var step = await OnePendingStep();

        Assert.True(await other.TryTransitionAsync(step.StepId, StepState.Pending, StepState.Running, "picked up", "worker-2"));
        Assert.False(await Journal.TryTransitionAsync(step.StepId, StepState.Pending, StepState.Running, "picked up", "worker-1"));
        Assert.True(await Journal.TryAcquireLeaseAsync("vm:web-01", "worker-1", TimeSpan.FromMinutes(1)));
        Assert.False(await other.TryAcquireLeaseAsync("vm:web-01", "worker-2", TimeSpan.FromMinutes(1)));
        await Journal.AppendEventAsync(Event("run-1", "plan-approved", "alice", Start));

        Assert.Equal(StepState.Running, (await Journal.GetStepAsync(step.StepId))!.State);
        Assert.Single(await other.GetEventsAsync("run-1"));
    }

    protected static RunRecord NewRun(string runId, DateTimeOffset? createdAt = null) => new()
    {
        RunId = runId,
        PlanDigest = "sha256:plan",
        InventoryDigest = "sha256:inventory",
        CreatedAt = createdAt ?? Start,
    };

    protected static NewStep Step(int wave, string subject, string stepType, int sequence, string? inputJson = null) =>
        new() { Wave = wave, Subject = subject, StepType = stepType, Sequence = sequence, InputJson = inputJson };

    protected static AuditEvent Event(string runId, string kind, string actor, DateTimeOffset at) =>
        new() { RunId = runId, Kind = kind, Actor = actor, At = at };

    protected async Task<StepRecord> OnePendingStep()
    {
        if (await Journal.GetRunAsync("run-1") is null)
        {
            await Journal.CreateRunAsync(NewRun("run-1"));
        }

        await Journal.AddStepsAsync("run-1", [Step(1, "vm:web-01", "copy-disks", 2)]);
        return await SingleStep("run-1", "copy-disks");
    }

    /// <summary>Records compare their collections by reference; compare those by content.</summary>
    private static void AssertSameStep(StepRecord expected, StepRecord actual)
    {
        Assert.Equal(expected.Checkpoint, actual.Checkpoint);
        Assert.Equal(expected.LogTail, actual.LogTail);
        Assert.Equal(expected, actual with { Checkpoint = expected.Checkpoint, LogTail = expected.LogTail });
    }

    private async Task<StepRecord> SingleStep(string runId, string stepType) =>
        Assert.Single(await Journal.GetStepsAsync(runId), s => s.StepType == stepType);

    /// <summary>Starts <paramref name="count"/> tasks on the thread pool together and collects their results.</summary>
    private static async Task<T[]> RaceAsync<T>(int count, Func<int, Task<T>> contender)
    {
        using var gate = new ManualResetEventSlim(false);
        var results = new ConcurrentBag<T>();
        var tasks = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            gate.Wait();
            results.Add(await contender(i));
        })).ToArray();
        gate.Set();
        await Task.WhenAll(tasks);
        return [.. results];
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
