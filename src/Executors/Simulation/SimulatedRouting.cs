using System.Text;
using System.Text.RegularExpressions;
using Taquin.Executors.Adapters;
using Taquin.Planner.Network;

namespace Taquin.Executors.Simulation;

/// <summary>
/// The files, links and routes of the router and the libvirt hosts, as the network step's commands see them on the
/// twin (docs/adr/0009): <c>cat</c>, <c>mkdir</c>, <c>tee</c>, <c>mv</c>, <c>rm</c>, the <c>ip</c> subset the step uses,
/// <c>networkctl reload</c> (netdev files become links, network files' routes apply) and <c>birdc</c> (configure;
/// <c>show route protocol P</c> from the include files). The libvirt hosts start with the tap route of every
/// routed VM they hold. Kept in memory only: a durable simulated run (TwinStore) starts each process afresh.
/// </summary>
public sealed partial class SimulatedRouting
{
    private readonly Dictionary<(string Host, string Path), string> _files = [];
    private readonly HashSet<(string Host, string Link)> _links = [];
    private readonly Dictionary<(string Host, string Prefix), string> _routes = [];

    public SimulatedRouting(ClusterTwin twin)
    {
        ArgumentNullException.ThrowIfNull(twin);
        foreach (var vm in twin.Inventory.Vms)
        {
            foreach (var nic in VmAddressing.FromDomain(vm.Domain).Nics.Where(n => n.Tap is not null))
            {
                foreach (var prefix in nic.Prefixes)
                {
                    _links.Add((vm.Host, nic.Tap!));
                    _routes[(vm.Host, prefix)] = Line(prefix, nic.Tap!);
                }
            }
        }
    }

    public static bool Handles(string program) => program is "cat" or "mkdir" or "tee" or "mv" or "rm" or "ip" or "birdc" or "networkctl";

    public SshResult Run(string host, IReadOnlyList<string> argv, Stream? stdin)
    {
        var args = argv.Skip(1).Where(a => a != "--").ToList();
        switch (argv[0])
        {
            case "cat":
                return _files.TryGetValue((host, args[^1]), out var content) ? Ok(content) : new SshResult(1, "", $"cat: {args[^1]}: No such file or directory");
            case "mkdir":
                return Ok();
            case "tee":
                using (var reader = new StreamReader(stdin ?? Stream.Null, Encoding.UTF8))
                {
                    _files[(host, args[^1])] = reader.ReadToEnd();
                }

                return Ok();
            case "mv":
                if (!_files.Remove((host, args[^2]), out var moved))
                {
                    return new SshResult(1, "", $"mv: cannot stat '{args[^2]}': No such file or directory");
                }

                _files[(host, args[^1])] = moved;
                return Ok();
            case "rm":
                _files.Remove((host, args[^1]));
                return Ok();
            case "networkctl":
                return Reload(host);
            case "birdc":
                return Bird(host, args);
            default:
                return Ip(host, args);
        }
    }

    private SshResult Ip(string host, List<string> args)
    {
        var words = args.Where(a => a is not ("-o" or "-4" or "-6")).ToList();
        switch (words)
        {
            case ["link", "show", "dev", var name]:
                return _links.Contains((host, name)) ? Ok($"1: {name}: <UP>\n") : new SshResult(1, "", $"Device \"{name}\" does not exist.");
            case ["link", "add", "link", _, "name", var name, ..]:
                return _links.Add((host, name)) ? Ok() : new SshResult(2, "", "RTNETLINK answers: File exists");
            case ["link", "set", var name, "up"]:
                return _links.Contains((host, name)) ? Ok() : new SshResult(1, "", $"Cannot find device \"{name}\"");
            case ["addr", "replace", _, "dev", var name, ..]:
                return _links.Contains((host, name)) ? Ok() : new SshResult(1, "", $"Cannot find device \"{name}\"");
            case ["link", "del", "dev", var name]:
                _links.Remove((host, name));
                foreach (var key in _routes.Where(r => r.Key.Host == host && r.Value.Contains(" dev " + name + " ", StringComparison.Ordinal)).Select(r => r.Key).ToList())
                {
                    _routes.Remove(key);
                }

                return Ok();
            case ["route", "show", "exact", var prefix]:
                return Ok(_routes.TryGetValue((host, prefix), out var line) ? line + "\n" : "");
            case ["route", "del", var prefix, "dev", var dev]:
                return _routes.TryGetValue((host, prefix), out var existing) && existing.Contains(" dev " + dev + " ", StringComparison.Ordinal) && _routes.Remove((host, prefix))
                    ? Ok() : new SshResult(2, "", "RTNETLINK answers: No such process");
            case ["route", "replace", var destination, "dev", var dev, ..]:
                var key2 = destination.Contains('/', StringComparison.Ordinal) ? destination : Cidr.Normalize(destination, null) ?? destination;
                if (!_links.Contains((host, dev)))
                {
                    return new SshResult(1, "", $"Cannot find device \"{dev}\"");
                }

                _routes[(host, key2)] = Line(key2, dev);
                return Ok();
            default:
                return new SshResult(1, "", $"simulated ip: unsupported '{string.Join(' ', args)}'");
        }
    }

    /// <summary>networkd's view: every netdev file is a link, every network file's routes are in place.</summary>
    private SshResult Reload(string host)
    {
        foreach (var (key, text) in _files.Where(f => f.Key.Host == host).ToList())
        {
            var name = NameLine().Match(text) is { Success: true } m ? m.Groups[1].Value : null;
            if (name is null)
            {
                continue;
            }

            if (key.Path.EndsWith(".netdev", StringComparison.Ordinal))
            {
                _links.Add((host, name));
            }
            else if (key.Path.EndsWith(".network", StringComparison.Ordinal))
            {
                foreach (Match route in DestinationLine().Matches(text))
                {
                    _routes[(host, route.Groups[1].Value)] = Line(route.Groups[1].Value, name);
                }
            }
        }

        return Ok();
    }

    private SshResult Bird(string host, List<string> args)
    {
        var command = args.SkipWhile(a => a != "configure" && a != "show").ToList();
        if (command is ["configure"])
        {
            return Ok("BIRD 2.0.12 ready.\nReconfigured\n");
        }

        if (command is ["show", "route", "protocol", var protocol])
        {
            var shown = new StringBuilder("BIRD 2.0.12 ready.\n");
            foreach (var text in _files.Where(f => f.Key.Host == host).Select(f => f.Value))
            {
                var start = text.IndexOf($"protocol static {protocol} {{", StringComparison.Ordinal);
                if (start < 0)
                {
                    continue;
                }

                var block = text[start..text.IndexOf('}', start)];
                foreach (Match route in BirdRoute().Matches(block))
                {
                    shown.Append(route.Groups[1].Value).Append("  unicast [").Append(protocol).Append("] * (200)\n");
                }
            }

            return Ok(shown.ToString());
        }

        return new SshResult(1, "", $"simulated birdc: unsupported '{string.Join(' ', args)}'");
    }

    private static string Line(string prefix, string dev)
    {
        var shown = prefix.EndsWith("/32", StringComparison.Ordinal) || prefix.EndsWith("/128", StringComparison.Ordinal) ? prefix[..prefix.LastIndexOf('/')] : prefix;
        return $"{shown} dev {dev} scope link ";
    }

    private static SshResult Ok(string stdout = "") => new(0, stdout, "");

    [GeneratedRegex(@"^Name=(\S+)$", RegexOptions.Multiline)]
    private static partial Regex NameLine();

    [GeneratedRegex(@"^Destination=(\S+)$", RegexOptions.Multiline)]
    private static partial Regex DestinationLine();

    [GeneratedRegex(@"route (\S+) via")]
    private static partial Regex BirdRoute();
}
