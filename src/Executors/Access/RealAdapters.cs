using Microsoft.Extensions.Logging;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ceph;
using Taquin.Executors.Libvirt;
using Taquin.Executors.Movers;
using Taquin.Executors.Pve;
using Taquin.Executors.Ssh;
using Taquin.Executors.Steps;
using Taquin.Planner.Inventory;

namespace Taquin.Executors.Access;

/// <summary>
/// The adapters of a real run, built from fleet.yaml (where hosts are) and the access file (how to reach them):
/// SSH.NET for every host with an <c>ssh:</c> address, virsh and the ceph/rbd CLIs over it, the PVE API client with its
/// token, and the command disk mover. Owns the connections; dispose it when the run's process ends. Secrets are read
/// here (the token secret from its file or variable) and go only into the clients, never into messages or logs.
/// </summary>
public sealed class RealAdapters : IDisposable
{
    private readonly SshNetRunner _ssh;
    private readonly PveHttpClient _pve;

    private RealAdapters(SshNetRunner ssh, PveHttpClient pve, AdapterSet adapters)
    {
        _ssh = ssh;
        _pve = pve;
        Adapters = adapters;
    }

    public AdapterSet Adapters { get; }

    public SshNetRunner Ssh => _ssh;

    /// <exception cref="AccessException">The access file lacks a section the run needs, or a secret cannot be read; the message names them.</exception>
    public static RealAdapters Create(Fleet fleet, AccessSettings access, TimeProvider? time = null, ILoggerFactory? logging = null)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(access);
        time ??= TimeProvider.System;
        var pveAccess = access.Pve ?? throw new AccessException(
            $"{access.SourcePath}: no pve: section: a run creates VMs through the PVE API. Add pve: with url, tokenId and tokenSecretFile (docs/access.md)");
        var cephAccess = access.Ceph ?? throw new AccessException(
            $"{access.SourcePath}: no ceph: section: a run snapshots and copies the old Ceph's RBD images. Add ceph: with adminHost (docs/access.md)");
        var withoutSsh = fleet.Hosts.Where(h => h.Ssh is null).Select(h => h.Name).ToList();
        if (withoutSsh.Count > 0)
        {
            throw new AccessException($"fleet.yaml: host(s) {string.Join(", ", withoutSsh)} have no ssh: address; a real run reaches every host over SSH. "
                + "Add 'ssh: root@ADDRESS[:PORT]' to each (docs/inventory-format.md)");
        }

        SshNetRunner ssh;
        try
        {
            ssh = SshRunnerFactory.Create(fleet, access.Ssh, logging?.CreateLogger<SshNetRunner>());
        }
        catch (FormatException ex)
        {
            throw new AccessException(ex.Message);
        }

        PveHttpClient? pve = null;
        try
        {
            pve = new PveHttpClient(PveOptions(pveAccess), time, logging?.CreateLogger<PveHttpClient>());
            var libvirt = new VirshLibvirtHost(ssh, VirshOptionsOf(access.Libvirt));
            var ceph = new RbdCephCluster(ssh, new CephClusterOptions
            {
                AdminHost = cephAccess.AdminHost,
                ConfPath = cephAccess.Conf,
                KeyringPath = cephAccess.Keyring,
                Id = cephAccess.Id,
                Pool = cephAccess.Pool,
            }, time);
            var mover = new CommandDiskMover(ssh, MoverOptionsOf(fleet, access), time);
            return new RealAdapters(ssh, pve, new AdapterSet(ssh, pve, libvirt, ceph, mover));
        }
        catch
        {
            pve?.Dispose();
            ssh.Dispose();
            throw;
        }
    }

    internal static PveClientOptions PveOptions(PveAccess access)
    {
        var options = new PveClientOptions
        {
            BaseAddress = access.Url,
            Credentials = new PveApiToken(access.User, access.TokenName, access.TokenSecret.Read($"PVE API token {access.TokenId}")),
            CertificateFingerprint = access.CertificateFingerprint,
        };
        return access.RequestTimeout is { } timeout ? WithTimeout(options, timeout) : options;
    }

    private static PveClientOptions WithTimeout(PveClientOptions o, TimeSpan timeout) => new()
    {
        BaseAddress = o.BaseAddress,
        Credentials = o.Credentials,
        CertificateFingerprint = o.CertificateFingerprint,
        RequestTimeout = timeout,
    };

    internal static VirshOptions VirshOptionsOf(LibvirtAccess access) => new()
    {
        Default = EndpointOf(access.Default),
        Hosts = access.Hosts.ToDictionary(h => h.Key, h => EndpointOf(h.Value.Over(access.Default)), StringComparer.Ordinal),
    };

    private static LibvirtEndpoint EndpointOf(LibvirtHostAccess host) => new()
    {
        ConnectUri = host.ConnectUri,
        MigrationUri = host.MigrationUri,
        MigrationAddress = host.MigrationAddress,
        PeerToPeer = host.PeerToPeer ?? false,
        SharedFileStorage = host.SharedFileStorage ?? false,
    };

    /// <summary>The movers' options: the access file's values over fleet.yaml's copy data path and the movers' defaults.</summary>
    internal static MoverOptions MoverOptionsOf(Fleet fleet, AccessSettings access)
    {
        var movers = access.Movers;
        var dataPath = movers.DataPath ?? fleet.Policy.CopyDataPath;
        var local = new HashSet<string>(movers.LocalHosts, StringComparer.Ordinal);
        var defaults = MoverOptions.Default;
        if (DataPathNames.Parse(dataPath) == DataPath.TargetClient && movers.SourceCephConfOnTarget is null)
        {
            throw new AccessException("copy data path target-client: the PVE nodes need the old cluster's ceph.conf; set movers.sourceCephConfOnTarget in the access file (e.g. /etc/pve/priv/ceph/old-ceph.conf, with its keyring)");
        }

        if (DataPathNames.Parse(dataPath) == DataPath.DirectTcp && (movers.Tcp is null || (movers.Tcp.DefaultAddress is null && movers.Tcp.Addresses.Count == 0)))
        {
            throw new AccessException("copy data path direct-tcp: the movers need the hosts' migration-network addresses; set movers.tcp.addresses (host: IP) or movers.tcp.bindAddress in the access file (docs/access.md)");
        }

        return defaults with
        {
            Tcp = movers.Tcp ?? defaults.Tcp,
            // Both sources are validated when read: an unknown name never gets here, and none turns into another.
            DataPath = DataPathNames.Parse(dataPath) ?? throw new AccessException($"unknown copy data path '{dataPath}' (known: {string.Join(", ", DataPathNames.All)})"),
            SshCiphers = movers.SshCiphers ?? defaults.SshCiphers,
            SourceCephConfOnTarget = movers.SourceCephConfOnTarget,
            SourceCephConf = movers.SourceCephConf ?? access.Ceph?.Conf,
            TargetCephConf = movers.TargetCephConf,
            // The plan's downtime estimates count the fleet's policy.verify: the movers do the same unless the access file says otherwise.
            Verify = (movers.Verify ?? fleet.Policy.Verify) == "sampled" ? VerifyMode.Sampled : VerifyMode.Full,
            IsLocalHost = host => local.Contains(host) || defaults.IsLocalHost(host),
        };
    }

    public override string ToString() => $"real adapters: {_ssh}, {_pve}";

    public void Dispose()
    {
        _pve.Dispose();
        _ssh.Dispose();
    }
}
