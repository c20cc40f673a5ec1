using System.Data.Common;
using Taquin.Executors.Journal;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Journal;

/// <summary>The contract plus what only a SQL store can promise: history that even raw SQL cannot rewrite.</summary>
public abstract class SqlRunJournalContractTests : RunJournalContractTests
{
    /// <summary>Updates audit events with raw SQL, bypassing the journal (which offers no such API).</summary>
    protected abstract Task RewriteAuditEventsBehindTheJournalsBackAsync();

    /// <summary>Deletes step transitions with raw SQL, bypassing the journal.</summary>
    protected abstract Task DeleteTransitionsBehindTheJournalsBackAsync();

    [ContractFact]
    public async Task The_audit_trail_and_transitions_cannot_be_rewritten_even_with_raw_SQL()
    {
        var step = await OnePendingStep();
        await Journal.TryTransitionAsync(step.StepId, StepState.Pending, StepState.Skipped, "not needed", "alice");
        await Journal.AppendEventAsync(Event("run-1", "step-skipped", "alice", Start));

        await Assert.ThrowsAnyAsync<DbException>(RewriteAuditEventsBehindTheJournalsBackAsync);
        await Assert.ThrowsAnyAsync<DbException>(DeleteTransitionsBehindTheJournalsBackAsync);

        Assert.Equal("alice", Assert.Single(await Journal.GetEventsAsync("run-1")).Actor);
        Assert.Single(await Journal.GetTransitionsAsync(step.StepId));
    }
}
