using Taquin.Executors.Adapters;
using Taquin.Executors.Libvirt;
using Taquin.Executors.Movers;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Steps;

/// <summary>The pieces of the warm file-disk path that need no test bed: names, the block list, the XML put back on the base, the overlay map.</summary>
public sealed class FileDiskWarmTests
{
    [Theory]
    [InlineData("/var/lib/libvirt/images/web.qcow2", "/var/lib/libvirt/images/web.taquin-overlay.qcow2")]
    [InlineData("/images/db.disk1.raw", "/images/db.disk1.taquin-overlay.qcow2")]
    [InlineData("/images/noext", "/images/noext.taquin-overlay.qcow2")]
    public void The_overlay_lives_next_to_its_base(string basePath, string overlay)
        => Assert.Equal(overlay, FileDiskWarm.OverlayPathFor(basePath));

    [Fact]
    public void The_block_list_keeps_sources_with_spaces_and_empty_cdroms()
    {
        const string stdout = """
             file      disk    vda   /var/lib/libvirt/images/my vm.taquin-overlay.qcow2
             network   disk    vdb   libvirt/web-01
             file      cdrom   sda   -

            """;

        var disks = VirshLibvirtHost.ParseBlockList(stdout);

        Assert.Equal(
        [
            new DomainBlockDevice("file", "disk", "vda", "/var/lib/libvirt/images/my vm.taquin-overlay.qcow2"),
            new DomainBlockDevice("network", "disk", "vdb", "libvirt/web-01"),
            new DomainBlockDevice("file", "cdrom", "sda", null),
        ], disks);
    }

    [Fact]
    public void Putting_a_disk_back_on_its_base_restores_path_and_format_and_drops_the_backing_chain()
    {
        const string xml = """
            <domain type='qemu'><name>web</name><devices>
              <disk type='file' device='disk'>
                <driver name='qemu' type='qcow2'/>
                <source file='/images/web.taquin-overlay.qcow2' index='2'/>
                <backingStore type='file' index='1'><format type='raw'/><source file='/images/web.raw'/><backingStore/></backingStore>
                <target dev='vda' bus='virtio'/>
              </disk>
              <disk type='file' device='disk'>
                <driver name='qemu' type='qcow2'/>
                <source file='/images/other.qcow2'/>
                <target dev='vdb' bus='virtio'/>
              </disk>
            </devices></domain>
            """;

        var onBase = System.Xml.Linq.XDocument.Parse(FileDiskWarm.OnBase(xml, "/images/web.taquin-overlay.qcow2", "/images/web.raw", "raw"));

        var disks = onBase.Descendants("disk").ToList();
        Assert.Equal("/images/web.raw", (string?)disks[0].Element("source")!.Attribute("file"));
        Assert.Null(disks[0].Element("source")!.Attribute("index"));
        Assert.Equal("raw", (string?)disks[0].Element("driver")!.Attribute("type"));
        Assert.Empty(disks[0].Elements("backingStore"));
        Assert.Equal("/images/other.qcow2", (string?)disks[1].Element("source")!.Attribute("file"));
        Assert.Equal("qcow2", (string?)disks[1].Element("driver")!.Attribute("type"));
    }

    [Fact]
    public void The_overlay_info_counts_only_the_clusters_of_the_top_layer()
    {
        const string stdout = """
            8716288
            [{ "start": 0, "length": 4194304, "depth": 1, "present": true, "zero": false, "data": true, "offset": 0},
            { "start": 4194304, "length": 8388608, "depth": 0, "present": true, "zero": false, "data": true, "offset": 327680},
            { "start": 12582912, "length": 1048576, "depth": 0, "present": true, "zero": true, "data": false},
            { "start": 13631488, "length": 53477376, "depth": 1, "present": false, "zero": true, "data": false}]
            """;

        var (fileBytes, written) = FileOverlaySync.ParseInfo(stdout);

        Assert.Equal(8716288, fileBytes);
        Assert.Equal(9L << 20, written);
    }
}
