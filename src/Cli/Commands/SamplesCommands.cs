using System.CommandLine;
using System.Globalization;
using Taquin.Planner.Inventory;
using Taquin.Planner.Samples;

namespace Taquin.Cli.Commands;

/// <summary><c>taquin samples generate</c>: writes a deterministic, realistic inventory folder.</summary>
internal static class SamplesCommands
{
    /// <summary>What a previous generation wrote; --force removes only these.</summary>
    private static readonly string[] InventoryEntries = ["fleet.yaml", "volumes.json", "runtime.json", "domains"];

    internal static Command Build()
    {
        var seed = new Option<long>("--seed") { Description = "Seed of the generator: same seed, same bytes", DefaultValueFactory = _ => FleetGeneratorOptions.DefaultSeed };
        var vms = new Option<int>("--vms") { Description = "Number of VMs", DefaultValueFactory = _ => FleetGeneratorOptions.DefaultVms };
        var hosts = new Option<int>("--hosts") { Description = "Number of libvirt hosts", DefaultValueFactory = _ => FleetGeneratorOptions.DefaultHosts };
        var hostRam = new Option<int?>("--host-ram-gib") { Description = "RAM per host in GiB (default: 128, more when the VMs need it)" };
        var output = new Option<string>("--output", "-o") { Description = "Inventory folder to write", Required = true };
        var force = new Option<bool>("--force") { Description = "Write into a non-empty folder, replacing fleet.yaml, volumes.json, runtime.json and domains/" };

        var generate = new Command("generate", "Generate a realistic libvirt fleet inventory (fleet.yaml, volumes.json, runtime.json, domains/)");
        generate.Options.Add(seed);
        generate.Options.Add(vms);
        generate.Options.Add(hosts);
        generate.Options.Add(hostRam);
        generate.Options.Add(output);
        generate.Options.Add(force);
        generate.SetAction(parseResult =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            var folder = Path.GetFullPath(parseResult.GetRequiredValue(output));
            var options = new FleetGeneratorOptions
            {
                Seed = parseResult.GetValue(seed),
                Vms = parseResult.GetValue(vms),
                Hosts = parseResult.GetValue(hosts),
                HostRamGiB = parseResult.GetValue(hostRam),
            };

            // Generate first: a refused option must not cost the user the folder's previous inventory.
            GeneratedInventory inventory;
            try
            {
                inventory = FleetGenerator.Generate(options);
            }
            catch (ArgumentException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }

            if (File.Exists(folder))
            {
                stderr.WriteLine($"error: {folder} is a file; give a folder to -o.");
                return 2;
            }

            if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            {
                if (!parseResult.GetValue(force))
                {
                    stderr.WriteLine($"error: {folder} is not empty; choose an empty folder or pass --force to replace its inventory files.");
                    return 2;
                }

                RemovePreviousInventory(folder);
            }

            inventory.WriteTo(folder);
            PrintSummary(stdout, folder, inventory);
            return 0;
        });

        var samples = new Command("samples", "Sample inventories for trying Taquin and for benchmarks");
        samples.Subcommands.Add(generate);
        return samples;
    }

    private static void RemovePreviousInventory(string folder)
    {
        foreach (var entry in InventoryEntries.Select(e => Path.Combine(folder, e)))
        {
            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else if (File.Exists(entry))
            {
                File.Delete(entry);
            }
        }
    }

    private static void PrintSummary(TextWriter stdout, string folder, GeneratedInventory inventory)
    {
        var s = inventory.Summary;
        var domains = inventory.Files.Keys.Count(k => k.StartsWith("domains/", StringComparison.Ordinal));
        stdout.WriteLine($"Wrote {inventory.Files.Count} files to {folder}: fleet.yaml, volumes.json, runtime.json and {domains} domain XML files under domains/<host>/.");
        stdout.WriteLine($"  {s.Vms} VMs on {s.Hosts} hosts of {ByteSize.Format(s.HostRamBytes)} RAM (reserve {ByteSize.Format(s.RamReservePerHostBytes)} per host)");
        stdout.WriteLine($"  VM RAM {ByteSize.Format(s.TotalVmRamBytes)}: {s.RamFillOnHostsMinusOne.ToString("P0", CultureInfo.InvariantCulture)} of what {s.Hosts - 1} hosts hold after the reserve");
        stdout.WriteLine($"  RBD images: {Tb(s.RbdUsedBytes)} used of {Tb(s.RbdProvisionedBytes)} provisioned; old Ceph {Tb(s.OldCephRawUsedBytes)} raw used of {Tb(s.OldCephRawBytes)} raw (size {s.PoolSize})");
        stdout.WriteLine($"  Local qcow2 files: {Tb(s.FileUsedBytes)} used");
        stdout.WriteLine("  VM RAM per host: " + string.Join(", ", s.VmRamByHost.Select(h => $"{h.Key} {ByteSize.Format(h.Value)}")));
    }

    private static string Tb(long bytes) => (bytes / 1e12).ToString("0.00", CultureInfo.InvariantCulture) + " TB";
}
