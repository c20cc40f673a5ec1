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
/// Usage: dotnet run -c Release --project bench/Taquin.Bench -- movers [--size-mib 512 | --sizes-mib 512,2048] [--methods direct,direct-tcp]
/// [--throughput-only] [--changed-mib 8] [--repeat 2] [--rates-out rates.yaml] [--label tcp]
/// [--file-downtime-only] (only the warm qcow2 rows, saved as DATE-movers-file-verify.txt); the report goes to
/// bench/results/DATE-movers[-LABEL].txt.
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
        // --sizes-mib 512,2048: throughput at each size and the marginal rates between them (the fixed cost drops out).
        IReadOnlyList<int> sizesMib = Array.IndexOf(args, "--sizes-mib") is var si and >= 0 && si + 1 < args.Length
            ? [.. args[si + 1].Split(',').Select(v => int.Parse(v, Inv))]
            : [sizeMib];
        // --methods direct,direct-tcp: only these throughput rows (and the raw pipes the ratios need).
        var methods = Array.IndexOf(args, "--methods") is var mi and >= 0 && mi + 1 < args.Length ? args[mi + 1].Split(',') : [];
        // --throughput-only: no sparse, downtime and file rows.
        var throughputOnly = args.Contains("--throughput-only");
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
            // target-client: this machine plays the PVE node, a client of the (one) test bed cluster as the old one
            SourceCephConfOnTarget = conf,
            // direct-tcp: the test bed's migration network is the loopback
            Tcp = new TcpDataPathOptions { DefaultAddress = Host },
        };
        string Rbd(params string[] a) => Sh(["rbd", "--conf", conf, .. a]);
        var tag = DateTime.UtcNow.ToString("HHmmss", Inv);

        Line($"# movers bench {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z, test bed Ceph ({Env("TAQUIN_CEPH_OSDS")} OSD, 127.0.0.1), {Environment.ProcessorCount} cores, load {Load()} at start");
        if (args.Contains("--file-downtime-only"))
        {
            // Only the qcow2 warm rows (sampled vs full verification): a quick run on a busy machine.
            await FileDowntimeAsync(runner, options, changedMib, repeat);
            return await SaveAsync("movers-file-verify");
        }

        var rates = await ThroughputAsync(conf, pool, tag, sizesMib, methods, throughputOnly, changedMib, repeat, options);
        var label = Array.IndexOf(args, "--label") is var l and >= 0 && l + 1 < args.Length ? "-" + args[l + 1] : "";
        if (throughputOnly)
        {
            await SaveFileAsync("movers" + label);
            return 0;
        }

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

        await FileDowntimeAsync(runner, options, changedMib, repeat);
        var file = await SaveFileAsync("movers" + label);
        if (RatesOut.PathArg(args) is { } ratesOut)
        {
            await RatesOut.WriteAsync(ratesOut, new MoversMeasurements
            {
                MeasuredOn = $"test bed Ceph ({Env("TAQUIN_CEPH_OSDS")} OSD, 127.0.0.1), {Environment.ProcessorCount} cores, {sizesMib.Max()} MiB fully written image",
                MeasuredAt = DateTimeOffset.UtcNow,
                DirectMiBps = rates[RatePaths.Direct],
                RelayedMiBps = rates[RatePaths.Relayed],
                TargetClientMiBps = rates[RatePaths.TargetClient],
                DirectTcpMiBps = rates[RatePaths.DirectTcp],
                FileMiBps = rates[RatePaths.File],
                Cutovers = cutovers,
            }, file);
        }
        return 0;
    }

    private static async Task<int> SaveAsync(string name)
    {
        await SaveFileAsync(name);
        return 0;
    }

    private static async Task<string> SaveFileAsync(string name)
    {
        var repo = FindRepo();
        var file = Path.Combine(repo, "bench", "results", $"{DateTime.UtcNow:yyyy-MM-dd}-{name}.txt");
        await File.WriteAllTextAsync(file, Out.ToString());
        // Relative: this line often ends up in a committed results file, where a machine's path would not be true.
        Console.WriteLine($"saved {Path.GetRelativePath(repo, file)}");
        return file;
    }

    /// <summary>
    /// Warm qcow2 file disks (docs/adr/0012, 0020): the base copied to a raw volume (the zfs stand-in) while "running", the
    /// change written into the overlay, then the downtime: the overlay's clusters onto the target and the verification,
    /// sampled (16 x 1 MiB + the overlay's extents in full) or full (qemu-img compare of the whole chain and volume).
    /// </summary>
    private static async Task FileDowntimeAsync(TestLocalRunner runner, MoverOptions options, int changedMib, int repeat)
    {
        Line($"downtime of warm qcow2 file disks (overlay sync + verification, no guest stop/boot), {changedMib} MiB written into the overlay, same host, best of {repeat}:");
        var dir = Directory.CreateTempSubdirectory("taquin-bench-file-").FullName;
        try
        {
            foreach (var size in new[] { 256, 1024 })
            {
                var basePath = Path.Combine(dir, $"vm-{size}.qcow2");
                var overlay = Path.Combine(dir, $"vm-{size}.taquin-overlay.qcow2");
                var volume = Path.Combine(dir, $"vm-{size}-disk-0.raw");
                Sh(["bash", "-c", FormattableString.Invariant($"openssl rand -out {dir}/fill {(long)size << 20} && qemu-img convert -q -f raw -O qcow2 {dir}/fill {basePath} && rm -f {dir}/fill && truncate -s {size}M {volume}")]);
                var full = new CommandDiskMover(runner, options with { Verify = VerifyMode.Full });
                var sampled = new CommandDiskMover(runner, options with { Verify = VerifyMode.Sampled });
                await full.CopyAsync(new DiskCopyRequest(new FileImageSource(Host, basePath, "qcow2"), null, null, new RawVolumeTarget(Host, volume)), null, CancellationToken.None);
                Sh(["bash", "-c", FormattableString.Invariant($"qemu-img create -q -f qcow2 -F qcow2 -b {basePath} {overlay} && openssl rand -out {dir}/change {(long)changedMib << 20} && qemu-io -f qcow2 -c 'write -s {dir}/change {size / 2}M {changedMib}M' {overlay} > /dev/null && rm -f {dir}/change")]);

                var request = new DiskCopyRequest(new FileImageSource(Host, overlay, "qcow2"), "taquin-base", null, new RawVolumeTarget(Host, volume));
                // Best of the rounds for each part (the sync is idempotent: the same clusters committed again).
                var (synced, sampledSeconds, fullSeconds) = (double.MaxValue, double.MaxValue, double.MaxValue);
                CopyReport? copy = null;
                VerifyReport? sampledReport = null, fullReport = null;
                for (var round = 0; round < repeat; round++)
                {
                    var clock = Stopwatch.StartNew();
                    copy = await sampled.CopyAsync(request, null, CancellationToken.None);
                    synced = Math.Min(synced, clock.Elapsed.TotalSeconds);
                    clock.Restart();
                    sampledReport = await sampled.VerifyAsync(request, CancellationToken.None);
                    sampledSeconds = Math.Min(sampledSeconds, clock.Elapsed.TotalSeconds);
                    clock.Restart();
                    fullReport = await full.VerifyAsync(request, CancellationToken.None);
                    fullSeconds = Math.Min(fullSeconds, clock.Elapsed.TotalSeconds);
                }

                Line(FormattableString.Invariant($"  {size,5} MiB  qcow2 warm {synced + sampledSeconds,6:F2} s with sampled verify ({(sampledReport!.Match ? "match" : "MISMATCH")}, {sampledSeconds:F2} s, {sampledReport.BytesRead / (double)(1 << 20):F0} MiB read per side: 16 x 1 MiB + overlay extents)   {synced + fullSeconds,6:F2} s with full verify ({(fullReport!.Match ? "match" : "MISMATCH")}, {fullSeconds:F2} s, qemu-img compare of {size} MiB)   overlay sync {synced:F2} s, {copy!.BytesSent} bytes"));
                foreach (var path in new[] { basePath, overlay, volume })
                {
                    File.Delete(path);
                }
            }

            Line($"  (load {Load()} at the end of the file rows)");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A throughput row: its key (for <c>--methods</c>), its label, the raw pipe over the same transport, and the copy.</summary>
    private sealed record Method(string Key, string Name, string Transport, bool Preallocate, bool IsMover, Func<string, string, Task> Copy);

    /// <summary>
    /// Throughput on fully written images of each size: every method once per round, rounds interleaved (a shared machine's
    /// load hits all methods alike), best round each; with two sizes or more, marginal rates between the smallest and the
    /// largest (the fixed cost per copy drops out). Then the sparse image's bytes sent per data path.
    /// The movers run through SSH.NET to the test bed's sshd, as a real run does (the relayed path's data crosses it).
    /// </summary>
    private static async Task<IReadOnlyDictionary<string, double>> ThroughputAsync(string conf, string pool, string tag, IReadOnlyList<int> sizesMib, string[] keys, bool throughputOnly, int changedMib, int repeat, MoverOptions options)
    {
        string Rbd(params string[] a) => Sh(["rbd", "--conf", conf, .. a]);
        using var sshNet = new SshNetRunner(
            new Dictionary<string, SshEndpoint>(StringComparer.Ordinal) { [Host] = new(Env("TAQUIN_SSH_USER"), Env("TAQUIN_SSH_HOST"), int.Parse(Env("TAQUIN_SSH_PORT"), Inv)) },
            SshAccessOptions.FromEnvironment());
        var ssh = ShellQuoting.Join(options.SshCommand(Host));
        Task Mover(DataPath path, string source, string target)
            => new CommandDiskMover(sshNet, options with { DataPath = path }).CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, source), null, "s", new RbdVolumeTarget(Host, target)), null, CancellationToken.None);
        Task Shell(string script) => Task.Run(() => Sh(["bash", "-o", "pipefail", "-c", script]));
        const int TcpPort = 60990;
        var rbd = $"rbd --conf {conf}";
        string TcpPipe(string export, string import)
            => $"socat -u -b 1048576 TCP4-LISTEN:{TcpPort},bind=127.0.0.1,reuseaddr STDOUT | {import} & {export} | socat -u -b 1048576 STDIN TCP4:127.0.0.1:{TcpPort},retry=500,interval=0.01; wait $!";
        Method[] all =
        [
            new("local", "local pipe: rbd export - | rbd import -", "local", false, false, (s, t) => Shell($"{rbd} export --no-progress {s}@s - | {rbd} import --no-progress - {t}")),
            new("ssh", "ssh pipe: rbd export - | ssh | rbd import -", "ssh", false, false, (s, t) => Shell($"{rbd} export --no-progress {s}@s - | {ssh} {ShellQuoting.Quote($"{rbd} import --no-progress - {t}")}")),
            new("tcp", "tcp pipe: rbd export - | socat -b 1M | socat | rbd import -", "tcp", false, false, (s, t) => Shell(TcpPipe($"{rbd} export --no-progress {s}@s -", $"{rbd} import --no-progress - {t}"))),
            new("local-diff", "local diff pipe: export-diff | import-diff", "local", true, false, (s, t) => Shell($"{rbd} export-diff --no-progress {s}@s - | {rbd} import-diff --no-progress /dev/stdin {t}")),
            new("ssh-diff", "ssh diff pipe: export-diff | ssh | import-diff", "ssh", true, false, (s, t) => Shell($"{rbd} export-diff --no-progress {s}@s - | {ssh} {ShellQuoting.Quote($"{rbd} import-diff --no-progress /dev/stdin {t}")}")),
            new("tcp-diff", "tcp diff pipe: export-diff | socat | socat | import-diff", "tcp", true, false, (s, t) => Shell(TcpPipe($"{rbd} export-diff --no-progress {s}@s -", $"{rbd} import-diff --no-progress /dev/stdin {t}"))),
            new("qemu", "qemu-img convert -p -n -f raw -O raw (PVE import)", "local", true, false, (s, t) => Task.Run(() => Sh(["qemu-img", "convert", "-p", "-n", "-f", "raw", "-O", "raw", $"rbd:{s}@s:conf={conf}", $"rbd:{t}:conf={conf}"]))),
            new("direct", "mover direct (export-diff | ssh | import-diff)", "ssh", true, true, (s, t) => Mover(DataPath.Direct, s, t)),
            new("relayed", "mover relayed (SSH.NET channels, orchestrator)", "ssh", true, true, (s, t) => Mover(DataPath.Relayed, s, t)),
            new("target-client", "mover target-client (both clusters, no ssh hop)", "local", true, true, (s, t) => Mover(DataPath.TargetClient, s, t)),
            new("direct-tcp", "mover direct-tcp (export-diff | tcp | import-diff)", "tcp", true, true, (s, t) => Mover(DataPath.DirectTcp, s, t)),
        ];
        // The raw pipes stay in whenever a mover row is measured: the ratios need them.
        var wanted = keys.Length == 0 ? all : [.. all.Where(m => keys.Contains(m.Key) || m.Key is "local" or "ssh" or "tcp")];
        // best[size][method] in seconds
        var best = new Dictionary<int, Dictionary<string, double>>();
        foreach (var sizeMib in sizesMib)
        {
            var full = $"{pool}/bench-full-{tag}-{sizeMib}";
            Rbd("create", "--size", $"{sizeMib}M", full);
            Fill(conf, full, 0, sizeMib);
            Rbd("snap", "create", $"{full}@s");
            Line($"throughput: {sizeMib} MiB fully written image, best of {repeat} interleaved rounds, load {Load()} at start; ssh = {ssh.Replace(Env("TAQUIN_TESTBED_DIR"), "$TB", StringComparison.Ordinal)}");
            var times = wanted.ToDictionary(m => m.Key, _ => double.MaxValue);
            var sourceSha = Sha(conf, full + "@s");
            for (var round = 0; round < repeat; round++)
            {
                foreach (var method in wanted)
                {
                    var target = $"{pool}/bench-t-{tag}-{round}";
                    if (method.Preallocate)
                    {
                        Rbd("create", "--size", $"{sizeMib}M", target);
                    }

                    var clock = Stopwatch.StartNew();
                    await method.Copy(full, target);
                    times[method.Key] = Math.Min(times[method.Key], clock.Elapsed.TotalSeconds);
                    if (round == 0 && Sha(conf, target + (method.IsMover ? "@s" : "")) != sourceSha)
                    {
                        throw new InvalidOperationException($"{method.Name}: the target differs from the source");
                    }

                    Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {target}; rbd --conf {conf} rm --no-progress {target}"]);
                }
            }

            foreach (var method in wanted)
            {
                var seconds = times[method.Key];
                Line(FormattableString.Invariant($"  {method.Name,-58} {seconds,6:F2} s {sizeMib / seconds,7:F1} MiB/s   / local pipe {times["local"] / seconds,4:F2}   / {method.Transport + " pipe",-10} {times[method.Transport] / seconds,4:F2}"));
            }

            Line($"  (load {Load()} at the end; movers' times include their rbd diff and snap ls; targets of the diff rows are preallocated as PVE does, outside the time)");
            Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {full}; rbd --conf {conf} rm --no-progress {full}"]);
            best[sizeMib] = times;
        }

        if (sizesMib.Count >= 2)
        {
            var (small, large) = (sizesMib.Min(), sizesMib.Max());
            double Marginal(string key) => (large - small) / (best[large][key] - best[small][key]);
            Line(FormattableString.Invariant($"marginal rates between {small} and {large} MiB (rate = {large - small} MiB / (t{large} - t{small}); fixed cost per copy = t{small} - {small} MiB / rate):"));
            foreach (var method in wanted)
            {
                var rate = Marginal(method.Key);
                Line(FormattableString.Invariant($"  {method.Name,-58} {rate,7:F1} MiB/s   / local pipe {rate / Marginal("local"),4:F2}   / {method.Transport + " pipe",-10} {rate / Marginal(method.Transport),4:F2}   fixed cost {best[small][method.Key] - (small / rate),5:F2} s"));
            }
        }

        // MiB/s per rates-file path name (docs/rates-format.md), at the largest size; file disks copy as qemu-img does.
        var largest = best[sizesMib.Max()];
        double RateOf(string key) => largest.TryGetValue(key, out var seconds) ? sizesMib.Max() / seconds : 0;
        var measured = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            [RatePaths.Direct] = RateOf("direct"),
            [RatePaths.Relayed] = RateOf("relayed"),
            [RatePaths.TargetClient] = RateOf("target-client"),
            [RatePaths.DirectTcp] = RateOf("direct-tcp"),
            [RatePaths.File] = RateOf("qemu"),
        };
        if (throughputOnly)
        {
            return measured;
        }

        // Sparse image: bytes sent against allocated, every data path.
        var sparse = $"{pool}/bench-sparse-{tag}";
        Rbd("create", "--size", "1024M", sparse);
        Fill(conf, sparse, 100, changedMib);
        Fill(conf, sparse, 700, changedMib);
        Rbd("snap", "create", $"{sparse}@s");
        var allocated = JsonDocument.Parse(Rbd("du", $"{sparse}@s", "--format", "json")).RootElement.GetProperty("images")[0].GetProperty("used_size").GetInt64();
        Line($"sparse: 1024 MiB image, {2 * changedMib} MiB written, rbd du used = {allocated} bytes (must be: sent <= allocated + 1 %)");
        foreach (var path in new[] { DataPath.Direct, DataPath.Relayed, DataPath.TargetClient, DataPath.DirectTcp })
        {
            var target = $"{pool}/bench-st-{tag}";
            Rbd("create", "--size", "1024M", target);
            var report = await new CommandDiskMover(sshNet, options with { DataPath = path }).CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, sparse), null, "s", new RbdVolumeTarget(Host, target)), null, CancellationToken.None);
            var equal = Sha(conf, target + "@s") == Sha(conf, sparse + "@s");
            Line(FormattableString.Invariant($"  {DataPathNames.Name(path),-14} bytes sent {report.BytesSent} = {100.0 * report.BytesSent / allocated:F4} % of allocated ({report.Duration.TotalSeconds:F2} s, target {(equal ? "equal" : "DIFFERENT")})"));
            Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {target}; rbd --conf {conf} rm --no-progress {target}"]);
        }

        Sh(["bash", "-c", $"rbd --conf {conf} snap purge --no-progress {sparse}; rbd --conf {conf} rm --no-progress {sparse}"]);
        return measured;
    }

    private static string Sha(string conf, string spec) => Sh(["bash", "-o", "pipefail", "-c", $"rbd --conf {conf} export --no-progress {spec} - | sha256sum"]).Split(' ')[0];

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    private static void Line(string text)
    {
        Console.WriteLine(text);
        Out.AppendLine(text);
    }

    private static string Env(string name) => Environment.GetEnvironmentVariable(name) ?? "";

    /// <summary>
    /// Writes <paramref name="mib"/> MiB of non-zero, non-repeating-per-block data at <paramref name="atMib"/>, in pieces of at
    /// most 1 GiB (<c>openssl rand</c> takes at most 2^31-1 bytes).
    /// </summary>
    private static void Fill(string conf, string image, int atMib, int mib)
    {
        const int PieceMib = 1024;
        for (var done = 0; done < mib; done += PieceMib)
        {
            var piece = Math.Min(PieceMib, mib - done);
            Sh(["bash", "-c", FormattableString.Invariant(
                $"openssl rand -out /tmp/taquin-bench-fill {(long)piece << 20} && qemu-io -f raw -c 'write -s /tmp/taquin-bench-fill {atMib + done}M {piece}M' 'rbd:{image}:conf={conf}' > /dev/null && rm -f /tmp/taquin-bench-fill")]);
        }
    }

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
