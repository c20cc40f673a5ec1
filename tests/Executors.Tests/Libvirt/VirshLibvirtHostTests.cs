using Taquin.Executors.Adapters;
using Taquin.Executors.Libvirt;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Libvirt;

/// <summary>virsh against the test bed's libvirtd: OS-less TCG guests, one qcow2 disk.</summary>
[Collection(TestbedCollections.Libvirt)]
public sealed class VirshLibvirtHostTests
{
    private const string Host = TestbedHosts.Lv1;

    [IntegrationFact]
    public async Task A_guest_goes_through_define_start_destroy_undefine_and_define_again()
    {
        var runner = TestbedHosts.Runner();
        var libvirt = new VirshLibvirtHost(runner, TestbedHosts.VirshOptions());
        const string name = "taquin-it-lifecycle";
        await TestbedHosts.RemoveDomainAsync(libvirt, name);
        var disk = await TestbedHosts.CreateQcow2Async(runner, name, 16);
        try
        {
            await libvirt.DefineAsync(Host, TestbedHosts.TcgDomainXml(name, qcow2Path: disk));
            Assert.Contains(name, await libvirt.ListDomainsAsync(Host));
            Assert.Equal(DomainRunState.ShutOff, await libvirt.GetDomainStateAsync(Host, name));

            await libvirt.SetAutostartAsync(Host, name, true);
            Assert.True(await libvirt.GetAutostartAsync(Host, name));
            await libvirt.SetAutostartAsync(Host, name, false);
            Assert.False(await libvirt.GetAutostartAsync(Host, name));

            await libvirt.StartAsync(Host, name);
            await libvirt.StartAsync(Host, name);
            Assert.Equal(DomainRunState.Running, await libvirt.GetDomainStateAsync(Host, name));
            var block = await libvirt.GetBlockInfoAsync(Host, name, "vda");
            Assert.Equal(16L * 1024 * 1024, block.CapacityBytes);
            Assert.InRange(block.PhysicalBytes, 1, 16L * 1024 * 1024);

            var refused = await Assert.ThrowsAsync<LibvirtException>(() => libvirt.UndefineAsync(Host, name));
            Assert.False(refused.IsTransient);
            Assert.Contains("running", refused.Message, StringComparison.Ordinal);

            await libvirt.DestroyAsync(Host, name);
            await libvirt.DestroyAsync(Host, name);
            Assert.Equal(DomainRunState.ShutOff, await libvirt.GetDomainStateAsync(Host, name));

            var xml = await libvirt.UndefineAsync(Host, name);
            Assert.Equal(DomainRunState.Undefined, await libvirt.GetDomainStateAsync(Host, name));
            Assert.DoesNotContain(name, await libvirt.ListDomainsAsync(Host));
            Assert.Contains($"<name>{name}</name>", xml, StringComparison.Ordinal);
            Assert.Contains(disk, xml, StringComparison.Ordinal);

            await libvirt.DefineAsync(Host, xml);
            Assert.Equal(DomainRunState.ShutOff, await libvirt.GetDomainStateAsync(Host, name));
            Assert.Contains(disk, await libvirt.DumpXmlAsync(Host, name), StringComparison.Ordinal);
        }
        finally
        {
            await TestbedHosts.RemoveDomainAsync(libvirt, name);
        }
    }

    [IntegrationFact]
    public async Task A_domain_name_full_of_shell_metacharacters_is_passed_as_one_inert_argument()
    {
        var runner = TestbedHosts.Runner();
        var libvirt = new VirshLibvirtHost(runner, TestbedHosts.VirshOptions());
        const string name = "taquin-it-a'b; touch taquin-pwned; $(touch taquin-pwned2) `touch taquin-pwned3` \"x\" & y | z";
        var home = Environment.GetEnvironmentVariable("HOME") ?? "/root";
        await TestbedHosts.RemoveDomainAsync(libvirt, name);
        try
        {
            await libvirt.DefineAsync(Host, TestbedHosts.TcgDomainXml(name));

            Assert.Contains(name, await libvirt.ListDomainsAsync(Host));
            Assert.Equal(DomainRunState.ShutOff, await libvirt.GetDomainStateAsync(Host, name));
            await libvirt.SetAutostartAsync(Host, name, false);
            Assert.Equal(name, System.Xml.Linq.XDocument.Parse(await libvirt.UndefineAsync(Host, name)).Root!.Element("name")!.Value);
            Assert.Equal(DomainRunState.Undefined, await libvirt.GetDomainStateAsync(Host, name));
            foreach (var marker in new[] { "taquin-pwned", "taquin-pwned2", "taquin-pwned3" })
            {
                Assert.False(File.Exists(Path.Combine(home, marker)), $"{marker} was created: part of the name ran as a command");
                Assert.False(File.Exists(marker), $"{marker} was created: part of the name ran as a command");
            }
        }
        finally
        {
            await TestbedHosts.RemoveDomainAsync(libvirt, name);
        }
    }

    [IntegrationFact]
    public async Task An_unknown_domain_is_undefined_and_operations_on_it_fail_for_good()
    {
        var libvirt = new VirshLibvirtHost(TestbedHosts.Runner(), TestbedHosts.VirshOptions());

        Assert.Equal(DomainRunState.Undefined, await libvirt.GetDomainStateAsync(Host, "taquin-it-no-such-domain"));
        var error = await Assert.ThrowsAsync<VirshCommandException>(() => libvirt.StartAsync(Host, "taquin-it-no-such-domain"));
        Assert.Equal(VirshErrorKind.NoDomain, error.Kind);
        Assert.False(error.IsTransient);
        Assert.Contains(Host, error.Message, StringComparison.Ordinal);
    }

    [IntegrationFact]
    public async Task A_libvirtd_that_cannot_be_reached_is_a_transient_failure_naming_the_host()
    {
        var options = TestbedHosts.VirshOptions() with
        {
            Default = new LibvirtEndpoint { ConnectUri = $"qemu:///system?socket={TestbedHosts.Images}/no-such-socket" },
        };
        var libvirt = new VirshLibvirtHost(TestbedHosts.Runner(), options);

        var error = await Assert.ThrowsAsync<VirshCommandException>(() => libvirt.ListDomainsAsync("lv-gone"));

        Assert.True(error.IsTransient);
        Assert.Equal(VirshErrorKind.Connection, error.Kind);
        Assert.Contains("lv-gone", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("error: Requested operation is not valid: domain is not running", VirshErrorKind.NotRunning)]
    [InlineData("error: failed to get domain 'x'", VirshErrorKind.NoDomain)]
    [InlineData("error: Requested operation is not valid: Domain is already active", VirshErrorKind.AlreadyRunning)]
    [InlineData("error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/x': No such file or directory", VirshErrorKind.Connection)]
    [InlineData("error: internal error: End of file while reading data: Input/output error", VirshErrorKind.Connection)]
    [InlineData("error: XML error: missing name", VirshErrorKind.Other)]
    public void Virsh_errors_are_classified_from_their_message(string stderr, VirshErrorKind kind)
    {
        var error = VirshErrors.From("h1", ["start", "x"], new SshResult(1, "", stderr));

        Assert.Equal(kind, error.Kind);
        Assert.Equal(kind == VirshErrorKind.Connection, error.IsTransient);
    }

    [Fact]
    public void Ssh_failing_to_reach_the_host_is_transient_whatever_the_message()
        => Assert.True(VirshErrors.From("h1", ["list"], new SshResult(255, "", "ssh: connect to host h1 port 22: No route to host")).IsTransient);

    [Theory]
    [InlineData("running", DomainRunState.Running)]
    [InlineData("in shutdown", DomainRunState.Running)]
    [InlineData("paused", DomainRunState.Paused)]
    [InlineData("shut off", DomainRunState.ShutOff)]
    [InlineData("crashed", DomainRunState.ShutOff)]
    public void Domain_states_map_to_what_the_steps_need(string virsh, DomainRunState state)
        => Assert.Equal(state, VirshLibvirtHost.ParseState(virsh));

    [Fact]
    public void Only_writable_file_disks_need_copying_on_migration()
    {
        Assert.True(VirshLibvirtHost.HasLocalFileDisk(TestbedHostsXml.WithFileDisk));
        Assert.False(VirshLibvirtHost.HasLocalFileDisk(TestbedHostsXml.WithRbdDiskAndCdrom));
    }

    private static class TestbedHostsXml
    {
        public const string WithFileDisk = """
            <domain><devices><disk type='file' device='disk'><source file='/var/lib/libvirt/images/a.qcow2'/><target dev='vda'/></disk></devices></domain>
            """;

        public const string WithRbdDiskAndCdrom = """
            <domain><devices>
              <disk type='network' device='disk'><source protocol='rbd' name='libvirt/a'/><target dev='vda'/></disk>
              <disk type='file' device='cdrom'><source file='/iso/debian.iso'/><target dev='hdc'/><readonly/></disk>
            </devices></domain>
            """;
    }
}
