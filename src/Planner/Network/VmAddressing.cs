using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Taquin.Planner.Libvirt;

namespace Taquin.Planner.Network;

/// <summary>A routed NIC of the old design: its tap on the libvirt host, the prefixes routed to it, its gateways.</summary>
/// <param name="Prefixes">Network-aligned CIDR prefixes ("203.0.113.78/32"), from the NIC's libvirt &lt;ip&gt; elements.</param>
/// <param name="Gateways">Addresses the guest uses as next hop (from its &lt;route gateway=…&gt;), which the router now owns.</param>
public sealed record RoutedNic(string? Tap, string? Mac, IReadOnlyList<string> Prefixes, IReadOnlyList<string> Gateways);

/// <summary>The addresses the router must carry for one VM once it sits in its own VLAN.</summary>
public sealed record VmAddressing(string Vm, IReadOnlyList<RoutedNic> Nics)
{
    public bool IsRouted => Nics.Any(n => n.Prefixes.Count > 0);

    /// <summary>The routed taps (libvirt <c>type='ethernet'</c> NICs with &lt;ip&gt; elements) of a domain.</summary>
    public static VmAddressing FromDomain(LibvirtDomain domain)
    {
        ArgumentNullException.ThrowIfNull(domain);
        var nics = domain.Interfaces.Where(n => n.Type == "ethernet" && n.Ips.Count > 0)
            .Select(n => new RoutedNic(
                n.TargetDev,
                n.Mac,
                [.. n.Ips.Select(ip => Cidr.Normalize(ip.Address, ip.Prefix)).OfType<string>().Distinct(StringComparer.Ordinal)],
                [.. n.Routes.Select(r => r.Gateway).OfType<string>().Where(g => IPAddress.TryParse(g, out _)).Distinct(StringComparer.Ordinal)]))
            .ToList();
        return new VmAddressing(domain.Name, nics);
    }
}

/// <summary>CIDR helpers (pure).</summary>
public static class Cidr
{
    /// <summary>"addr/prefix" with the host bits cleared; a missing prefix is a host route (/32, /128). Null if not an address.</summary>
    public static string? Normalize(string address, int? prefix)
    {
        if (!IPAddress.TryParse(address, out var ip))
        {
            return null;
        }

        var bytes = ip.GetAddressBytes();
        var length = Math.Clamp(prefix ?? bytes.Length * 8, 0, bytes.Length * 8);
        for (var bit = length; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IPAddress(bytes) + "/" + length.ToString(CultureInfo.InvariantCulture);
    }

    public static bool IsIpv6(string cidrOrAddress) =>
        IPAddress.TryParse(cidrOrAddress.Split('/')[0], out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>The address a gateway gets on the router's VLAN interface: /32 (IPv4), /64 link-local, /128 global IPv6.</summary>
    public static string GatewayAddress(string gateway)
    {
        var ip = IPAddress.Parse(gateway);
        return ip.AddressFamily == AddressFamily.InterNetwork ? gateway + "/32" : ip.IsIPv6LinkLocal ? gateway + "/64" : gateway + "/128";
    }
}
