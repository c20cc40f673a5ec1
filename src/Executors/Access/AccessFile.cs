using System.Globalization;
using Taquin.Executors.Movers;
using Taquin.Executors.Ssh;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Taquin.Executors.Access;

/// <summary>
/// Reads an access file (docs/access.md) from YamlDotNet's node tree so every problem is reported at once with its
/// key path and line: unknown keys, bad values, missing files, host names that are not in fleet.yaml, and secrets
/// written inline (refused: they belong in a file or an environment variable). Relative paths are relative to the
/// access file. The SSH part starts from <see cref="SshAccessOptions.FromEnvironment"/>: the file overrides it.
/// </summary>
public static class AccessFile
{
    private const string Docs = "docs/access.md";

    /// <exception cref="InvalidInputException">Every problem found, each with file, line, key and fix.</exception>
    public static AccessSettings Load(string path, Fleet? fleet = null, Func<string, string?>? getVariable = null)
    {
        string yaml;
        try
        {
            yaml = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException([Diagnostic.Error(path, "(file)", $"Cannot read the access file ({ex.GetType().Name}: {ex.Message}).",
                "Give the path of an existing access file (--access FILE); docs/access.md has an example.")]);
        }

        return Parse(yaml, path, fleet, getVariable);
    }

    /// <exception cref="InvalidInputException">Every problem found.</exception>
    public static AccessSettings Parse(string yaml, string path, Fleet? fleet = null, Func<string, string?>? getVariable = null)
    {
        var diagnostics = new List<Diagnostic>();
        var baseDirectory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        var reader = new Reader(path, baseDirectory, fleet, diagnostics);

        SshAccessOptions sshDefaults;
        try
        {
            sshDefaults = SshAccessOptions.FromEnvironment(getVariable);
        }
        catch (FormatException ex)
        {
            diagnostics.Add(Diagnostic.Error(path, "ssh", $"The SSH environment is not usable: {ex.Message}", "Fix or unset that variable, or set the value in the access file's ssh: section."));
            sshDefaults = new SshAccessOptions();
        }

        // Bad YAML or a root that is not a mapping: that problem alone, nothing else can be read.
        var readable = diagnostics.Count;
        var root = reader.Source.ReadRoot(yaml, "ssh, pve, libvirt, ceph and movers sections")
            ?? throw new InvalidInputException([.. diagnostics.Skip(readable)]);
        var settings = new AccessSettings
        {
            SourcePath = path,
            Ssh = root.Mapping("ssh") is { } ssh ? reader.ReadSsh(ssh, sshDefaults) : sshDefaults,
            Pve = root.Mapping("pve") is { } pve ? reader.ReadPve(pve) : null,
            Libvirt = root.Mapping("libvirt") is { } libvirt ? reader.ReadLibvirt(libvirt) : new LibvirtAccess(),
            Ceph = root.Mapping("ceph") is { } ceph ? reader.ReadCeph(ceph) : null,
            Movers = root.Mapping("movers") is { } movers ? reader.ReadMovers(movers) : new MoverAccess(),
        };
        root.ReportUnknown();

        return diagnostics.Any(d => d.Severity == Severity.Error) ? throw new InvalidInputException(diagnostics) : settings;
    }

    private sealed class Reader(string file, string baseDirectory, Fleet? fleet, List<Diagnostic> diagnostics)
    {
        public YamlSource Source { get; } = new(file, Docs, diagnostics);

        public SshAccessOptions ReadSsh(YamlMappingReader m, SshAccessOptions defaults)
        {
            var options = defaults;
            if (m.ExistingFile("identityFile", this) is { } identity)
            {
                options = options with { IdentityFile = identity };
            }

            m.RefuseInline("passphrase", "passphraseFile or passphraseEnv");
            if (ReadSecret(m, "passphraseFile", "passphraseEnv", required: false) is { } passphrase)
            {
                // The passphrase is needed by SSH.NET as a string: read now, kept only in the options record (which hides it).
                try
                {
                    options = options with { Passphrase = passphrase.Read("ssh passphrase") };
                }
                catch (AccessException ex)
                {
                    m.ErrorAt(passphrase.FilePath is null ? "passphraseEnv" : "passphraseFile", ex.Message, "Point it at the key's passphrase, or remove it for a key without one.", null);
                }
            }

            if (m.PathList("knownHosts", this) is { } knownHosts)
            {
                foreach (var missing in knownHosts.Where(f => !File.Exists(f)))
                {
                    m.ErrorAt("knownHosts", $"known_hosts file '{missing}' does not exist.", "Create it with `ssh-keyscan -p PORT ADDRESS >> FILE` after checking the key on the host's console, or fix the path.", missing);
                }

                options = options with { KnownHostsFiles = knownHosts };
            }

            if (m.Mapping("hostKeys") is { } pins)
            {
                var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
                foreach (var host in pins.Keys())
                {
                    CheckFleetHost(pins, host, "a host name of fleet.yaml");
                    var values = pins.StringOrList(host) ?? [];
                    foreach (var bad in values.Where(v => !HostKeyFingerprint.IsWellFormed(v)))
                    {
                        pins.ErrorAt(host, "Not a host key fingerprint.", "Write SHA256:<base64> as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it on the host.", bad);
                    }

                    result[host] = values;
                }

                options = options with { PinnedFingerprints = result };
            }

            if (m.Seconds("connectTimeoutSeconds") is { } connect)
            {
                options = options with { ConnectTimeout = connect };
            }

            if (m.Seconds("commandTimeoutSeconds") is { } command)
            {
                options = options with { CommandTimeout = command };
            }

            m.ReportUnknown();
            if (options.IdentityFile is null)
            {
                m.ErrorAt(null, "No SSH private key: none given and none of ~/.ssh/id_ed25519, id_ecdsa, id_rsa exists.",
                    $"Add 'identityFile: /path/to/key' to the ssh: section, or set {SshAccessOptions.IdentityFileVariable}.", null);
            }

            return options;
        }

        public PveAccess? ReadPve(YamlMappingReader m)
        {
            var url = m.String("url", required: true, "https://pve1.example.org:8006");
            var tokenId = m.String("tokenId", required: true, "root@pam!taquin");
            m.RefuseInline("tokenSecret", "tokenSecretFile or tokenSecretEnv");
            var secret = ReadSecret(m, "tokenSecretFile", "tokenSecretEnv", required: true);
            var fingerprint = m.String("fingerprint", required: false, "AB:CD:...");
            var timeout = m.Seconds("requestTimeoutSeconds");
            m.ReportUnknown();

            Uri? uri = null;
            if (url is not null && (!Uri.TryCreate(url, UriKind.Absolute, out uri) || uri.Scheme != Uri.UriSchemeHttps))
            {
                m.ErrorAt("url", "Not an https URL.", "Write the API address as https://HOST:8006 (PVE serves its API over TLS only).", url);
                uri = null;
            }

            if (tokenId is not null && !IsTokenId(tokenId))
            {
                m.ErrorAt("tokenId", "Not a PVE API token id.", "Write user@realm!tokenname, e.g. root@pam!taquin (pveum user token add root@pam taquin).", tokenId);
                tokenId = null;
            }

            if (fingerprint is not null)
            {
                try
                {
                    fingerprint = Pve.PveClientOptions.NormalizeFingerprint(fingerprint);
                }
                catch (ArgumentException)
                {
                    m.ErrorAt("fingerprint", "Not a SHA-256 certificate fingerprint.", "Copy it from `pvenode cert info` on the node (64 hex digits, colons optional).", fingerprint);
                }
            }

            return uri is null || tokenId is null || secret is null ? null : new PveAccess
            {
                Url = uri,
                TokenId = tokenId,
                TokenSecret = secret,
                CertificateFingerprint = fingerprint,
                RequestTimeout = timeout,
            };
        }

        private static bool IsTokenId(string tokenId)
        {
            var bang = tokenId.IndexOf('!', StringComparison.Ordinal);
            return bang > 0 && bang < tokenId.Length - 1 && tokenId[..bang].Contains('@', StringComparison.Ordinal);
        }

        public LibvirtAccess ReadLibvirt(YamlMappingReader m)
        {
            var defaults = ReadLibvirtHost(m);
            var hosts = new Dictionary<string, LibvirtHostAccess>(StringComparer.Ordinal);
            if (m.Mapping("hosts") is { } perHost)
            {
                foreach (var host in perHost.Keys())
                {
                    CheckFleetHost(perHost, host, "a libvirt host of fleet.yaml");
                    if (perHost.Mapping(host) is { } hostMap)
                    {
                        hosts[host] = ReadLibvirtHost(hostMap);
                        hostMap.ReportUnknown();
                    }
                }

                perHost.ReportUnknown();
            }

            m.ReportUnknown();
            return new LibvirtAccess { Default = defaults, Hosts = hosts };
        }

        private static LibvirtHostAccess ReadLibvirtHost(YamlMappingReader m)
            => new()
            {
                ConnectUri = m.String("connectUri", required: false, "qemu:///system"),
                MigrationUri = m.String("migrationUri", required: false, "qemu+ssh://root@kvm2/system"),
                MigrationAddress = m.String("migrationAddress", required: false, "10.0.0.12"),
                PeerToPeer = m.Bool("peerToPeer"),
                SharedFileStorage = m.Bool("sharedFileStorage"),
                ShutdownGrace = m.Seconds("shutdownGraceSeconds"),
            };

        public CephAccess? ReadCeph(YamlMappingReader m)
        {
            var admin = m.String("adminHost", required: true, "kvm1");
            if (admin is not null)
            {
                CheckFleetHost(m, "adminHost", "a fleet host with the ceph and rbd commands and an admin keyring", admin);
            }

            var access = admin is null ? null : new CephAccess
            {
                AdminHost = admin,
                Conf = m.String("conf", required: false, "/etc/ceph/ceph.conf"),
                Keyring = m.String("keyring", required: false, "/etc/ceph/ceph.client.admin.keyring"),
                Id = m.String("id", required: false, "admin"),
                Pool = m.String("pool", required: false, "rbd") ?? "rbd",
            };
            m.ReportUnknown();
            return access;
        }

        public MoverAccess ReadMovers(YamlMappingReader m)
        {
            var dataPath = m.Choice("dataPath", ["direct", "relayed", "target-client", "direct-tcp"], "direct (source hosts pipe to the PVE nodes over SSH), relayed (through the orchestrator), target-client (the PVE nodes read the old Ceph themselves, with sourceCephConfOnTarget) or direct-tcp (source hosts send to the PVE nodes over plain TCP on a trusted migration network, with tcp)");
            var cipherText = m.String("sshCiphers", required: false, "aes128-gcm@openssh.com,chacha20-poly1305@openssh.com");
            var (ciphers, refused) = MoverOptions.ParseSshCiphers(cipherText);
            if (cipherText is not null && ciphers is null)
            {
                m.ErrorAt("sshCiphers", $"Not a cipher list the movers use: {string.Join(", ", refused)}.", $"Use a comma-separated list of {string.Join(", ", MoverOptions.SshCipherNames)} (first supported wins; no CBC or 3DES).", cipherText);
            }

            var onTarget = m.String("sourceCephConfOnTarget", required: false, "/etc/pve/priv/ceph/old-ceph.conf");
            var verify = m.Choice("verify", ["full", "sampled"], "full (SHA-256 of every byte) or sampled (blocks at spread offsets)");
            var localHosts = m.StringOrList("localHosts") ?? [];
            foreach (var host in localHosts)
            {
                CheckFleetHost(m, "localHosts", "a fleet host whose disks are files of the orchestrator's own machine", host);
            }

            var movers = new MoverAccess
            {
                DataPath = dataPath,
                Verify = verify,
                SourceCephConf = m.String("sourceCephConf", required: false, "/etc/ceph/ceph.conf"),
                TargetCephConf = m.String("targetCephConf", required: false, "/etc/pve/ceph.conf"),
                SshCiphers = ciphers,
                SourceCephConfOnTarget = onTarget,
                LocalHosts = localHosts,
                Tcp = m.Mapping("tcp") is { } tcp ? ReadTcp(tcp) : null,
            };
            m.ReportUnknown();
            return movers;
        }

        /// <summary>movers.tcp: the direct-tcp path's migration addresses (literal IPs: the listener binds them) and ports.</summary>
        private TcpDataPathOptions ReadTcp(YamlMappingReader m)
        {
            var defaults = TcpDataPathOptions.Default;
            string? Address(YamlMappingReader map, string key, string example)
            {
                var text = map.String(key, required: false, example);
                if (text is not null && !TcpDataPathOptions.IsAddress(text))
                {
                    map.ErrorAt(key, "Not an IP address.", $"Write the host's address on the migration network as a literal IPv4 or IPv6 address, e.g. '{key}: {example}' (the receiver binds it; no names).", text);
                    return null;
                }

                return text;
            }

            var bindAddress = Address(m, "bindAddress", "10.10.0.11");
            var addresses = new Dictionary<string, string>(StringComparer.Ordinal);
            if (m.Mapping("addresses") is { } perHost)
            {
                foreach (var host in perHost.Keys())
                {
                    CheckFleetHost(perHost, host, "a fleet host (a libvirt host or a PVE node)");
                    if (Address(perHost, host, "10.10.0.11") is { } address)
                    {
                        addresses[host] = address;
                    }
                }

                perHost.ReportUnknown();
            }

            var (first, last) = (defaults.FirstPort, defaults.LastPort);
            if (m.String("ports", required: false, "60000-60050") is { } portText)
            {
                var (range, error) = TcpDataPathOptions.ParsePorts(portText);
                if (range is { } r)
                {
                    (first, last) = r;
                }
                else
                {
                    m.ErrorAt("ports", $"Not a port range: {error}.", "Write 'ports: 60000-60050' (unprivileged ports the firewall opens on the migration network; one per copy running at once on a node).", portText);
                }
            }

            var options = defaults with
            {
                DefaultAddress = bindAddress,
                Addresses = addresses,
                FirstPort = first,
                LastPort = last,
                AcceptTimeout = m.Seconds("acceptTimeoutSeconds") ?? defaults.AcceptTimeout,
                ConnectTimeout = m.Seconds("connectTimeoutSeconds") ?? defaults.ConnectTimeout,
                IdleTimeout = m.Seconds("idleTimeoutSeconds") ?? defaults.IdleTimeout,
                RestrictToSource = m.Bool("restrictToSource") ?? defaults.RestrictToSource,
            };
            m.ReportUnknown();
            return options;
        }

        /// <summary>A secret's place: exactly one of the file key (checked to exist) and the environment variable key.</summary>
        private SecretSource? ReadSecret(YamlMappingReader m, string fileKey, string variableKey, bool required)
        {
            var file = m.ExistingFile(fileKey, this);
            var variable = m.String(variableKey, required: false, "VARIABLE_NAME");
            if (file is not null && variable is not null)
            {
                m.ErrorAt(variableKey, $"Both {fileKey} and {variableKey} are given.", "Keep one of them.", variable);
                return null;
            }

            if (variable is not null)
            {
                return new SecretSource(null, variable);
            }

            if (file is not null)
            {
                return new SecretSource(file, null);
            }

            if (required && !m.Has(fileKey))
            {
                m.ErrorAt(null, $"No {fileKey} or {variableKey}.", $"Add '{fileKey}: /etc/taquin/secret' (a file only you can read, the secret on its first line) or '{variableKey}: VARIABLE'.", null);
            }

            return null;
        }

        private void CheckFleetHost(YamlMappingReader m, string key, string what, string? host = null)
        {
            host ??= key;
            if (fleet is not null && fleet.Hosts.All(h => h.Name != host))
            {
                m.ErrorAt(key, $"'{host}' is not a host of fleet.yaml.", $"Use {what}: one of {string.Join(", ", fleet.Hosts.Select(h => h.Name))}.", host);
            }
        }

        public string Resolve(string value) => Path.GetFullPath(Path.Combine(baseDirectory, ExpandHome(value)));

        private static string ExpandHome(string value)
            => value == "~" || value.StartsWith("~/", StringComparison.Ordinal)
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), value.Length > 2 ? value[2..] : "")
                : value;
    }

    /// <summary>A path on the orchestrator's machine that must exist now.</summary>
    private static string? ExistingFile(this YamlMappingReader m, string key, Reader owner)
    {
        if (m.String(key, required: false, "/path/to/file") is not { } text)
        {
            return null;
        }

        var full = owner.Resolve(text);
        if (!File.Exists(full))
        {
            m.ErrorAt(key, $"File '{full}' does not exist.", "Fix the path (relative paths are relative to the access file) or create the file.", text);
            return null;
        }

        return full;
    }

    private static IReadOnlyList<string>? PathList(this YamlMappingReader m, string key, Reader owner) => m.StringOrList(key)?.Select(owner.Resolve).ToList();

    /// <summary>Secrets are never written in the file itself: the key is refused with the way to do it.</summary>
    private static void RefuseInline(this YamlMappingReader m, string key, string instead)
    {
        if (m.IsSet(key))
        {
            // The value is a secret: never echoed.
            m.ErrorAt(key, $"'{key}' holds a secret inline; access files are not secret stores.", $"Put the secret in a file readable only by you, or in an environment variable, and use {instead}.", null);
        }
    }
}
