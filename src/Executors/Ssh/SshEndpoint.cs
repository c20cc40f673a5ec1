using System.Globalization;

namespace Taquin.Executors.Ssh;

/// <summary>Where a fleet host is reached: <c>user@address[:port]</c> from fleet.yaml (<c>ssh:</c>).</summary>
public sealed record SshEndpoint(string User, string Address, int Port)
{
    public const int DefaultPort = 22;
    public const string DefaultUser = "root";

    /// <summary>
    /// Parses <c>[user@]address[:port]</c>; an IPv6 address with a port is written in brackets
    /// (<c>root@[fd00::11]:2222</c>). The user defaults to root, the port to 22.
    /// </summary>
    /// <exception cref="FormatException">The text is not of that form; the message says what is wrong.</exception>
    public static SshEndpoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var value = text.Trim();
        if (value.Length == 0)
        {
            throw new FormatException("empty ssh address; expected user@address[:port], e.g. root@10.1.0.11");
        }

        var user = DefaultUser;
        var at = value.LastIndexOf('@');
        if (at >= 0)
        {
            user = value[..at];
            value = value[(at + 1)..];
            if (user.Length == 0)
            {
                throw new FormatException($"'{text}': empty user before '@'; expected user@address[:port]");
            }
        }

        string address;
        var port = DefaultPort;
        if (value.StartsWith('['))
        {
            var close = value.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"'{text}': '[' without ']'; write an IPv6 address as [fd00::11]:22");
            }

            address = value[1..close];
            var rest = value[(close + 1)..];
            if (rest.Length > 0)
            {
                port = rest.StartsWith(':') ? ParsePort(text, rest[1..]) : throw new FormatException($"'{text}': unexpected '{rest}' after ']'");
            }
        }
        else if (value.Count(c => c == ':') == 1)
        {
            var colon = value.IndexOf(':', StringComparison.Ordinal);
            address = value[..colon];
            port = ParsePort(text, value[(colon + 1)..]);
        }
        else
        {
            // No colon, or a bare IPv6 address (several colons, no port).
            address = value;
        }

        if (address.Length == 0 || address.Any(char.IsWhiteSpace))
        {
            throw new FormatException($"'{text}': missing or invalid address; expected user@address[:port]");
        }

        return new SshEndpoint(user, address, port);
    }

    /// <summary>The name OpenSSH's known_hosts uses for this endpoint: <c>address</c> on port 22, else <c>[address]:port</c>.</summary>
    public string KnownHostsName => Port == DefaultPort ? Address : $"[{Address}]:{Port.ToString(CultureInfo.InvariantCulture)}";

    public override string ToString() =>
        Address.Contains(':', StringComparison.Ordinal)
            ? $"{User}@[{Address}]:{Port.ToString(CultureInfo.InvariantCulture)}"
            : $"{User}@{Address}:{Port.ToString(CultureInfo.InvariantCulture)}";

    private static int ParsePort(string text, string port) =>
        int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value is > 0 and <= 65535
            ? value
            : throw new FormatException($"'{text}': port '{port}' is not a number from 1 to 65535");
}
