using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using Taquin.Cli.Commands;
using Taquin.Executors.Adapters;
using Taquin.Executors.Journal;
using Taquin.Executors.Libvirt;
using Taquin.Executors.Pve;
using Taquin.Executors.Tests.Support;
using Taquin.PveSimulator;

namespace Taquin.Cli.Tests.Commands;

/// <summary>
/// One small VM migrated for real: an OS-less TCG guest with one RBD disk in the test bed's Ceph runs on the test
/// bed's libvirtd (fleet host lv1, reached over the test bed's sshd); pve1 is already PVE, served by the PVE API
/// simulator whose zfspool storage is a folder of this machine. `taquin plan` plans it, `taquin run start --access`
/// runs wave 1 with the real adapters (SSH.NET, virsh, rbd, the PVE API client, the command disk mover). Wave 2
/// (reinstalling lv1 as PVE) is not run: the test bed's libvirt host is this machine.
/// Needs `scripts/testbed up --only ssh,libvirt,ceph`.
/// </summary>
public sealed class RealRunEndToEndTests : IDisposable
{
    private const string TokenSecret = "e2e-token-secret-0f3a";
    private readonly string _folder = Directory.CreateTempSubdirectory("taquin-real-run-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [IntegrationFact]
    public async Task One_VM_moves_from_the_test_bed_libvirt_to_PVE_with_its_MAC_and_identical_disk_bytes()
    {
        var runner = TestbedHosts.Runner();
        var libvirt = new VirshLibvirtHost(runner, new VirshOptions { Default = new LibvirtEndpoint { ConnectUri = TestbedHosts.Require("TAQUIN_LIBVIRT_URI") } });
        var name = "e2e-" + Guid.NewGuid().ToString("N")[..8];
        var image = $"{TestbedHosts.CephPool}/{name}-disk";
        const string mac = "52:54:00:5e:2e:01";
        var inventory = Path.Combine(_folder, "inventory");
        var plan = Path.Combine(_folder, "plan.json");

        // The source disk: 16 MiB, random data in two extents (the rest sparse); the guest has no OS and never writes.
        var raw = Path.Combine(_folder, "disk.raw");
        await using (var file = File.Create(raw))
        {
            file.SetLength(16 << 20);
            file.Write(RandomNumberGenerator.GetBytes(3 << 20));
            file.Position = 11 << 20;
            file.Write(RandomNumberGenerator.GetBytes(1 << 20));
        }

        var sourceSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(raw)));
        await using var pve = await StartPveAsync();
        try
        {
            await TestbedHosts.RbdCliAsync(runner, "import", "--no-progress", raw, image);
            await libvirt.DefineAsync("lv1", TestbedHosts.TcgDomainXml(name, rbdSpec: image, mac: mac));
            await libvirt.StartAsync("lv1", name);
            await libvirt.SetAutostartAsync("lv1", name, true);
            await WriteInventoryAsync(inventory, name, image, await libvirt.DumpXmlAsync("lv1", name));
            var access = WriteAccess(pve);

            Assert.Equal(0, await new RootCommand { PlanCommands.Build(solver: null) }.Parse(["plan", inventory, "--greedy", "-o", plan]).InvokeAsync());
            var (exit, output) = await InvokeAsync("run", "start", plan, "--wave", "1", "--inventory", inventory, "--access", access);
            Assert.True(exit == 0, output);

            // The journal: every step of the VM succeeded; the guest ignored ACPI and was powered off with autostart
            // turned off first; the final sync's checksums matched.
            var steps = await StepsAsync(plan, $"vm:{name}");
            Assert.All(steps, s => Assert.True(s.State == StepState.Succeeded, $"{s.StepType}: {s.State} {s.LastReason}"));
            var shutdown = steps.Single(s => s.StepType == "shutdown-source");
            Assert.Equal(("on", "yes"), (shutdown.Checkpoint["autostartWas"], shutdown.Checkpoint["wasRunning"]));
            Assert.Contains("powered off", shutdown.LastReason, StringComparison.Ordinal);
            // After the access file's grace time (libvirt.shutdownGraceSeconds: 5), not the 3 min default.
            Assert.Contains(shutdown.LogTail, line => line.Contains("ignored ACPI for 5 s", StringComparison.Ordinal));
            Assert.StartsWith("match;full;", steps.Single(s => s.StepType == "final-sync").Checkpoint["verify.virtio0"], StringComparison.Ordinal);
            var vmId = int.Parse(steps.Single(s => s.StepType == "create-target-vm").Checkpoint["vmid"], CultureInfo.InvariantCulture);

            // The source: retired by commit (undefined: it can never start again), its old-Ceph image removed.
            Assert.Equal(DomainRunState.Undefined, await libvirt.GetDomainStateAsync("lv1", name));
            Assert.False((await runner.RunAsync("ceph-admin", ["rbd", "--conf", TestbedHosts.Require("TAQUIN_CEPH_CONF"), "info", image])).Succeeded);

            // The target: running on pve1 with the same MAC (tagged into its VLAN), its disk byte for byte the source.
            using var client = Client(pve);
            var status = await client.FindVmAsync(vmId);
            Assert.NotNull(status);
            Assert.Equal(("pve1", name, true), (status.Node, status.Name, status.IsRunning));
            var config = (await client.GetVmConfigAsync("pve1", vmId))!.Values;
            Assert.StartsWith($"VIRTIO={mac},".ToUpperInvariant(), config["net0"].ToUpperInvariant(), StringComparison.Ordinal);
            Assert.Matches(@"tag=\d+", config["net0"]);
            var volume = await client.GetVolumeAsync("pve1", config["virtio0"].Split(',')[0]);
            Assert.NotNull(volume);
            // PVE allocates whole GiB ("storage:1"), so the volume is at least as large as the source: its first
            // 16 MiB are the source, the rest zeros.
            await using (var target = File.OpenRead(volume.Path))
            {
                Assert.True(target.Length >= 16 << 20, $"target volume is {target.Length} bytes");
                var head = new byte[16 << 20];
                await target.ReadExactlyAsync(head);
                Assert.Equal(sourceSha, Convert.ToHexStringLower(SHA256.HashData(head)));
                var tail = new byte[1 << 20];
                int read;
                while ((read = await target.ReadAsync(tail)) > 0)
                {
                    Assert.True(tail.AsSpan(0, read).IndexOfAnyExcept((byte)0) < 0, "the target holds data past the source's size");
                }
            }
        }
        finally
        {
            if (await libvirt.GetDomainStateAsync("lv1", name) != DomainRunState.Undefined)
            {
                await libvirt.DestroyAsync("lv1", name);
                await libvirt.UndefineAsync("lv1", name);
            }

            var rbd = new[] { "rbd", "--conf", TestbedHosts.Require("TAQUIN_CEPH_CONF") };
            await runner.RunAsync("ceph-admin", [.. rbd, "snap", "purge", "--no-progress", image]);
            await runner.RunAsync("ceph-admin", [.. rbd, "rm", "--no-progress", image]);
        }
    }

    private async Task<PveSimulatorServer> StartPveAsync()
    {
        var server = await PveSimulatorServer.StartAsync(new PveSimulatorOptions
        {
            DataDirectory = Path.Combine(_folder, "pve"),
            Nodes = ["pve1"],
            Clustered = false,
            ApiTokens = new Dictionary<string, string>(StringComparer.Ordinal) { ["root@pam!taquin"] = TokenSecret },
            Ceph = CephAccess.FromEnvironment(),
        });
        // The storage the plan names for pve1 (zfs:pve1 → zfs-pve1), created through the API as an admin would.
        using var client = Client(server);
        await client.CreateStorageAsync("zfs-pve1", "zfspool", new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["pool"] = "rpool/data",
            ["nodes"] = "pve1",
            ["content"] = "images",
        });
        return server;
    }

    private static PveHttpClient Client(PveSimulatorServer server) => new(new PveClientOptions
    {
        BaseAddress = server.BaseAddress,
        Credentials = new PveApiToken("root@pam", "taquin", TokenSecret),
        CertificateFingerprint = server.CertificateFingerprint,
    });

    private static async Task WriteInventoryAsync(string folder, string vm, string image, string xml)
    {
        var ssh = $"{TestbedHosts.Require("TAQUIN_SSH_USER")}@{TestbedHosts.Require("TAQUIN_SSH_HOST")}:{TestbedHosts.Require("TAQUIN_SSH_PORT")}";
        Directory.CreateDirectory(Path.Combine(folder, "domains", "lv1"));
        await File.WriteAllTextAsync(Path.Combine(folder, "fleet.yaml"), $"""
            hosts:
              - name: lv1
                ram: 8GiB
                cores: 4
                nicGbits: 10
                ssh: {ssh}
                disks:
                  - {"{"} model: osd, count: 1, size: 100GiB, now: old-ceph-osd, after: zfs {"}"}
              - name: pve1
                ram: 8GiB
                cores: 4
                nicGbits: 10
                ssh: {ssh}
                alreadyPve: true
                zfsLayout: stripe
                disks:
                  - {"{"} model: ssd, count: 1, size: 100GiB, now: none, after: zfs {"}"}
            oldCeph:
              poolSize: 1
              nearfullRatio: 0.85
              pools: [{TestbedHosts.CephPool}]
              monitors: [127.0.0.1]
            policy:
              ramReservePerHost: 1GiB
              copySlotsPerHost: 2
              waveWindowHours: 4
              vlanRange: {"{"} from: 100, to: 199 {"}"}
              bridge: vmbr0
              defaultStrategy: warm
              copyDataPath: relayed
            """);
        await File.WriteAllTextAsync(Path.Combine(folder, "domains", "lv1", vm + ".xml"), xml);
        await File.WriteAllTextAsync(Path.Combine(folder, "volumes.json"), $$"""{ "rbd": { "{{image}}": { "size": {{16 << 20}} } }, "files": {} }""");
        await File.WriteAllTextAsync(Path.Combine(folder, "runtime.json"), $$"""{ "{{vm}}": { "autostart": true, "state": "running" } }""");
    }

    /// <summary>
    /// The access file an operator would write for this fleet: key, host key pins, token file, virsh URI with a short ACPI
    /// grace (the guest has no OS and never honours ACPI), Ceph, relayed copies.
    /// </summary>
    private string WriteAccess(PveSimulatorServer pve)
    {
        var token = Path.Combine(_folder, "pve-token");
        File.WriteAllText(token, TokenSecret + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(token, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var fingerprint = TestbedHosts.Require("TAQUIN_SSH_HOST_KEY_FINGERPRINT");
        var path = Path.Combine(_folder, "access.yaml");
        File.WriteAllText(path, $"""
            ssh:
              identityFile: {TestbedHosts.Require("TAQUIN_SSH_KEY")}
              knownHosts: {TestbedHosts.Require("TAQUIN_SSH_KNOWN_HOSTS")}
              hostKeys: {"{"} lv1: "{fingerprint}", pve1: "{fingerprint}" {"}"}
            pve:
              url: {pve.BaseAddress}
              tokenId: root@pam!taquin
              tokenSecretFile: pve-token
              fingerprint: {pve.CertificateFingerprint}
            libvirt:
              connectUri: {TestbedHosts.Require("TAQUIN_LIBVIRT_URI")}
              shutdownGraceSeconds: 5
            ceph:
              adminHost: lv1
              conf: {TestbedHosts.Require("TAQUIN_CEPH_CONF")}
              keyring: {TestbedHosts.Require("TAQUIN_CEPH_KEYRING")}
              id: {TestbedHosts.Require("TAQUIN_CEPH_USER")}
              pool: {TestbedHosts.CephPool}
            movers:
              dataPath: relayed
              sourceCephConf: {TestbedHosts.Require("TAQUIN_CEPH_CONF")}
              localHosts: [pve1]
            """);
        return path;
    }

    private static async Task<(int Exit, string Output)> InvokeAsync(params string[] args)
    {
        using var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 400;
        var exit = await new RootCommand { RunCommands.Build(RunInputs.Default, console) }.Parse(args).InvokeAsync();
        return (exit, output.ToString());
    }

    private static async Task<IReadOnlyList<StepRecord>> StepsAsync(string plan, string subject)
    {
        // The journal the CLI chose: PostgreSQL when the test bed exports TAQUIN_PG_CONNECTION (shared with other
        // tests, so the run is the one of this plan), else the SQLite file beside the plan.
        var postgres = Environment.GetEnvironmentVariable(RunOptions.PostgresVariable) is { Length: > 0 } pg ? pg : null;
        var journal = JournalFactory.Open(postgres, JournalFactory.SqlitePathBesidePlan(plan), TimeProvider.System);
        try
        {
            await journal.InitializeAsync();
            var run = Assert.Single(await journal.ListRunsAsync(), r => r.PlanPath is not null && Path.GetFullPath(r.PlanPath) == Path.GetFullPath(plan));
            Assert.Equal("real", run.Mode);
            return [.. (await journal.GetStepsAsync(run.RunId)).Where(s => s.Subject == subject && s.Wave == 1)];
        }
        finally
        {
            if (journal is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }
}
