namespace Taquin.Executors.Steps;

/// <summary>Step implementations by type.</summary>
public sealed class StepRegistry
{
    private readonly Dictionary<string, IStep> _steps;

    public StepRegistry(IEnumerable<IStep> steps) => _steps = steps.ToDictionary(s => s.Type, StringComparer.Ordinal);

    /// <summary>Every step type Taquin knows, with the operator's <paramref name="settings"/> (null: defaults).</summary>
    public static StepRegistry CreateDefault(StepSettings? settings = null) => new(
    [
        new PreflightStep(), new CreateTargetVmStep(), new CopyDisksStep(),
        new ShutdownSourceStep(poll: settings?.ShutdownPoll, hostGrace: settings?.ShutdownGrace), new FinalSyncStep(),
        new NetworkStep(), new StartTargetStep(), new VerifyTargetStep(), new CommitStep(), new LiveMigrateStep(),
        new PveLiveMigrateStep(), new PveMoveDiskStep(),
        new DisablePlacementStep(), new DrainHostStep(), new CephOsdsOutStep(), new GateReinstallStep(), new VerifyNodeStep(),
        new JoinClusterStep(), new CreateStorageStep(), new CreatePveCephStep(),
    ]);

    public IStep Get(string type)
        => _steps.TryGetValue(type, out var step) ? step : throw new KeyNotFoundException($"no step implementation for type '{type}'");

    public IReadOnlyCollection<string> Types => _steps.Keys;
}
