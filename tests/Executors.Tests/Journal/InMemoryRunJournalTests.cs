using Taquin.Executors.Journal;
using Taquin.Executors.Simulation;

namespace Taquin.Executors.Tests.Journal;

public sealed class InMemoryRunJournalTests
{
    private readonly SimulatedTimeProvider _clock = new(TestFleet.Start);
    private readonly InMemoryRunJournal _journal;

    public InMemoryRunJournalTests() => _journal = new InMemoryRunJournal(_clock);

    private async Task<long> OneStepAsync()
    {
        await _journal.CreateRunAsync(new RunRecord { RunId = "r1", PlanDigest = "p", InventoryDigest = "i", CreatedAt = _clock.GetUtcNow() });
        await _journal.AddStepsAsync("r1", [new NewStep { Wave = 1, Subject = "vm:a", StepType = "preflight", Sequence = 1 }]);
        return (await _journal.GetStepsAsync("r1")).Single().StepId;
    }

    [Fact]
    public async Task Adding_the_same_steps_again_keeps_the_existing_ones_as_they_are()
    {
        var id = await OneStepAsync();
        await _journal.TryTransitionAsync(id, StepState.Pending, StepState.Running, "go", "w1");

        await _journal.AddStepsAsync("r1", [new NewStep { Wave = 1, Subject = "vm:a", StepType = "preflight", Sequence = 1 }]);

        var step = Assert.Single(await _journal.GetStepsAsync("r1"));
        Assert.Equal(StepState.Running, step.State);
    }

    [Fact]
    public async Task A_transition_from_a_stale_state_changes_nothing()
    {
        var id = await OneStepAsync();

        Assert.True(await _journal.TryTransitionAsync(id, StepState.Pending, StepState.Running, "first", "w1"));
        Assert.False(await _journal.TryTransitionAsync(id, StepState.Pending, StepState.Running, "second", "w2"));

        var step = (await _journal.GetStepAsync(id))!;
        Assert.Equal((StepState.Running, 1, "first"), (step.State, step.Attempts, step.LastReason));
        Assert.Single(await _journal.GetTransitionsAsync(id));
        Assert.NotNull(step.StartedAt);
        Assert.Null(step.FinishedAt);
    }

    [Fact]
    public async Task Checkpoints_merge_and_a_null_value_removes_a_key()
    {
        var id = await OneStepAsync();

        await _journal.SaveCheckpointAsync(id, new Dictionary<string, string?> { ["vmid"] = "100", ["task"] = "UPID:1" });
        await _journal.SaveCheckpointAsync(id, new Dictionary<string, string?> { ["task"] = null, ["bytes"] = "42" });

        Assert.Equal(new Dictionary<string, string> { ["vmid"] = "100", ["bytes"] = "42" }, (await _journal.GetStepAsync(id))!.Checkpoint);
    }

    [Fact]
    public async Task The_log_tail_keeps_the_last_lines_only()
    {
        var id = await OneStepAsync();

        for (var i = 0; i < IRunJournal.LogTailLines + 5; i++)
        {
            await _journal.AppendLogAsync(id, "line " + i);
        }

        var tail = (await _journal.GetStepAsync(id))!.LogTail;
        Assert.Equal(IRunJournal.LogTailLines, tail.Count);
        Assert.Equal("line 5", tail[0]);
    }

    [Fact]
    public async Task A_lease_is_exclusive_until_released_or_expired()
    {
        Assert.True(await _journal.TryAcquireLeaseAsync("vm:a", "w1", TimeSpan.FromMinutes(1)));
        Assert.False(await _journal.TryAcquireLeaseAsync("vm:a", "w2", TimeSpan.FromMinutes(1)));
        Assert.True(await _journal.TryAcquireLeaseAsync("vm:a", "w1", TimeSpan.FromMinutes(1)));

        _clock.Advance(TimeSpan.FromMinutes(2));
        Assert.True(await _journal.TryAcquireLeaseAsync("vm:a", "w2", TimeSpan.FromMinutes(1)));

        await _journal.ReleaseLeaseAsync("vm:a", "w1");
        Assert.False(await _journal.TryAcquireLeaseAsync("vm:a", "w1", TimeSpan.FromMinutes(1)));
        await _journal.ReleaseLeaseAsync("vm:a", "w2");
        Assert.True(await _journal.TryAcquireLeaseAsync("vm:a", "w1", TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public async Task Slots_count_holders_up_to_the_capacity_and_expired_holders_lose_theirs()
    {
        Assert.True(await _journal.TryAcquireSlotAsync("copy-slots:h4", 2, "a", TimeSpan.FromMinutes(1)));
        Assert.True(await _journal.TryAcquireSlotAsync("copy-slots:h4", 2, "b", TimeSpan.FromMinutes(10)));
        Assert.False(await _journal.TryAcquireSlotAsync("copy-slots:h4", 2, "c", TimeSpan.FromMinutes(1)));
        Assert.True(await _journal.TryAcquireSlotAsync("copy-slots:h4", 2, "a", TimeSpan.FromMinutes(1)));

        _clock.Advance(TimeSpan.FromMinutes(2));
        Assert.True(await _journal.TryAcquireSlotAsync("copy-slots:h4", 2, "c", TimeSpan.FromMinutes(1)));
        Assert.False(await _journal.TryAcquireSlotAsync("copy-slots:h4", 2, "d", TimeSpan.FromMinutes(1)));

        await _journal.ReleaseSlotAsync("copy-slots:h4", "b");
        Assert.True(await _journal.TryAcquireSlotAsync("copy-slots:h4", 2, "d", TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public async Task Concurrent_writers_racing_on_one_transition_have_exactly_one_winner()
    {
        var id = await OneStepAsync();

        var wins = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            Task.Run(() => _journal.TryTransitionAsync(id, StepState.Pending, StepState.Running, "race", "w" + i))));

        Assert.Equal(1, wins.Count(w => w));
        Assert.Equal(1, (await _journal.GetStepAsync(id))!.Attempts);
    }
}
