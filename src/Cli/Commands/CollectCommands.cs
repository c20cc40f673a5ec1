using System.CommandLine;
using Spectre.Console;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ceph;
using Taquin.Executors.Inventory;
using Taquin.Executors.Libvirt;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;

namespace Taquin.Cli.Commands;

/// <summary><c>taquin inventory collect</c>: builds an inventory folder from the live hosts of a fleet file.</summary>
internal static class CollectCommands
{
    /// <param name="runnerFactory">How commands reach the fleet's hosts (SSH in production; tests run them locally).</param>
    internal static Command Build(Func<Fleet, ISshRunner> runnerFactory)
    {
        var fleetOption = new Option<string>("--fleet") { Description = "fleet.yaml describing the hosts (their ssh: addresses), the old Ceph and the policy", Required = true };
        var outputOption = new Option<string>("--output", "-o") { Description = "Inventory folder to create (new or empty)", Required = true };
        var libvirtUriOption = new Option<string[]>("--libvirt-uri")
        {
            Description = "virsh connect URI, for every host (URI) or one (HOST=URI); repeatable. Default: virsh's own default on each host",
            DefaultValueFactory = _ => [],
        };
        var cephHostOption = new Option<string?>("--ceph-host") { Description = "Host that runs rbd for RBD disk sizes (default: the first collected host)" };
        var cephConfOption = new Option<string?>("--ceph-conf") { Description = "ceph.conf on the Ceph host (default: the host's /etc/ceph/ceph.conf)" };
        var cephKeyringOption = new Option<string?>("--ceph-keyring") { Description = "keyring on the Ceph host" };
        var cephIdOption = new Option<string?>("--ceph-id") { Description = "Ceph client id (default admin)" };

        var command = new Command("collect", "Build an inventory folder from live hosts: virsh dumpxml and state, rbd du, qemu-img info");
        foreach (var option in new Option[] { fleetOption, outputOption, libvirtUriOption, cephHostOption, cephConfOption, cephKeyringOption, cephIdOption })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var fleetPath = parse.GetRequiredValue(fleetOption);
            var output = parse.GetRequiredValue(outputOption);
            if (!File.Exists(fleetPath))
            {
                await error.WriteLineAsync($"error: fleet file '{fleetPath}' does not exist. Pass the fleet.yaml that lists the hosts to collect.");
                return Program.ExitInvalidInput;
            }

            if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            {
                await error.WriteLineAsync($"error: output folder '{output}' is not empty. Collect into a new or empty folder so no stale domain XML stays behind.");
                return Program.ExitInvalidInput;
            }

            var yaml = await File.ReadAllTextAsync(fleetPath, ct);
            var diagnostics = new List<Diagnostic>();
            var fleet = InventoryLoader.ReadFleet(yaml, diagnostics);
            if (fleet is null || diagnostics.Any(d => d.Severity == Severity.Error))
            {
                DiagnosticsView.Write(Terminal.For(error), diagnostics);
                await error.WriteLineAsync($"error: '{fleetPath}' is not a valid fleet file; fix the errors above.");
                return Program.ExitInvalidInput;
            }

            var hosts = fleet.Hosts.Where(h => !h.Excluded && !h.AlreadyPve).Select(h => h.Name).ToList();
            if (!TryEndpoints(parse.GetValue(libvirtUriOption) ?? [], fleet, out var virsh, out var problem))
            {
                await error.WriteLineAsync("error: " + problem);
                return Program.ExitInvalidInput;
            }

            var cephHost = parse.GetValue(cephHostOption) ?? hosts.FirstOrDefault();
            var runner = runnerFactory(fleet);
            var ceph = cephHost is null ? null : new RbdCephCluster(runner, new CephClusterOptions
            {
                AdminHost = cephHost,
                ConfPath = parse.GetValue(cephConfOption),
                KeyringPath = parse.GetValue(cephKeyringOption),
                Id = parse.GetValue(cephIdOption),
            });
            var collector = new InventoryCollector(new VirshLibvirtHost(runner, virsh), ceph, runner);
            var ui = Terminal.Out(parse);
            CollectResult result;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                result = await CollectWithProgressAsync(ui, collector, fleet, yaml, output, hosts, ct);
            }
            catch (InventoryCollectException ex)
            {
                await error.WriteLineAsync($"error: collecting from {ex.Message}");
                return Program.ExitFailed;
            }

            foreach (var warning in result.Warnings)
            {
                ui.MarkupLineInterpolated($"[yellow]warning:[/] {warning}");
            }

            ui.MarkupLineInterpolated($"Collected {result.Domains} domain(s) from {result.Hosts} host(s), {result.RbdVolumes} RBD and {result.FileVolumes} file volume(s) into {output} in {clock.Elapsed.TotalSeconds:0.0} s");
            // The folder must load like a hand-made one: check it now rather than at plan time.
            var loaded = InventoryLoader.Load(output);
            var checks = loaded.Diagnostics.Concat(loaded.Inventory is { } inventory ? InventoryValidator.Validate(inventory) : []).ToList();
            if (checks.Count > 0)
            {
                DiagnosticsView.Write(ui, checks);
            }

            return checks.Any(d => d.Severity == Severity.Error) ? Program.ExitFailed : Program.ExitOk;
        });
        return command;
    }

    /// <summary>--libvirt-uri values: "URI" for every host, "HOST=URI" for one (a URI itself holds '=' only after '?').</summary>
    internal static bool TryEndpoints(IReadOnlyList<string> values, Fleet fleet, out VirshOptions options, out string problem)
    {
        var perHost = new Dictionary<string, LibvirtEndpoint>(StringComparer.Ordinal);
        LibvirtEndpoint fallback = new();
        foreach (var value in values)
        {
            var eq = value.IndexOf('=', StringComparison.Ordinal);
            var query = value.IndexOf('?', StringComparison.Ordinal);
            if (eq > 0 && (query < 0 || eq < query) && !value[..eq].Contains(':', StringComparison.Ordinal))
            {
                var host = value[..eq];
                if (fleet.FindHost(host) is null)
                {
                    options = new VirshOptions();
                    problem = $"--libvirt-uri {value}: '{host}' is not a host of the fleet file ({string.Join(", ", fleet.Hosts.Select(h => h.Name))})";
                    return false;
                }

                perHost[host] = new LibvirtEndpoint { ConnectUri = value[(eq + 1)..] };
            }
            else
            {
                fallback = new LibvirtEndpoint { ConnectUri = value };
            }
        }

        options = new VirshOptions { Hosts = perHost, Default = fallback };
        problem = "";
        return true;
    }

    private static async Task<CollectResult> CollectWithProgressAsync(IAnsiConsole ui, InventoryCollector collector, Fleet fleet, string yaml, string output,
        IReadOnlyList<string> hosts, CancellationToken ct)
    {
        CollectResult? result = null;
        await ui.Progress().AutoClear(false).StartAsync(async context =>
        {
            var bars = hosts.ToDictionary(h => h, h => context.AddTask(h, maxValue: 1), StringComparer.Ordinal);
            var progress = new SynchronousProgress<CollectProgress>(p =>
            {
                lock (bars)
                {
                    if (!bars.TryGetValue(p.Host, out var bar))
                    {
                        bar = bars[p.Host] = context.AddTask(p.Host, maxValue: 1);
                    }

                    bar.Description = $"{p.Host} {p.What}";
                    bar.MaxValue = Math.Max(1, p.Total);
                    bar.Value = p.Total == 0 ? 1 : p.Done;
                }
            });
            result = await collector.CollectAsync(fleet, yaml, output, progress, ct);
            foreach (var bar in bars.Values)
            {
                bar.Value = bar.MaxValue;
            }
        });
        return result!;
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
