using System.Diagnostics;
using Taquin.Executors.Steps;
using Taquin.Executors.Tests.Support;
using Taquin.Planner.Inventory;
using Taquin.Planner.Network;

namespace Taquin.Executors.Tests.Steps;

/// <summary>
/// The network step's router side for real (docs/adr/0009), in network namespaces this test creates: a "router"
/// (bird2 with its own control socket, the trunk to the PVE side), the old libvirt host "h1" (the VM's tap route),
/// and the VM itself behind the trunk. Commands run through the real LocalProcessRunner (wrapped by <see cref="NetnsRunner"/> in `ip netns exec`) as they would over SSH.
/// This machine's kernel has no 802.1Q module (<c>ip link add … type vlan</c>: "Unknown device type"), so the one
/// link-creation command is rewritten to a VXLAN segment with the VLAN id as VNI over the same trunk: the router's
/// interface keeps its name, addresses and routes; only the tagging differs.
/// </summary>
public sealed class RouterCutoverNamespaceTests : IAsyncLifetime
{
    private const string VmV4 = "203.0.113.78";
    private const string VmV4Prefix = VmV4 + "/32";
    private const string VmV6Prefix = "2001:db8:100::4d/128";
    private const string OldTap = "tap-web-01";

    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "taquin-router-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<string> _namespaces = [];
    private readonly List<Process> _processes = [];
    private string RouterNs => "tqr-" + _suffix;
    private string HostNs => "tqh-" + _suffix;
    private string VmNs => "tqv-" + _suffix;
    private string BirdSocket => Path.Combine(_dir, "bird.ctl");

    private RouterSpec Router => new()
    {
        Host = "router",
        Trunk = "trunk0",
        TrunkNetworkFile = "10-trunk0.network",
        NetworkdDirectory = Path.Combine(_dir, "network"),
        BirdDirectory = Path.Combine(_dir, "bird.d"),
        BirdSocket = BirdSocket,
        Apply = RouterApplyMode.Iproute2,
    };

    private static readonly VmAddressing Addressing = new("web-01",
        [new RoutedNic(OldTap, "52:54:00:00:00:01", [VmV4Prefix, VmV6Prefix], ["192.0.2.1", "fe80::1"])]);

    public async Task InitializeAsync()
    {
        try
        {
            await SetUpAsync();
        }
        catch
        {
            // xUnit does not dispose a fixture whose set-up threw: remove what was created so far.
            await DisposeAsync();
            throw;
        }
    }

    private async Task SetUpAsync()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "bird.d"));
        foreach (var ns in new[] { RouterNs, HostNs, VmNs })
        {
            await Sh("ip", "netns", "add", ns);
            _namespaces.Add(ns);
            await Sh("ip", "-n", ns, "link", "set", "lo", "up");
        }

        // The trunk: router <-> PVE side (here the VM's namespace directly), with an underlay for the VXLAN stand-in.
        await Sh("ip", "link", "add", "trunk0", "netns", RouterNs, "type", "veth", "peer", "name", "eth0", "netns", VmNs);
        await Sh("ip", "-n", RouterNs, "addr", "add", "10.99.0.1/30", "dev", "trunk0");
        await Sh("ip", "-n", RouterNs, "link", "set", "trunk0", "up");
        await Sh("ip", "-n", VmNs, "addr", "add", "10.99.0.2/30", "dev", "eth0");
        await Sh("ip", "-n", VmNs, "link", "set", "eth0", "up");

        // The old design on h1: the VM's routed tap (a veth stand-in) and its /32 route.
        await Sh("ip", "-n", HostNs, "link", "add", OldTap, "type", "veth", "peer", "name", OldTap + "p");
        await Sh("ip", "-n", HostNs, "link", "set", OldTap, "up");
        await Sh("ip", "-n", HostNs, "link", "set", OldTap + "p", "up");
        await Sh("ip", "-n", HostNs, "route", "add", VmV4Prefix, "dev", OldTap);

        await File.WriteAllTextAsync(Path.Combine(_dir, "bird.conf"), $$"""
            router id 192.0.2.1;
            protocol device { }
            include "{{Router.BirdDirectory}}/*.conf";
            """);
        _processes.Add(Process.Start(new ProcessStartInfo("ip", ["netns", "exec", RouterNs, "bird", "-f", "-c", Path.Combine(_dir, "bird.conf"), "-s", BirdSocket])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        }) ?? throw new InvalidOperationException("bird did not start"));
        for (var i = 0; i < 50 && !(await Run("birdc", "-s", BirdSocket, "show", "status")).Output.Contains("Daemon is up", StringComparison.Ordinal); i++)
        {
            await Task.Delay(100);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        foreach (var ns in _namespaces)
        {
            await Run("ip", "netns", "del", ns);
        }

        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [IntegrationFact]
    public async Task Cutover_routes_the_vm_through_its_vlan_announces_it_from_bird_and_retires_the_tap_route_then_rollback_restores_all()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.Network);
        await h.Journal.AllocateVlanAsync("other-vm", 100, 199, "test");
        // An operator's file already sits where the VM's bird include goes: rollback must give it back.
        var birdFile = Path.Combine(Router.BirdDirectory, "vlan101.conf");
        await File.WriteAllTextAsync(birdFile, "# kept by the operator\n");
        var runner = new NetnsRunner(new Dictionary<string, string> { ["router"] = RouterNs, ["h1"] = HostNs }, VxlanForVlan);
        var step = new NetworkStep();
        StepContext Context() => ContextWithRouter(h, run, runner).GetAwaiter().GetResult();

        Assert.Contains($"dev {OldTap}", await RouteOn(HostNs, VmV4Prefix), StringComparison.Ordinal);

        await step.ExecuteAsync(Context());

        Assert.True(await step.VerifyAsync(Context()));
        Assert.Equal(101, Assert.Single(await h.Journal.GetVlanAllocationsAsync(), a => a.Vm == "web-01").Vlan);
        Assert.EndsWith(",tag=101", h.Twin.PveVms.Values.Single().Config["net0"], StringComparison.Ordinal);
        Assert.Contains("dev vlan101", (await Run("ip", "-n", RouterNs, "route", "get", VmV4)).Output, StringComparison.Ordinal);
        Assert.Contains("dev vlan101", await RouteOn(RouterNs, VmV6Prefix), StringComparison.Ordinal);
        Assert.Contains("192.0.2.1/32", (await Run("ip", "-n", RouterNs, "addr", "show", "dev", "vlan101")).Output, StringComparison.Ordinal);
        Assert.Equal("", await RouteOn(HostNs, VmV4Prefix));
        var announced = (await Run("birdc", "-s", BirdSocket, "show", "route")).Output;
        Assert.Contains($"{VmV4Prefix}", announced, StringComparison.Ordinal);
        Assert.Contains("[taquin_vlan101_v4", announced, StringComparison.Ordinal);
        Assert.Contains(VmV6Prefix, announced, StringComparison.Ordinal);
        var generated = RouterConfigGenerator.Generate(Router, Addressing, 101, "h1")!;
        Assert.All(generated.Files, f => Assert.Equal(f.Content, File.ReadAllText(f.Path)));

        // The VM, tagged into VLAN 101 on the PVE side, answers the router through that interface only.
        await Sh("ip", "-n", VmNs, "link", "add", "eth0.101", "type", "vxlan", "id", "101", "local", "10.99.0.2", "remote", "10.99.0.1", "dstport", "4789", "dev", "eth0");
        await Sh("ip", "-n", VmNs, "link", "set", "eth0.101", "up");
        await Sh("ip", "-n", VmNs, "addr", "add", VmV4Prefix, "dev", "eth0.101");
        await Sh("ip", "-n", VmNs, "route", "add", "192.0.2.1", "dev", "eth0.101");
        await Sh("ip", "-n", VmNs, "route", "add", "default", "via", "192.0.2.1");
        Assert.True(await TcpReachesVmFromRouterAsync(), "a TCP connection from the router to the VM through vlan101 failed");

        // Applying again changes nothing: no file rewritten, no link re-created.
        var before = runner.Commands.Count;
        await step.ExecuteAsync(Context());
        var again = runner.Commands.Skip(before).Select(c => c.Argv[0] + " " + c.Argv[1]).ToList();
        Assert.DoesNotContain("tee --", again);
        Assert.DoesNotContain(runner.Commands.Skip(before), c => c.Argv.Count > 2 && c.Argv[1] == "link" && c.Argv[2] == "add");
        Assert.True(await step.VerifyAsync(Context()));

        await step.CompensateAsync(Context());

        Assert.Contains($"dev {OldTap}", await RouteOn(HostNs, VmV4Prefix), StringComparison.Ordinal);
        Assert.False((await Run("ip", "-n", RouterNs, "link", "show", "dev", "vlan101")).Ok);
        Assert.Equal("# kept by the operator\n", await File.ReadAllTextAsync(birdFile));
        Assert.All(generated.Files.Where(f => f.Path != birdFile), f => Assert.False(File.Exists(f.Path), f.Path));
        Assert.DoesNotContain(VmV4Prefix, (await Run("birdc", "-s", BirdSocket, "show", "route")).Output, StringComparison.Ordinal);
        Assert.DoesNotContain("tag=", h.Twin.PveVms.Values.Single().Config["net0"], StringComparison.Ordinal);
        Assert.False(await step.VerifyAsync(Context()));
        Assert.Contains(await h.Journal.GetVlanAllocationsAsync(), a => a.Vm == "web-01" && a.Vlan == 101);
        Assert.All(runner.Commands, c => Assert.DoesNotContain(c.Argv[0], new[] { "sh", "bash" }));
    }

    [IntegrationFact]
    public async Task A_configuration_bird_refuses_fails_the_step_and_rollback_leaves_bird_and_the_old_route_as_they_were()
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.Network);
        // A broken file of someone else's in the include folder: bird refuses every reconfiguration.
        var broken = Path.Combine(Router.BirdDirectory, "zz-broken.conf");
        await File.WriteAllTextAsync(broken, "this is not bird\n");
        var runner = new NetnsRunner(new Dictionary<string, string> { ["router"] = RouterNs, ["h1"] = HostNs }, VxlanForVlan);
        var step = new NetworkStep();

        var failure = await Assert.ThrowsAsync<Executors.Adapters.AdapterException>(async () => await step.ExecuteAsync(await ContextWithRouter(h, run, runner)));

        Assert.False(failure.IsTransient);
        Assert.Contains("bird refused the configuration", failure.Message, StringComparison.Ordinal);
        Assert.Contains("zz-broken.conf", failure.Message, StringComparison.Ordinal);
        Assert.Contains($"dev {OldTap}", await RouteOn(HostNs, VmV4Prefix), StringComparison.Ordinal);
        File.Delete(broken);

        await step.CompensateAsync(await ContextWithRouter(h, run, runner));

        Assert.Contains($"dev {OldTap}", await RouteOn(HostNs, VmV4Prefix), StringComparison.Ordinal);
        Assert.False((await Run("ip", "-n", RouterNs, "link", "show", "dev", "vlan100")).Ok);
        Assert.Empty(Directory.GetFiles(Router.BirdDirectory));
        Assert.DoesNotContain(VmV4Prefix, (await Run("birdc", "-s", BirdSocket, "show", "route")).Output, StringComparison.Ordinal);
    }

    /// <summary>The network step of web-01 as compiled, with the router and the VM's routed addresses added to its input.</summary>
    private async Task<StepContext> ContextWithRouter(TestFleet.Harness h, string run, NetnsRunner runner)
    {
        var record = await h.StepAsync(run, "vm:web-01", StepTypes.Network);
        var input = StepInput.FromJson(record.InputJson) with { Router = Router, Addressing = Addressing };
        return new StepContext(record with { InputJson = input.ToJson() }, h.Adapters with { Ssh = runner }, h.Journal, h.Clock,
            h.Clock.GetUtcNow() + TimeSpan.FromHours(1), CancellationToken.None);
    }

    /// <summary>No 802.1Q in this kernel: the VLAN link becomes a VXLAN segment with VNI = VLAN id over the trunk's underlay.</summary>
    private static IReadOnlyList<string> VxlanForVlan(IReadOnlyList<string> argv) =>
        argv is ["ip", "link", "add", "link", var trunk, "name", var name, "type", "vlan", "id", var id]
            ? ["ip", "link", "add", name, "type", "vxlan", "id", id, "local", "10.99.0.1", "remote", "10.99.0.2", "dstport", "4789", "dev", trunk]
            : argv;

    private async Task<bool> TcpReachesVmFromRouterAsync()
    {
        var listener = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", VmNs, "nc", "-l", "-k", VmV4, "7777"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        _processes.Add(listener);
        for (var attempt = 0; attempt < 30; attempt++)
        {
            if ((await Run("ip", "netns", "exec", RouterNs, "nc", "-z", "-w", "2", VmV4, "7777")).Ok)
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }

    private static async Task<string> RouteOn(string ns, string prefix) =>
        (await Run("ip", "-n", ns, "-o", prefix.Contains(':', StringComparison.Ordinal) ? "-6" : "-4", "route", "show", "exact", prefix)).Output.Trim();

    private static async Task Sh(params string[] argv)
    {
        var result = await Run(argv);
        Assert.True(result.Ok, $"{string.Join(' ', argv)}: {result.Error}");
    }

    private static async Task<(bool Ok, string Output, string Error)> Run(params string[] argv)
    {
        var start = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var word in argv.Skip(1))
        {
            start.ArgumentList.Add(word);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode == 0, await output, await error);
    }
}
