using System.Security.Cryptography;
using System.Text;

namespace Taquin.Executors.Ssh;

/// <summary>One host key line of an OpenSSH known_hosts file.</summary>
public sealed record KnownHostKey(string KeyType, byte[] KeyBlob, bool Revoked, string Source)
{
    public string Fingerprint => HostKeyFingerprint.Of(KeyBlob);
}

/// <summary>
/// Reads OpenSSH known_hosts files: plain names (<c>10.1.0.11</c>, <c>[10.1.0.11]:2222</c>, comma lists), hashed
/// names (<c>|1|salt|hmac</c>, as <c>HashKnownHosts yes</c> writes them) and <c>@revoked</c>. Wildcard patterns and
/// <c>@cert-authority</c> lines are ignored: a host is trusted only through an entry naming it exactly.
/// </summary>
public sealed class KnownHosts
{
    private readonly List<(string[] Names, string? HashedSalt, string? HashedValue, KnownHostKey Key)> _entries = [];

    public static KnownHosts Load(IEnumerable<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var knownHosts = new KnownHosts();
        foreach (var file in files.Where(File.Exists))
        {
            var lineNumber = 0;
            foreach (var line in File.ReadLines(file))
            {
                lineNumber++;
                knownHosts.Add(line, $"{file}:{lineNumber}");
            }
        }

        return knownHosts;
    }

    public static KnownHosts Parse(string text, string source = "known_hosts")
    {
        var knownHosts = new KnownHosts();
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            knownHosts.Add(line, $"{source}:{lineNumber}");
        }

        return knownHosts;
    }

    /// <summary>Keys listed for <paramref name="knownHostsName"/> (<see cref="SshEndpoint.KnownHostsName"/>).</summary>
    public IReadOnlyList<KnownHostKey> KeysFor(string knownHostsName) =>
        [.. _entries.Where(e => Matches(e, knownHostsName)).Select(e => e.Key)];

    private void Add(string line, string source)
    {
        var fields = line.Trim().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length == 0 || fields[0].StartsWith('#'))
        {
            return;
        }

        var revoked = false;
        if (fields[0].StartsWith('@'))
        {
            if (fields[0] != "@revoked")
            {
                return; // @cert-authority: certificates are not used here
            }

            revoked = true;
            fields = fields[1..];
        }

        if (fields.Length < 3 || !TryDecodeBase64(fields[2], out var blob))
        {
            return;
        }

        var key = new KnownHostKey(fields[1], blob, revoked, source);
        if (fields[0].StartsWith("|1|", StringComparison.Ordinal))
        {
            var parts = fields[0].Split('|');
            if (parts.Length == 4)
            {
                _entries.Add(([], parts[2], parts[3], key));
            }

            return;
        }

        var names = fields[0].Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Where(n => !n.StartsWith('!') && n.IndexOfAny(['*', '?']) < 0)
            .ToArray();
        _entries.Add((names, null, null, key));
    }

    private static bool Matches((string[] Names, string? HashedSalt, string? HashedValue, KnownHostKey Key) entry, string name)
    {
        if (entry.HashedSalt is null)
        {
            return entry.Names.Contains(name, StringComparer.OrdinalIgnoreCase);
        }

        if (!TryDecodeBase64(entry.HashedSalt, out var salt) || !TryDecodeBase64(entry.HashedValue!, out var expected))
        {
            return false;
        }

#pragma warning disable CA5350 // HMAC-SHA1 is the format OpenSSH uses for hashed known_hosts names, not our choice.
        var actual = HMACSHA1.HashData(salt, Encoding.UTF8.GetBytes(name.ToLowerInvariant()));
#pragma warning restore CA5350
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static bool TryDecodeBase64(string text, out byte[] bytes)
    {
        var buffer = new byte[text.Length];
        if (Convert.TryFromBase64String(text, buffer, out var written))
        {
            bytes = buffer[..written];
            return true;
        }

        bytes = [];
        return false;
    }
}
