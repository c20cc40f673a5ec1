namespace Taquin.Executors.Ssh;

/// <summary>What <see cref="HostKeyTrust.Check"/> decided about a presented host key, with the operator's message.</summary>
public sealed record HostKeyDecision(bool Trusted, string Fingerprint, string Message);

/// <summary>
/// Host key policy: a key is trusted only when it equals a known_hosts entry for the endpoint or a pinned
/// fingerprint of the fleet host. Unknown keys and mismatches are refused; nothing is trusted on first use.
/// </summary>
public sealed class HostKeyTrust(KnownHosts knownHosts, IReadOnlyDictionary<string, IReadOnlyList<string>> pins)
{
    public static HostKeyTrust From(SshAccessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new HostKeyTrust(KnownHosts.Load(options.KnownHostsFiles), options.PinnedFingerprints);
    }

    /// <summary>Key types known for the endpoint (to offer only those host key algorithms), empty when only pins exist.</summary>
    public IReadOnlySet<string> KnownKeyTypes(SshEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return knownHosts.KeysFor(endpoint.KnownHostsName).Where(k => !k.Revoked).Select(k => k.KeyType).ToHashSet(StringComparer.Ordinal);
    }

    public HostKeyDecision Check(string host, SshEndpoint endpoint, string keyType, byte[] keyBlob)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(keyBlob);
        var fingerprint = HostKeyFingerprint.Of(keyBlob);
        var listed = knownHosts.KeysFor(endpoint.KnownHostsName);
        var pinned = pins.TryGetValue(host, out var forHost) ? forHost : [];
        var presented = $"host {host} ({endpoint}) presented {keyType} key {fingerprint}";

        var revoked = listed.FirstOrDefault(k => k.Revoked && k.KeyBlob.AsSpan().SequenceEqual(keyBlob));
        if (revoked is not null)
        {
            return new HostKeyDecision(false, fingerprint, $"REFUSED: {presented}, which is marked @revoked in {revoked.Source}.");
        }

        var match = listed.FirstOrDefault(k => !k.Revoked && k.KeyBlob.AsSpan().SequenceEqual(keyBlob));
        if (match is not null)
        {
            return new HostKeyDecision(true, fingerprint, $"{presented}, trusted by {match.Source}");
        }

        if (pinned.Any(p => HostKeyFingerprint.AreEqual(p, fingerprint)))
        {
            return new HostKeyDecision(true, fingerprint, $"{presented}, trusted by its pinned fingerprint");
        }

        var expected = listed.Where(k => !k.Revoked).Select(k => $"{k.KeyType} {k.Fingerprint} ({k.Source})")
            .Concat(pinned.Select(p => $"{p} (pinned)"))
            .ToList();
        if (expected.Count > 0)
        {
            return new HostKeyDecision(false, fingerprint,
                $"REFUSED: HOST KEY MISMATCH: {presented}, but the trusted key(s) are {string.Join(", ", expected)}. " +
                "Either the host was reinstalled or someone is intercepting the connection. Check the key on the host's " +
                "console (`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`); only if it is genuine, replace the old entry " +
                $"(`ssh-keygen -R '{endpoint.KnownHostsName}'` then add the new key) or the pin for {host}.");
        }

        return new HostKeyDecision(false, fingerprint,
            $"REFUSED: unknown host key: {presented} and no known_hosts entry or pin trusts a key for it. " +
            "Compare the fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on the host's console; if it is " +
            $"genuine, add the key to {SshAccessOptions.KnownHostsVariable} (e.g. `ssh-keyscan -p {endpoint.Port} {endpoint.Address}`) " +
            $"or pin it: {SshAccessOptions.FingerprintsVariable}={host}={fingerprint}.");
    }
}
