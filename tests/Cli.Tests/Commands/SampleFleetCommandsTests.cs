using System.Text.Json;
using System.Text.RegularExpressions;
using Taquin.Tests.Shared;

namespace Taquin.Cli.Tests.Commands;

/// <summary>The README's promises on the bundled 216-VM sample, through the real command line.</summary>
public sealed partial class SampleFleetCommandsTests : IDisposable
{
    private readonly string scratch = Path.Combine(Path.GetTempPath(), "taquin-sample-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Validating_the_sample_reports_7_hosts_and_216_vms_and_exits_0()
    {
        var (exit, stdout, stderr) = Run("inventory", "validate", RepositoryPaths.Sample("fleet-216"));

        Assert.True(exit == 0, stdout + stderr);
        Assert.Matches(@"Hosts\s+7, 896 GiB RAM, 112 cores", stdout);
        Assert.Matches(@"VMs\s+216 \(", stdout);
        Assert.Contains("No errors", stdout);
    }

    [Fact]
    public void A_broken_copy_of_the_sample_names_every_problem_and_exits_2()
    {
        CopyDirectory(RepositoryPaths.Sample("fleet-216"), scratch);
        var h1 = Directory.GetFiles(Path.Combine(scratch, "domains", "h1"), "*.xml").Order(StringComparer.Ordinal).ToArray();
        var h2 = Directory.GetFiles(Path.Combine(scratch, "domains", "h2"), "*.xml").Order(StringComparer.Ordinal).ToArray();

        // 1. malformed XML: cut a file in the middle of an element.
        var malformed = h1[0];
        File.WriteAllText(malformed, File.ReadAllText(malformed)[..200]);
        // 2. duplicate MAC: give a VM of h2 the MAC of another VM of h1.
        var macOwner = File.ReadAllText(h1[1]);
        var mac = MacAttribute().Match(macOwner).Groups[1].Value;
        var clone = h2[0];
        File.WriteAllText(clone, MacAttribute().Replace(File.ReadAllText(clone), $"<mac address='{mac}'/>", 1));
        // 3. missing volume: drop one RBD image of h2 from volumes.json.
        var rbdImage = RbdName().Match(File.ReadAllText(h2[1])).Groups[1].Value;
        var volumesPath = Path.Combine(scratch, "volumes.json");
        var volumes = JsonDocument.Parse(File.ReadAllText(volumesPath));
        var rbd = volumes.RootElement.GetProperty("rbd").EnumerateObject().Where(p => p.Name != rbdImage)
            .ToDictionary(p => p.Name, p => p.Value.Clone());
        File.WriteAllText(volumesPath, JsonSerializer.Serialize(new { rbd, files = volumes.RootElement.GetProperty("files") }));

        var (exit, stdout, stderr) = Run("inventory", "validate", scratch);
        var output = stdout + stderr;

        Assert.Equal(2, exit);
        Assert.Contains(Path.GetFileName(malformed), output);
        Assert.Matches(@"error: \d+:\d+ ", output); // the malformed file's line and column
        Assert.Contains(mac, output, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(rbdImage, output);
        Assert.DoesNotContain("   at ", output); // no stack trace
    }

    [Fact]
    public void Translating_one_sample_vm_as_json_gives_its_pve_parameters_and_warnings()
    {
        var vmName = Path.GetFileNameWithoutExtension(
            Directory.GetFiles(Path.Combine(RepositoryPaths.Sample("fleet-216"), "domains", "h3"), "*.xml").Order(StringComparer.Ordinal).First());

        var (exit, stdout, stderr) = Run("translate", RepositoryPaths.Sample("fleet-216"), "--vm", vmName, "--json", "--vlan", "123");

        Assert.True(exit == 0, stderr);
        var vm = Assert.Single(JsonDocument.Parse(stdout).RootElement.EnumerateArray());
        Assert.Equal(vmName, vm.GetProperty("vm").GetString());
        var parameters = vm.GetProperty("params");
        Assert.Contains("tag=123", parameters.GetProperty("net0").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("uuid=", parameters.GetProperty("smbios1").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Array, vm.GetProperty("warnings").ValueKind);
    }

    [Fact]
    public void Translating_a_vm_that_does_not_exist_says_so_and_exits_2()
    {
        var (exit, _, stderr) = Run("translate", RepositoryPaths.Sample("fleet-tiny"), "--vm", "no-such-vm");

        Assert.Equal(2, exit);
        Assert.Contains("no VM named 'no-such-vm'", stderr);
    }

    private static (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = Program.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        }

        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }

    [GeneratedRegex("<mac address='([0-9a-f:]+)'/>")]
    private static partial Regex MacAttribute();

    [GeneratedRegex("protocol='rbd' name='([^']+)'")]
    private static partial Regex RbdName();

    public void Dispose()
    {
        if (Directory.Exists(scratch))
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
