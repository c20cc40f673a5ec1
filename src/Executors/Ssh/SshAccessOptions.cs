using System.Globalization;
using System.Text;

namespace Taquin.Executors.Ssh;

/// <summary>
/// How Taquin authenticates to and trusts the fleet's hosts over SSH: what is not inventory (fleet.yaml says
/// where a host is, this says with which key and which host keys are genuine). Filled from the environment
/// (<see cref="FromEnvironment"/>) and then from CLI options (<c>with</c> expressions). See docs/access.md.
/// </summary>
public sealed record SshAccessOptions
{
    public const string IdentityFileVariable = "TAQUIN_SSH_KEY";
    public const string PassphraseVariable = "TAQUIN_SSH_KEY_PASSPHRASE";
    public const string KnownHostsVariable = "TAQUIN_SSH_KNOWN_HOSTS";
    public const string FingerprintsVariable = "TAQUIN_SSH_HOST_KEYS";
    public const string ConnectTimeoutVariable = "TAQUIN_SSH_CONNECT_TIMEOUT";
    public const string CommandTimeoutVariable = "TAQUIN_SSH_COMMAND_TIMEOUT";

    private static readonly string[] DefaultIdentityNames = ["id_ed25519", "id_ecdsa", "id_rsa"];

    /// <summary>Private key file (OpenSSH or PEM format). Key authentication only: no passwords, no agent.</summary>
    public string? IdentityFile { get; init; }

    /// <summary>Passphrase of <see cref="IdentityFile"/>; a secret, never printed.</summary>
    public string? Passphrase { get; init; }

    /// <summary>OpenSSH known_hosts file(s) holding the trusted host keys (plain or hashed host names).</summary>
    public IReadOnlyList<string> KnownHostsFiles { get; init; } = [];

    /// <summary>
    /// Pinned host key fingerprints (<c>SHA256:...</c>, as <c>ssh-keygen -lf</c> prints them) per fleet host name.
    /// A host key is trusted when it matches a pin or a known_hosts entry of that host; anything else is refused.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> PinnedFingerprints { get; init; } =
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

    /// <summary>TCP connect plus SSH handshake and authentication.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Longest one remote command may run; null: no limit (disk copies take hours; cancel instead).</summary>
    public TimeSpan? CommandTimeout { get; init; }

    /// <summary>Stderr kept per command (the last bytes, where the error usually is).</summary>
    public int StderrTailBytes { get; init; } = 64 * 1024;

    /// <summary>RunAsync captures stdout up to this size; more is an error (stream it instead).</summary>
    public int MaxCapturedStdoutBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>Bytes of remote stdout buffered before the remote side is paused (back-pressure for streamed output).</summary>
    public int StreamBufferBytes { get; init; } = 1024 * 1024;

    /// <summary>Interval of SSH keep-alive messages on idle connections (detects dropped connections).</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Reads TAQUIN_SSH_KEY, TAQUIN_SSH_KEY_PASSPHRASE, TAQUIN_SSH_KNOWN_HOSTS (paths separated by ':'),
    /// TAQUIN_SSH_HOST_KEYS (<c>host=SHA256:...,host=SHA256:...</c>), TAQUIN_SSH_CONNECT_TIMEOUT and
    /// TAQUIN_SSH_COMMAND_TIMEOUT (seconds). Unset: the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exists,
    /// and ~/.ssh/known_hosts.
    /// </summary>
    /// <exception cref="FormatException">A variable holds a value that cannot be used; the message names it.</exception>
    public static SshAccessOptions FromEnvironment(Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        string? Get(string name) => getVariable(name) is { Length: > 0 } value ? value : null;

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var identity = Get(IdentityFileVariable)
            ?? DefaultIdentityNames.Select(n => Path.Combine(home, ".ssh", n)).FirstOrDefault(File.Exists);
        var knownHosts = Get(KnownHostsVariable) is { } list
            ? list.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : [Path.Combine(home, ".ssh", "known_hosts")];

        var options = new SshAccessOptions
        {
            IdentityFile = identity,
            Passphrase = Get(PassphraseVariable),
            KnownHostsFiles = knownHosts,
            PinnedFingerprints = ParsePins(Get(FingerprintsVariable)),
        };
        if (Get(ConnectTimeoutVariable) is { } connect)
        {
            options = options with { ConnectTimeout = ParseSeconds(ConnectTimeoutVariable, connect) };
        }

        if (Get(CommandTimeoutVariable) is { } command)
        {
            options = options with { CommandTimeout = ParseSeconds(CommandTimeoutVariable, command) };
        }

        return options;
    }

    /// <summary>Parses <c>host=SHA256:...,host=SHA256:...</c> (a host may appear several times, e.g. one pin per key type).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> ParsePins(string? text)
    {
        var pins = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var entry in (text ?? "").Split([',', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            var host = equals > 0 ? entry[..equals] : "";
            var fingerprint = equals > 0 ? entry[(equals + 1)..] : "";
            if (host.Length == 0 || !HostKeyFingerprint.IsWellFormed(fingerprint))
            {
                throw new FormatException(
                    $"{FingerprintsVariable}: '{entry}' is not host=SHA256:<base64> (take the fingerprint from `ssh-keygen -lf <host key>.pub` on the host)");
            }

            if (!pins.TryGetValue(host, out var forHost))
            {
                pins[host] = forHost = [];
            }

            forHost.Add(fingerprint);
        }

        return pins.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value, StringComparer.Ordinal);
    }

    private static TimeSpan ParseSeconds(string variable, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : throw new FormatException($"{variable}: '{value}' is not a positive number of seconds");

    // The passphrase is a secret: records print every property, so this one prints only whether it is set.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append(CultureInfo.InvariantCulture,
            $"IdentityFile = {IdentityFile ?? "(none)"}, Passphrase = {(Passphrase is null ? "(none)" : "(set)")}, ");
        builder.Append(CultureInfo.InvariantCulture,
            $"KnownHostsFiles = [{string.Join(", ", KnownHostsFiles)}], PinnedHosts = [{string.Join(", ", PinnedFingerprints.Keys)}], ");
        builder.Append(CultureInfo.InvariantCulture,
            $"ConnectTimeout = {ConnectTimeout}, CommandTimeout = {CommandTimeout?.ToString() ?? "(none)"}");
        return true;
    }
}
