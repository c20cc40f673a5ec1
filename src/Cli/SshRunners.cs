using Taquin.Executors.Adapters;
using Taquin.Planner.Inventory;

namespace Taquin.Cli;

/// <summary>The SSH transport the CLI uses to reach a fleet's hosts.</summary>
internal static class SshRunners
{
    // Replaced by the SSH.NET runner when it lands (src/Executors/Ssh).
    public static ISshRunner ForFleet(Fleet fleet)
        => throw new InvalidOperationException($"this build has no SSH transport yet: cannot reach the {fleet.Hosts.Count} host(s) of the fleet");
}
