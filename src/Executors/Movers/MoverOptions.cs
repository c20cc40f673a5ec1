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
    /// (e.g. <c>ssh -o BatchMode=yes root@pve1</c>); the remote command follows as one quoted string.
    /// </summary>
    public Func<string, IReadOnlyList<string>> HostToHostSsh { get; init; } = host => ["ssh", .. FastSshOptions, "root@" + host];

    /// <summary>
    /// No prompts, no compression, AES-GCM first (hardware AES makes it several times faster than chacha20 for
    /// disk data), and one multiplexed connection per host pair so a small increment does not pay a new handshake.
    /// </summary>
    public static IReadOnlyList<string> FastSshOptions { get; } =
    [
        "-o", "BatchMode=yes", "-o", "Compression=no", "-c", "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
        "-o", "ControlMaster=auto", "-o", "ControlPersist=300", "-o", "ControlPath=/tmp/.taquin-ssh-%C",
    ];

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

    /// <summary>How often running copies report progress to the journal.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Attempts of one copy when its stream breaks (a dropped SSH connection): the copy restarts from its start.</summary>
    public int CopyAttempts { get; init; } = 3;

    /// <summary>Bytes buffered between a relayed source and target before the source is paused (back-pressure).</summary>
    public long RelayBufferBytes { get; init; } = 16L << 20;
}
