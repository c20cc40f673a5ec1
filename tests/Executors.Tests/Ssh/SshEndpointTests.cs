using Taquin.Executors.Ssh;
using Taquin.Planner.Inventory;

namespace Taquin.Executors.Tests.Ssh;

public sealed class SshEndpointTests
{
    [Theory]
    [InlineData("root@10.1.0.11", "root", "10.1.0.11", 22, "10.1.0.11")]
    [InlineData("admin@10.1.0.11:2222", "admin", "10.1.0.11", 2222, "[10.1.0.11]:2222")]
    [InlineData("node-a.example.org", "root", "node-a.example.org", 22, "node-a.example.org")]
    [InlineData("root@[fd00::11]:2200", "root", "fd00::11", 2200, "[fd00::11]:2200")]
    [InlineData("root@fd00::11", "root", "fd00::11", 22, "fd00::11")]
    public void Parses_user_address_and_port_with_defaults(string text, string user, string address, int port, string knownHostsName)
    {
        var endpoint = SshEndpoint.Parse(text);

        Assert.Equal(new SshEndpoint(user, address, port), endpoint);
        Assert.Equal(knownHostsName, endpoint.KnownHostsName);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("@10.1.0.11", "empty user")]
    [InlineData("root@10.1.0.11:ssh", "port 'ssh'")]
    [InlineData("root@10.1.0.11:70000", "port '70000'")]
    [InlineData("root@[fd00::11", "without ']'")]
    [InlineData("root@", "missing or invalid address")]
    public void Malformed_addresses_say_what_is_wrong(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => SshEndpoint.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_factory_maps_every_fleet_host_with_an_ssh_address_and_names_the_host_of_a_bad_one()
    {
        var fleet = new Fleet
        {
            OldCeph = new OldCephSpec(),
            Policy = new PolicySpec { VlanRange = new VlanRange(100, 199) },
            Hosts =
            [
                new HostSpec { Name = "kvm1", RamBytes = 1, Cores = 1, NicGbits = 10, Ssh = "root@10.1.0.11" },
                new HostSpec { Name = "kvm2", RamBytes = 1, Cores = 1, NicGbits = 10, Ssh = "root@10.1.0.12:2222" },
                new HostSpec { Name = "files-only", RamBytes = 1, Cores = 1, NicGbits = 10 },
            ],
        };
        var broken = fleet with { Hosts = [.. fleet.Hosts, new HostSpec { Name = "kvm9", RamBytes = 1, Cores = 1, NicGbits = 10, Ssh = "root@x:y" }] };

        var endpoints = SshRunnerFactory.Endpoints(fleet);
        var error = Assert.Throws<FormatException>(() => SshRunnerFactory.Endpoints(broken));

        Assert.Equal(["kvm1", "kvm2"], endpoints.Keys.Order());
        Assert.Equal(2222, endpoints["kvm2"].Port);
        Assert.Contains("host kvm9", error.Message, StringComparison.Ordinal);
    }
}
