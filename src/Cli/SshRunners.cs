using Taquin.Executors.Adapters;
using Taquin.Executors.Ssh;
using Taquin.Planner.Inventory;

namespace Taquin.Cli;

/// <summary>The SSH transport the CLI uses to reach a fleet's hosts: SSH.NET, key and host keys from TAQUIN_SSH_* (docs/access.md).</summary>
internal static class SshRunners
{
    public static ISshRunner ForFleet(Fleet fleet) => SshRunnerFactory.Create(fleet, SshAccessOptions.FromEnvironment());
}
