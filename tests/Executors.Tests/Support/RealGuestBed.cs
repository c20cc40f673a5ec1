using System.Globalization;
using System.Security.Cryptography;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ceph;
using Taquin.Executors.Engine;
using Taquin.Executors.Journal;
using Taquin.Executors.Libvirt;
using Taquin.Executors.Movers;
using Taquin.Executors.Pve;
using Taquin.Executors.Ssh;
using Taquin.Executors.Steps;
using Taquin.PveSimulator;

namespace Taquin.Executors.Tests.Support;

/// <summary>
/// Real OS-less TCG guests on the test bed's second libvirtd (fleet host lv2: lv1 belongs to the drain test, which
/// wants it empty) moved to the in-process PVE simulator through the VM pipeline and the step engine, with the real
/// adapters: SSH.NET, virsh, the rbd CLI and the command disk mover (relayed data path). The simulator's nodes are pve1
/// and lv2: file disks are read by qemu-img on the target node, and only a node that is the source host itself reaches
/// the file without an ssh:// URL the test bed cannot resolve. Started lazily (<see cref="StartAsync"/>) so that
/// TAQUIN_NO_TESTBED=1 skips the tests without failing the fixture.
/// </summary>
public sealed class RealGuestBed : IAsyncDisposable
{
    public const string Source = TestbedHosts.Lv2;
    public const string Node = "pve1";
    public const string ZfsStorage = "local-zfs-pve1";
    public const string RbdStorage = "ceph";
    private const string TokenSecret = "guests-token-secret-5d1e";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly string _data = Directory.CreateTempSubdirectory("taquin-guests-").FullName;
    private PveSimulatorServer? _pve;
    private PveHttpClient? _client;
    private SshNetRunner? _ssh;
    private AdapterSet? _adapters;

    public PveSimulatorServer Pve => _pve ?? throw new InvalidOperationException("call StartAsync first");
    public PveHttpClient Client => _client ?? throw new InvalidOperationException("call StartAsync first");
    public AdapterSet Adapters => _adapters ?? throw new InvalidOperationException("call StartAsync first");
    public ILibvirtHost Libvirt => Adapters.Libvirt;
    public ISshRunner Ssh => Adapters.Ssh;
    public string Folder => _data;

    /// <summary>The shutdown grace of these guests: they have no OS and never honour ACPI.</summary>
    public static StepSettings Settings { get; } = new() { ShutdownGrace = _ => TimeSpan.FromSeconds(1), ShutdownPoll = TimeSpan.FromMilliseconds(250) };

    public async Task StartAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_adapters is not null)
            {
                return;
            }

            var conf = TestbedHosts.Require("TAQUIN_CEPH_CONF");
            var endpoint = new SshEndpoint(TestbedHosts.Require("TAQUIN_SSH_USER"), TestbedHosts.Require("TAQUIN_SSH_HOST"), int.Parse(TestbedHosts.Require("TAQUIN_SSH_PORT"), CultureInfo.InvariantCulture));
            _ssh = new SshNetRunner(new[] { TestbedHosts.Lv1, TestbedHosts.Lv2, TestbedHosts.CephAdmin, Node }.ToDictionary(h => h, _ => endpoint, StringComparer.Ordinal), SshAccessOptions.FromEnvironment());
            _pve = await PveSimulatorServer.StartAsync(new PveSimulatorOptions
            {
                DataDirectory = Path.Combine(_data, "pve"),
                Nodes = [Node, Source],
                ApiTokens = new Dictionary<string, string>(StringComparer.Ordinal) { ["root@pam!taquin"] = TokenSecret },
                Ceph = CephAccess.FromEnvironment(),
            });
            _client = new PveHttpClient(new PveClientOptions
            {
                BaseAddress = _pve.BaseAddress,
                Credentials = new PveApiToken("root@pam", "taquin", TokenSecret),
                CertificateFingerprint = _pve.CertificateFingerprint,
                TaskPollInterval = TimeSpan.FromMilliseconds(20),
            });
            // attach-and-move's external storage, as create-storage registers it (the old Ceph is the test bed's pool).
            await _client.CreateStorageAsync("old-ceph", "rbd", new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["monhost"] = "127.0.0.1",
                ["pool"] = TestbedHosts.CephPool,
                ["content"] = "images",
                ["krbd"] = "0",
                ["username"] = TestbedHosts.Require("TAQUIN_CEPH_USER"),
            });
            var mover = new CommandDiskMover(_ssh, MoverOptions.Default with
            {
                DataPath = DataPath.Relayed,
                SourceCephConf = conf,
                TargetCephConf = conf,
                // The simulator's zfspool stand-ins are folders of this machine.
                IsLocalHost = host => host is Node or Source,
            }, TimeProvider.System);
            _adapters = new AdapterSet(_ssh, _client, new VirshLibvirtHost(_ssh, TestbedHosts.VirshOptions()), new RbdCephCluster(_ssh, TestbedHosts.CephOptions()), mover);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// A run of one VM's move-to-pve pipeline in a fresh in-memory journal, driven by a step engine over the real
    /// adapters; <paramref name="failing"/> (a step type) is replaced by <see cref="FailingStep"/> around the real one.
    /// </summary>
    public async Task<GuestPipeline> PipelineAsync(StepInput input, string? failing = null, bool? failAfterEffects = null)
    {
        var journal = new InMemoryRunJournal();
        var runId = "guests-" + Guid.NewGuid().ToString("N")[..8];
        await journal.CreateRunAsync(new RunRecord { RunId = runId, PlanDigest = "-", InventoryDigest = "-", CreatedAt = DateTimeOffset.UtcNow, Mode = "real" });
        var subject = "vm:" + input.Vm;
        await journal.AddStepsAsync(runId, [.. StepTypes.MoveToPvePipeline.Select((type, i) => new NewStep
        {
            Wave = 1, Subject = subject, StepType = type, Sequence = i + 1, InputJson = input.ToJson(),
        })]);
        var defaults = StepRegistry.CreateDefault(Settings);
        var registry = new StepRegistry(defaults.Types.Select(type => type == failing ? new FailingStep(defaults.Get(type), failAfterEffects) : defaults.Get(type)));
        var engine = new StepEngine(journal, registry, Adapters, TimeProvider.System, new EngineOptions { WorkerId = "guests-test" });
        return new GuestPipeline(engine, journal, runId, subject);
    }

    /// <summary>SHA-256 of the first <paramref name="bytes"/> bytes of a PVE volume (a zfspool stand-in file or an RBD image).</summary>
    public async Task<string> VolumeSha256Async(string node, string volumeId, long bytes)
    {
        var volume = await Client.GetVolumeAsync(node, volumeId) ?? throw new InvalidOperationException($"PVE has no volume {volumeId} on {node}");
        if (volume.Path.StartsWith("rbd:", StringComparison.Ordinal))
        {
            var spec = volume.Path["rbd:".Length..].Split(':')[0];
            var script = $"rbd --conf '{TestbedHosts.Require("TAQUIN_CEPH_CONF")}' export --no-progress '{spec}' - | head -c {bytes.ToString(CultureInfo.InvariantCulture)} | sha256sum";
            return System.Text.Encoding.ASCII.GetString(TestbedCeph.RunBytes(["bash", "-c", script])).Split(' ')[0];
        }

        await using var file = File.OpenRead(volume.Path);
        var head = new byte[bytes];
        await file.ReadExactlyAsync(head);
        return Convert.ToHexStringLower(SHA256.HashData(head));
    }

    public async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        if (_pve is not null)
        {
            await _pve.DisposeAsync();
        }

        _ssh?.Dispose();
        _gate.Dispose();
        Directory.Delete(_data, recursive: true);
    }
}

/// <summary>One VM's pipeline in a run, step by step through the engine.</summary>
public sealed class GuestPipeline(StepEngine engine, InMemoryRunJournal journal, string runId, string subject)
{
    public InMemoryRunJournal Journal => journal;

    public async Task<IReadOnlyList<StepRecord>> StepsAsync()
        => [.. (await journal.GetStepsAsync(runId)).Where(s => s.Subject == subject).OrderBy(s => s.Sequence)];

    public async Task<StepRecord> StepAsync(string type) => (await StepsAsync()).Single(s => s.StepType == type);

    public async Task<StepRunOutcome> RunAsync(string type) => await engine.RunStepAsync((await StepAsync(type)).StepId);

    /// <summary>
    /// Runs the pending steps in pipeline order up to (excluding) <paramref name="stopBefore"/>, stopping at the first
    /// that does not succeed; returns the last step run and its outcome.
    /// </summary>
    public async Task<(string Type, StepRunOutcome Outcome)> RunUntilAsync(string? stopBefore = null)
    {
        var last = ("", StepRunOutcome.NotRunnable);
        var pending = (await StepsAsync()).Where(s => s.State == StepState.Pending).Select(s => s.StepType).ToHashSet(StringComparer.Ordinal);
        foreach (var type in StepTypes.MoveToPvePipeline.TakeWhile(t => t != stopBefore).Where(pending.Contains))
        {
            last = (type, await RunAsync(type));
            if (last.Item2 != StepRunOutcome.Succeeded)
            {
                break;
            }
        }

        return last;
    }

    /// <summary>Every step's state and last reason, for assertion messages.</summary>
    public async Task<string> DescribeAsync()
        => string.Join(" | ", (await StepsAsync()).Select(s => FormattableString.Invariant(
            $"{s.StepType}: {s.State} ({s.Attempts} attempt(s), {((s.FinishedAt ?? s.UpdatedAt) - (s.StartedAt ?? s.UpdatedAt)).TotalSeconds:F1} s) {s.LastReason}")));

    public async Task<string?> CheckpointAsync(string type, string key) => (await StepAsync(type)).Checkpoint.GetValueOrDefault(key);
}

/// <summary>
/// The real step, then a permanent failure: the engine must undo the step's full effects and the steps before it.
/// By default commit fails before it acts instead (past its first act the source is being retired: nothing to roll
/// back to); <paramref name="afterEffects"/> chooses.
/// </summary>
public sealed class FailingStep(IStep inner, bool? afterEffects = null) : IStep
{
    public string Type => inner.Type;
    public StepPolicy Policy => inner.Policy;
    public string PreconditionText => inner.PreconditionText;

    public Task<Precondition> CheckPreconditionAsync(StepContext context) => inner.CheckPreconditionAsync(context);

    public async Task<StepResult> ExecuteAsync(StepContext context)
    {
        if (afterEffects ?? !inner.Policy.PointOfNoReturn)
        {
            await inner.ExecuteAsync(context);
        }

        throw new AdapterException($"injected failure in {Type}", isTransient: false);
    }

    public Task<bool> VerifyAsync(StepContext context) => inner.VerifyAsync(context);

    public Task CompensateAsync(StepContext context) => inner.CompensateAsync(context);
}
