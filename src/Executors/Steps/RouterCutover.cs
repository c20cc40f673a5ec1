using System.Text;
using Taquin.Executors.Adapters;
using Taquin.Planner.Inventory;
using Taquin.Planner.Network;

namespace Taquin.Executors.Steps;

/// <summary>
/// Applies a VM's <see cref="RouterChange"/> over SSH at cutover, checks it, and undoes it (docs/adr/0009). Before
/// changing anything it checkpoints what was there (each file's content or absence, whether the VLAN link existed,
/// each old tap route as <c>ip route show</c> printed it), once, so a retry never mistakes its own files for the
/// previous ones and the compensation puts back exactly what it found. Every command is an argv list; files go
/// through stdin to <c>tee</c> into a temporary name, then <c>mv</c> (a reader never sees half a file).
/// </summary>
internal static class RouterCutover
{
    private const string Absent = "absent";
    private const string Present = "present:";
    private const string LinkKey = "router.link-existed";

    /// <summary>Output-only words of <c>ip route show</c> that <c>ip route replace</c> does not accept.</summary>
    private static readonly HashSet<string> OutputOnlyRouteFlags = new(StringComparer.Ordinal) { "linkdown", "dead", "offload", "trap", "rt_offload", "rt_trap", "rt_offload_failed" };

    private static string FileKey(string path) => "router.file:" + path;

    private static string RouteKey(OldTapRoute route) => $"router.old-route:{route.Host}:{route.Prefix}";

    public static async Task ApplyAsync(StepContext context, RouterChange change)
    {
        var router = change.Router.Host;
        foreach (var file in change.Files.Where(f => context.Checkpoint(FileKey(f.Path)) is null))
        {
            var before = await ReadFileAsync(context, router, file.Path);
            await context.SaveAsync(FileKey(file.Path), before is null ? Absent : Present + before);
        }

        if (context.Checkpoint(LinkKey) is null)
        {
            await context.SaveAsync(LinkKey, await LinkExistsAsync(context, router, change.Interface) ? "yes" : "no");
        }

        foreach (var route in change.OldRoutes.Where(r => context.Checkpoint(RouteKey(r)) is null))
        {
            await context.SaveAsync(RouteKey(route), await ShowRouteAsync(context, route.Host, route.Prefix) ?? "");
        }

        foreach (var file in change.Files)
        {
            await WriteFileAsync(context, router, file.Path, file.Content);
        }

        await ApplyLinkAsync(context, change);
        await BirdConfigureAsync(context, change.Router);
        await context.LogAsync($"router {router}: {change.Interface} up, {change.Prefixes.Count} prefix(es) routed and announced");

        foreach (var route in change.OldRoutes.Where(r => context.Checkpoint(RouteKey(r)) is { Length: > 0 }))
        {
            var result = await context.Ssh.RunAsync(route.Host, [.. Ip(route.Prefix), "route", "del", route.Prefix, "dev", route.Tap], ct: context.CancellationToken);
            if (!result.Succeeded && !result.Stderr.Contains("No such process", StringComparison.Ordinal))
            {
                throw Failed(route.Host, "ip route del " + route.Prefix, result);
            }
        }

        if (change.OldRoutes.Count > 0)
        {
            await context.LogAsync($"{change.OldRoutes[0].Host}: {change.OldRoutes.Count} tap route(s) retired");
        }
    }

    /// <summary>The cutover's postcondition, read from the router, bird and the old host.</summary>
    public static async Task<string?> CheckAsync(StepContext context, RouterChange change)
    {
        var router = change.Router.Host;
        foreach (var file in change.Files)
        {
            if (await ReadFileAsync(context, router, file.Path) != file.Content)
            {
                return $"{router}:{file.Path} does not hold the generated content";
            }
        }

        foreach (var prefix in change.Prefixes)
        {
            if (await ShowRouteAsync(context, router, prefix) is not { } line || !line.Contains(" dev " + change.Interface, StringComparison.Ordinal))
            {
                return $"{router}: {prefix} is not routed through {change.Interface}";
            }
        }

        foreach (var protocol in change.BirdProtocols)
        {
            var shown = await RunAsync(context, router, ["birdc", "-s", change.Router.BirdSocket, "show", "route", "protocol", protocol]);
            var family = protocol.EndsWith("_v6", StringComparison.Ordinal);
            var missing = change.Prefixes.Where(p => Cidr.IsIpv6(p) == family).FirstOrDefault(p => !shown.Contains(p, StringComparison.Ordinal));
            if (missing is not null)
            {
                return $"{router}: bird protocol {protocol} does not announce {missing}";
            }
        }

        foreach (var route in change.OldRoutes)
        {
            if (await ShowRouteAsync(context, route.Host, route.Prefix) is { } line && line.Contains(" dev " + route.Tap, StringComparison.Ordinal))
            {
                return $"{route.Host}: the old route {route.Prefix} dev {route.Tap} is still there";
            }
        }

        return null;
    }

    /// <summary>Puts back the old tap routes, then the router's previous files, link and bird configuration.</summary>
    public static async Task UndoAsync(StepContext context, RouterChange change)
    {
        foreach (var route in change.OldRoutes)
        {
            if (context.Checkpoint(RouteKey(route)) is not { Length: > 0 } saved
                || (await ShowRouteAsync(context, route.Host, route.Prefix) is { } now && now.Contains(" dev " + route.Tap, StringComparison.Ordinal)))
            {
                continue;
            }

            var words = saved.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => !OutputOnlyRouteFlags.Contains(w));
            await RunAsync(context, route.Host, [.. Ip(route.Prefix), "route", "replace", .. words]);
        }

        var router = change.Router.Host;
        var touched = false;
        foreach (var file in change.Files)
        {
            switch (context.Checkpoint(FileKey(file.Path)))
            {
                case Absent:
                    await RunAsync(context, router, ["rm", "-f", "--", file.Path]);
                    touched = true;
                    break;
                case { } saved when saved.StartsWith(Present, StringComparison.Ordinal):
                    await WriteFileAsync(context, router, file.Path, saved[Present.Length..]);
                    touched = true;
                    break;
            }
        }

        if (!touched)
        {
            return;
        }

        if (change.Router.Apply == RouterApplyMode.Networkd)
        {
            await RunAsync(context, router, ["networkctl", "reload"]);
        }

        // networkd keeps a netdev whose file is gone, and ip-made links stay: a link we created goes explicitly.
        if (context.Checkpoint(LinkKey) == "no" && await LinkExistsAsync(context, router, change.Interface))
        {
            await RunAsync(context, router, ["ip", "link", "del", "dev", change.Interface]);
        }

        await BirdConfigureAsync(context, change.Router);
        await context.LogAsync($"router {router}: {change.Interface} files and bird configuration restored; old tap routes back");
    }

    private static async Task ApplyLinkAsync(StepContext context, RouterChange change)
    {
        var router = change.Router.Host;
        if (change.Router.Apply == RouterApplyMode.Networkd)
        {
            // reload creates the new netdev and reconfigures the links whose .network (or drop-in) changed.
            await RunAsync(context, router, ["networkctl", "reload"]);
            return;
        }

        var commands = change.IpCommands();
        var linkExists = await LinkExistsAsync(context, router, change.Interface);
        foreach (var argv in linkExists ? commands.Skip(1) : commands)
        {
            await RunAsync(context, router, argv);
        }
    }

    private static async Task BirdConfigureAsync(StepContext context, RouterSpec router)
    {
        var result = await context.Ssh.RunAsync(router.Host, ["birdc", "-s", router.BirdSocket, "configure"], ct: context.CancellationToken);
        if (result.ExitCode == 255)
        {
            throw Failed(router.Host, "birdc configure", result);
        }

        // bird's verdict is in the reply (a refused file names the file, line and error), whatever birdc's exit code.
        var reply = (result.Stdout + result.Stderr).Trim();
        if (!reply.Contains("Reconfigur", StringComparison.Ordinal))
        {
            throw new AdapterException($"{router.Host}: bird refused the configuration: {reply}", isTransient: false);
        }
    }

    private static async Task<string?> ReadFileAsync(StepContext context, string host, string path)
    {
        var result = await context.Ssh.RunAsync(host, ["cat", "--", path], ct: context.CancellationToken);
        if (result.Succeeded)
        {
            return result.Stdout;
        }

        return result.ExitCode == 1 && result.Stderr.Contains("No such file", StringComparison.Ordinal) ? null : throw Failed(host, "cat " + path, result);
    }

    private static async Task WriteFileAsync(StepContext context, string host, string path, string content)
    {
        if (await ReadFileAsync(context, host, path) == content)
        {
            return;
        }

        var directory = path[..Math.Max(1, path.LastIndexOf('/'))];
        await RunAsync(context, host, ["mkdir", "-p", "--", directory]);
        var temporary = path + ".taquin-new";
        using (var stdin = new MemoryStream(Encoding.UTF8.GetBytes(content)))
        {
            var written = await context.Ssh.RunAsync(host, ["tee", "--", temporary], stdin, context.CancellationToken);
            if (!written.Succeeded)
            {
                throw Failed(host, "tee " + temporary, written);
            }
        }

        await RunAsync(context, host, ["mv", "-f", "--", temporary, path]);
    }

    private static async Task<bool> LinkExistsAsync(StepContext context, string host, string name) =>
        (await context.Ssh.RunAsync(host, ["ip", "link", "show", "dev", name], ct: context.CancellationToken)).Succeeded;

    /// <summary>The route to exactly <paramref name="prefix"/> as <c>ip -o route show</c> prints it, or null when there is none.</summary>
    private static async Task<string?> ShowRouteAsync(StepContext context, string host, string prefix)
    {
        var output = await RunAsync(context, host, ["ip", "-o", Cidr.IsIpv6(prefix) ? "-6" : "-4", "route", "show", "exact", prefix]);
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        return string.IsNullOrEmpty(line) ? null : line;
    }

    private static string[] Ip(string prefix) => Cidr.IsIpv6(prefix) ? ["ip", "-6"] : ["ip", "-4"];

    private static async Task<string> RunAsync(StepContext context, string host, IReadOnlyList<string> argv)
    {
        var result = await context.Ssh.RunAsync(host, argv, ct: context.CancellationToken);
        return result.Succeeded ? result.Stdout : throw Failed(host, string.Join(' ', argv), result);
    }

    /// <summary>255 is ssh's own failure (connection): worth a retry; anything else is the command's answer.</summary>
    private static AdapterException Failed(string host, string command, SshResult result) =>
        new($"{host}: '{command}' exited {result.ExitCode}: {result.Stderr.Trim()}", isTransient: result.ExitCode == 255);
}
