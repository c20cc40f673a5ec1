using System.Globalization;

namespace Taquin.Executors.Pve;

/// <summary>How <see cref="PveHttpClient"/> reaches and authenticates to one PVE API endpoint.</summary>
public sealed class PveClientOptions
{
    /// <summary>https://host:8006 (the client appends /api2/json/).</summary>
    public required Uri BaseAddress { get; init; }

    public required PveCredentials Credentials { get; init; }

    /// <summary>
    /// SHA-256 fingerprint of the node's TLS certificate ("AB:CD:..." or plain hex, any case), as
    /// <c>pvenode cert info</c> shows it. Null means ordinary CA validation (which PVE's self-signed
    /// certificate fails): validation is never switched off.
    /// </summary>
    public string? CertificateFingerprint { get; init; }

    /// <summary>PVE tickets live 2 h ($ticket_lifetime in PVE::AccessControl); the simulator's test mode shortens it.</summary>
    public TimeSpan TicketLifetime { get; init; } = TimeSpan.FromHours(2);

    /// <summary>A ticket older than lifetime minus this margin is renewed before the next call.</summary>
    public TimeSpan TicketRenewalMargin { get; init; } = TimeSpan.FromMinutes(15);

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan TaskPollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How many log lines a failed or warned task carries in <see cref="Adapters.PveTaskStatus.LogTail"/>.</summary>
    public int TaskLogTailLines { get; init; } = 20;

    /// <summary>Name given to a new cluster (POST /cluster/config).</summary>
    public string ClusterName { get; init; } = "taquin";

    /// <summary>Needed to join a node to a peer's cluster (POST /cluster/config/join); null refuses joins.</summary>
    public PveClusterJoin? ClusterJoin { get; init; }

    public override string ToString() =>
        $"{BaseAddress} as {Credentials}, certificate {(CertificateFingerprint is null ? "CA-validated" : "pinned " + CertificateFingerprint)}";

    /// <summary>"ab:cd..." or "ABCD..." to "AB:CD:...".</summary>
    public static string NormalizeFingerprint(string fingerprint)
    {
        var hex = new string([.. fingerprint.Where(Uri.IsHexDigit)]).ToUpperInvariant();
        if (hex.Length != 64)
        {
            throw new ArgumentException($"'{fingerprint}' is not a SHA-256 fingerprint (64 hex digits, colons optional).", nameof(fingerprint));
        }

        return string.Join(':', Enumerable.Range(0, 32).Select(i => hex.Substring(i * 2, 2)));
    }

    internal static string Format(byte[] sha256) =>
        string.Join(':', sha256.Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));
}

/// <summary>How the client proves who it is. Secrets never appear in <see cref="object.ToString"/>.</summary>
public abstract class PveCredentials
{
    /// <summary>The user (user@realm) the credentials act as.</summary>
    public abstract string UserId { get; }
}

/// <summary>An API token: <c>Authorization: PVEAPIToken=user@realm!tokenid=secret</c>; no CSRF token needed.</summary>
public sealed class PveApiToken(string userId, string tokenId, string secret) : PveCredentials
{
    public override string UserId { get; } = userId;
    public string TokenId { get; } = tokenId;
    internal string Secret { get; } = secret;

    internal string HeaderValue => $"PVEAPIToken={UserId}!{TokenId}={Secret}";

    public override string ToString() => $"API token {UserId}!{TokenId} (secret hidden)";
}

/// <summary>User and password: a ticket from POST /access/ticket, sent as the PVEAuthCookie with a CSRF header on writes.</summary>
public sealed class PvePassword(string userId, string password) : PveCredentials
{
    /// <summary>user@realm, e.g. root@pam.</summary>
    public override string UserId { get; } = userId;
    internal string Password { get; } = password;

    public override string ToString() => $"password of {UserId} (hidden)";
}

/// <summary>What POST /cluster/config/join asks for: the peer's root password and certificate fingerprint.</summary>
public sealed class PveClusterJoin(string peerFingerprint, string peerRootPassword)
{
    public string PeerFingerprint { get; } = peerFingerprint;
    internal string PeerRootPassword { get; } = peerRootPassword;

    public override string ToString() => $"join with peer fingerprint {PeerFingerprint} (password hidden)";
}
