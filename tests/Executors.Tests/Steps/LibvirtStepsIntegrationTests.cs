using System.Diagnostics;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ceph;
using Taquin.Executors.Libvirt;
using Taquin.Executors.Steps;
using Taquin.Executors.Tests.Support;
using Xunit.Abstractions;

namespace Taquin.Executors.Tests.Steps;

/// <summary>shutdown-source and drain-host on the test bed's two libvirt daemons, with OS-less TCG guests.</summary>
[Collection(TestbedCollections.Libvirt)]
public sealed class LibvirtStepsIntegrationTests(ITestOutputHelper output)
{
    private readonly ISshRunner _runner = TestbedHosts.Runner();

    private VirshLibvirtHost Libvirt() => new(_runner, TestbedHosts.VirshOptions());

    private RealStepHarness Harness() => new(_runner, Libvirt(), new RbdCephCluster(_runner, TestbedHosts.CephOptions()));

    [IntegrationFact]
    public async Task Shutdown_source_destroys_a_guest_without_OS_once_the_ACPI_grace_time_is_over()
    {
        var libvirt = Libvirt();
        const string name = "taquin-it-shutdown";
        await TestbedHosts.RemoveDomainAsync(libvirt, name);
        var disk = await TestbedHosts.CreateQcow2Async(_runner, name, 16);
        try
        {
            await libvirt.DefineAsync(TestbedHosts.Lv1, TestbedHosts.TcgDomainXml(name, qcow2Path: disk));
            await libvirt.SetAutostartAsync(TestbedHosts.Lv1, name, true);
            await libvirt.StartAsync(TestbedHosts.Lv1, name);
            var harness = Harness();
            var context = await harness.ContextAsync("vm:" + name, StepTypes.ShutdownSource, new StepInput { Vm = name, FromHost = TestbedHosts.Lv1 });
            var grace = TimeSpan.FromSeconds(3);
            var step = new ShutdownSourceStep(grace, poll: TimeSpan.FromMilliseconds(500));
            var clock = Stopwatch.StartNew();

            var result = await step.ExecuteAsync(context);

            output.WriteLine($"shutdown-source took {clock.Elapsed.TotalSeconds:0.0} s (grace {grace.TotalSeconds} s): {result.Reason}");
            Assert.True(clock.Elapsed >= grace, "the guest was given the grace time before the power-off");
            Assert.Contains("after the ACPI grace time", result.Reason, StringComparison.Ordinal);
            Assert.Equal(DomainRunState.ShutOff, await libvirt.GetDomainStateAsync(TestbedHosts.Lv1, name));
            Assert.False(await libvirt.GetAutostartAsync(TestbedHosts.Lv1, name));
            Assert.Contains(await harness.LogAsync(context), l => l.Contains("ignored ACPI", StringComparison.Ordinal));

            // Compensation brings the source back as it was: running, autostart on.
            await step.CompensateAsync(context);
            Assert.Equal(DomainRunState.Running, await libvirt.GetDomainStateAsync(TestbedHosts.Lv1, name));
            Assert.True(await libvirt.GetAutostartAsync(TestbedHosts.Lv1, name));
        }
        finally
        {
            await TestbedHosts.RemoveDomainAsync(libvirt, name);
        }
    }

    [IntegrationFact]
    public async Task Drain_live_migrates_a_running_guest_on_shared_RBD_to_the_other_libvirt_host()
    {
        var libvirt = Libvirt();
        const string running = "taquin-it-drain";
        const string stopped = "taquin-it-drain-off";
        await TestbedHosts.RemoveDomainAsync(libvirt, running);
        await TestbedHosts.RemoveDomainAsync(libvirt, stopped);
        var left = await libvirt.ListDomainsAsync(TestbedHosts.Lv1);
        Assert.True(left.Count == 0, $"lv1 must start empty for the drain test, it holds {string.Join(", ", left)}");
        var image = await TestbedHosts.CreateRbdImageAsync(_runner, running, 32);
        var offImage = await TestbedHosts.CreateRbdImageAsync(_runner, stopped, 8);
        try
        {
            await libvirt.DefineAsync(TestbedHosts.Lv1, TestbedHosts.TcgDomainXml(running, rbdSpec: image, mac: "52:54:00:7a:00:01"));
            await libvirt.DefineAsync(TestbedHosts.Lv1, TestbedHosts.TcgDomainXml(stopped, rbdSpec: offImage));
            await libvirt.StartAsync(TestbedHosts.Lv1, running);
            var harness = Harness();
            var context = await harness.ContextAsync("host:" + TestbedHosts.Lv1, StepTypes.Drain, new StepInput
            {
                Host = TestbedHosts.Lv1,
                Drain = [new DrainMove(running, TestbedHosts.Lv2), new DrainMove(stopped, TestbedHosts.Lv2)],
            });
            var step = new DrainHostStep();
            Assert.False(await step.VerifyAsync(context));
            var clock = Stopwatch.StartNew();

            var result = await step.ExecuteAsync(context);

            output.WriteLine($"drain of 1 running + 1 shut-off TCG guest took {clock.Elapsed.TotalSeconds:0.0} s: {result.Reason}");
            Assert.True(await step.VerifyAsync(context));
            Assert.Equal(DomainRunState.Running, await libvirt.GetDomainStateAsync(TestbedHosts.Lv2, running));
            Assert.Equal(DomainRunState.ShutOff, await libvirt.GetDomainStateAsync(TestbedHosts.Lv2, stopped));
            Assert.Equal(DomainRunState.Undefined, await libvirt.GetDomainStateAsync(TestbedHosts.Lv1, running));
            Assert.Equal(DomainRunState.Undefined, await libvirt.GetDomainStateAsync(TestbedHosts.Lv1, stopped));
            // --persistent: the destination keeps the definition, with the same disk and MAC.
            var moved = await libvirt.DumpXmlAsync(TestbedHosts.Lv2, running);
            Assert.Contains(image, moved, StringComparison.Ordinal);
            Assert.Contains("52:54:00:7a:00:01", moved, StringComparison.Ordinal);
            var log = await harness.LogAsync(context);
            Assert.Contains(log, l => l.Contains("live-migrated", StringComparison.Ordinal));
            Assert.Contains(log, l => l.Contains("(shut off) migrated", StringComparison.Ordinal));

            // Running it again finds the job done (idempotent after a crash).
            var again = await step.ExecuteAsync(await harness.ContextAsync("host:" + TestbedHosts.Lv1, StepTypes.Drain, new StepInput
            {
                Host = TestbedHosts.Lv1,
                Drain = [new DrainMove(running, TestbedHosts.Lv2)],
            }));
            Assert.Contains("drained", again.Reason, StringComparison.Ordinal);
        }
        finally
        {
            await TestbedHosts.RemoveDomainAsync(libvirt, running);
            await TestbedHosts.RemoveDomainAsync(libvirt, stopped);
        }
    }
}
