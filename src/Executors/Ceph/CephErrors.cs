using System.Globalization;
using System.Text.RegularExpressions;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Ceph;

/// <summary>A failed ceph/rbd command; <see cref="Errno"/> is the "(N) Text" code Ceph prints, when it printed one.</summary>
public sealed class CephCommandException(string message, int? errno, bool isTransient, int exitCode)
    : CephException(message, isTransient)
{
    public int? Errno { get; } = errno;
    public int ExitCode { get; } = exitCode;
}

/// <summary>Classifies ceph/rbd failures: the cluster or host being unreachable or busy is transient, the rest is not.</summary>
public static partial class CephErrors
{
    // ETIMEDOUT, EAGAIN, EBUSY, EINTR, ESHUTDOWN, ECONNREFUSED, ECONNRESET
    private static readonly HashSet<int> TransientErrnos = [110, 11, 16, 4, 108, 111, 104];

    private static readonly string[] TransientMarkers =
    [
        "error connecting to the cluster", "Connection timed out", "monclient", "timed out", "Broken pipe",
    ];

    public static CephCommandException From(string host, string what, SshResult result)
    {
        var message = string.Join(' ', result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.Contains("may be slow", StringComparison.Ordinal)));
        if (message.Length == 0)
        {
            message = $"exit code {result.ExitCode}, no message";
        }

        int? errno = ErrnoPattern().Match(message) is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;
        var transient = result.ExitCode == 255
            || errno is { } e && TransientErrnos.Contains(e)
            || TransientMarkers.Any(t => message.Contains(t, StringComparison.OrdinalIgnoreCase));
        return new CephCommandException($"{what} on {host} failed: {message}", errno, transient, result.ExitCode);
    }

    [GeneratedRegex(@"\((\d+)\) [A-Z]")]
    private static partial Regex ErrnoPattern();
}
