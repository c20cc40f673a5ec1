namespace Taquin.Executors.Adapters;

/// <summary>How a PVE volume and a source image are named on the command lines the copy steps run.</summary>
public static class VolumePaths
{
    /// <summary>Ceph config of the old cluster as PVE stores it for an external RBD storage.</summary>
    public const string OldCephConf = "/etc/pve/priv/ceph/old-ceph.conf";
    public const string PveCephPool = "vm-pool";

    /// <summary>Block device path (zvol) or qemu rbd: URI of a PVE volume id ("zfs-h4:vm-100-disk-0").</summary>
    public static string TargetPath(string volumeId)
    {
        var colon = volumeId.IndexOf(':', StringComparison.Ordinal);
        var storage = volumeId[..colon];
        var name = volumeId[(colon + 1)..];
        return storage.StartsWith("zfs-", StringComparison.Ordinal) ? "/dev/zvol/rpool/data/" + name : $"rbd:{PveCephPool}/{name}";
    }

    /// <summary>The PVE volume id behind a target path on <paramref name="node"/>; null when it is not one.</summary>
    public static string? VolumeIdOf(string node, string path)
    {
        if (path.StartsWith("/dev/zvol/rpool/data/", StringComparison.Ordinal))
        {
            return $"zfs-{node}:" + path["/dev/zvol/rpool/data/".Length..];
        }

        var prefix = $"rbd:{PveCephPool}/";
        return path.StartsWith(prefix, StringComparison.Ordinal) ? "pve-ceph:" + path[prefix.Length..] : null;
    }

    /// <summary>qemu source URI of an old-Ceph image snapshot, read through the old cluster's config.</summary>
    public static string RbdSource(string image, string snapshot) => $"rbd:{image}@{snapshot}:conf={OldCephConf}";

    /// <summary>qemu source URI of a file image on a libvirt host, read over SSH by the target node.</summary>
    public static string FileSource(string host, string path) => $"ssh://root@{host}{path}";
}
