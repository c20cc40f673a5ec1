using System.Globalization;
using System.Xml.Linq;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Libvirt;

/// <summary>
/// <see cref="ILibvirtHost"/> over <c>virsh</c> run on each host through an <see cref="ISshRunner"/> (argv lists only).
/// Power operations are idempotent like the simulated host's: destroying an off domain or starting a running one is done.
/// </summary>
public sealed class VirshLibvirtHost(ISshRunner ssh, VirshOptions? options = null) : ILibvirtHost
{
    private readonly VirshOptions _options = options ?? new VirshOptions();

    public async Task<IReadOnlyList<string>> ListDomainsAsync(string host, CancellationToken ct = default)
    {
        var stdout = await VirshAsync(host, ["list", "--all", "--name"], ct);
        return [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal)];
    }

    public async Task<DomainRunState> GetDomainStateAsync(string host, string domain, CancellationToken ct = default)
    {
        var result = await RunAsync(host, ["domstate", domain], ct);
        if (!result.Succeeded)
        {
            var error = VirshErrors.From(host, ["domstate", domain], result);
            if (error.Kind == VirshErrorKind.NoDomain)
            {
                return DomainRunState.Undefined;
            }

            throw error;
        }

        return ParseState(result.Stdout.Trim());
    }

    /// <summary>virsh domstate words (virDomainState): everything that holds a QEMU process counts as running.</summary>
    internal static DomainRunState ParseState(string state) => state switch
    {
        "running" or "idle" or "blocked" or "in shutdown" => DomainRunState.Running,
        "paused" or "pmsuspended" => DomainRunState.Paused,
        "shut off" or "crashed" => DomainRunState.ShutOff,
        _ => throw new LibvirtException($"virsh domstate printed '{state}', which Taquin does not know", isTransient: false),
    };

    public Task<string> DumpXmlAsync(string host, string domain, CancellationToken ct = default)
        => VirshAsync(host, ["dumpxml", domain], ct);

    public async Task<DomainBlockInfo> GetBlockInfoAsync(string host, string domain, string target, CancellationToken ct = default)
    {
        var stdout = await VirshAsync(host, ["domblkinfo", domain, target], ct);
        var values = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(':', 2, StringSplitOptions.TrimEntries))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.OrdinalIgnoreCase);
        long Value(string key) => values.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n : throw new LibvirtException($"virsh domblkinfo {domain} {target} on {host} printed no '{key}'", isTransient: false);
        return new DomainBlockInfo(Value("Capacity"), Value("Allocation"), Value("Physical"));
    }

    public async Task ShutdownAsync(string host, string domain, CancellationToken ct = default)
        => await VirshAsync(host, ["shutdown", domain], ct, VirshErrorKind.NotRunning);

    public async Task DestroyAsync(string host, string domain, CancellationToken ct = default)
        => await VirshAsync(host, ["destroy", domain], ct, VirshErrorKind.NotRunning);

    public async Task StartAsync(string host, string domain, CancellationToken ct = default)
        => await VirshAsync(host, ["start", domain], ct, VirshErrorKind.AlreadyRunning);

    public async Task<bool> GetAutostartAsync(string host, string domain, CancellationToken ct = default)
    {
        var stdout = await VirshAsync(host, ["dominfo", domain], ct);
        var line = stdout.Split('\n').Select(l => l.Split(':', 2, StringSplitOptions.TrimEntries))
            .FirstOrDefault(p => p.Length == 2 && p[0] == "Autostart")
            ?? throw new LibvirtException($"virsh dominfo {domain} on {host} printed no Autostart line", isTransient: false);
        return line[1] == "enable";
    }

    public async Task SetAutostartAsync(string host, string domain, bool enabled, CancellationToken ct = default)
        => await VirshAsync(host, enabled ? ["autostart", domain] : ["autostart", "--disable", domain], ct);

    public async Task<string> UndefineAsync(string host, string domain, CancellationToken ct = default)
    {
        // A running domain would only become transient: refuse like the simulated host, the caller must shut it off first.
        var state = await GetDomainStateAsync(host, domain, ct);
        if (state == DomainRunState.Undefined)
        {
            throw new LibvirtException($"domain {domain} is not defined on {host}", isTransient: false);
        }

        if (state != DomainRunState.ShutOff)
        {
            throw new LibvirtException($"domain {domain} on {host} is {state.ToString().ToLowerInvariant()}; shut it off before undefining it", isTransient: false);
        }

        var xml = await VirshAsync(host, ["dumpxml", "--inactive", "--security-info", domain], ct);
        // --keep-nvram: a UEFI guest's variables stay on disk so the XML can be defined again as it was.
        await VirshAsync(host, ["undefine", "--keep-nvram", domain], ct);
        return xml;
    }

    public async Task DefineAsync(string host, string xml, CancellationToken ct = default)
    {
        // The XML goes through stdin: no temporary file on the host, nothing of it on a command line.
        using var stdin = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(xml));
        var argv = Argv(host, ["define", "/dev/stdin"]);
        var result = await ssh.RunAsync(host, argv, stdin, ct);
        if (!result.Succeeded)
        {
            throw VirshErrors.From(host, ["define"], result);
        }
    }

    public async Task LiveMigrateAsync(string host, string domain, string targetHost, CancellationToken ct = default)
    {
        var state = await GetDomainStateAsync(host, domain, ct);
        if (state == DomainRunState.Undefined)
        {
            throw new LibvirtException($"domain {domain} is not defined on {host}", isTransient: false);
        }

        var target = _options.For(targetHost);
        var args = new List<string> { "migrate", "--persistent", "--undefinesource", "--verbose" };
        if (state == DomainRunState.ShutOff)
        {
            // Nothing runs: only the definition moves (the disks are where both hosts see them or copied beforehand).
            args.Add("--offline");
        }
        else
        {
            args.Add("--live");
            if (target.PeerToPeer)
            {
                args.Add("--p2p");
            }

            if (!target.SharedFileStorage && HasLocalFileDisk(await DumpXmlAsync(host, domain, ct)))
            {
                args.Add("--copy-storage-all");
            }

            if (target.MigrationAddress is { } address)
            {
                args.AddRange(["--migrateuri", $"tcp://{address}", "--listen-address", address]);
            }
        }

        args.Add(domain);
        args.Add(target.MigrationUri ?? $"qemu+ssh://root@{targetHost}/system");
        await VirshAsync(host, args, ct);
    }

    public async Task<IReadOnlyList<DomainBlockDevice>> DomainBlockListAsync(string host, string domain, bool inactive = false, CancellationToken ct = default)
    {
        var stdout = await VirshAsync(host, inactive ? ["domblklist", "--details", "--inactive", domain] : ["domblklist", "--details", domain], ct);
        return ParseBlockList(stdout);
    }

    /// <summary>Rows of <c>virsh --quiet domblklist --details</c>: type, device, target, then the source (which may hold spaces; "-" = empty).</summary>
    internal static IReadOnlyList<DomainBlockDevice> ParseBlockList(string stdout)
        => [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !line.StartsWith("Type ", StringComparison.Ordinal) && !line.StartsWith("---", StringComparison.Ordinal))
            .Select(line => line.Split((char[]?)null, 4, StringSplitOptions.RemoveEmptyEntries))
            .Where(parts => parts.Length >= 3)
            .Select(parts => new DomainBlockDevice(parts[0], parts[1], parts[2], parts.Length == 4 && parts[3].Trim() != "-" ? parts[3].Trim() : null))];

    public async Task CreateDiskOnlySnapshotAsync(string host, string domain, string name, IReadOnlyDictionary<string, string> overlays, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(overlays);
        var disks = await DomainBlockListAsync(host, domain, ct: ct);
        var missing = overlays.Keys.Where(t => disks.All(d => d.Target != t)).ToList();
        if (missing.Count > 0)
        {
            throw new LibvirtException($"domain {domain} on {host} has no disk {string.Join(", ", missing)}", isTransient: false);
        }

        // --no-metadata: nothing for libvirt to track (an undefine would refuse a domain with snapshot metadata); the
        // journal checkpoints the overlay paths instead. Disks not named stay out of the snapshot (RBD, CD-ROMs).
        var args = new List<string> { "snapshot-create-as", domain, name, "--disk-only", "--atomic", "--no-metadata" };
        foreach (var disk in disks.Where(d => d.Source is not null || d.Device == "disk"))
        {
            args.Add("--diskspec");
            args.Add(overlays.TryGetValue(disk.Target, out var overlay)
                ? $"{disk.Target},snapshot=external,file={overlay.Replace(",", ",,", StringComparison.Ordinal)}"
                : $"{disk.Target},snapshot=no");
        }

        await VirshAsync(host, args, ct);
    }

    public async Task BlockCommitAsync(string host, string domain, string target, CancellationToken ct = default)
        => await VirshAsync(host, ["blockcommit", domain, target, "--active", "--pivot", "--wait"], ct);

    /// <summary>A writable file or block disk (not a CD-ROM, not RBD) that a live migration must copy.</summary>
    internal static bool HasLocalFileDisk(string xml)
        => XDocument.Parse(xml).Descendants("disk").Any(d =>
            (string?)d.Attribute("device") is null or "disk"
            && (string?)d.Attribute("type") is "file" or "block"
            && d.Element("source") is not null
            && d.Element("readonly") is null);

    private List<string> Argv(string host, IReadOnlyList<string> args)
    {
        var argv = new List<string> { "virsh", "--quiet" };
        if (_options.For(host).ConnectUri is { } uri)
        {
            argv.AddRange(["-c", uri]);
        }

        argv.AddRange(args);
        return argv;
    }

    private Task<SshResult> RunAsync(string host, IReadOnlyList<string> args, CancellationToken ct)
        => ssh.RunAsync(host, Argv(host, args), null, ct);

    /// <summary>Runs virsh; its stdout, or a typed error. <paramref name="alreadyDone"/> is an error that means the wanted state holds.</summary>
    private async Task<string> VirshAsync(string host, IReadOnlyList<string> args, CancellationToken ct, VirshErrorKind? alreadyDone = null)
    {
        var result = await RunAsync(host, args, ct);
        if (result.Succeeded)
        {
            return result.Stdout;
        }

        var error = VirshErrors.From(host, args, result);
        if (alreadyDone is { } kind && error.Kind == kind)
        {
            return "";
        }

        throw error;
    }
}
