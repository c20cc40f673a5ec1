using Taquin.Executors.Journal;
using Taquin.Executors.Simulation;
using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;
using Taquin.Planner.Network;
using Taquin.Planner.Planning;
using Taquin.Planner.Translation;

namespace Taquin.Executors.Compilation;

/// <summary>
/// Turns a plan into journal steps, one wave per stage (wave t = the actions of stage t). Per wave: host
/// pipelines of the hosts converted in it (their drain waits for the VMs leaving them), VM pipelines
/// (move-to-pve, live migrations, PVE moves), and the PVE Ceph creation that VM moves onto pve-ceph wait for.
/// VMs only move onto hosts that were PVE at the previous stage, so a host's gate is always in an earlier wave
/// than the VM moves onto it, and waves run one after the other.
/// </summary>
public static class PlanCompiler
{
    public const int CreatePveCephSequence = 100;

    public static IReadOnlyList<NewStep> Compile(MigrationPlan plan, FleetInventory inventory)
    {
        var vms = inventory.Vms.ToDictionary(v => v.Name, StringComparer.Ordinal);
        var stages = plan.Stages.OrderBy(s => s.Index).ToList();
        var steps = new List<NewStep>();
        for (var i = 1; i < stages.Count; i++)
        {
            var stage = stages[i];
            var previous = stages[i - 1];
            var wave = stage.Index;
            var converting = stage.Actions.Where(a => a.Kind == ActionKind.ConvertHost && a.Host is not null)
                .Select(a => a.Host!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var cephAction = stage.Actions.FirstOrDefault(a => a.Kind == ActionKind.CreatePveCeph);
            var cephKey = cephAction?.Host is { } cephHost ? Key("host:" + cephHost, StepTypes.CreatePveCeph) : null;
            var drains = converting.ToDictionary(h => h, _ => new List<DrainMove>(), StringComparer.Ordinal);
            var leaving = converting.ToDictionary(h => h, _ => new List<string>(), StringComparer.Ordinal);
            var vmSequences = new Dictionary<string, int>(StringComparer.Ordinal);

            foreach (var action in stage.Actions.Where(a => a.Vm is not null))
            {
                var vm = vms.TryGetValue(action.Vm!, out var record) ? record
                    : throw new InvalidOperationException($"plan wave {wave} moves VM '{action.Vm}', which the inventory does not have");
                var subject = "vm:" + vm.Name;
                var from = action.From ?? previous.Placements[vm.Name];
                var to = action.To ?? stage.Placements[vm.Name];
                var baseInput = VmInput(vm, from, to, inventory.Fleet);
                switch (action.Kind)
                {
                    case ActionKind.MoveToPve:
                        var strategy = Strategy(action, plan, vm, inventory.Fleet.Policy);
                        var pipeline = StepTypes.MoveToPvePipeline;
                        for (var s = 0; s < pipeline.Count; s++)
                        {
                            var input = baseInput with
                            {
                                Strategy = strategy,
                                WaitFor = s == 0 && to.Storage == StorageIds.PveCeph && cephKey is not null ? [cephKey] : [],
                            };
                            steps.Add(Step(wave, subject, pipeline[s], s + 1, input));
                        }

                        if (leaving.TryGetValue(from.Host, out var list))
                        {
                            list.Add(Key(subject, StepTypes.Commit));
                        }

                        break;
                    case ActionKind.LiveMigrate when drains.TryGetValue(from.Host, out var drain):
                        // Leaving a host converted in this wave: its drain step does the live migration.
                        drain.Add(new DrainMove(vm.Name, to.Host));
                        break;
                    case ActionKind.LiveMigrate:
                    case ActionKind.PveLiveMigrate:
                    case ActionKind.PveMoveDisk:
                        var type = action.Kind switch
                        {
                            ActionKind.LiveMigrate => StepTypes.LiveMigrate,
                            ActionKind.PveLiveMigrate => StepTypes.PveLiveMigrate,
                            _ => StepTypes.PveMoveDisk,
                        };
                        var sequence = vmSequences[subject] = vmSequences.GetValueOrDefault(subject) + 1;
                        steps.Add(Step(wave, subject, type, sequence, baseInput with
                        {
                            WaitFor = to.Storage == StorageIds.PveCeph && cephKey is not null ? [cephKey] : [],
                        }));
                        break;
                    default:
                        throw new InvalidOperationException($"plan wave {wave}: action {action.Kind} of VM {vm.Name} is not a VM action");
                }
            }

            // Hosts converted in an earlier wave (converting at the previous stage or already PVE) are in the cluster by now.
            var pveBefore = previous.Hosts.Where(h => h.Value is HostState.Pve or HostState.Converting).Select(h => h.Key).Order(StringComparer.Ordinal).ToList();
            var peer = pveBefore.Count > 0 ? pveBefore[0] : null;
            foreach (var host in converting)
            {
                var clusterPeer = peer ?? (host == converting[0] ? null : converting[0]);
                var hostInput = new StepInput
                {
                    Host = host,
                    Bridge = inventory.Fleet.Policy.Bridge,
                    Drain = drains[host],
                    ClusterPeer = clusterPeer,
                    OldCephMonitors = inventory.Fleet.OldCeph.Monitors,
                    OldCephPool = inventory.Fleet.OldCeph.Pools.Count > 0 ? inventory.Fleet.OldCeph.Pools[0] : null,
                };
                var pipeline = StepTypes.ConvertHostPipeline;
                for (var s = 0; s < pipeline.Count; s++)
                {
                    var input = pipeline[s] switch
                    {
                        StepTypes.Drain => hostInput with { WaitForSettled = leaving[host] },
                        StepTypes.JoinCluster when peer is null && clusterPeer is not null => hostInput with { WaitFor = [Key("host:" + clusterPeer, StepTypes.JoinCluster)] },
                        _ => hostInput,
                    };
                    steps.Add(Step(wave, "host:" + host, pipeline[s], s + 1, input));
                }
            }

            if (cephAction?.Host is { } node)
            {
                var cephNodes = stage.Hosts.Where(h => h.Value == HostState.Pve).Select(h => h.Key)
                    .Where(h => inventory.Fleet.FindHost(h)?.NewCephOsdRawBytes > 0).Order(StringComparer.Ordinal).ToList();
                steps.Add(Step(wave, "host:" + node, StepTypes.CreatePveCeph, CreatePveCephSequence, new StepInput
                {
                    Host = node,
                    CephNodes = cephNodes,
                    CephPool = inventory.Fleet.NewCeph.PoolName,
                    CephPoolSize = inventory.Fleet.NewCeph.PoolSize,
                }));
            }
        }

        return steps;
    }

    /// <summary>"subject/step-type": how a step names another it waits for.</summary>
    public static string Key(string subject, string stepType) => subject + "/" + stepType;

    private static string Strategy(PlanAction action, MigrationPlan plan, VmRecord vm, PolicySpec policy)
    {
        var strategy = action.Strategy ?? plan.Vms.GetValueOrDefault(vm.Name)?.Strategy ?? policy.DefaultStrategy;
        // attach-and-move needs RBD disks: a VM with only file disks goes warm (external snapshot, docs/adr/0012).
        return strategy == "attach-and-move" && vm.RbdBytes == 0 && vm.Disks.All(d => !d.Device.IsRbd) ? "warm" : strategy;
    }

    private static StepInput VmInput(VmRecord vm, Placement from, Placement to, Fleet fleet)
    {
        var policy = fleet.Policy;
        var perBus = new Dictionary<string, int>(StringComparer.Ordinal);
        var disks = new List<DiskInput>();
        foreach (var disk in vm.Disks.Where(d => !d.Device.IsCdrom && d.Device.VolumeKey is not null))
        {
            var bus = disk.Device.Bus is "virtio" or "scsi" or "sata" or "ide" ? disk.Device.Bus : "sata";
            var index = perBus[bus] = perBus.GetValueOrDefault(bus, -1) + 1;
            disks.Add(new DiskInput(disk.Device.VolumeKey!, disk.Device.IsRbd, disk.Device.Format ?? disk.Volume?.Format,
                disk.Volume?.SizeBytes ?? 0, disk.Volume?.BytesToCopy ?? 0, bus + index.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        return new StepInput
        {
            Vm = vm.Name,
            FromHost = from.Host,
            FromStorage = from.Storage,
            ToHost = to.Host,
            ToStorage = to.Storage,
            WasRunning = vm.Running,
            RamBytes = vm.RamBytes,
            Cores = vm.Domain.VcpuCurrent > 0 ? vm.Domain.VcpuCurrent : vm.Domain.VcpuMax,
            Uuid = vm.Domain.Uuid,
            Macs = [.. vm.Domain.Interfaces.Select(n => n.Mac).OfType<string>()],
            Disks = disks,
            // The VLAN is the VM's allocation in the journal, taken by the network step at cutover (docs/adr/0009):
            // the target VM is created untagged (it is not started before that step tags it).
            VlanFrom = policy.VlanRange.From,
            VlanTo = policy.VlanRange.To,
            Addressing = VmAddressing.FromDomain(vm.Domain),
            Router = fleet.Router,
            Bridge = policy.Bridge,
            DataPath = policy.CopyDataPath,
            CreateParameters = Translate(vm, to, policy.Bridge),
        };
    }

    /// <summary>The translator's create request for the VM's target (node, storage; NICs untagged until the network step); null when it refuses the VM.</summary>
    private static IReadOnlyDictionary<string, string>? Translate(VmRecord vm, Placement to, string bridge)
    {
        var config = PveTranslator.Translate(vm, new TranslationTarget
        {
            Node = to.Host,
            DiskStorage = PveStorageIds.FromPlan(to.Storage ?? ""),
            Bridge = bridge,
        });
        return config.IsRefused ? null : config.Params;
    }

    private static NewStep Step(int wave, string subject, string type, int sequence, StepInput input) => new()
    {
        Wave = wave,
        Subject = subject,
        StepType = type,
        Sequence = sequence,
        InputJson = input.ToJson(),
    };
}
