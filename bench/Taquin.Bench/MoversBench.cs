using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Taquin.Executors.Movers;
using Taquin.Executors.Ssh;
using Taquin.Executors.Tests.Support;
using Taquin.Planner.Planning;

namespace Taquin.Bench;

/// <summary>
/// Disk mover benchmark on the test bed's Ceph (scripts/testbed up --only ssh,ceph; eval "$(scripts/testbed env)"):
/// throughput of the movers against a plain <c>rbd export - | rbd import -</c> pipe (also through ssh) and
/// <c>qemu-img convert -p -n</c> as PVE's import runs it, in the same run; bytes sent on a sparse image; downtime
/// (source stop → target start, without the guest boot) per strategy for two disk sizes with the same change.
/// Usage: dotnet run -c Release --project bench/Taquin.Bench -- movers [--size-mib 512] [--changed-mib 8] [--repeat 2] [--rates-out rates.yaml]
/// </summary>
internal static class MoversBench
{
    private const string Host = "127.0.0.1";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly StringBuilder Out = new();

    public static async Task<int> RunAsync(string[] args)
    {
        var conf = Environment.GetEnvironmentVariable("TAQUIN_CEPH_CONF");
        if (string.IsNullOrEmpty(conf))
        {
            await Console.Error.WriteLineAsync("TAQUIN_CEPH_CONF is not set: scripts/testbed up --only ssh,ceph && eval \"$(scripts/testbed env)\"");
            return 2;
        }

        var sizeMib = Program.IntArg(args, "--size-mib", 512);
        var changedMib = Program.IntArg(args, "--changed-mib", 8);
        var repeat = Program.IntArg(args, "--repeat", 2);
        var pool = Environment.GetEnvironmentVariable("TAQUIN_CEPH_POOL") ?? "rbd";
        var runner = new TestLocalRunner();
        var options = new MoverOptions
        {
            SourceCephConf = conf,
            TargetCephConf = conf,
            HostToHostSsh = h => ["ssh", "-p", Env("TAQUIN_SSH_PORT"), "-i", Env("TAQUIN_SSH_KEY"), "-o", "UserKnownHostsFile=" + Env("TAQUIN_SSH_KNOWN_HOSTS"), .. MoverOptions.FastSshOptions, "root@" + h],
            IsLocalHost = _ => true,
        };
        string Rbd(params string[] a) => Sh(["rbd", "--conf", conf, .. a]);
        var tag = DateTime.UtcNow.ToString("HHmmss", Inv);

        Line($"# movers bench {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z, test bed Ceph (1 OSD, 127.0.0.1), {Environment.ProcessorCount} cores");
        // 1. Throughput on a fully written image.
        var full = $"{pool}/bench-full-{tag}";
        Rbd("create", "--size", $"{sizeMib}M", full);
        Fill(conf, full, 0, sizeMib);
        Rbd("snap", "create", $"{full}@s");
        var mib = sizeMib;
        Line($"throughput: {mib} MiB fully written image, best of {repeat}");
        var results = new Dictionary<string, double>();
        async Task Measure(string name, Func<string, Task> copy, bool preallocate)
        {
            var best = double.MaxValue;
            for (var i = 0; i < repeat; i++)
            {
                var target = $"{pool}/bench-t-{tag}-{i}";
                if (preallocate)
                {
                    Rbd("create", "--size", $"{sizeMib}M", target);
                }

                var clock = Stopwatch.StartNew();
                await copy(target);
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
                Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {target}; rbd --conf {conf} rm --no-progress {target}"]);
            }

            results[name] = best;
            Line(FormattableString.Invariant($"  {name,-44} {best,7:F2} s  {mib / best,7:F1} MiB/s"));
        }

        await Measure("baseline rbd export - | rbd import -", t => Task.Run(() => Sh(["bash", "-o", "pipefail", "-c", $"rbd --conf {conf} export --no-progress {full}@s - | rbd --conf {conf} import --no-progress - {t}"])), false);
        await Measure("baseline rbd export - | ssh | rbd import -", t => Task.Run(() => Sh(["bash", "-o", "pipefail", "-c",
            $"rbd --conf {conf} export --no-progress {full}@s - | {ShellQuoting.Join(options.HostToHostSsh(Host))} {ShellQuoting.Quote($"rbd --conf {conf} import --no-progress - {t}")}"])), false);
        await Measure("baseline qemu-img convert -p -n (PVE import)", t => Task.Run(() => Sh(["qemu-img", "convert", "-p", "-n", "-f", "raw", "-O", "raw", $"rbd:{full}@s:conf={conf}", $"rbd:{t}:conf={conf}"])), true);
        await Measure("mover direct (export-diff | ssh | import-diff)", t => new CommandDiskMover(runner, options with { DataPath = DataPath.Direct }).CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, full), null, "s", new RbdVolumeTarget(Host, t)), null, CancellationToken.None), true);
        await Measure("mover relayed (through the orchestrator)", t => new CommandDiskMover(runner, options with { DataPath = DataPath.Relayed }).CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, full), null, "s", new RbdVolumeTarget(Host, t)), null, CancellationToken.None), true);
        var pipe = results["baseline rbd export - | rbd import -"];
        var sshPipe = results["baseline rbd export - | ssh | rbd import -"];
        Line(FormattableString.Invariant($"  ratio direct  / local pipe = {pipe / results["mover direct (export-diff | ssh | import-diff)"]:F2}, / ssh pipe = {sshPipe / results["mover direct (export-diff | ssh | import-diff)"]:F2}, / qemu-img = {results["baseline qemu-img convert -p -n (PVE import)"] / results["mover direct (export-diff | ssh | import-diff)"]:F2}"));
        Line(FormattableString.Invariant($"  ratio relayed / local pipe = {pipe / results["mover relayed (through the orchestrator)"]:F2}, / ssh pipe = {sshPipe / results["mover relayed (through the orchestrator)"]:F2}"));
        Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {full}; rbd --conf {conf} rm --no-progress {full}"]);

        // 2. Sparse image: bytes sent against allocated.
        var sparse = $"{pool}/bench-sparse-{tag}";
        Rbd("create", "--size", "1024M", sparse);
        Fill(conf, sparse, 100, changedMib);
        Fill(conf, sparse, 700, changedMib);
        Rbd("snap", "create", $"{sparse}@s");
        var allocated = JsonDocument.Parse(Rbd("du", $"{sparse}@s", "--format", "json")).RootElement.GetProperty("images")[0].GetProperty("used_size").GetInt64();
        Line($"sparse: 1024 MiB image, {2 * changedMib} MiB written, rbd du used = {allocated} bytes");
        foreach (var path in new[] { DataPath.Direct, DataPath.Relayed })
        {
            var target = $"{pool}/bench-st-{tag}";
            Rbd("create", "--size", "1024M", target);
            var report = await new CommandDiskMover(runner, options with { DataPath = path }).CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, sparse), null, "s", new RbdVolumeTarget(Host, target)), null, CancellationToken.None);
            Line(FormattableString.Invariant($"  {path,-8} bytes sent {report.BytesSent} = {100.0 * report.BytesSent / allocated:F2} % of allocated ({report.Duration.TotalSeconds:F2} s)"));
            Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {target}; rbd --conf {conf} rm --no-progress {target}"]);
        }

        Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {sparse}; rbd --conf {conf} rm --no-progress {sparse}"]);

        // 3. Downtime per strategy: source stop -> target start (final snapshot, copy, verification; no guest boot).
        Line($"downtime (source stop -> target start, no guest boot), {changedMib} MiB changed after the base copy, direct path:");
        var cutovers = new List<CutoverRun>();
        foreach (var size in new[] { 256, 1024 })
        {
            var source = $"{pool}/bench-dt-{tag}-{size}";
            Rbd("create", "--size", $"{size}M", source);
            Fill(conf, source, 0, size);
            var mover = new CommandDiskMover(runner, options);
            var sampled = new CommandDiskMover(runner, options with { Verify = VerifyMode.Sampled, SampleCount = 4 });

            // cold: everything after the stop
            var cold = $"{pool}/bench-dc-{tag}-{size}";
            Rbd("create", "--size", $"{size}M", cold);
            var clock = Stopwatch.StartNew();
            Rbd("snap", "create", $"{source}@final");
            var coldRequest = new DiskCopyRequest(new RbdImageSource(Host, source), null, "final", new RbdVolumeTarget(Host, cold));
            await mover.CopyAsync(coldRequest, null, CancellationToken.None);
            var coldVerify = await mover.VerifyAsync(coldRequest, CancellationToken.None);
            var coldSeconds = clock.Elapsed.TotalSeconds;
            Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {cold}; rbd --conf {conf} rm --no-progress {cold}; rbd --conf {conf} snap rm --no-progress {source}@final"]);

            // warm: base while running, then the change; downtime = final snapshot + diff + verification
            var warm = $"{pool}/bench-dw-{tag}-{size}";
            Rbd("create", "--size", $"{size}M", warm);
            Rbd("snap", "create", $"{source}@base");
            await mover.CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, warm)), null, CancellationToken.None);
            Fill(conf, source, size / 2, changedMib);
            clock.Restart();
            Rbd("snap", "create", $"{source}@final");
            var warmRequest = new DiskCopyRequest(new RbdImageSource(Host, source), "base", "final", new RbdVolumeTarget(Host, warm));
            await mover.CopyAsync(warmRequest, null, CancellationToken.None);
            var copied = clock.Elapsed.TotalSeconds;
            var warmSampled = await sampled.VerifyAsync(warmRequest, CancellationToken.None);
            var warmSampledSeconds = clock.Elapsed.TotalSeconds;
            var warmFull = await mover.VerifyAsync(warmRequest, CancellationToken.None);
            var warmFullSeconds = clock.Elapsed.TotalSeconds - warmSampledSeconds + copied;
            Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {warm}; rbd --conf {conf} rm --no-progress {warm}"]);

            // attach-and-move: the target starts on the old image; before it, the guard and the rename
            clock.Restart();
            var clients = await mover.RbdClientsAsync(Host, source, oldCluster: true, CancellationToken.None);
            Rbd("rename", source, $"{pool}/vm-9{size}-disk-0");
            var attachSeconds = clock.Elapsed.TotalSeconds;
            Rbd("rename", $"{pool}/vm-9{size}-disk-0", source);

            cutovers.Add(new CutoverRun(size, changedMib, copied, 4, warmSampledSeconds - copied, warmFullSeconds - copied, attachSeconds));
            Line(FormattableString.Invariant($"  {size,5} MiB  cold {coldSeconds,6:F2} s (verify {(coldVerify.Match ? "match" : "MISMATCH")}, full)   warm {warmSampledSeconds,6:F2} s with sampled verify ({(warmSampled.Match ? "match" : "MISMATCH")}, 4 x 1 MiB), {warmFullSeconds,6:F2} s with full verify ({(warmFull.Match ? "match" : "MISMATCH")})   attach-and-move {attachSeconds,5:F2} s (guard: {clients.Count} clients, rename; + one guest boot)"));
            Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {source}; rbd --conf {conf} rm --no-progress {source}"]);
        }

        var results_dir = Path.Combine(FindRepo(), "bench", "results");
        var file = Path.Combine(results_dir, $"{DateTime.UtcNow:yyyy-MM-dd}-movers.txt");
        await File.WriteAllTextAsync(file, Out.ToString());
        Console.WriteLine($"saved {file}");
        if (RatesOut.PathArg(args) is { } ratesOut)
        {
            await RatesOut.WriteAsync(ratesOut, new MoversMeasurements
            {
                MeasuredOn = $"test bed Ceph (1 OSD, 127.0.0.1), {Environment.ProcessorCount} cores, {mib} MiB fully written image",
                MeasuredAt = DateTimeOffset.UtcNow,
                DirectMiBps = mib / results["mover direct (export-diff | ssh | import-diff)"],
                RelayedMiBps = mib / results["mover relayed (through the orchestrator)"],
                FileMiBps = mib / results["baseline qemu-img convert -p -n (PVE import)"],
                Cutovers = cutovers,
            }, file);
        }
        return 0;
    }

    private static void Line(string text)
    {
        Console.WriteLine(text);
        Out.AppendLine(text);
    }

    private static string Env(string name) => Environment.GetEnvironmentVariable(name) ?? "";

    /// <summary>Writes <paramref name="mib"/> MiB of non-zero, non-repeating-per-block data at <paramref name="atMib"/>.</summary>
    private static void Fill(string conf, string image, int atMib, int mib)
        => Sh(["bash", "-c", FormattableString.Invariant(
            $"openssl rand -out /tmp/taquin-bench-fill {(long)mib << 20} && qemu-io -f raw -c 'write -s /tmp/taquin-bench-fill {atMib}M {mib}M' 'rbd:{image}:conf={conf}' > /dev/null && rm -f /tmp/taquin-bench-fill")]);

    private static string Sh(IReadOnlyList<string> argv)
        => Encoding.UTF8.GetString(TestbedProcess.Run(argv));

    private static string FindRepo()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Migration.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? Directory.GetCurrentDirectory();
    }
}

/// <summary>Runs a local command to its end, failing with its stderr.</summary>
internal static class TestbedProcess
{
    public static byte[] Run(IReadOnlyList<string> argv)
    {
        var start = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in argv.Skip(1))
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var output = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(output);
        process.WaitForExit();
        return process.ExitCode == 0 ? output.ToArray() : throw new InvalidOperationException($"{string.Join(' ', argv)} exited {process.ExitCode}: {stderr.GetAwaiter().GetResult()}");
    }
}
