using Taquin.Executors.Adapters;
using Taquin.Executors.Journal;
using Taquin.Executors.Movers;

namespace Taquin.Executors.Steps;

/// <summary>The adapters a step may use: its only way to touch the world.</summary>
/// <param name="Mover">The disk data plane; null: a <see cref="CommandDiskMover"/> over <paramref name="Ssh"/> (data path from the step input).</param>
public sealed record AdapterSet(ISshRunner Ssh, IPveApi Pve, ILibvirtHost Libvirt, ICephCluster Ceph, IDiskMover? Mover = null);

/// <summary>What a step sees while it runs: its record and input, the adapters, the clock, and its checkpoint.</summary>
public sealed class StepContext
{
    private readonly IRunJournal _journal;
    private readonly Dictionary<string, string> _checkpoint;

    public StepContext(StepRecord step, AdapterSet adapters, IRunJournal journal, TimeProvider time, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        Step = step;
        Input = StepInput.FromJson(step.InputJson);
        Adapters = adapters;
        _journal = journal;
        Time = time;
        Deadline = deadline;
        CancellationToken = cancellationToken;
        _checkpoint = new Dictionary<string, string>(step.Checkpoint, StringComparer.Ordinal);
    }

    /// <summary>The same context with another cancellation token (the attempt's, which includes its timeout).</summary>
    public StepContext WithToken(CancellationToken cancellationToken)
        => new(Step, Adapters, _journal, Time, Deadline, _checkpoint, cancellationToken);

    private StepContext(StepRecord step, AdapterSet adapters, IRunJournal journal, TimeProvider time, DateTimeOffset deadline, Dictionary<string, string> checkpoint, CancellationToken cancellationToken)
        : this(step, adapters, journal, time, deadline, cancellationToken)
        => _checkpoint = checkpoint;

    public StepRecord Step { get; }
    public StepInput Input { get; }
    public AdapterSet Adapters { get; }
    public ISshRunner Ssh => Adapters.Ssh;
    public IPveApi Pve => Adapters.Pve;
    public ILibvirtHost Libvirt => Adapters.Libvirt;
    public ICephCluster Ceph => Adapters.Ceph;

    /// <summary>The disk data plane (copies and their verification).</summary>
    public IDiskMover Mover => Adapters.Mover ?? (_mover ??= new CommandDiskMover(Ssh, MoverOptions.Default with
    {
        DataPath = DataPathNames.Parse(Input.DataPath)
            ?? throw new InvalidOperationException($"step {Step.StepId}: unknown copy data path '{Input.DataPath}' (known: {string.Join(", ", DataPathNames.All)})"),
    }, Time));

    private IDiskMover? _mover;
    public TimeProvider Time { get; }
    public DateTimeOffset Deadline { get; }
    public CancellationToken CancellationToken { get; }

    /// <summary>Time left before the attempt's timeout (at least one second, so waits stay meaningful).</summary>
    public TimeSpan Remaining
    {
        get
        {
            var left = Deadline - Time.GetUtcNow();
            return left < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : left;
        }
    }

    public string Vm => Input.Vm ?? throw new InvalidOperationException($"step {Step.StepId} ({Step.StepType}) has no VM in its input");
    public string Host => Input.Host ?? throw new InvalidOperationException($"step {Step.StepId} ({Step.StepType}) has no host in its input");

    public string? Checkpoint(string key) => _checkpoint.GetValueOrDefault(key);

    /// <summary>The step's checkpoint as saved so far (including what this run saved).</summary>
    public IReadOnlyDictionary<string, string> CheckpointValues => _checkpoint;

    /// <summary>Saves a checkpoint value; durable when it returns. Save BEFORE waiting on what it names.</summary>
    public async Task SaveAsync(string key, string? value)
    {
        await _journal.SaveCheckpointAsync(Step.StepId, new Dictionary<string, string?> { [key] = value }, CancellationToken);
        if (value is null)
        {
            _checkpoint.Remove(key);
        }
        else
        {
            _checkpoint[key] = value;
        }
    }

    /// <summary>The VM's VLAN from the journal's allocation table (the one it holds, else the lowest free of the range).</summary>
    public Task<int> AllocateVlanAsync(int from, int to) => _journal.AllocateVlanAsync(Vm, from, to, "run " + Step.RunId, CancellationToken);

    public Task LogAsync(string line) => _journal.AppendLogAsync(Step.StepId, line, CancellationToken);

    /// <summary>A checkpoint value saved by an earlier step of the same subject in this run (latest wave first).</summary>
    public async Task<string?> FindSubjectCheckpointAsync(string stepType, string key)
    {
        var steps = await _journal.GetStepsAsync(Step.RunId, ct: CancellationToken);
        return steps.Where(s => s.Subject == Step.Subject && s.StepType == stepType)
            .OrderByDescending(s => s.Wave)
            .Select(s => s.Checkpoint.GetValueOrDefault(key))
            .FirstOrDefault(v => v is not null);
    }

    /// <summary>The PVE VMID given to this VM by create-target-vm, or null when it has none yet.</summary>
    public async Task<int?> TargetVmIdAsync()
    {
        var text = Step.StepType == StepTypes.CreateTargetVm ? Checkpoint("vmid") : await FindSubjectCheckpointAsync(StepTypes.CreateTargetVm, "vmid");
        return text is null ? null : int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<int> RequireTargetVmIdAsync()
        => await TargetVmIdAsync() ?? throw new AdapterException($"VM {Vm} has no target VMID: create-target-vm did not run", isTransient: false);
}
