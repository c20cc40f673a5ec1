using System.Diagnostics;
using System.Text.RegularExpressions;
using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Tests.Inventory;

namespace Taquin.Planner.Tests.Libvirt;

/// <summary>
/// Domain XML printed by the real Debian `virt-install` (test driver, dry run) must parse as Taquin expects.
/// Needs the `virtinst` package: scripts/install-deps.sh installs it. A missing tool fails, never skips.
/// </summary>
public partial class VirtInstallXmlTests
{
    [Fact]
    public void Rbd_network_disk_with_monitor_host()
    {
        var d = VirtInstall("rbd-vm",
            "--disk", "source.protocol=rbd,source.name=libvirt/rbd-vm-disk0,source.host0.name=192.0.2.11,source.host0.port=6789,type=network,device=disk,bus=virtio");

        var disk = Assert.Single(d.Disks);
        Assert.True(disk.IsRbd);
        Assert.Equal("libvirt/rbd-vm-disk0", disk.NetworkName);
        Assert.Equal([new NetworkHost("192.0.2.11", 6789)], disk.NetworkHosts);
        Assert.Equal(("vda", "virtio"), (disk.TargetDev, disk.Bus));
    }

    [Fact]
    public void Bridge_nic_with_fixed_mac()
    {
        var d = VirtInstall("bridged", "--disk", "path=/var/lib/libvirt/images/bridged.qcow2,size=1,format=qcow2,bus=sata",
            "--network", "bridge=br0,mac=52:54:00:12:34:56,model=virtio");

        var nic = Assert.Single(d.Interfaces);
        Assert.Equal(("bridge", "br0", "52:54:00:12:34:56", "virtio"), (nic.Type, nic.SourceBridge, nic.Mac, nic.Model));
        var disk = Assert.Single(d.Disks);
        Assert.Equal((DiskSourceKind.File, "/var/lib/libvirt/images/bridged.qcow2", "sda", "sata"), (disk.SourceKind, disk.Path, disk.TargetDev, disk.Bus));
    }

    [Fact]
    public void Explicit_ovmf_loader_with_nvram_template()
    {
        var d = VirtInstall("uefi", "--disk", "path=/var/lib/libvirt/images/uefi.qcow2,size=1",
            "--boot", "loader=/usr/share/OVMF/OVMF_CODE.fd,loader.readonly=yes,loader.type=pflash,nvram.template=/usr/share/OVMF/OVMF_VARS.fd",
            "--vcpus", "2,maxvcpus=4", "--memory", "4096");

        Assert.True(d.IsUefi);
        Assert.Equal(("/usr/share/OVMF/OVMF_CODE.fd", true, "pflash"), (d.Os.LoaderPath, d.Os.LoaderReadOnly, d.Os.LoaderType));
        Assert.Equal("/usr/share/OVMF/OVMF_VARS.fd", d.Os.NvramTemplate);
        Assert.Equal((4, 2), (d.VcpuMax, d.VcpuCurrent));
        Assert.Equal(4 * ByteSize.GiB, d.MemoryBytes);
    }

    [Fact]
    public void Install_from_cdrom_prints_two_documents_and_the_final_one_has_an_empty_drive()
    {
        var iso = Path.Combine(Path.GetTempPath(), $"taquin-{Guid.NewGuid():N}.iso");
        File.WriteAllBytes(iso, new byte[4096]);
        try
        {
            var output = RunVirtInstall("cdrom-vm", "--cdrom", iso, "--disk", "path=/var/lib/libvirt/images/cdrom-vm.qcow2,size=1");
            var documents = Documents(output);
            Assert.Equal(2, documents.Count); // install phase, then the domain as it stays

            var final = Parse(documents[^1]);

            Assert.Equal(["hda:ide:File", "hdb:ide:None"], final.Disks.Select(x => $"{x.TargetDev}:{x.Bus}:{x.SourceKind}"));
            Assert.True(final.Disks[1].IsCdrom);
            Assert.Null(final.Disks[1].VolumeKey);
            Assert.Equal(iso, Parse(documents[0]).Disks[1].Path);
        }
        finally
        {
            File.Delete(iso);
        }
    }

    [Fact]
    public void Generated_xml_loads_and_validates_as_an_inventory()
    {
        var rbd = RunVirtInstall("inv-rbd", "--disk", "source.protocol=rbd,source.name=libvirt/inv-rbd-disk0,source.host0.name=192.0.2.11,type=network,device=disk,bus=virtio",
            "--network", "bridge=br0,mac=52:54:00:00:00:01");
        var file = RunVirtInstall("inv-file", "--disk", "path=/var/lib/libvirt/images/legacy.qcow2,size=1", "--network", "bridge=br0,mac=52:54:00:00:00:02");
        using var folder = new TempInventory()
            .Write("fleet.yaml", TempInventory.FleetYaml)
            .Write("volumes.json", """
                { "rbd": { "libvirt/inv-rbd-disk0": { "size": 10737418240 } },
                  "files": { "h2": { "/var/lib/libvirt/images/legacy.qcow2": { "size": 1073741824 } } } }
                """)
            .Write("domains/h1/inv-rbd.xml", Documents(rbd)[^1])
            .Write("domains/h2/inv-file.xml", Documents(file)[^1]);
        Directory.CreateDirectory(Path.Combine(folder.Root, "domains", "h3"));

        var result = InventoryLoader.Load(folder.Root);
        var problems = result.Diagnostics.Concat(InventoryValidator.Validate(result.Inventory!)).ToList();

        Assert.Empty(problems);
        Assert.Equal([10 * ByteSize.GiB, ByteSize.GiB], result.Inventory!.Vms.Select(v => v.ProvisionedBytes));
    }

    private static LibvirtDomain VirtInstall(string name, params string[] extra) => Parse(Documents(RunVirtInstall(name, extra))[^1]);

    private static LibvirtDomain Parse(string xml)
    {
        var result = DomainXmlParser.Parse(xml, "virt-install.xml");
        Assert.True(result.Diagnostics.Count == 0, string.Join(Environment.NewLine, result.Diagnostics) + Environment.NewLine + xml);
        return result.Domain!;
    }

    /// <summary>--print-xml prints one document per install phase; each is a complete &lt;domain&gt;.</summary>
    private static List<string> Documents(string output) => DomainDocument().Matches(output).Select(m => m.Value).ToList();

    [GeneratedRegex(@"<domain\b.*?</domain>", RegexOptions.Singleline)]
    private static partial Regex DomainDocument();

    private static string RunVirtInstall(string name, params string[] extra)
    {
        var tool = FindOnPath("virt-install")
            ?? throw new InvalidOperationException(
                "virt-install is not installed, so the real-tool XML tests cannot run. Run scripts/install-deps.sh (it installs Debian's virtinst package).");
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] common = ["--connect", "test:///default", "--print-xml", "--dry-run", "--name", name, "--osinfo", "generic", "--graphics", "none", "--noautoconsole"];
        foreach (var arg in common)
        {
            start.ArgumentList.Add(arg);
        }

        if (!extra.Contains("--memory"))
        {
            start.ArgumentList.Add("--memory");
            start.ArgumentList.Add("1024");
        }

        if (!extra.Contains("--cdrom"))
        {
            start.ArgumentList.Add("--import");
        }

        foreach (var arg in extra)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"virt-install {string.Join(' ', start.ArgumentList)} failed ({process.ExitCode}): {stderr.Result}");
        return stdout;
    }

    private static string? FindOnPath(string tool)
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);
}
