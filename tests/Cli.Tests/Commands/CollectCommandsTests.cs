using System.Diagnostics;
using Taquin.Cli.Commands;
using Taquin.Executors.Adapters;
using Taquin.Executors.Libvirt;
using Taquin.Executors.Tests.Support;
using Xunit.Abstractions;

namespace Taquin.Cli.Tests.Commands;

/// <summary>
/// <c>taquin inventory collect</c> against the test bed's second libvirt host ("lv2"; the executor tests drain lv1) and its
/// Ceph: the folder it writes must validate and plan like a hand-made one.
/// </summary>
public sealed class CollectCommandsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "taquin-collect-" + Guid.NewGuid().ToString("N"));

    private static string FleetYaml(string cephAddress) => $"""
        hosts:
          - name: lv2
            ram: 32GiB
            cores: 8
            nicGbits: 10
            ssh: root@127.0.0.1
            disks:
              - {"{"} model: "PM893 1.92TB", count: 2, size: 1.92TB, now: old-ceph-osd, after: zfs {"}"}
              - {"{"} model: "PM893 1.92TB", count: 1, size: 1.92TB, now: local-images, after: zfs {"}"}
          - name: pve1
            ram: 32GiB
            cores: 8
            nicGbits: 10
            alreadyPve: true
            disks:
              - {"{"} model: "PM893 1.92TB", count: 2, size: 1.92TB, now: none, after: zfs {"}"}
        oldCeph:
          poolSize: 1
          monitors: [{cephAddress}]
        policy:
          ramReservePerHost: 1GiB
          vlanRange: {"{"} from: 100, to: 199 {"}"}
        """;

    private (int Exit, string Stdout, string Stderr) Run(Func<Planner.Inventory.Fleet, ISshRunner> runners, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = Program.Run(args, stdout, stderr, [InventoryCommands.Build(runners), PlanCommands.Build(new Planner.Solving.CpSatPlanner())]);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [IntegrationFact]
    public async Task Collecting_the_test_bed_gives_an_inventory_that_validates_and_plans()
    {
        var runner = TestbedHosts.Runner();
        var libvirt = new VirshLibvirtHost(runner, TestbedHosts.VirshOptions());
        const string rbdVm = "taquin-it-collect-rbd";
        const string fileVm = "taquin-it-collect-file";
        await TestbedHosts.RemoveDomainAsync(libvirt, rbdVm);
        await TestbedHosts.RemoveDomainAsync(libvirt, fileVm);
        var image = await TestbedHosts.CreateRbdImageAsync(runner, rbdVm, 64);
        var qcow2 = await TestbedHosts.CreateQcow2Async(runner, fileVm, 48);
        Directory.CreateDirectory(_root);
        var fleetPath = Path.Combine(_root, "fleet.yaml");
        await File.WriteAllTextAsync(fleetPath, FleetYaml(TestbedHosts.Require("TAQUIN_CEPH_MON_HOST")));
        var inventory = Path.Combine(_root, "inventory");
        try
        {
            await libvirt.DefineAsync(TestbedHosts.Lv2, TestbedHosts.TcgDomainXml(rbdVm, rbdSpec: image, mac: "52:54:00:7c:00:01"));
            await libvirt.DefineAsync(TestbedHosts.Lv2, TestbedHosts.TcgDomainXml(fileVm, qcow2Path: qcow2, mac: "52:54:00:7c:00:02"));
            await libvirt.SetAutostartAsync(TestbedHosts.Lv2, rbdVm, true);
            await libvirt.StartAsync(TestbedHosts.Lv2, rbdVm);
            var clock = Stopwatch.StartNew();

            var (exit, stdout, stderr) = Run(_ => runner, "inventory", "collect", "--fleet", fleetPath, "-o", inventory,
                "--libvirt-uri", "lv2=" + TestbedHosts.Require("TAQUIN_LIBVIRT2_URI"), "--ceph-host", TestbedHosts.CephAdmin,
                "--ceph-conf", TestbedHosts.Require("TAQUIN_CEPH_CONF"), "--ceph-keyring", TestbedHosts.Require("TAQUIN_CEPH_KEYRING"),
                "--ceph-id", TestbedHosts.Require("TAQUIN_CEPH_USER"));

            output.WriteLine($"inventory collect took {clock.Elapsed.TotalSeconds:0.0} s\n{stdout}{stderr}");
            Assert.True(exit == 0, stdout + stderr);
            Assert.Contains("Collected", stdout, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(inventory, "domains", "lv2", rbdVm + ".xml")));
            Assert.True(File.Exists(Path.Combine(inventory, "domains", "lv2", fileVm + ".xml")));
            var volumes = await File.ReadAllTextAsync(Path.Combine(inventory, "volumes.json"));
            Assert.Contains($"\"{image}\"", volumes, StringComparison.Ordinal);
            Assert.Contains("\"size\": 67108864", volumes, StringComparison.Ordinal);
            Assert.Contains($"\"{qcow2}\"", volumes, StringComparison.Ordinal);
            Assert.Contains("\"size\": 50331648", volumes, StringComparison.Ordinal);
            Assert.Contains("\"format\": \"qcow2\"", volumes, StringComparison.Ordinal);
            var runtime = await File.ReadAllTextAsync(Path.Combine(inventory, "runtime.json"));
            Assert.Contains("\"state\": \"running\"", runtime, StringComparison.Ordinal);
            Assert.Contains("\"state\": \"shut off\"", runtime, StringComparison.Ordinal);

            var validate = Run(_ => runner, "inventory", "validate", inventory);
            Assert.True(validate.Exit == 0, validate.Stdout + validate.Stderr);
            Assert.Contains("(1 running)", validate.Stdout, StringComparison.Ordinal);

            var planPath = Path.Combine(_root, "plan.json");
            var plan = Run(_ => runner, "plan", inventory, "-o", planPath, "--time-limit", "10");
            Assert.True(plan.Exit == 0, plan.Stdout + plan.Stderr);
            var planJson = await File.ReadAllTextAsync(planPath);
            Assert.Contains(rbdVm, planJson, StringComparison.Ordinal);
            Assert.Contains(fileVm, planJson, StringComparison.Ordinal);
        }
        finally
        {
            await TestbedHosts.RemoveDomainAsync(libvirt, rbdVm);
            await TestbedHosts.RemoveDomainAsync(libvirt, fileVm);
        }
    }

    [IntegrationFact]
    public async Task A_host_whose_libvirt_cannot_be_reached_fails_the_collection_naming_it()
    {
        Directory.CreateDirectory(_root);
        var fleetPath = Path.Combine(_root, "fleet.yaml");
        await File.WriteAllTextAsync(fleetPath, FleetYaml("127.0.0.1"));
        var inventory = Path.Combine(_root, "inventory");

        var (exit, _, stderr) = Run(_ => TestbedHosts.Runner(), "inventory", "collect", "--fleet", fleetPath, "-o", inventory,
            "--libvirt-uri", $"qemu:///system?socket={_root}/no-such-socket");

        Assert.Equal(1, exit);
        Assert.Contains("error: collecting from lv2: cannot list its domains", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(inventory), "nothing is written when a host fails");
    }

    [Fact]
    public void A_missing_fleet_file_or_a_non_empty_output_folder_is_invalid_input()
    {
        Directory.CreateDirectory(Path.Combine(_root, "taken"));
        File.WriteAllText(Path.Combine(_root, "taken", "old.xml"), "<domain/>");
        File.WriteAllText(Path.Combine(_root, "fleet.yaml"), FleetYaml("127.0.0.1"));
        Func<Planner.Inventory.Fleet, ISshRunner> never = _ => throw new InvalidOperationException("no host may be contacted");

        var missing = Run(never, "inventory", "collect", "--fleet", Path.Combine(_root, "nope.yaml"), "-o", Path.Combine(_root, "out"));
        var taken = Run(never, "inventory", "collect", "--fleet", Path.Combine(_root, "fleet.yaml"), "-o", Path.Combine(_root, "taken"));
        var unknownHost = Run(never, "inventory", "collect", "--fleet", Path.Combine(_root, "fleet.yaml"), "-o", Path.Combine(_root, "out"),
            "--libvirt-uri", "h9=qemu:///system");

        Assert.Equal(2, missing.Exit);
        Assert.Contains("nope.yaml' does not exist", missing.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, taken.Exit);
        Assert.Contains("is not empty", taken.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, unknownHost.Exit);
        Assert.Contains("'h9' is not a host of the fleet file (lv2, pve1)", unknownHost.Stderr, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
