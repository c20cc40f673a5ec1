using Taquin.Executors.Journal;

namespace Taquin.Executors.Tests.Journal;

/// <summary>
/// The contract on the in-memory store the engine tests and the simulation use: it must behave like the durable
/// stores, or those tests prove less than they claim. Its "same store" is the same instance.
/// </summary>
public sealed class InMemoryRunJournalContractTests : RunJournalContractTests
{
    private InMemoryRunJournal? _store;

    protected override IRunJournal OpenJournalOnSameStore() => _store ??= new InMemoryRunJournal(Clock);
}
