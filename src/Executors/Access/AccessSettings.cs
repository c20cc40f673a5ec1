using System.Globalization;
using System.Text;
using Taquin.Executors.Movers;
using Taquin.Executors.Ssh;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Access;

/// <summary>
/// How Taquin reaches the fleet beyond fleet.yaml (which says where hosts are): SSH trust and key, the PVE API and its
/// token, virsh connection URIs, the old Ceph's admin host and credentials, the disk movers' data path. Read from an
/// access file by <see cref="AccessFile.Load"/>; secrets stay in files or environment variables and are read only
/// when the adapters are built. See docs/access.md and docs/adr/0011-access-file-and-real-adapters.md.
/// </summary>
public sealed record AccessSettings
{
    /// <summary>The access file these settings came from (for messages).</summary>
    public required string SourcePath { get; init; }

    public required SshAccessOptions Ssh { get; init; }

    /// <summary>Null when the file has no <c>pve:</c> section (a fleet without PVE targets).</summary>
    public PveAccess? Pve { get; init; }

    public LibvirtAccess Libvirt { get; init; } = new();

    /// <summary>Null when the file has no <c>ceph:</c> section (a fleet without RBD disks).</summary>
    public CephAccess? Ceph { get; init; }

    public MoverAccess Movers { get; init; } = new();
}

/// <summary>Where a secret is: a file (its first line) or an environment variable. Never the secret itself.</summary>
public sealed record SecretSource(string? FilePath, string? Variable)
{
    /// <summary>Reads the secret; a missing file, unset variable or empty value is an <see cref="AccessException"/> naming the source.</summary>
    public string Read(string what)
    {
        string? value;
        if (FilePath is not null)
        {
            try
            {
                value = File.ReadLines(FilePath).FirstOrDefault()?.Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new AccessException($"{what}: cannot read the secret file '{FilePath}' ({ex.GetType().Name}): check the path and that this user may read it");
            }
        }
        else
        {
            value = Environment.GetEnvironmentVariable(Variable!)?.Trim();
        }

        return string.IsNullOrEmpty(value)
            ? throw new AccessException($"{what}: {this} is empty: put the secret there (first line of the file, or export the variable)")
            : value;
    }

    public override string ToString() => FilePath is not null ? $"secret file '{FilePath}'" : $"environment variable {Variable}";
}

/// <summary>The PVE API endpoint (one node's or the cluster's address) and its API token.</summary>
public sealed record PveAccess
{
    public required Uri Url { get; init; }

    /// <summary><c>user@realm!tokenid</c>, as PVE shows it under Datacenter → Permissions → API Tokens.</summary>
    public required string TokenId { get; init; }

    public required SecretSource TokenSecret { get; init; }

    /// <summary>SHA-256 of the node's TLS certificate (normalised AB:CD:...); null: ordinary CA validation.</summary>
    public string? CertificateFingerprint { get; init; }

    public TimeSpan? RequestTimeout { get; init; }

    public string User => TokenId[..TokenId.IndexOf('!', StringComparison.Ordinal)];
    public string TokenName => TokenId[(TokenId.IndexOf('!', StringComparison.Ordinal) + 1)..];
}

/// <summary>virsh endpoints: a default and per fleet host (the libvirt adapter's VirshOptions).</summary>
public sealed record LibvirtAccess
{
    public LibvirtHostAccess Default { get; init; } = new();
    public IReadOnlyDictionary<string, LibvirtHostAccess> Hosts { get; init; } = new Dictionary<string, LibvirtHostAccess>(StringComparer.Ordinal);

    /// <summary>How long a guest on <paramref name="host"/> gets to honour ACPI shutdown; null: the step's default (3 min).</summary>
    public TimeSpan? ShutdownGraceOf(string host)
        => Hosts.TryGetValue(host, out var own) ? own.Over(Default).ShutdownGrace : Default.ShutdownGrace;

    /// <summary>The step settings these endpoints imply (the shutdown grace time per host).</summary>
    public StepSettings StepSettings() => new() { ShutdownGrace = ShutdownGraceOf };
}

public sealed record LibvirtHostAccess
{
    public string? ConnectUri { get; init; }
    public string? MigrationUri { get; init; }
    public string? MigrationAddress { get; init; }
    public bool? PeerToPeer { get; init; }
    public bool? SharedFileStorage { get; init; }
    /// <summary>ACPI grace time of shutdown-source before a guest is powered off (access file: shutdownGraceSeconds).</summary>
    public TimeSpan? ShutdownGrace { get; init; }

    /// <summary>This host's values over <paramref name="defaults"/>.</summary>
    public LibvirtHostAccess Over(LibvirtHostAccess defaults) => new()
    {
        ConnectUri = ConnectUri ?? defaults.ConnectUri,
        MigrationUri = MigrationUri ?? defaults.MigrationUri,
        MigrationAddress = MigrationAddress ?? defaults.MigrationAddress,
        PeerToPeer = PeerToPeer ?? defaults.PeerToPeer,
        SharedFileStorage = SharedFileStorage ?? defaults.SharedFileStorage,
        ShutdownGrace = ShutdownGrace ?? defaults.ShutdownGrace,
    };
}

/// <summary>The old Ceph: the fleet host whose ceph/rbd CLIs Taquin runs, and with which config and identity.</summary>
public sealed record CephAccess
{
    public required string AdminHost { get; init; }
    /// <summary>Paths on the admin host (not on the orchestrator).</summary>
    public string? Conf { get; init; }
    public string? Keyring { get; init; }
    public string? Id { get; init; }
    public string Pool { get; init; } = "rbd";
}

/// <summary>The disk movers' settings (null values: the movers' defaults, the data path from fleet.yaml's policy).</summary>
public sealed record MoverAccess
{
    /// <summary>"direct", "relayed", "target-client" or "direct-tcp"; null: fleet.yaml <c>policy.copyDataPath</c>.</summary>
    public string? DataPath { get; init; }
    /// <summary>ceph.conf of the old cluster on the source hosts.</summary>
    public string? SourceCephConf { get; init; }
    /// <summary>ceph.conf of the new cluster on the PVE nodes.</summary>
    public string? TargetCephConf { get; init; }
    /// <summary>"full" or "sampled".</summary>
    public string? Verify { get; init; }
    /// <summary>The direct path's <c>ssh -c</c> list (checked against MoverOptions.SshCipherNames); null: the movers' default.</summary>
    public string? SshCiphers { get; init; }
    /// <summary>The old cluster's ceph.conf on the PVE nodes; required by the target-client data path.</summary>
    public string? SourceCephConfOnTarget { get; init; }
    /// <summary>Fleet hosts whose disks are the orchestrator's own files (it writes raw targets there itself).</summary>
    public IReadOnlyList<string> LocalHosts { get; init; } = [];
    /// <summary><c>movers.tcp</c>: addresses and ports of the direct-tcp data path; required by it.</summary>
    public TcpDataPathOptions? Tcp { get; init; }
}

/// <summary>The access file cannot be used as it is; the message names the file, key and fix.</summary>
public sealed class AccessException(string message) : Exception(message);

internal static class AccessText
{
    public static string Seconds(TimeSpan span) => span.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s";

    public static string Describe(AccessSettings settings)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"access {settings.SourcePath}: ssh {settings.Ssh}");
        if (settings.Pve is { } pve)
        {
            text.Append(CultureInfo.InvariantCulture, $"; pve {pve.Url} token {pve.TokenId} ({pve.TokenSecret})");
        }

        if (settings.Ceph is { } ceph)
        {
            text.Append(CultureInfo.InvariantCulture, $"; ceph via {ceph.AdminHost} pool {ceph.Pool}");
        }

        return text.ToString();
    }
}
