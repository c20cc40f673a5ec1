using System.Diagnostics;

namespace Taquin.PveSimulator;

/// <summary>A storage of the simulated cluster (storage.cfg entry) and where its volumes' bytes really are.</summary>
public abstract class SimStorage(string id, string type, IReadOnlyList<string> nodes, string content)
{
    public string Id { get; } = id;
    public string Type { get; } = type;
    /// <summary>Empty: every node.</summary>
    public IReadOnlyList<string> Nodes { get; } = nodes;
    public string Content { get; } = content;
    public virtual bool Shared => false;

    public bool IsOn(string node) => Nodes.Count == 0 || Nodes.Contains(node);

    /// <summary>The volume id PVE would give disk <paramref name="index"/> of a VM on this storage.</summary>
    public abstract string VolumeId(int vmId, int index);

    /// <summary>Where the bytes of a volume live, as PVE's path() answers: a file, or a qemu rbd: URI.</summary>
    public abstract string PathOf(string volumeId);

    public abstract Task AllocateAsync(string volumeId, long sizeBytes, CancellationToken ct);

    public abstract Task FreeAsync(string volumeId, CancellationToken ct);

    /// <summary>Name after "storage:".</summary>
    protected static string NameOf(string volumeId) => volumeId[(volumeId.IndexOf(':', StringComparison.Ordinal) + 1)..];

    public abstract Dictionary<string, object> ConfigEntry();
}

/// <summary>A folder of raw files: <c>dir</c> (images/VMID/vm-VMID-disk-N.raw) or the zfspool stand-in (flat, one file per zvol).</summary>
public sealed class FolderStorage(string id, string type, IReadOnlyList<string> nodes, string folder)
    : SimStorage(id, type, nodes, "images,rootdir")
{
    public string Folder { get; } = folder;

    public override string VolumeId(int vmId, int index) => Type == "dir"
        ? $"{Id}:{vmId}/vm-{vmId}-disk-{index}.raw"
        : $"{Id}:vm-{vmId}-disk-{index}";

    public override string PathOf(string volumeId) => Type == "dir"
        ? Path.Combine(Folder, "images", NameOf(volumeId))
        : Path.Combine(Folder, NameOf(volumeId));

    public override Task AllocateAsync(string volumeId, long sizeBytes, CancellationToken ct)
    {
        var path = PathOf(volumeId);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        // Sparse, like a fresh raw volume.
        file.SetLength(sizeBytes);
        return Task.CompletedTask;
    }

    public override Task FreeAsync(string volumeId, CancellationToken ct)
    {
        File.Delete(PathOf(volumeId));
        return Task.CompletedTask;
    }

    public override Dictionary<string, object> ConfigEntry() => Type == "dir"
        ? new() { ["storage"] = Id, ["type"] = Type, ["content"] = Content, ["path"] = Folder }
        : new() { ["storage"] = Id, ["type"] = Type, ["content"] = "images,rootdir", ["pool"] = "rpool/data", ["sparse"] = 1 };
}

/// <summary>An <c>rbd</c> storage whose images are real RBD images in the test bed's Ceph pool.</summary>
public sealed class RbdStorage(string id, IReadOnlyList<string> nodes, CephAccess ceph)
    : SimStorage(id, "rbd", nodes, "images,rootdir")
{
    public CephAccess Ceph { get; } = ceph;
    public override bool Shared => true;

    public override string VolumeId(int vmId, int index) => $"{Id}:vm-{vmId}-disk-{index}";

    public string ImageSpec(string volumeId) => $"{Ceph.Pool}/{NameOf(volumeId)}";

    public override string PathOf(string volumeId) =>
        $"rbd:{ImageSpec(volumeId)}:conf={Ceph.ConfPath}:id={Ceph.User}:keyring={Ceph.KeyringPath}";

    public override Task AllocateAsync(string volumeId, long sizeBytes, CancellationToken ct)
        => Rbd(ct, "create", "--size", $"{Math.Max(1, sizeBytes >> 20)}M", ImageSpec(volumeId));

    /// <summary>Like PVE's RBDPlugin free_image: the image's snapshots go first (a copy leaves its end snapshot on the target).</summary>
    public override async Task FreeAsync(string volumeId, CancellationToken ct)
    {
        await Rbd(ct, "snap", "purge", "--no-progress", ImageSpec(volumeId));
        await Rbd(ct, "rm", "--no-progress", ImageSpec(volumeId));
    }

    public async Task<bool> ExistsAsync(string volumeId, CancellationToken ct)
        => (await Rbd(ct, "ls", Ceph.Pool)).Split('\n').Contains(NameOf(volumeId));

    public Task ImportAsync(string file, string volumeId, CancellationToken ct) => Rbd(ct, "import", "--no-progress", file, ImageSpec(volumeId));

    public Task ExportAsync(string volumeId, string file, CancellationToken ct) => Rbd(ct, "export", "--no-progress", ImageSpec(volumeId), file);

    public Task CopyAsync(string fromVolumeId, string toVolumeId, CancellationToken ct) => Rbd(ct, "cp", "--no-progress", ImageSpec(fromVolumeId), ImageSpec(toVolumeId));

    public override Dictionary<string, object> ConfigEntry() =>
        new() { ["storage"] = Id, ["type"] = Type, ["content"] = Content, ["pool"] = Ceph.Pool, ["krbd"] = 0 };

    /// <summary>Runs the rbd CLI with the test bed's conf and keyring; a non-zero exit throws its stderr.</summary>
    public async Task<string> Rbd(CancellationToken ct, params string[] args)
    {
        var start = new ProcessStartInfo("rbd") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--conf", Ceph.ConfPath, "--keyring", Ceph.KeyringPath, "--id", Ceph.User }.Concat(args))
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start rbd");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"rbd {string.Join(' ', args)} failed: {(await stderr).Trim()}");
        }

        return await stdout;
    }
}
