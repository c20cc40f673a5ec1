using Taquin.Executors.Adapters;

namespace Taquin.Executors.Libvirt;

/// <summary>What a virsh error message means for the caller.</summary>
public enum VirshErrorKind
{
    Other,
    /// <summary>"Domain not found": the domain is not defined on that host.</summary>
    NoDomain,
    /// <summary>"domain is not running": shutdown/destroy of an off domain.</summary>
    NotRunning,
    /// <summary>"Domain is already active": start of a running domain.</summary>
    AlreadyRunning,
    /// <summary>libvirtd (or the host) could not be reached: trying again may help.</summary>
    Connection,
}

/// <summary>A failed virsh command with its classification.</summary>
public sealed class VirshCommandException(string message, VirshErrorKind kind, bool isTransient, int exitCode)
    : LibvirtException(message, isTransient)
{
    public VirshErrorKind Kind { get; } = kind;
    public int ExitCode { get; } = exitCode;
}

/// <summary>Turns virsh's stderr into a <see cref="VirshCommandException"/>: transient only for what a retry can fix.</summary>
public static class VirshErrors
{
    private static readonly string[] ConnectionMarkers =
    [
        "failed to connect to the hypervisor", "Failed to connect socket", "Cannot recv data", "End of file while reading data",
        "Connection reset by peer", "Broken pipe", "Cannot write data", "Connection refused", "no connection driver available",
        "Timed out during operation: cannot acquire state change lock", "Unable to connect to server",
    ];

    public static VirshCommandException From(string host, IReadOnlyList<string> args, SshResult result)
    {
        var message = string.Join(' ', result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.Length > 0));
        if (message.Length == 0)
        {
            message = $"exit code {result.ExitCode}, no message";
        }

        var kind = Classify(message);
        var verb = args.FirstOrDefault(a => !a.StartsWith('-')) ?? "virsh";
        // ssh itself exits 255 when it cannot reach the host.
        var transient = kind == VirshErrorKind.Connection || result.ExitCode == 255;
        return new VirshCommandException($"virsh {verb} on {host} failed: {message}", kind, transient, result.ExitCode);
    }

    public static VirshErrorKind Classify(string message)
    {
        if (message.Contains("Domain not found", StringComparison.OrdinalIgnoreCase) || message.Contains("failed to get domain", StringComparison.OrdinalIgnoreCase))
        {
            return VirshErrorKind.NoDomain;
        }

        if (message.Contains("domain is not running", StringComparison.OrdinalIgnoreCase))
        {
            return VirshErrorKind.NotRunning;
        }

        if (message.Contains("Domain is already active", StringComparison.OrdinalIgnoreCase))
        {
            return VirshErrorKind.AlreadyRunning;
        }

        return ConnectionMarkers.Any(m => message.Contains(m, StringComparison.OrdinalIgnoreCase)) ? VirshErrorKind.Connection : VirshErrorKind.Other;
    }
}
