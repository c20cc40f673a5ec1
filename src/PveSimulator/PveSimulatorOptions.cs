namespace Taquin.PveSimulator;

/// <summary>What the simulated PVE cluster looks like and how it is reached.</summary>
public sealed class PveSimulatorOptions
{
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }

    /// <summary>Folder for the dir / zfspool stand-in storages' raw files.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Cluster nodes; the first is the node the API is "served by" (cluster create/join act on it).</summary>
    public IReadOnlyList<string> Nodes { get; init; } = ["pve1", "pve2"];

    /// <summary>Nodes start as members of a cluster named "sim"; false starts them standalone.</summary>
    public bool Clustered { get; init; } = true;

    public long NodeMemoryBytes { get; init; } = 64L << 30;

    public string RootPassword { get; init; } = "";

    /// <summary>API tokens as "user@realm!tokenid" to secret.</summary>
    public IReadOnlyDictionary<string, string> ApiTokens { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>PVE's is 2 h; tests shorten it to see renewals.</summary>
    public TimeSpan TicketLifetime { get; init; } = TimeSpan.FromHours(2);

    /// <summary>The clock tickets are issued and checked against.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>The real Ceph the rbd storage writes images to; null serves no rbd storage.</summary>
    public CephAccess? Ceph { get; init; }

    /// <summary>Capacity reported for the dir / zfspool stand-ins and the rbd storage.</summary>
    public long StorageCapacityBytes { get; init; } = 100L << 30;

    /// <summary>The schema every request is checked against (pve-apidata.json).</summary>
    public string SchemaPath { get; init; } = Path.Combine(AppContext.BaseDirectory, "pve-api", "pve-apidata.json");

    public override string ToString() => $"PVE simulator on port {Port} with nodes {string.Join(',', Nodes)}, data in {DataDirectory}";
}

/// <summary>How the simulator reaches the test bed's Ceph (scripts/testbed env: TAQUIN_CEPH_*).</summary>
public sealed record CephAccess(string ConfPath, string KeyringPath, string User, string Pool)
{
    /// <summary>From TAQUIN_CEPH_CONF / _KEYRING / _USER / _POOL; null when the test bed's Ceph is not up.</summary>
    public static CephAccess? FromEnvironment()
    {
        var conf = Environment.GetEnvironmentVariable("TAQUIN_CEPH_CONF");
        var keyring = Environment.GetEnvironmentVariable("TAQUIN_CEPH_KEYRING");
        if (string.IsNullOrEmpty(conf) || string.IsNullOrEmpty(keyring))
        {
            return null;
        }

        return new CephAccess(conf, keyring,
            Environment.GetEnvironmentVariable("TAQUIN_CEPH_USER") is { Length: > 0 } user ? user : "admin",
            Environment.GetEnvironmentVariable("TAQUIN_CEPH_POOL") is { Length: > 0 } pool ? pool : "rbd");
    }
}
