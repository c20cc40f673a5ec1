namespace Taquin.Executors.Adapters;

/// <summary>
/// A failure talking to the world. <see cref="IsTransient"/> says whether trying again may help (like Npgsql's
/// NpgsqlException.IsTransient); the step engine alone turns it into a retry or a failed step.
/// </summary>
public class AdapterException(string message, bool isTransient, Exception? innerException = null)
    : Exception(message, innerException)
{
    public bool IsTransient { get; } = isTransient;
}

/// <summary>A PVE API call failed (HTTP status, task exit status).</summary>
public class PveApiException(string message, bool isTransient, Exception? innerException = null)
    : AdapterException(message, isTransient, innerException)
{
    /// <summary>The HTTP status PVE answered with; null when no answer came (connection, TLS, timeout) or for task failures.</summary>
    public int? StatusCode { get; init; }

    /// <summary>PVE's per-parameter messages ("errors" of a 400 "Parameter verification failed."), keyed by parameter.</summary>
    public IReadOnlyDictionary<string, string> ParameterErrors { get; init; } = new Dictionary<string, string>();
}

/// <summary>An SSH command could not run or exited non-zero where that means failure.</summary>
public class SshCommandException(string message, bool isTransient, int? exitCode = null, Exception? innerException = null)
    : AdapterException(message, isTransient, innerException)
{
    public int? ExitCode { get; } = exitCode;
}

/// <summary>libvirt refused or failed an operation on a domain.</summary>
public class LibvirtException(string message, bool isTransient, Exception? innerException = null)
    : AdapterException(message, isTransient, innerException);

/// <summary>A Ceph / RBD command failed.</summary>
public class CephException(string message, bool isTransient, Exception? innerException = null)
    : AdapterException(message, isTransient, innerException);

/// <summary>Thrown by the simulated adapters when a fault was injected for the current step.</summary>
public sealed class InjectedFaultException(string message, bool isTransient)
    : AdapterException(message, isTransient);
