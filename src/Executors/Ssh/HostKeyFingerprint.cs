using System.Security.Cryptography;

namespace Taquin.Executors.Ssh;

/// <summary>OpenSSH's <c>SHA256:</c> fingerprint of a public host key blob (base64 of the SHA-256, without padding).</summary>
public static class HostKeyFingerprint
{
    public const string Prefix = "SHA256:";

    public static string Of(ReadOnlySpan<byte> publicKeyBlob) =>
        Prefix + Convert.ToBase64String(SHA256.HashData(publicKeyBlob)).TrimEnd('=');

    /// <summary>True for <c>SHA256:</c> followed by the 43 base64 characters of a SHA-256.</summary>
    public static bool IsWellFormed(string fingerprint)
    {
        if (!fingerprint.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var base64 = fingerprint[Prefix.Length..];
        var padded = base64 + new string('=', (4 - (base64.Length % 4)) % 4);
        Span<byte> hash = stackalloc byte[48];
        return Convert.TryFromBase64String(padded, hash, out var written) && written == 32;
    }

    /// <summary>Compares fingerprints as OpenSSH prints them (case-sensitive base64; padding ignored).</summary>
    public static bool AreEqual(string a, string b) =>
        string.Equals(a.TrimEnd('='), b.TrimEnd('='), StringComparison.Ordinal);
}
