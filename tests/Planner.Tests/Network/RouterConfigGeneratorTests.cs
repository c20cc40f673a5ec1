using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Network;
using Taquin.Tests.Shared;

namespace Taquin.Planner.Tests.Network;

public sealed class RouterConfigGeneratorTests
{
    private static readonly RouterSpec Router = new()
    {
        Host = "r1",
        Trunk = "bond0",
        TrunkNetworkFile = "10-bond0.network",
        NetworkdDirectory = "/etc/systemd/network",
        BirdDirectory = "/etc/bird/taquin.d/",
    };

    private static LibvirtDomain Sample(string file)
    {
        var parsed = DomainXmlParser.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Sample("libvirt-xml"), file)), file);
        return Assert.IsType<LibvirtDomain>(parsed.Domain);
    }

    [Fact]
    public void The_routed_taps_of_a_dual_stack_vm_give_its_prefixes_and_gateways_per_nic()
    {
        var addressing = VmAddressing.FromDomain(Sample("routed-tap-dualstack.xml"));

        Assert.Equal(2, addressing.Nics.Count);
        Assert.Equal(new[] { "203.0.113.42/32", "203.0.113.43/32", "2001:db8:100::421/128", "2001:db8:421::/56" }, addressing.Nics[0].Prefixes);
        Assert.Equal(new[] { "192.0.2.1", "fe80::1" }, addressing.Nics[0].Gateways);
        Assert.Equal("tap-web-0421", addressing.Nics[0].Tap);
        Assert.Equal(new[] { "100.64.42.1/32" }, addressing.Nics[1].Prefixes);
    }

    [Theory]
    [InlineData("203.0.113.77", 24, "203.0.113.0/24")]
    [InlineData("2001:db8:421::1", 56, "2001:db8:421::/56")]
    [InlineData("198.51.100.9", null, "198.51.100.9/32")]
    [InlineData("2001:db8::9", null, "2001:db8::9/128")]
    public void Prefixes_are_network_aligned_and_a_missing_length_is_a_host_route(string address, int? prefix, string expected) =>
        Assert.Equal(expected, Cidr.Normalize(address, prefix));

    [Fact]
    public void The_vlan_interface_files_carry_the_gateway_addresses_and_an_on_link_route_per_prefix()
    {
        var change = RouterConfigGenerator.Generate(Router, VmAddressing.FromDomain(Sample("routed-tap-dualstack.xml")), 421, "h2")!;

        Assert.Equal("vlan421", change.Interface);
        Assert.Equal(
            ["/etc/systemd/network/60-taquin-vlan421.netdev", "/etc/systemd/network/60-taquin-vlan421.network",
             "/etc/systemd/network/10-bond0.network.d/taquin-vlan421.conf", "/etc/bird/taquin.d/vlan421.conf"],
            change.Files.Select(f => f.Path));
        var netdev = change.Files[0].Content;
        Assert.EndsWith("[NetDev]\nName=vlan421\nKind=vlan\n\n[VLAN]\nId=421\n", netdev, StringComparison.Ordinal);
        Assert.Contains("VM web-0421 (VLAN 421); was routed over tap-web-0421, tap-web-0421b on h2", netdev, StringComparison.Ordinal);

        var network = change.Files[1].Content;
        Assert.Contains("[Match]\nName=vlan421\n", network, StringComparison.Ordinal);
        Assert.Equal(["192.0.2.1/32", "fe80::1/64", "100.64.0.1/32"], change.GatewayAddresses);
        foreach (var gateway in change.GatewayAddresses)
        {
            Assert.Contains($"[Address]\nAddress={gateway}\n", network, StringComparison.Ordinal);
        }

        Assert.Contains("[Address]\nAddress=fe80::1/64\nDuplicateAddressDetection=none\n", network, StringComparison.Ordinal);
        foreach (var prefix in new[] { "203.0.113.42/32", "203.0.113.43/32", "2001:db8:100::421/128", "2001:db8:421::/56", "100.64.42.1/32" })
        {
            Assert.Contains($"[Route]\nDestination={prefix}\nScope=link\n", network, StringComparison.Ordinal);
        }

        Assert.EndsWith("[Network]\nVLAN=vlan421\n", change.Files[2].Content, StringComparison.Ordinal);
    }

    [Fact]
    public void Bird_gets_one_static_protocol_per_family_announcing_the_prefixes_through_the_vlan()
    {
        var change = RouterConfigGenerator.Generate(Router, VmAddressing.FromDomain(Sample("routed-tap-dualstack.xml")), 421, "h2")!;

        Assert.Equal(["taquin_vlan421_v4", "taquin_vlan421_v6"], change.BirdProtocols);
        var bird = change.Files[3].Content;
        Assert.Contains("""
            protocol static taquin_vlan421_v4 {
                ipv4;
                route 203.0.113.42/32 via "vlan421";
                route 203.0.113.43/32 via "vlan421";
                route 100.64.42.1/32 via "vlan421";
            }
            protocol static taquin_vlan421_v6 {
                ipv6;
                route 2001:db8:100::421/128 via "vlan421";
                route 2001:db8:421::/56 via "vlan421";
            }
            """.ReplaceLineEndings("\n"), bird, StringComparison.Ordinal);
    }

    [Fact]
    public void The_old_per_tap_routes_on_the_libvirt_host_are_listed_for_retirement()
    {
        var change = RouterConfigGenerator.Generate(Router, VmAddressing.FromDomain(Sample("routed-tap-dualstack.xml")), 421, "h2")!;

        Assert.Contains(new OldTapRoute("h2", "203.0.113.42/32", "tap-web-0421"), change.OldRoutes);
        Assert.Contains(new OldTapRoute("h2", "100.64.42.1/32", "tap-web-0421b"), change.OldRoutes);
        Assert.Equal(5, change.OldRoutes.Count);
        Assert.Contains("2 routed NICs share VLAN 421", Assert.Single(change.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void The_ip_commands_set_the_same_state_as_the_networkd_files()
    {
        var change = RouterConfigGenerator.Generate(Router, VmAddressing.FromDomain(Sample("routed-tap-dualstack.xml")), 421, "h2")!;

        var commands = change.IpCommands().Select(c => string.Join(' ', c)).ToList();

        Assert.Equal("ip link add link bond0 name vlan421 type vlan id 421", commands[0]);
        Assert.Equal("ip link set vlan421 up", commands[1]);
        Assert.Contains("ip addr replace 192.0.2.1/32 dev vlan421", commands);
        Assert.Contains("ip -6 addr replace fe80::1/64 dev vlan421 nodad", commands);
        Assert.Contains("ip route replace 203.0.113.42/32 dev vlan421 scope link", commands);
        Assert.Contains("ip -6 route replace 2001:db8:421::/56 dev vlan421", commands);
        Assert.Equal(2 + change.GatewayAddresses.Count + change.Prefixes.Count, commands.Count);
    }

    [Fact]
    public void The_plan_diff_shows_every_new_file_line_and_every_retired_route()
    {
        var change = RouterConfigGenerator.Generate(Router, VmAddressing.FromDomain(Sample("routed-tap-dualstack.xml")), 421, "h2")!;

        var diff = change.ToDiff();

        Assert.Contains("+++ r1:/etc/bird/taquin.d/vlan421.conf\n+# Generated by taquin for VM web-0421", diff, StringComparison.Ordinal);
        Assert.Contains("\n+protocol static taquin_vlan421_v4 {\n", diff, StringComparison.Ordinal);
        Assert.Contains("--- h2: ip route 203.0.113.42/32 dev tap-web-0421\n", diff, StringComparison.Ordinal);
        var added = diff.Split('\n').Count(l => l.StartsWith('+') && !l.StartsWith("+++", StringComparison.Ordinal));
        Assert.Equal(change.Files.Sum(f => f.Content.TrimEnd('\n').Split('\n').Length), added);
    }

    [Fact]
    public void A_vm_without_routed_addresses_needs_no_router_change()
    {
        var bridged = Sample("routed-tap-dualstack.xml") with { Interfaces = [] };

        Assert.Null(RouterConfigGenerator.Generate(Router, VmAddressing.FromDomain(bridged), 100, "h1"));
    }

    [Fact]
    public void The_same_inputs_always_give_the_same_files()
    {
        var domain = Sample("routed-tap-dualstack.xml");
        var first = RouterConfigGenerator.Generate(Router, VmAddressing.FromDomain(domain), 421, "h2")!;
        var second = RouterConfigGenerator.Generate(Router, VmAddressing.FromDomain(domain), 421, "h2")!;
        var otherVlan = RouterConfigGenerator.Generate(Router, VmAddressing.FromDomain(domain), 422, "h2")!;

        Assert.Equal(first.Files, second.Files);
        Assert.NotEqual(first.Files.Select(f => f.Path), otherVlan.Files.Select(f => f.Path));
    }

    [Fact]
    public void The_fleet_file_router_section_is_read_with_defaults_for_what_it_leaves_out()
    {
        using var folder = Inventory.TempInventory.Valid();
        folder.Write("fleet.yaml", Inventory.TempInventory.FleetYaml + "\nrouter:\n  host: r1\n  ssh: root@192.0.2.1\n  trunk: eth1\n  apply: iproute2\n");

        var result = InventoryLoader.Load(folder.Root);

        Assert.Empty(result.Diagnostics);
        var router = result.Inventory!.Fleet.Router!;
        Assert.Equal(("r1", "root@192.0.2.1", "eth1", RouterApplyMode.Iproute2), (router.Host, router.Ssh, router.Trunk, router.Apply));
        Assert.Equal(("/etc/systemd/network", "/etc/bird/taquin.d", "/run/bird/bird.ctl"), (router.NetworkdDirectory, router.BirdDirectory, router.BirdSocket));
    }
}
