using System.Globalization;
using System.Text;
using Taquin.Planner.Inventory;

namespace Taquin.Planner.Network;

/// <summary>A file the cutover writes on the router.</summary>
public sealed record RouterFile(string Path, string Content);

/// <summary>The old design's route of a VM prefix to its tap, on the libvirt host the VM leaves.</summary>
public sealed record OldTapRoute(string Host, string Prefix, string Tap);

/// <summary>
/// The router side of one VM's cutover (docs/adr/0009): its VLAN interface (gateway addresses, routes to its prefixes)
/// as systemd-networkd files, the bird2 static protocols announcing its prefixes, the same state as <c>ip</c> commands,
/// and the per-tap routes to retire on the libvirt host.
/// </summary>
public sealed record RouterChange
{
    public required string Vm { get; init; }
    public required int Vlan { get; init; }
    public required RouterSpec Router { get; init; }
    /// <summary>The VLAN interface on the router ("vlan123").</summary>
    public required string Interface { get; init; }
    public required IReadOnlyList<string> GatewayAddresses { get; init; }
    public required IReadOnlyList<string> Prefixes { get; init; }
    public required IReadOnlyList<RouterFile> Files { get; init; }
    /// <summary>bird2 protocol names, one per address family.</summary>
    public required IReadOnlyList<string> BirdProtocols { get; init; }
    public required IReadOnlyList<OldTapRoute> OldRoutes { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>
    /// The state the networkd files describe, as <c>ip</c> commands (for <see cref="RouterApplyMode.Iproute2"/>):
    /// create the VLAN link, add the gateway addresses, route each prefix on-link through the VLAN. Idempotent
    /// (<c>replace</c>) except the link creation, which the caller skips when the link exists.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<string>> IpCommands()
    {
        var commands = new List<IReadOnlyList<string>>
        {
            new[] { "ip", "link", "add", "link", Router.Trunk, "name", Interface, "type", "vlan", "id", Vlan.ToString(CultureInfo.InvariantCulture) },
            new[] { "ip", "link", "set", Interface, "up" },
        };
        foreach (var address in GatewayAddresses)
        {
            commands.Add(Cidr.IsIpv6(address)
                ? ["ip", "-6", "addr", "replace", address, "dev", Interface, "nodad"]
                : ["ip", "addr", "replace", address, "dev", Interface]);
        }

        foreach (var prefix in Prefixes)
        {
            commands.Add(Cidr.IsIpv6(prefix)
                ? ["ip", "-6", "route", "replace", prefix, "dev", Interface]
                : ["ip", "route", "replace", prefix, "dev", Interface, "scope", "link"]);
        }

        return commands;
    }

    /// <summary>What the cutover changes, as a reviewer reads it in the plan: new files in full, routes retired.</summary>
    public string ToDiff()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# {Vm}: VLAN {Vlan}, router {Router.Host} interface {Interface} on {Router.Trunk}\n");
        foreach (var file in Files)
        {
            text.Append(CultureInfo.InvariantCulture, $"--- /dev/null\n+++ {Router.Host}:{file.Path}\n");
            foreach (var line in file.Content.TrimEnd('\n').Split('\n'))
            {
                text.Append('+').Append(line).Append('\n');
            }
        }

        foreach (var route in OldRoutes)
        {
            text.Append(CultureInfo.InvariantCulture, $"--- {route.Host}: ip route {route.Prefix} dev {route.Tap}\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"+++ {Router.Host}: birdc configure (announces {string.Join(", ", Prefixes)})\n");
        foreach (var warning in Warnings)
        {
            text.Append("# warning: ").Append(warning).Append('\n');
        }

        return text.ToString();
    }
}
