using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;
using Taquin.Planner.Network;

namespace Taquin.Executors.Tests.Simulation;

/// <summary>The network step's router side on the twin: a fleet with a <c>router:</c> section simulates too.</summary>
public sealed class SimulatedRoutingTests
{
    private static readonly VmAddressing Addressing = new("web-01",
        [new RoutedNic("tap-web-01", "52:54:00:00:00:01", ["203.0.113.78/32", "2001:db8:100::4d/128"], ["192.0.2.1", "fe80::1"])]);

    [Theory]
    [InlineData(RouterApplyMode.Networkd)]
    [InlineData(RouterApplyMode.Iproute2)]
    public async Task The_router_cutover_applies_verifies_and_rolls_back_on_the_twin(RouterApplyMode mode)
    {
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        await h.RunPipelineAsync(run, "vm:web-01", stopBefore: StepTypes.Network);
        var input = StepInput.FromJson((await h.StepAsync(run, "vm:web-01", StepTypes.Network)).InputJson)
            with
        { Router = new RouterSpec { Host = "r1", Apply = mode }, Addressing = Addressing };
        // Read afresh each time, as the engine does: the checkpoint (the VLAN, what was there before) grows.
        StepContext Context() => new(h.StepAsync(run, "vm:web-01", StepTypes.Network).GetAwaiter().GetResult() with { InputJson = input.ToJson() },
            h.Adapters, h.Journal, h.Clock, h.Clock.GetUtcNow() + TimeSpan.FromHours(1), CancellationToken.None);
        var step = new NetworkStep();

        var result = await step.ExecuteAsync(Context());

        Assert.Contains("r1 routes 203.0.113.78/32, 2001:db8:100::4d/128 through vlan100", result.Reason, StringComparison.Ordinal);
        Assert.True(await step.VerifyAsync(Context()));
        var route = await h.Adapters.Ssh.RunAsync("r1", ["ip", "-o", "-4", "route", "show", "exact", "203.0.113.78/32"]);
        Assert.Contains("dev vlan100", route.Stdout, StringComparison.Ordinal);

        await step.CompensateAsync(Context());

        Assert.False(await step.VerifyAsync(Context()));
        Assert.False((await h.Adapters.Ssh.RunAsync("r1", ["ip", "link", "show", "dev", "vlan100"])).Succeeded);
        Assert.False((await h.Adapters.Ssh.RunAsync("r1", ["cat", "--", "/etc/bird/taquin.d/vlan100.conf"])).Succeeded);
    }
}
