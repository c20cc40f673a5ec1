using System.Reflection;
using System.Runtime.ExceptionServices;
using Taquin.Executors.Adapters;
using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Simulation;

/// <summary>
/// A cluster twin that outlives its process, for durable simulated runs (`taquin run --simulate`): its state is a
/// JSON snapshot beside the plan (<c>plan.twin.json</c>), reloaded when the store opens and rewritten atomically
/// (temporary file, then rename) after every adapter call, so a process killed mid-step leaves the twin as the
/// world would be. One process at a time owns the twin: it holds <c>plan.twin.lock</c> exclusively until disposed
/// (the OS releases it when the process dies), so two processes never overwrite each other's twin.
/// </summary>
public sealed class TwinStore : IDisposable
{
    private readonly FileStream _ownership;
    private readonly string _path;
    private readonly Lock _saving = new();

    private TwinStore(string path, FileStream ownership, ClusterTwin twin, ScaledTimeProvider clock)
    {
        _path = path;
        _ownership = ownership;
        Twin = twin;
        Clock = clock;
        var ssh = Persisting<ISshRunner>(new SimulatedSshRunner(twin));
        var ceph = Persisting<ICephCluster>(new SimulatedCephCluster(twin));
        Adapters = new AdapterSet(
            ssh,
            Persisting<IPveApi>(new SimulatedPveApi(twin)),
            Persisting<ILibvirtHost>(new SimulatedLibvirtHost(twin)),
            ceph,
            new SimulatedDiskMover(twin, ssh, ceph));
    }

    public ClusterTwin Twin { get; }
    public ScaledTimeProvider Clock { get; }
    /// <summary>The simulated adapters over the twin; every call is followed by a save.</summary>
    public AdapterSet Adapters { get; }

    /// <summary><c>plan.json</c> → <c>plan.twin.json</c>.</summary>
    public static string PathBesidePlan(string planPath) => Path.ChangeExtension(planPath, ".twin.json");

    /// <summary>
    /// Opens the twin saved at <paramref name="path"/>, or builds a new one from the inventory and stage 0 of the plan.
    /// <paramref name="timeScale"/> is simulated seconds per real second; the simulated clock continues from the saved one.
    /// </summary>
    /// <exception cref="IOException">Another process owns the twin.</exception>
    public static TwinStore Open(string path, FleetInventory inventory, MigrationPlan plan, double timeScale, TimeProvider? real = null)
    {
        real ??= TimeProvider.System;
        var ownership = new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        try
        {
            TwinStore store;
            if (File.Exists(path))
            {
                var snapshot = ClusterTwin.ParseSnapshot(File.ReadAllText(path));
                var clock = new ScaledTimeProvider(snapshot.SimulatedEpoch ?? real.GetUtcNow(), snapshot.RealEpoch ?? real.GetUtcNow(), snapshot.Scale ?? timeScale, real);
                if (Math.Abs(clock.Scale - timeScale) > double.Epsilon * clock.Scale)
                {
                    clock = clock.WithScale(timeScale);
                }

                var twin = new ClusterTwin(inventory, plan, clock);
                twin.Restore(snapshot);
                store = new TwinStore(path, ownership, twin, clock);
            }
            else
            {
                var now = real.GetUtcNow();
                var clock = new ScaledTimeProvider(now, now, timeScale, real);
                store = new TwinStore(path, ownership, new ClusterTwin(inventory, plan, clock), clock);
            }

            store.Save();
            return store;
        }
        catch
        {
            ownership.Dispose();
            throw;
        }
    }

    /// <summary>Writes the snapshot atomically: a reader (or the next process) sees the old or the new twin, never half of one.</summary>
    public void Save()
    {
        lock (_saving)
        {
            var temporary = _path + ".tmp";
            File.WriteAllText(temporary, Twin.ToSnapshotJson(Clock));
            File.Move(temporary, _path, overwrite: true);
        }
    }

    public void Dispose()
    {
        Save();
        _ownership.Dispose();
    }

    private T Persisting<T>(T target)
        where T : class
    {
        var proxy = DispatchProxy.Create<T, SavingProxy<T>>();
        ((SavingProxy<T>)(object)proxy).Bind(target, Save);
        return proxy;
    }
}

/// <summary>Forwards every call of an adapter interface and saves the twin once the call (and its task) ended, failed or not.</summary>
public class SavingProxy<T> : DispatchProxy
    where T : class
{
    private static readonly MethodInfo AfterTyped = typeof(SavingProxy<T>).GetMethod(nameof(AfterTypedAsync), BindingFlags.NonPublic | BindingFlags.Static)!;
    private T _target = null!;
    private Action _save = null!;

    internal void Bind(T target, Action save) => (_target, _save) = (target, save);

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        object? result;
        try
        {
            result = targetMethod!.Invoke(_target, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            _save();
            ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }

        if (targetMethod.ReturnType.IsGenericType && targetMethod.ReturnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            return AfterTyped.MakeGenericMethod(targetMethod.ReturnType.GetGenericArguments()[0]).Invoke(null, [result, _save]);
        }

        return result is Task task ? AfterAsync(task, _save) : SaveAndReturn(result);
    }

    private object? SaveAndReturn(object? result)
    {
        _save();
        return result;
    }

    private static async Task AfterAsync(Task call, Action save)
    {
        try
        {
            await call;
        }
        finally
        {
            save();
        }
    }

    private static async Task<TResult> AfterTypedAsync<TResult>(Task<TResult> call, Action save)
    {
        try
        {
            return await call;
        }
        finally
        {
            save();
        }
    }
}
