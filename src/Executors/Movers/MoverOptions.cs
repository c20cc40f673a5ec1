namespace Taquin.Executors.Movers;

/// <summary>How verification compares source and target.</summary>
public enum VerifyMode
{
    /// <summary>SHA-256 of the whole snapshot on both sides.</summary>
    Full,
    /// <summary>SHA-256 of blocks at chosen offsets on both sides: fast for huge disks, and reported as sampled.</summary>
    Sampled,
}

/// <summary>Settings of the disk movers (per fleet).</summary>
public sealed record MoverOptions
{
    public static MoverOptions Default { get; } = new();

    public DataPath DataPath { get; init; } = DataPath.Direct;

    /// <summary>ceph.conf of the old cluster as seen from the source hosts (null: the host's default).</summary>
    public string? SourceCephConf { get; init; }

    /// <summary>ceph.conf of the new cluster as seen from the target nodes (null: the node's default).</summary>
    public string? TargetCephConf { get; init; }

    /// <summary>
    /// The command a source host runs to reach a target host for the direct path, before the remote command
    /// (e.g. <c>ssh -o BatchMode=yes root@pve1</c>); the remote command follows as one quoted string. When it is
    /// <c>ssh</c>, the mover adds <c>-c</c> <see cref="SshCiphers"/> right after the program name (see <see cref="SshCommand"/>).
    /// </summary>
    public Func<string, IReadOnlyList<string>> HostToHostSsh { get; init; } = host => ["ssh", .. FastSshOptions, "root@" + host];

    /// <summary>
    /// No prompts, no compression (disk data does not compress cheaply, and zeros never travel), and one multiplexed
    /// connection per host pair so a small increment does not pay a new handshake. The cipher is <see cref="SshCiphers"/>.
    /// </summary>
    public static IReadOnlyList<string> FastSshOptions { get; } =
    [
        "-o", "BatchMode=yes", "-o", "Compression=no",
        "-o", "ControlMaster=auto", "-o", "ControlPersist=300", "-o", "ControlPath=/tmp/.taquin-ssh-%C",
    ];

    /// <summary>
    /// The ciphers the direct path's ssh offers, in order (<c>ssh -c</c>): AES-GCM first (with AES-NI it is the fastest
    /// authenticated cipher, see docs/adr/0013), chacha20-poly1305 for hosts without it. Only AEAD/CTR ciphers of
    /// current OpenSSH are accepted (<see cref="SshCipherNames"/>).
    /// </summary>
    public string SshCiphers { get; init; } = DefaultSshCiphers;

    public const string DefaultSshCiphers = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com";

    /// <summary>Ciphers accepted in <see cref="SshCiphers"/>: OpenSSH's authenticated and counter-mode ones (no CBC, no 3DES).</summary>
    public static IReadOnlyList<string> SshCipherNames { get; } =
    [
        "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr",
    ];

    /// <summary>
    /// Checks a comma-separated cipher list: the list itself when every name is in <see cref="SshCipherNames"/>, else null
    /// and the unknown or refused names.
    /// </summary>
    public static (string? Ciphers, IReadOnlyList<string> Refused) ParseSshCiphers(string? value)
    {
        var names = (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var refused = names.Where(n => !SshCipherNames.Contains(n, StringComparer.Ordinal)).ToList();
        return names.Length == 0 ? (null, ["(empty)"]) : refused.Count > 0 ? (null, refused) : (string.Join(',', names), refused);
    }

    /// <summary>The host-to-host command for <paramref name="host"/>, with <see cref="SshCiphers"/> when it is ssh.</summary>
    public IReadOnlyList<string> SshCommand(string host)
    {
        var argv = HostToHostSsh(host);
        return argv.Count > 0 && Path.GetFileName(argv[0]) == "ssh" ? [argv[0], "-c", SshCiphers, .. argv.Skip(1)] : argv;
    }

    /// <summary>
    /// Lets <c>rbd import-diff</c> keep several writes in flight: it reads <c>/dev/stdin</c> (a path) instead of
    /// <c>-</c>, for which rbd allows exactly one write at a time (rbd's import code: stdin → throttle of 1; a path →
    /// <c>rbd_concurrent_management_ops</c>). Only when stdin is a pipe (a socket cannot be reopened); else <c>-</c>.
    /// </summary>
    public bool ParallelImportDiff { get; init; } = true;

    /// <summary>
    /// Target-client path: the old cluster's ceph.conf as seen from the PVE nodes (with its keyring, e.g. the one of the
    /// external <c>old-ceph</c> storage). Required for <see cref="DataPath.TargetClient"/>.
    /// </summary>
    public string? SourceCephConfOnTarget { get; init; }

    /// <summary>The <see cref="DataPath.DirectTcp"/> path's addresses, ports and timeouts.</summary>
    public TcpDataPathOptions Tcp { get; init; } = TcpDataPathOptions.Default;

    /// <summary>Hosts where raw targets are written by the orchestrator itself (its own machine); others get an SSH writer.</summary>
    public Func<string, bool> IsLocalHost { get; init; } = host => host is "localhost" or "127.0.0.1";

    public VerifyMode Verify { get; init; } = VerifyMode.Full;

    /// <summary>With <see cref="VerifyMode.Full"/>, disks larger than this are verified sampled anyway.</summary>
    public long FullVerifyLimitBytes { get; init; } = long.MaxValue;

    /// <summary>Sampled verification: this many blocks, evenly spread including the first and the last.</summary>
    public int SampleCount { get; init; } = 16;

    public int SampleBytes { get; init; } = 1 << 20;

    /// <summary>Sampled verification: extra offsets to check (e.g. known hot regions).</summary>
    public IReadOnlyList<long> SampleOffsets { get; init; } = [];

    /// <summary>
    /// Where sampled verification reads in a disk of <paramref name="size"/> bytes: <see cref="SampleCount"/> offsets evenly
    /// spread from the first block to the last (4 KiB aligned), plus <see cref="SampleOffsets"/> inside the disk. RBD and
    /// file disks use the same layout.
    /// </summary>
    public IReadOnlyList<long> SampleOffsetsFor(long size)
    {
        var last = Math.Max(0, size - SampleBytes);
        var offsets = new SortedSet<long>();
        var count = Math.Max(2, SampleCount);
        for (var i = 0; i < count; i++)
        {
            offsets.Add(last * i / (count - 1) / 4096 * 4096);
        }

        foreach (var extra in SampleOffsets.Where(o => o >= 0 && o < size))
        {
            offsets.Add(Math.Min(extra, last));
        }

        return [.. offsets];
    }

    /// <summary>How often running copies report progress to the journal.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Attempts of one copy when its stream breaks (a dropped SSH connection): the copy restarts from its start.</summary>
    public int CopyAttempts { get; init; } = 3;

    /// <summary>Bytes buffered between a relayed source and target before the source is paused (back-pressure).</summary>
    public long RelayBufferBytes { get; init; } = 16L << 20;
}
