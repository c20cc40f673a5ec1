using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Taquin.PveSimulator;

/// <summary>A VM of the simulated cluster: its config (qemu-server/VMID.conf) and run state; no guest runs.</summary>
public sealed class SimVm(int vmId, string node)
{
    public int VmId { get; } = vmId;
    public string Node { get; set; } = node;
    public SortedDictionary<string, string> Config { get; } = new(StringComparer.Ordinal);
    public bool Running { get; set; }

    /// <summary>SHA-1 of the config file text, as PVE computes the digest (compatibility, not security).</summary>
#pragma warning disable CA5350
    public string Digest => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(
        string.Concat(Config.Select(kv => $"{kv.Key}: {kv.Value}\n")))));
#pragma warning restore CA5350
}

/// <summary>A task (worker) with its UPID, log and exit status.</summary>
public sealed class SimTask(string upid, string node, string type, string id, string user, long startTime)
{
    public string Upid { get; } = upid;
    public string Node { get; } = node;
    public string Type { get; } = type;
    public string Id { get; } = id;
    public string User { get; } = user;
    public long StartTime { get; } = startTime;
    public int Pid { get; init; }
    public long PStart { get; init; }
    public ConcurrentQueue<string> Log { get; } = new();
    public volatile string? ExitStatus;

    public bool Running => ExitStatus is null;
}

/// <summary>An outcome forced on the next task of a type (test hook): warnings, or a failure with a message.</summary>
public sealed record SimTaskFault(int Warnings = 0, string? Error = null);

/// <summary>All state of the simulated cluster. Mutations hold <see cref="Gate"/>.</summary>
public sealed class SimState(PveSimulatorOptions options)
{
    public object Gate { get; } = new();
    public PveSimulatorOptions Options { get; } = options;
    public Dictionary<int, SimVm> Vms { get; } = [];
    /// <summary>VM ids being created (the worker has not written the config yet).</summary>
    public HashSet<int> Reserved { get; } = [];
    public Dictionary<string, SimStorage> Storages { get; } = new(StringComparer.Ordinal);
    /// <summary>Volume id to size in bytes.</summary>
    public Dictionary<string, long> Volumes { get; } = new(StringComparer.Ordinal);
    public ConcurrentDictionary<string, SimTask> Tasks { get; } = new(StringComparer.Ordinal);
    public string? ClusterName { get; set; }
    public HashSet<string> ClusterMembers { get; } = new(StringComparer.Ordinal);
    public bool CephInitialized { get; set; }
    public HashSet<string> CephOsdNodes { get; } = new(StringComparer.Ordinal);
    public List<(string Name, int Size)> CephPools { get; } = [];
    public string LocalNode => Options.Nodes[0];

    private readonly ConcurrentDictionary<string, ConcurrentQueue<SimTaskFault>> faults = new(StringComparer.Ordinal);
    private volatile TaskCompletionSource? hold;
    private int nextPid = 4000;

    /// <summary>Makes the next task of <paramref name="taskType"/> (qmstart, qmmove, ...) end with <paramref name="fault"/>.</summary>
    public void InjectTaskFault(string taskType, SimTaskFault fault) => faults.GetOrAdd(taskType, _ => new()).Enqueue(fault);

    /// <summary>Tasks started from now on stay running until the returned handle is disposed.</summary>
    public IDisposable HoldTasks()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        hold = gate;
        return new Release(() =>
        {
            hold = null;
            gate.TrySetResult();
        });
    }

    private sealed class Release(Action action) : IDisposable
    {
        public void Dispose() => action();
    }

    /// <summary>Starts a worker and returns its UPID at once, like PVE's fork_worker.</summary>
    public string StartTask(string node, string type, string id, string user, Func<SimTask, CancellationToken, Task> work)
    {
        var now = Options.Clock.GetUtcNow().ToUnixTimeSeconds();
        var pid = Interlocked.Increment(ref nextPid);
        var pstart = now * 100 % 0xFFFFFFFF;
        // pve-common UPID.pm: sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", node, pid, pstart, starttime, type, id, user)
        var upid = string.Create(CultureInfo.InvariantCulture, $"UPID:{node}:{pid:X8}:{pstart:X8}:{now:X8}:{type}:{id}:{user}:");
        var task = new SimTask(upid, node, type, id, user, now) { Pid = pid, PStart = pstart };
        Tasks[upid] = task;
        var fault = faults.TryGetValue(type, out var queue) && queue.TryDequeue(out var f) ? f : null;
        var gate = hold?.Task;
        _ = Task.Run(async () =>
        {
            try
            {
                if (gate is not null)
                {
                    await gate;
                }

                if (fault?.Error is { } injected)
                {
                    throw new InvalidOperationException(injected);
                }

                await work(task, CancellationToken.None);
                for (var i = 0; i < (fault?.Warnings ?? 0); i++)
                {
                    task.Log.Enqueue($"WARN: simulated warning {i + 1}");
                }

                if (fault?.Warnings is > 0 and var n)
                {
                    task.Log.Enqueue($"TASK WARNINGS: {n}");
                    task.ExitStatus = $"WARNINGS: {n}";
                }
                else
                {
                    task.Log.Enqueue("TASK OK");
                    task.ExitStatus = "OK";
                }
            }
            catch (Exception e)
            {
                var message = e.Message.TrimEnd('\n');
                task.Log.Enqueue("TASK ERROR: " + message);
                task.ExitStatus = message;
            }
        });
        return upid;
    }
}
