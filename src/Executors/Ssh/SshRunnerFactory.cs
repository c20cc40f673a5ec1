using Microsoft.Extensions.Logging;
using Taquin.Planner.Inventory;

namespace Taquin.Executors.Ssh;

/// <summary>Builds the real <see cref="SshNetRunner"/> for a loaded fleet: every host with an <c>ssh:</c> address.</summary>
public static class SshRunnerFactory
{
    /// <exception cref="FormatException">A host's <c>ssh:</c> value is malformed; the message names the host.</exception>
    public static SshNetRunner Create(Fleet fleet, SshAccessOptions options, ILogger<SshNetRunner>? logger = null) =>
        new(Endpoints(fleet), options, logger);

    /// <summary>fleet host name → endpoint, for the hosts that have an <c>ssh:</c> address.</summary>
    public static IReadOnlyDictionary<string, SshEndpoint> Endpoints(Fleet fleet)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        var endpoints = new Dictionary<string, SshEndpoint>(StringComparer.Ordinal);
        foreach (var host in fleet.Hosts.Where(h => h.Ssh is not null))
        {
            try
            {
                endpoints[host.Name] = SshEndpoint.Parse(host.Ssh!);
            }
            catch (FormatException ex)
            {
                throw new FormatException($"fleet.yaml: host {host.Name}: ssh: {ex.Message}", ex);
            }
        }

        return endpoints;
    }
}
