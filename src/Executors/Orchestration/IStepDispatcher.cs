namespace Taquin.Executors.Orchestration;

/// <summary>Hands a ready step to a worker. Workers receive ids only; the journal holds everything else.</summary>
public interface IStepDispatcher
{
    Task DispatchAsync(string runId, long stepId, CancellationToken ct = default);
}
