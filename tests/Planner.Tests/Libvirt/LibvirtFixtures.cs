using Taquin.Planner.Libvirt;

namespace Taquin.Planner.Tests.Libvirt;

/// <summary>The hand-written `virsh dumpxml`-style files in tests/Planner.Tests/TestData/libvirt.</summary>
internal static class LibvirtFixtures
{
    public static string Folder { get; } = FindFolder();

    public static string Read(string name) => File.ReadAllText(Path.Combine(Folder, name));

    public static DomainParseResult Parse(string name) => DomainXmlParser.Parse(Read(name), name);

    public static LibvirtDomain ParseValid(string name)
    {
        var result = Parse(name);
        Assert.True(result.Diagnostics.Count == 0, string.Join(Environment.NewLine, result.Diagnostics));
        return Assert.IsType<LibvirtDomain>(result.Domain);
    }

    // Read from the source tree so fixtures need no copy step in the project file.
    private static string FindFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Planner.Tests", "TestData", "libvirt");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/Planner.Tests/TestData/libvirt not found above " + AppContext.BaseDirectory);
    }
}
