using System.Net;
using System.Net.Sockets;
using Taquin.Executors.Adapters;
using Taquin.Executors.Movers;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Movers;

/// <summary>
/// The direct-tcp data path against the test bed's Ceph, with real socat at both ends on 127.0.0.1: the target equals
/// the source snapshot, only allocated bytes travel, a broken or hung end restarts the copy and leaves no listener
/// or sender behind, taken ports are skipped, a missing socat is named with its host.
/// </summary>
[Collection(TestbedCollections.Ceph)]
public sealed class TcpDataPathTests : IDisposable
{
    private const string Host = "127.0.0.1";
    private readonly TestbedCeph _ceph = new();
    private readonly TestLocalRunner _runner = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("taquin-tcp-").FullName;

    public void Dispose()
    {
        _ceph.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Each test its own ports, so a leftover listener is this test's.</summary>
    private static MoverOptions Options(int firstPort, int ports = 4, string socat = "socat", TestbedCeph? ceph = null) => CommandDiskMoverTests.Options(DataPath.DirectTcp, ceph!) with
    {
        Tcp = new TcpDataPathOptions
        {
            DefaultAddress = Host,
            FirstPort = firstPort,
            LastPort = firstPort + ports - 1,
            AcceptTimeout = TimeSpan.FromSeconds(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            Socat = socat,
        },
    };

    private CommandDiskMover Mover(int firstPort, int ports = 4, string socat = "socat") => new(_runner, Options(firstPort, ports, socat, _ceph));

    private string SparseSource(string prefix) => CommandDiskMoverTests.SparseSource(_ceph, prefix);

    /// <summary>Processes of this machine whose command line mentions <paramref name="marker"/>.</summary>
    private static List<string> ProcessesWith(string marker)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(marker, StringComparison.Ordinal) && Path.GetFileName(dir) != Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
                {
                    found.Add($"{Path.GetFileName(dir)}: {cmdline}");
                }
            }
            catch (IOException)
            {
                // the process ended meanwhile
            }
        }

        return found;
    }

    /// <summary>Listeners and socat processes on the ports [first, first + count): none may outlive a copy.</summary>
    private static void AssertNothingLeftOn(int first, int count)
    {
        var listening = IPGlobalPropertiesListeners().Where(p => p >= first && p < first + count).ToList();
        Assert.Empty(listening);
        for (var port = first; port < first + count; port++)
        {
            Assert.Empty(ProcessesWith($"LISTEN:{port},"));
            Assert.Empty(ProcessesWith($":{port},connect-timeout"));
        }
    }

    private static IEnumerable<int> IPGlobalPropertiesListeners()
        => System.Net.NetworkInformation.IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners().Select(e => e.Port);

    [IntegrationFact]
    public async Task Cold_rbd_to_rbd_over_tcp_copies_the_snapshot_exactly_sending_only_allocated_bytes()
    {
        var source = SparseSource("tcp-cold-src");
        var target = _ceph.CreateImage("tcp-cold-dst", 64 << 20);
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, target));
        var progress = new List<CopyProgress>();
        var mover = Mover(61000);

        var report = await mover.CopyAsync(request, p => { progress.Add(p); return Task.CompletedTask; }, CancellationToken.None);
        var verify = await mover.VerifyAsync(request, CancellationToken.None);

        Assert.True(verify.Match, verify.ToCheckpoint());
        Assert.Equal(_ceph.Sha256(source + "@base"), verify.TargetDigest);
        Assert.Equal(DataPath.DirectTcp, report.Path);
        Assert.Equal(1, report.Attempts);
        Assert.InRange(report.BytesSent, 6 << 20, (report.DataBytes * 1.01) + 4096);
        Assert.Equal(report.BytesSent, progress[^1].Bytes);
        // Control over SSH, data over TCP: no ssh in the data pipe, socat at both ends.
        Assert.Contains(_runner.Commands, c => c.Contains("TCP4-LISTEN:$port,bind=127.0.0.1", StringComparison.Ordinal) && c.Contains("import-diff", StringComparison.Ordinal));
        Assert.Contains(_runner.Commands, c => c.Contains("export-diff", StringComparison.Ordinal) && c.Contains("TCP4:127.0.0.1:610", StringComparison.Ordinal));
        Assert.DoesNotContain(_runner.Commands, c => c.Contains("ssh ", StringComparison.Ordinal));
        AssertNothingLeftOn(61000, 4);
    }

    [IntegrationFact]
    public async Task Warm_rbd_to_rbd_over_tcp_moves_only_the_change_and_counts_what_the_relay_counts()
    {
        var source = SparseSource("tcp-warm-src");
        var target = _ceph.CreateImage("tcp-warm-dst", 64 << 20);
        var relayedTarget = _ceph.CreateImage("tcp-warm-rel", 64 << 20);
        var mover = Mover(61010);
        var relayed = new CommandDiskMover(_runner, CommandDiskMoverTests.Options(DataPath.Relayed, _ceph));
        await mover.CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, target)), null, CancellationToken.None);
        await relayed.CopyAsync(new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, relayedTarget)), null, CancellationToken.None);
        _ceph.Write(source, 30 << 20, CommandDiskMoverTests.Pattern(1 << 20, 4));
        _ceph.Snapshot(source, "final");
        var final = new DiskCopyRequest(new RbdImageSource(Host, source), "base", "final", new RbdVolumeTarget(Host, target));

        var report = await mover.CopyAsync(final, null, CancellationToken.None);
        var verify = await mover.VerifyAsync(final, CancellationToken.None);
        var relayedReport = await relayed.CopyAsync(final with { Target = new RbdVolumeTarget(Host, relayedTarget) }, null, CancellationToken.None);

        Assert.True(verify.Match, verify.ToCheckpoint());
        Assert.Equal(_ceph.Sha256(source + "@final"), _ceph.Sha256(target + "@final"));
        Assert.InRange(report.DataBytes, 1 << 20, 4 << 20);
        // The relay counts every byte it passes; direct-tcp computes the stream from rbd diff.
        Assert.Equal(relayedReport.BytesSent, report.BytesSent);
        AssertNothingLeftOn(61010, 4);
    }

    [IntegrationFact]
    public async Task Rbd_to_a_raw_file_over_tcp_is_received_by_the_orchestrators_diff_applier_cold_then_warm()
    {
        var source = SparseSource("tcp-raw-src");
        var file = Path.Combine(_dir, "vm-100-disk-0.raw");
        var mover = Mover(61020);
        var baseRequest = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RawVolumeTarget(Host, file));
        var baseCopy = await mover.CopyAsync(baseRequest, null, CancellationToken.None);
        Assert.True((await mover.VerifyAsync(baseRequest, CancellationToken.None)).Match);
        _ceph.Write(source, 40 << 20, CommandDiskMoverTests.Pattern(512 << 10, 5));
        _ceph.Snapshot(source, "final");
        var final = baseRequest with { FromSnapshot = "base", ToSnapshot = "final" };

        var increment = await mover.CopyAsync(final, null, CancellationToken.None);
        var verify = await mover.VerifyAsync(final, CancellationToken.None);

        Assert.True(verify.Match, verify.ToCheckpoint());
        Assert.Equal(DataPath.DirectTcp, increment.Path);
        Assert.Equal("rbd export-diff | tcp | diff applier", increment.Method);
        Assert.InRange(baseCopy.DataBytes, 6 << 20, 7 << 20);
        Assert.Equal(512 << 10, increment.DataBytes);
        // Counted at the receiver: the stream the source sent, the same figure direct-tcp to RBD computes from rbd diff.
        var rbdTarget = _ceph.CreateImage("tcp-raw-cmp", 64 << 20);
        var rbdCopy = await mover.CopyAsync(baseRequest with { Target = new RbdVolumeTarget(Host, rbdTarget) }, null, CancellationToken.None);
        Assert.Equal(baseCopy.BytesSent, rbdCopy.BytesSent);
        // Sparse: no more than what Ceph has allocated (rbd diff's extents, whole objects) + 1 %; the applier skips the zeros among them.
        Assert.InRange(baseCopy.BytesSent, 6 << 20, (rbdCopy.DataBytes * 1.01) + 4096);
        AssertNothingLeftOn(61020, 4);
    }

    /// <summary>
    /// A socat that misbehaves on its first call in one role, then runs the real one: "sender-hangs" sends 1 MiB then
    /// hangs without exiting (only a kill ends it), "sender-stalls" hangs before connecting (the listener still waits),
    /// "receiver-dies" stops reading after 1 MiB and exits.
    /// </summary>
    private string FlakySocat(string fault)
    {
        var path = Path.Combine(_dir, "socat");
        var once = path + ".done";
        var marker = Path.Combine(_dir, "hung-sender-marker");
        var script = fault switch
        {
            // The sender is "socat -U TCP4:ADDRESS EXEC:bash SCRIPT,nofork" (SCRIPT execs the source command).
            "sender-hangs" => $$"""
                #!/bin/bash
                if [ ! -e {{once}} ] && [[ " $* " == *" -U "* ]]; then
                  touch {{once}}; run=${!#}; run=${run#EXEC:bash }; run=${run%,nofork}
                  bash "$run" | head -c 1048576 | /usr/bin/socat -u STDIN "${@: -2:1}"; exec -a {{marker}} sleep 600
                fi
                exec /usr/bin/socat "$@"
                """,
            "sender-stalls" => $$"""
                #!/bin/bash
                if [ ! -e {{once}} ] && [[ " $* " == *" -U "* ]]; then touch {{once}}; exec -a {{marker}} sleep 600; fi
                exec /usr/bin/socat "$@"
                """,
            // The receiver is "socat -d -d -u TCP4-LISTEN:... EXEC:bash SCRIPT,nofork": here it reads 1 MiB into nothing instead.
            "receiver-dies" => $$"""
                #!/bin/bash
                if [ ! -e {{once}} ] && [[ "$*" == *LISTEN* ]]; then touch {{once}}; /usr/bin/socat "${@:1:$#-1}" STDOUT | head -c 1048576 > /dev/null; exit 1; fi
                exec /usr/bin/socat "$@"
                """,
            "sender-refused" => $$"""
                #!/bin/bash
                if [[ " $* " == *" -U "* ]]; then touch {{once}}; args=("$@"); args[-2]=$(sed -E 's/:[0-9]+,/:1,/' <<< "${args[-2]}"); exec /usr/bin/socat "${args[@]}"; fi
                exec /usr/bin/socat "$@"
                """,
            _ => throw new ArgumentOutOfRangeException(nameof(fault)),
        };
        File.WriteAllText(path, script.ReplaceLineEndings("\n") + "\n");
        TestbedCeph.RunBytes(["chmod", "700", path]);
        return path;
    }

    [IntegrationTheory]
    [InlineData("sender-hangs", 61030)]
    [InlineData("receiver-dies", 61040)]
    public async Task A_broken_end_fails_the_attempt_both_ends_are_killed_and_the_retry_still_verifies(string fault, int firstPort)
    {
        var source = SparseSource("tcp-fault-src");
        var target = _ceph.CreateImage("tcp-fault-dst", 64 << 20);
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, target));
        var socat = FlakySocat(fault);

        var report = await Mover(firstPort, socat: socat).CopyAsync(request, null, CancellationToken.None);
        var verify = await Mover(firstPort).VerifyAsync(request, CancellationToken.None);

        Assert.True(File.Exists(socat + ".done"), "the fault did not happen");
        Assert.Equal(2, report.Attempts);
        Assert.True(verify.Match, verify.ToCheckpoint());
        Assert.Empty(ProcessesWith(Path.Combine(_dir, "hung-sender-marker")));
        AssertNothingLeftOn(firstPort, 4);
    }

    [IntegrationFact]
    public async Task A_sender_that_cannot_connect_fails_with_its_error_and_the_listener_is_killed()
    {
        var source = SparseSource("tcp-refused-src");
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, _ceph.CreateImage("tcp-refused-dst", 64 << 20)));
        // Every sender connects to port 1 instead of the listener's: refused at once.
        var mover = new CommandDiskMover(_runner, Options(61100, socat: FlakySocat("sender-refused"), ceph: _ceph) with { CopyAttempts = 1 });

        var error = await Assert.ThrowsAsync<SshCommandException>(() => mover.CopyAsync(request, null, CancellationToken.None));

        Assert.True(error.IsTransient);
        Assert.Contains("the sender on 127.0.0.1 failed (exit 1)", error.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:1", error.Message, StringComparison.Ordinal);
        Assert.Contains("Connection refused", error.Message, StringComparison.Ordinal);
        AssertNothingLeftOn(61100, 4);
    }

    [IntegrationFact]
    public async Task A_copy_already_done_or_whose_source_cannot_be_read_stops_the_listener_started_alongside_its_questions()
    {
        var source = SparseSource("tcp-again-src");
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, _ceph.CreateImage("tcp-again-dst", 64 << 20)));
        var mover = new CommandDiskMover(_runner, Options(61120, ceph: _ceph) with { CopyAttempts = 1 });
        await mover.CopyAsync(request, null, CancellationToken.None);

        // The receiver starts while rbd diff and snap ls run; the target already at "base" (or no source) stops it.
        var again = await mover.CopyAsync(request, null, CancellationToken.None);
        var missing = await Assert.ThrowsAsync<SshCommandException>(() => mover.CopyAsync(request with { Source = new RbdImageSource(Host, source + "-gone") }, null, CancellationToken.None));

        Assert.Equal("already at base", again.Method);
        Assert.Equal(0, again.BytesSent);
        Assert.Contains("rbd diff", missing.Message, StringComparison.Ordinal);
        AssertNothingLeftOn(61120, 4);
        Assert.True((await mover.VerifyAsync(request, CancellationToken.None)).Match);
    }

    [IntegrationFact]
    public async Task A_copy_cancelled_while_the_listener_waits_kills_the_listener_and_the_sender()
    {
        var source = SparseSource("tcp-cancel-src");
        var target = _ceph.CreateImage("tcp-cancel-dst", 64 << 20);
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, target));
        var socat = FlakySocat("sender-stalls");
        var marker = Path.Combine(_dir, "hung-sender-marker");
        using var cts = new CancellationTokenSource();
        var mover = new CommandDiskMover(_runner, Options(61050, socat: socat, ceph: _ceph) with { CopyAttempts = 1 });

        var copy = mover.CopyAsync(request, null, cts.Token);
        // Cancel while the sender stalls and the receiver listens (its accept timeout, 5 s, is far away).
        while (ProcessesWith(marker).Count == 0 && !copy.IsCompleted)
        {
            await Task.Delay(50);
        }

        Assert.Contains(IPGlobalPropertiesListeners(), p => p is >= 61050 and < 61054);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => copy);

        Assert.Empty(ProcessesWith(marker));
        AssertNothingLeftOn(61050, 4);
    }

    [IntegrationFact]
    public async Task A_port_in_use_is_skipped_and_a_range_with_no_free_port_fails_clearly_without_retrying()
    {
        var source = SparseSource("tcp-port-src");
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, _ceph.CreateImage("tcp-port-dst", 64 << 20)));
        using var taken = new TcpListener(IPAddress.Loopback, 61060);
        taken.Start();

        var report = await Mover(61060, ports: 2).CopyAsync(request, null, CancellationToken.None);
        var verify = await Mover(61060, ports: 2).VerifyAsync(request, CancellationToken.None);
        var full = await Assert.ThrowsAsync<SshCommandException>(() => Mover(61060, ports: 1).CopyAsync(request with { Target = new RbdVolumeTarget(Host, _ceph.CreateImage("tcp-port-dst2", 64 << 20)) }, null, CancellationToken.None));

        Assert.True(verify.Match, verify.ToCheckpoint());
        Assert.Equal(1, report.Attempts);
        Assert.Contains("no free port in 61060-61060 on 127.0.0.1 (movers.tcp.ports)", full.Message, StringComparison.Ordinal);
        Assert.False(full.IsTransient);
        Assert.Empty(ProcessesWith("LISTEN:61061,"));
    }

    [IntegrationFact]
    public async Task Parallel_copies_to_one_node_each_get_their_own_port()
    {
        var sources = new[] { SparseSource("tcp-par-a"), SparseSource("tcp-par-b"), SparseSource("tcp-par-c") };
        var requests = sources.Select(s => new DiskCopyRequest(new RbdImageSource(Host, s), null, "base", new RbdVolumeTarget(Host, _ceph.CreateImage("tcp-par-dst", 64 << 20)))).ToList();
        var mover = Mover(61070, ports: 3);

        var reports = await Task.WhenAll(requests.Select(r => mover.CopyAsync(r, null, CancellationToken.None)));

        Assert.All(reports, r => Assert.Equal(1, r.Attempts));
        foreach (var request in requests)
        {
            Assert.True((await mover.VerifyAsync(request, CancellationToken.None)).Match);
        }

        AssertNothingLeftOn(61070, 3);
    }

    [IntegrationFact]
    public async Task A_host_without_socat_is_named_with_the_missing_tool_and_the_copy_is_not_retried()
    {
        var source = SparseSource("tcp-nosocat-src");
        var request = new DiskCopyRequest(new RbdImageSource(Host, source), null, "base", new RbdVolumeTarget(Host, _ceph.CreateImage("tcp-nosocat-dst", 64 << 20)));

        var error = await Assert.ThrowsAsync<SshCommandException>(() => Mover(61080, socat: "/opt/nowhere/socat").CopyAsync(request, null, CancellationToken.None));

        Assert.False(error.IsTransient);
        Assert.Contains("/opt/nowhere/socat is not installed on 127.0.0.1 (it is the receiver of the direct-tcp data path): apt-get install socat", error.Message, StringComparison.Ordinal);
        Assert.Single(_runner.Commands, c => c.Contains("LISTEN", StringComparison.Ordinal));
    }

    [IntegrationFact]
    public async Task A_target_host_without_a_migration_address_is_refused_before_anything_moves()
    {
        var request = new DiskCopyRequest(new RbdImageSource(Host, SparseSource("tcp-noaddr-src")), null, "base", new RbdVolumeTarget("pve9", "rbd/other"));
        var options = Options(61090, ceph: _ceph) with { Tcp = new TcpDataPathOptions { Addresses = new Dictionary<string, string> { [Host] = Host } } };

        var error = await Assert.ThrowsAsync<AdapterException>(() => new CommandDiskMover(_runner, options).CopyAsync(request, null, CancellationToken.None));

        Assert.False(error.IsTransient);
        Assert.Contains("pve9's migration address (movers.tcp.addresses.pve9 or movers.tcp.bindAddress", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_runner.Commands, c => c.Contains("socat", StringComparison.Ordinal));
    }
}
