using Taquin.Executors.Journal;
using Taquin.Executors.Simulation;
using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Planning;

namespace Taquin.Executors.Tests;

/// <summary>
/// A small fleet written by hand: h1–h3 run libvirt with the old Ceph, h4 already runs PVE.
/// web-01 (warm) and db-01 (cold) live on h1, file-01 (a qcow2 file) and app-01 on h2, cache-01 on h3.
/// Wave 1 moves web-01 and db-01 to h4 and converts h1; wave 2 moves file-01 to h1, live-migrates app-01 to h3
/// (h2's drain does it) and converts h2; wave 3 moves app-01 (attach-and-move) and cache-01 onto h2.
/// </summary>
internal static class TestFleet
{
    public static readonly DateTimeOffset Start = new(2026, 1, 5, 20, 0, 0, TimeSpan.Zero);

    public static FleetInventory Inventory()
    {
        HostSpec Libvirt(string name) => new()
        {
            Name = name,
            RamBytes = 64 * ByteSize.GiB,
            Cores = 16,
            NicGbits = 10,
            Disks =
            [
                new HostDiskGroup("ssd", 2, 2000L * 1000 * 1000 * 1000, DiskRole.OldCephOsd, DiskRole.Zfs),
                new HostDiskGroup("hdd", 1, 4000L * 1000 * 1000 * 1000, DiskRole.OldCephOsd, DiskRole.NewCephOsd),
            ],
        };
        var h4 = new HostSpec
        {
            Name = "h4",
            RamBytes = 64 * ByteSize.GiB,
            Cores = 16,
            NicGbits = 10,
            AlreadyPve = true,
            Disks = [new HostDiskGroup("ssd", 2, 2000L * 1000 * 1000 * 1000, DiskRole.None, DiskRole.Zfs)],
        };
        var fleet = new Fleet
        {
            Hosts = [Libvirt("h1"), Libvirt("h2"), Libvirt("h3"), h4],
            OldCeph = new OldCephSpec { PoolSize = 3, Pools = ["libvirt"], Monitors = ["192.0.2.11", "192.0.2.12"] },
            Policy = new PolicySpec { VlanRange = new VlanRange(100, 199), CopySlotsPerHost = 1, RamReservePerHostBytes = 4 * ByteSize.GiB },
        };
        var vms = new List<VmRecord>
        {
            Vm("web-01", "h1", 4, Rbd("libvirt/web-01", 20, 10)),
            Vm("db-01", "h1", 8, Rbd("libvirt/db-01", 60, 40)),
            Vm("file-01", "h2", 2, File("/var/lib/libvirt/images/file-01.qcow2", 10, 5)),
            Vm("app-01", "h2", 4, Rbd("libvirt/app-01", 20, 8)),
            Vm("cache-01", "h3", 2, Rbd("libvirt/cache-01", 10, 2)),
        };
        return new FleetInventory { Root = "/test/inventory", Fleet = fleet, Vms = vms, Volumes = new VolumeCatalog(), Digest = "test-digest" };
    }

    public static MigrationPlan Plan()
    {
        var stage0 = new Dictionary<string, Placement>
        {
            ["web-01"] = new("h1", StorageIds.OldCeph),
            ["db-01"] = new("h1", StorageIds.OldCeph),
            ["file-01"] = new("h2", StorageIds.File("h2")),
            ["app-01"] = new("h2", StorageIds.OldCeph),
            ["cache-01"] = new("h3", StorageIds.OldCeph),
        };
        var stage1 = new Dictionary<string, Placement>(stage0)
        {
            ["web-01"] = new("h4", StorageIds.Zfs("h4")),
            ["db-01"] = new("h4", StorageIds.Zfs("h4")),
        };
        var stage2 = new Dictionary<string, Placement>(stage1)
        {
            ["file-01"] = new("h1", StorageIds.Zfs("h1")),
            ["app-01"] = new("h3", StorageIds.OldCeph),
        };
        var stage3 = new Dictionary<string, Placement>(stage2)
        {
            ["app-01"] = new("h2", StorageIds.Zfs("h2")),
            ["cache-01"] = new("h2", StorageIds.Zfs("h2")),
        };
        return new MigrationPlan
        {
            InventoryDigest = "test-digest",
            Solver = new SolverReport { Status = "FEASIBLE" },
            Metrics = new PlanMetrics { Stages = 3 },
            Stages =
            [
                Stage(0, HostState.Libvirt, HostState.Libvirt, HostState.Libvirt, stage0, []),
                Stage(1, HostState.Converting, HostState.Libvirt, HostState.Libvirt, stage1,
                [
                    Move("web-01", stage0, stage1, "warm"),
                    Move("db-01", stage0, stage1, "cold"),
                    new PlanAction { Kind = ActionKind.ConvertHost, Host = "h1" },
                ]),
                Stage(2, HostState.Pve, HostState.Converting, HostState.Libvirt, stage2,
                [
                    Move("file-01", stage1, stage2, "cold"),
                    new PlanAction { Kind = ActionKind.LiveMigrate, Vm = "app-01", From = stage1["app-01"], To = stage2["app-01"] },
                    new PlanAction { Kind = ActionKind.ConvertHost, Host = "h2" },
                ]),
                Stage(3, HostState.Pve, HostState.Pve, HostState.Libvirt, stage3,
                [
                    Move("app-01", stage2, stage3, "attach-and-move"),
                    Move("cache-01", stage2, stage3, "warm"),
                ]),
            ],
        };
    }

    /// <summary>Everything a test needs to run steps on the twin.</summary>
    public sealed class Harness
    {
        public Harness(MigrationPlan? plan = null)
        {
            Plan = plan ?? TestFleet.Plan();
            Inventory = TestFleet.Inventory();
            Clock = new SimulatedTimeProvider(Start);
            Twin = new ClusterTwin(Inventory, Plan, Clock);
            Journal = new InMemoryRunJournal(Clock);
            var (ssh, ceph) = (new SimulatedSshRunner(Twin), new SimulatedCephCluster(Twin));
            Adapters = new AdapterSet(ssh, new SimulatedPveApi(Twin), new SimulatedLibvirtHost(Twin), ceph, new SimulatedDiskMover(Twin, ssh, ceph));
        }

        public MigrationPlan Plan { get; }
        public FleetInventory Inventory { get; }
        public SimulatedTimeProvider Clock { get; }
        public ClusterTwin Twin { get; }
        public InMemoryRunJournal Journal { get; }
        public AdapterSet Adapters { get; }
        public string PlanJson => System.Text.Json.JsonSerializer.Serialize(Plan);

        public Executors.Engine.StepEngine Engine(string worker = "w1", TimeSpan? leaseTtl = null)
            => new(Journal, StepRegistry.CreateDefault(), Adapters, Clock, new Executors.Engine.EngineOptions
            {
                WorkerId = worker,
                LeaseTtl = leaseTtl ?? TimeSpan.FromMinutes(2),
                CopySlotsPerHost = 1,
            });

        /// <summary>Creates a run with the plan compiled into the journal; returns its id.</summary>
        public async Task<string> CreateRunAsync()
        {
            var orchestrator = new Executors.Orchestration.RunOrchestrator(Journal, new NullDispatcher(), Clock);
            var run = await orchestrator.CreateRunAsync(PlanJson, Plan, Inventory, "test");
            return run.RunId;
        }

        public async Task<StepRecord> StepAsync(string runId, string subject, string type, int? wave = null)
            => (await Journal.GetStepsAsync(runId, wave)).Single(s => s.Subject == subject && s.StepType == type);

        /// <summary>Runs the subject's pipeline steps through the engine until (not including) <paramref name="stopBefore"/>.</summary>
        public async Task RunPipelineAsync(string runId, string subject, string? stopBefore = null, int wave = 1)
        {
            var engine = Engine();
            foreach (var step in (await Journal.GetStepsAsync(runId, wave)).Where(s => s.Subject == subject).OrderBy(s => s.Sequence))
            {
                if (step.StepType == stopBefore)
                {
                    return;
                }

                if (step.State == StepState.Succeeded)
                {
                    continue;
                }

                var outcome = await engine.RunStepAsync(step.StepId);
                Assert.True(outcome == Executors.Engine.StepRunOutcome.Succeeded, $"{step.StepType} of {subject}: {outcome} ({(await Journal.GetStepAsync(step.StepId))!.LastReason})");
            }
        }

        /// <summary>Adds one step by hand (e.g. a standalone live migration) and returns its id.</summary>
        public async Task<long> AddStepAsync(string runId, int wave, string subject, string type, StepInput input)
        {
            await Journal.AddStepsAsync(runId, [new NewStep { Wave = wave, Subject = subject, StepType = type, Sequence = 1, InputJson = input.ToJson() }]);
            return (await StepAsync(runId, subject, type, wave)).StepId;
        }

        /// <summary>A context to call a step's methods directly, as the engine would.</summary>
        public async Task<StepContext> ContextAsync(long stepId)
        {
            var step = (await Journal.GetStepAsync(stepId))!;
            return new StepContext(step, Adapters, Journal, Clock, Clock.GetUtcNow() + TimeSpan.FromHours(24), CancellationToken.None);
        }
    }

    private sealed class NullDispatcher : Executors.Orchestration.IStepDispatcher
    {
        public Task DispatchAsync(string runId, long stepId, CancellationToken ct = default) => Task.CompletedTask;
    }

    private static PlanStage Stage(int index, HostState h1, HostState h2, HostState h3, Dictionary<string, Placement> placements, IReadOnlyList<PlanAction> actions) => new()
    {
        Index = index,
        Hosts = new Dictionary<string, HostState> { ["h1"] = h1, ["h2"] = h2, ["h3"] = h3, ["h4"] = HostState.Pve },
        Placements = placements,
        Actions = actions,
    };

    private static PlanAction Move(string vm, Dictionary<string, Placement> from, Dictionary<string, Placement> to, string strategy)
        => new() { Kind = ActionKind.MoveToPve, Vm = vm, From = from[vm], To = to[vm], Strategy = strategy };

    private static VmRecord Vm(string name, string host, int ramGiB, VmDisk disk) => new()
    {
        Domain = new LibvirtDomain
        {
            Name = name,
            Uuid = new Guid(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name))[..16]),
            MemoryBytes = ramGiB * ByteSize.GiB,
            VcpuMax = 2,
            Autostart = true,
            Disks = [disk.Device],
            Interfaces = [new InterfaceDevice { Type = "ethernet", Mac = "52:54:00:00:00:" + (name.Length * 7 % 99).ToString("00", System.Globalization.CultureInfo.InvariantCulture) }],
        },
        Host = host,
        SourceFile = $"domains/{host}/{name}.xml",
        Disks = [disk],
    };

    private static VmDisk Rbd(string image, int sizeGiB, int usedGiB) => new(
        new DiskDevice { SourceKind = DiskSourceKind.Network, Protocol = "rbd", NetworkName = image, Format = "raw", TargetDev = "vda", Bus = "virtio" },
        new VolumeInfo(sizeGiB * ByteSize.GiB, usedGiB * ByteSize.GiB));

    private static VmDisk File(string path, int sizeGiB, int usedGiB) => new(
        new DiskDevice { SourceKind = DiskSourceKind.File, Path = path, Format = "qcow2", TargetDev = "vda", Bus = "virtio" },
        new VolumeInfo(sizeGiB * ByteSize.GiB, usedGiB * ByteSize.GiB, "qcow2"));
}
