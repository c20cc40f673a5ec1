using System.Reflection;
using Taquin.Executors.Adapters;
using Taquin.Executors.Journal;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Support;

/// <summary>Runs one step against real adapters with an in-memory journal and the system clock.</summary>
public sealed class RealStepHarness(ISshRunner ssh, ILibvirtHost libvirt, ICephCluster ceph)
{
    public InMemoryRunJournal Journal { get; } = new();
    public AdapterSet Adapters { get; } = new(ssh, NoPve.Create(), libvirt, ceph);

    public async Task<StepContext> ContextAsync(string subject, string type, StepInput input, TimeSpan? timeout = null)
    {
        var runId = "it-" + Guid.NewGuid().ToString("N")[..8];
        await Journal.CreateRunAsync(new RunRecord { RunId = runId, PlanDigest = "-", InventoryDigest = "-", CreatedAt = DateTimeOffset.UtcNow, Mode = "real" });
        await Journal.AddStepsAsync(runId, [new NewStep { Wave = 1, Subject = subject, StepType = type, Sequence = 1, InputJson = input.ToJson() }]);
        var step = (await Journal.GetStepsAsync(runId)).Single();
        return new StepContext(step, Adapters, Journal, TimeProvider.System, DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromMinutes(5)), CancellationToken.None);
    }

    public async Task<IReadOnlyList<string>> LogAsync(StepContext context) => (await Journal.GetStepAsync(context.Step.StepId))!.LogTail;

    /// <summary>The host steps under test never call PVE; any call is a test failure.</summary>
    public class NoPve : DispatchProxy
    {
        public static IPveApi Create() => Create<IPveApi, NoPve>();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
            => throw new InvalidOperationException($"IPveApi.{targetMethod?.Name} called by a step that must not use PVE");
    }
}
