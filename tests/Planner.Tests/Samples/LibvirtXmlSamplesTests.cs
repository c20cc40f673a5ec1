using System.Diagnostics;
using System.Xml.Linq;
using Taquin.Tests.Shared;

namespace Taquin.Planner.Tests.Samples;

/// <summary>The hand-written edge cases in samples/libvirt-xml exercise what their README says they do.</summary>
public sealed class LibvirtXmlSamplesTests
{
    private static readonly string Folder = Path.Combine(RepositoryPaths.Root, "samples", "libvirt-xml");

    // What each file must contain to be worth its place; a sample edited into blandness fails here.
    public static TheoryData<string> Files => new(Directory.EnumerateFiles(Folder, "*.xml").Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    private static readonly Dictionary<string, Func<XElement, bool>> Exercises = new(StringComparer.Ordinal)
    {
        ["uefi-secureboot-tpm.xml"] = d =>
            ((string?)d.Element("os")!.Element("loader"))?.EndsWith("OVMF_CODE_4M.ms.fd", StringComparison.Ordinal) == true
            && (string?)d.Element("os")!.Element("loader")!.Attribute("secure") == "yes"
            && d.Element("features")!.Element("smm") is not null
            && d.Element("os")!.Element("nvram")?.Attribute("template") is not null
            && d.Descendants("tpm").Any(t => (string?)t.Attribute("model") == "tpm-crb" && (string?)t.Element("backend")!.Attribute("version") == "2.0")
            && ((string)d.Element("os")!.Element("type")!.Attribute("machine")!).Contains("q35", StringComparison.Ordinal),
        ["uefi-firmware-autoselect.xml"] = d =>
            (string?)d.Element("os")!.Attribute("firmware") == "efi"
            && d.Element("os")!.Element("firmware")!.Elements("feature").Any(f => (string?)f.Attribute("name") == "secure-boot")
            && string.IsNullOrEmpty((string?)d.Element("os")!.Element("loader")),
        ["mixed-buses-multi-disk.xml"] = d =>
            new[] { "virtio", "scsi", "sata" }.All(bus => Disks(d, "disk").Any(x => Bus(x) == bus))
            && Disks(d, "cdrom").Any(x => ((string?)x.Element("source")?.Attribute("file"))?.EndsWith(".iso", StringComparison.Ordinal) == true)
            && d.Descendants("controller").Any(c => (string?)c.Attribute("model") == "virtio-scsi"),
        ["cdrom-empty.xml"] = d => Disks(d, "cdrom").Any(x => x.Element("source") is null && Bus(x) == "ide"),
        ["hostdev-gpu.xml"] = d => d.Descendants("hostdev").Any(h => (string?)h.Attribute("type") == "pci"),
        ["virtiofs-share.xml"] = d => d.Descendants("filesystem").Any(f => (string?)f.Element("driver")?.Attribute("type") == "virtiofs"),
        ["routed-tap-dualstack.xml"] = d => d.Descendants("interface").Any(i =>
            (string?)i.Attribute("type") == "ethernet"
            && i.Elements("ip").Select(ip => (string?)ip.Attribute("family")).Distinct().Count() == 2
            && i.Elements("route").Select(r => (string?)r.Attribute("family")).Distinct().Count() == 2),
        ["vcpu-hotplug.xml"] = d =>
            (int)d.Element("vcpu")!.Attribute("current")! < (int)d.Element("vcpu")!
            && d.Element("maxMemory")?.Attribute("slots") is not null,
        ["windows-hyperv.xml"] = d =>
            d.Element("features")!.Element("hyperv") is not null
            && (string?)d.Element("clock")!.Attribute("offset") == "localtime"
            && Disks(d, "disk").Any(x => Bus(x) == "sata")
            && d.Descendants("interface").Any(i => (string?)i.Element("model")!.Attribute("type") == "e1000e"),
        ["block-device-lvm.xml"] = d => Disks(d, "disk").Any(x => (string?)x.Attribute("type") == "block"
            && ((string?)x.Element("source")!.Attribute("dev"))?.StartsWith("/dev/", StringComparison.Ordinal) == true),
    };

    [Fact]
    public void Every_edge_case_the_brief_names_is_there_and_described_in_the_readme()
    {
        var readme = File.ReadAllText(Path.Combine(Folder, "README.md"));
        var files = Directory.EnumerateFiles(Folder, "*.xml").Select(f => Path.GetFileName(f)!).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(Exercises.Keys.ToHashSet(StringComparer.Ordinal), files);
        Assert.All(files, f => Assert.Contains($"`{f}`", readme, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Edge_case_reads_like_virsh_dumpxml_and_exercises_its_case(string file)
    {
        var text = File.ReadAllText(Path.Combine(Folder, file));
        Assert.StartsWith("<domain type='kvm'>\n  <name>", text, StringComparison.Ordinal);
        var domain = XDocument.Parse(text, LoadOptions.None).Root!;
        Assert.Empty(domain.DescendantNodesAndSelf().OfType<XComment>());
        Assert.Equal("KiB", (string?)domain.Element("memory")!.Attribute("unit"));
        Assert.Equal("/usr/bin/qemu-system-x86_64", (string)domain.Element("devices")!.Element("emulator")!);
        Assert.True(Exercises[file](domain), $"{file} no longer exercises what samples/libvirt-xml/README.md says");
    }

    [Fact]
    public void Edge_cases_have_distinct_names_uuids_and_macs()
    {
        var domains = Directory.EnumerateFiles(Folder, "*.xml").Select(f => XElement.Load(f)).ToList();
        Assert.Equal(domains.Count, domains.Select(d => (string)d.Element("name")!).Distinct().Count());
        Assert.Equal(domains.Count, domains.Select(d => (string)d.Element("uuid")!).Distinct().Count());
        var macs = domains.SelectMany(d => d.Descendants("mac")).Select(m => (string)m.Attribute("address")!).ToList();
        Assert.Equal(macs.Count, macs.Distinct().Count());
    }

    /// <summary>libvirt's own RELAX NG schema (Debian: libvirt-clients + libxml2-utils) accepts every sample domain.</summary>
    [Fact]
    [Trait("Requires", "libvirt-clients")]
    public void Every_sample_domain_validates_against_libvirts_schema()
    {
        RequireTool("/usr/bin/virt-xml-validate");
        RequireTool("/usr/bin/xmllint");
        var invalid = SampleDomainFiles().Where(f => Run("/usr/bin/virt-xml-validate", f, "domain").ExitCode != 0).ToList();
        Assert.True(invalid.Count == 0, "rejected by libvirt's schema: " + string.Join(", ", invalid));
    }

    /// <summary>
    /// libvirt 9.0 itself (the test driver, no daemon) defines each sample and prints it back byte for
    /// byte: the samples are what <c>virsh dumpxml</c> prints, not an approximation.
    /// </summary>
    [Fact]
    [Trait("Requires", "libvirt-clients")]
    public void Every_sample_domain_is_what_libvirt_prints_back_after_defining_it()
    {
        RequireTool("/usr/bin/virsh");
        var drifted = new List<string>();
        foreach (var file in SampleDomainFiles())
        {
            var expected = File.ReadAllText(file);
            var name = (string)XElement.Parse(expected).Element("name")!;
            var (exit, output) = Run("/usr/bin/virsh", "-q", "-c", "test:///default", $"define {file}; dumpxml {name}");
            // The test driver names unnamed interfaces (testnetN) on define; a real host would say vnetN.
            var printed = string.Join("\n", output.Split('\n')
                .Where(l => l.Length > 0 && !l.StartsWith("Domain '", StringComparison.Ordinal) && !l.Contains("<target dev='testnet", StringComparison.Ordinal))) + "\n";
            if (exit != 0 || printed != expected)
            {
                drifted.Add(Path.GetFileName(file));
            }
        }

        Assert.True(drifted.Count == 0, "libvirt prints these differently: " + string.Join(", ", drifted));
    }

    /// <summary>The hand-written cases, the tiny fleet and every 8th domain of the 216 fleet.</summary>
    private static List<string> SampleDomainFiles()
    {
        var samples = Path.GetDirectoryName(Folder)!;
        return Directory.EnumerateFiles(Folder, "*.xml")
            .Concat(Directory.EnumerateFiles(Path.Combine(samples, "fleet-tiny", "domains"), "*.xml", SearchOption.AllDirectories))
            .Concat(Directory.EnumerateFiles(Path.Combine(samples, "fleet-216", "domains"), "*.xml", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 8 == 0))
            .ToList();
    }

    private static void RequireTool(string path)
        => Assert.True(File.Exists(path), $"{path} is missing: install the Debian packages libvirt-clients and libxml2-utils");

    private static (int ExitCode, string Output) Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        _ = stderr.Result;
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    private static IEnumerable<XElement> Disks(XElement domain, string device)
        => domain.Element("devices")!.Elements("disk").Where(d => (string?)d.Attribute("device") == device);

    private static string? Bus(XElement disk) => (string?)disk.Element("target")?.Attribute("bus");
}
