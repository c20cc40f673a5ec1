using System.Globalization;

namespace Taquin.Planner.Tests.Inventory;

/// <summary>An inventory folder written under the temp directory for one test, deleted afterwards.</summary>
internal sealed class TempInventory : IDisposable
{
    public const string FleetYaml = """
        hosts:
          - name: h1
            ram: 64GiB
            cores: 16
            nicGbits: 10
            ssh: root@192.0.2.11
            zfsLayout: mirror
            disks:
              - { model: "Samsung PM883 480GB", count: 2, size: 480GB, now: system, after: system }
              - { model: "Seagate Exos 4TB", count: 2, size: 4TB, now: old-ceph-osd, after: new-ceph-osd }
              - { model: "Samsung PM893 1.92TB", count: 2, size: 1.92TB, now: old-ceph-osd, after: zfs }
          - name: h2
            ram: 128GiB
            cores: 32
            nicGbits: 25
            zfsLayout: raidz1
            disks:
              - { model: "Seagate Exos 4TB", count: 3, size: 4TB, now: old-ceph-osd, after: zfs }
              - { model: "Intel D3 1.92TB", count: 1, size: 1.92TB, now: local-images, after: new-ceph-osd }
          - name: h3
            ram: 32GiB
            cores: 8
            nicGbits: 1
            excluded: true
            alreadyPve: false
            disks:
              - { model: "Spare", count: 1, size: 1TB, now: none, after: none }
        oldCeph:
          poolSize: 3
          nearfullRatio: 0.85
          pools: [libvirt]
          monitors: [192.0.2.11, 192.0.2.12]
        policy:
          ramReservePerHost: 8GiB
          copySlotsPerHost: 3
          waveWindowHours: 6
          vlanRange: { from: 100, to: 3999 }
          bridge: vmbr1
          defaultStrategy: attach-and-move
          zfsFillRatio: 0.7
        """;

    public const string VolumesJson = """
        {
          "rbd": {
            "libvirt/web-disk0": { "size": 21474836480, "used": 8589934592 },
            "libvirt/db-disk0": { "size": 107374182400 }
          },
          "files": {
            "h2": { "/var/lib/libvirt/images/legacy.qcow2": { "size": 10737418240, "used": 3221225472, "format": "qcow2" } }
          }
        }
        """;

    public const string RuntimeJson = """
        { "web": { "autostart": true, "state": "running" }, "legacy": { "autostart": false, "state": "shut off" } }
        """;

    public TempInventory()
    {
        Root = Path.Combine(Path.GetTempPath(), "taquin-inventory-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    /// <summary>Three hosts (h3 excluded, no VM), three VMs: web (RBD, h1), db (RBD, h1), legacy (qcow2 file, h2).</summary>
    public static TempInventory Valid()
    {
        var inv = new TempInventory();
        inv.Write("fleet.yaml", FleetYaml);
        inv.Write("volumes.json", VolumesJson);
        inv.Write("runtime.json", RuntimeJson);
        inv.Write("domains/h1/web.xml", Vm("web", 1, "52:54:00:00:00:01", Rbd("libvirt/web-disk0"), memoryGiB: 2));
        inv.Write("domains/h1/db.xml", Vm("db", 2, "52:54:00:00:00:02", Rbd("libvirt/db-disk0"), memoryGiB: 16));
        inv.Write("domains/h2/legacy.xml", Vm("legacy", 3, "52:54:00:00:00:03", File("/var/lib/libvirt/images/legacy.qcow2"), memoryGiB: 1));
        Directory.CreateDirectory(Path.Combine(inv.Root, "domains", "h3"));
        return inv;
    }

    public TempInventory Write(string relative, string content)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, content);
        return this;
    }

    public void Delete(string relative) => System.IO.File.Delete(Path.Combine(Root, relative));

    public static string Rbd(string image) => $"""
            <disk type='network' device='disk'>
              <driver name='qemu' type='raw' cache='none'/>
              <source protocol='rbd' name='{image}'>
                <host name='192.0.2.11' port='6789'/>
              </source>
              <target dev='vda' bus='virtio'/>
            </disk>
        """;

    public static string File(string path) => $"""
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='{path}'/>
              <target dev='vda' bus='virtio'/>
            </disk>
        """;

    public static string Vm(string name, int id, string mac, string disks, int memoryGiB = 2, string extraDevices = "") => $"""
        <domain type='kvm'>
          <name>{name}</name>
          <uuid>00000000-0000-4000-8000-{id.ToString("x12", CultureInfo.InvariantCulture)}</uuid>
          <memory unit='KiB'>{memoryGiB * 1024 * 1024}</memory>
          <vcpu>2</vcpu>
          <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
          <devices>
        {disks}
            <interface type='ethernet'>
              <mac address='{mac}'/>
              <target dev='tap-{name}'/>
              <model type='virtio'/>
            </interface>
        {extraDevices}
          </devices>
        </domain>
        """;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}
