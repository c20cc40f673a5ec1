using System.Globalization;
using System.Text.Json;
using Taquin.Executors.Simulation;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Planning;
using Xunit.Abstractions;

namespace Taquin.Executors.Tests.Simulation;

/// <summary>The size of the real fleet: 216 VMs on 3 libvirt hosts moved onto 4 PVE hosts, the 3 hosts converted, in one wave.</summary>
public sealed class SimulatorScaleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_216_VM_wave_simulates_with_every_VM_moved_and_reports_its_speed()
    {
        var (inventory, plan) = Fleet(libvirtHosts: 3, vmsPerHost: 72, pveHosts: 4);

        var result = await Simulator.RunAsync(plan, JsonSerializer.Serialize(plan), inventory);

        output.WriteLine($"{result.StepRuns} step runs in {result.WallSeconds:0.00} s: {result.StepsPerSecond:0} steps/s; simulated {TimeSpan.FromSeconds(result.Timeline.TotalSeconds)}");
        Assert.True(result.Succeeded, string.Join("\n", result.InvariantViolations.Take(5).Append(result.StoppedReason ?? "")));
        Assert.Equal(216, result.VmsMoved);
        Assert.Equal((216 * 9) + (3 * 7) + 3, result.StepRuns);
    }

    private static (FleetInventory, MigrationPlan) Fleet(int libvirtHosts, int vmsPerHost, int pveHosts)
    {
        var hosts = new List<HostSpec>();
        var vms = new List<VmRecord>();
        var stage0 = new Dictionary<string, Placement>();
        var stage1 = new Dictionary<string, Placement>();
        var actions = new List<PlanAction>();
        for (var p = 1; p <= pveHosts; p++)
        {
            hosts.Add(new HostSpec
            {
                Name = $"p{p}",
                RamBytes = 1024 * ByteSize.GiB,
                Cores = 64,
                NicGbits = 25,
                AlreadyPve = true,
                Disks = [new HostDiskGroup("nvme", 2, 16 * ByteSize.TiB, DiskRole.None, DiskRole.Zfs)],
            });
        }

        var n = 0;
        for (var h = 1; h <= libvirtHosts; h++)
        {
            var host = $"h{h}";
            hosts.Add(new HostSpec
            {
                Name = host,
                RamBytes = 512 * ByteSize.GiB,
                Cores = 64,
                NicGbits = 10,
                Disks = [new HostDiskGroup("ssd", 4, 8 * ByteSize.TiB, DiskRole.OldCephOsd, DiskRole.Zfs)],
            });
            for (var i = 0; i < vmsPerHost; i++, n++)
            {
                var name = $"vm-{n:000}";
                var target = $"p{(n % pveHosts) + 1}";
                vms.Add(new VmRecord
                {
                    Domain = new LibvirtDomain
                    {
                        Name = name,
                        Uuid = Guid.NewGuid(),
                        MemoryBytes = 4 * ByteSize.GiB,
                        VcpuMax = 2,
                        Disks = [new DiskDevice { SourceKind = DiskSourceKind.Network, Protocol = "rbd", NetworkName = $"libvirt/{name}", TargetDev = "vda", Bus = "virtio" }],
                        Interfaces = [new InterfaceDevice { Type = "ethernet", Mac = "52:54:00:00:" + (n / 100).ToString("00", CultureInfo.InvariantCulture) + ":" + (n % 100).ToString("00", CultureInfo.InvariantCulture) }],
                    },
                    Host = host,
                    SourceFile = $"domains/{host}/{name}.xml",
                    Disks = [new VmDisk(new DiskDevice { SourceKind = DiskSourceKind.Network, Protocol = "rbd", NetworkName = $"libvirt/{name}", TargetDev = "vda", Bus = "virtio" },
                        new VolumeInfo(40 * ByteSize.GiB, 15 * ByteSize.GiB))],
                });
                stage0[name] = new Placement(host, StorageIds.OldCeph);
                stage1[name] = new Placement(target, StorageIds.Zfs(target));
                actions.Add(new PlanAction { Kind = ActionKind.MoveToPve, Vm = name, From = stage0[name], To = stage1[name], Strategy = n % 3 == 0 ? "cold" : "warm" });
            }

            actions.Add(new PlanAction { Kind = ActionKind.ConvertHost, Host = host });
        }

        var inventory = new FleetInventory
        {
            Root = "/scale",
            Digest = "scale",
            Vms = vms,
            Volumes = new VolumeCatalog(),
            Fleet = new Fleet
            {
                Hosts = hosts,
                OldCeph = new OldCephSpec { Pools = ["libvirt"], Monitors = ["192.0.2.1"] },
                Policy = new PolicySpec { VlanRange = new VlanRange(100, 3999), CopySlotsPerHost = 2 },
            },
        };
        var hosts0 = hosts.ToDictionary(h => h.Name, h => h.AlreadyPve ? HostState.Pve : HostState.Libvirt);
        var hosts1 = hosts.ToDictionary(h => h.Name, h => h.AlreadyPve ? HostState.Pve : HostState.Converting);
        var plan = new MigrationPlan
        {
            InventoryDigest = "scale",
            Solver = new SolverReport { Status = "FEASIBLE" },
            Metrics = new PlanMetrics { Stages = 1 },
            Stages =
            [
                new PlanStage { Index = 0, Hosts = hosts0, Placements = stage0 },
                new PlanStage { Index = 1, Hosts = hosts1, Placements = stage1, Actions = actions },
            ],
        };
        return (inventory, plan);
    }
}
