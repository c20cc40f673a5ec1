namespace Taquin.Executors.Libvirt;

/// <summary>How one libvirt host is reached by <c>virsh</c> and how other hosts migrate domains to it.</summary>
public sealed record LibvirtEndpoint
{
    /// <summary><c>virsh -c</c> on the host itself; null uses virsh's default (<c>LIBVIRT_DEFAULT_URI</c> or qemu:///system).</summary>
    public string? ConnectUri { get; init; }

    /// <summary>
    /// The destination URI a source host's virsh gives to <c>virsh migrate</c> for this host; null means
    /// <c>qemu+ssh://root@HOST/system</c> with the fleet host name.
    /// </summary>
    public string? MigrationUri { get; init; }

    /// <summary>
    /// Address the incoming QEMU listens on and the source connects to (<c>--migrateuri tcp://ADDR --listen-address ADDR</c>);
    /// null lets libvirt pick (the host's name).
    /// </summary>
    public string? MigrationAddress { get; init; }

    /// <summary>Peer-to-peer: the source libvirtd dials the destination itself (<c>--p2p</c>).</summary>
    public bool PeerToPeer { get; init; }

    /// <summary>File disks live on storage every host sees (NFS): migrations do not copy them.</summary>
    public bool SharedFileStorage { get; init; }
}

/// <summary>Endpoints per fleet host name; hosts not listed use <see cref="Default"/>.</summary>
public sealed record VirshOptions
{
    public IReadOnlyDictionary<string, LibvirtEndpoint> Hosts { get; init; } = new Dictionary<string, LibvirtEndpoint>(StringComparer.Ordinal);
    public LibvirtEndpoint Default { get; init; } = new();

    public LibvirtEndpoint For(string host) => Hosts.TryGetValue(host, out var endpoint) ? endpoint : Default;
}
