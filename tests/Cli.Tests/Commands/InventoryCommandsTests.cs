using Taquin.Planner.Diagnostics;

namespace Taquin.Cli.Tests.Commands;

public sealed class InventoryCommandsTests : IDisposable
{
    private const string Fleet = """
        hosts:
          - name: h1
            ram: 128GiB
            cores: 16
            nicGbits: 10
            disks:
              - { model: "Exos 16TB", count: 2, size: 16TB, now: old-ceph-osd, after: new-ceph-osd }
              - { model: "PM893 3.84TB", count: 2, size: 3.84TB, now: old-ceph-osd, after: zfs }
          - name: h2
            ram: 64GiB
            cores: 8
            nicGbits: 10
            disks:
              - { model: "Exos 16TB", count: 1, size: 16TB, now: old-ceph-osd, after: new-ceph-osd }
        oldCeph: { poolSize: 3, nearfullRatio: 0.85 }
        policy:
          ramReservePerHost: 8GiB
          vlanRange: { from: 100, to: 3999 }
        """;

    private const string Volumes = """
        { "rbd": { "libvirt/web-disk0": { "size": 21474836480, "used": 10737418240 } },
          "files": { "h2": { "/var/lib/libvirt/images/legacy.qcow2": { "size": 10737418240, "format": "qcow2" } } } }
        """;

    private readonly string root = Path.Combine(Path.GetTempPath(), "taquin-cli-" + Guid.NewGuid().ToString("N"));

    public InventoryCommandsTests()
    {
        Write("fleet.yaml", Fleet);
        Write("volumes.json", Volumes);
        Write("runtime.json", """{ "legacy": { "state": "shut off", "autostart": false } }""");
        Write("domains/h1/web.xml", Vm("web", 1, "52:54:00:00:00:01",
            "<disk type='network' device='disk'><source protocol='rbd' name='libvirt/web-disk0'><host name='192.0.2.11'/></source><target dev='vda' bus='virtio'/></disk>",
            "<os firmware='efi'><type>hvm</type></os>"));
        Write("domains/h2/legacy.xml", Vm("legacy", 2, "52:54:00:00:00:02",
            "<disk type='file' device='disk'><source file='/var/lib/libvirt/images/legacy.qcow2'/><target dev='sda' bus='sata'/></disk>"));
    }

    [Fact]
    public void Valid_inventory_prints_the_summary_and_exits_0()
    {
        var (exit, stdout, stderr) = Run("inventory", "validate", root);

        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        Assert.Contains("2, 192 GiB RAM, 24 cores", stdout);
        Assert.Contains("2 (1 running), 3 GiB RAM, 1 UEFI", stdout);
        Assert.Contains("RBD disks", stdout);
        Assert.Contains("1, 20 GiB provisioned, 10 GiB used", stdout);
        Assert.Contains("sata 1, virtio 1", stdout);
        // old Ceph: 3×16 TB + 2×3.84 TB = 55.68 TB raw = 50.6 TiB; /3 × 0.85 = 14.3 TiB usable.
        Assert.Contains("50.6 TiB raw, 14.3 TiB usable at nearfull", stdout);
        Assert.Contains("No errors, 0 warning(s).", stdout);
        // Redirected output carries no ANSI escapes.
        Assert.DoesNotContain("\u001b[", stdout);
    }

    [Fact]
    public void Broken_inventory_names_each_problem_grouped_by_file_and_exits_2()
    {
        Write("domains/h2/broken.xml", "<domain type='kvm'>\n  <name>broken</name>\n  <memory>1024\n</domain>\n");
        Write("domains/h2/clone.xml", Vm("clone", 3, "52:54:00:00:00:01",
            "<disk type='network' device='disk'><source protocol='rbd' name='libvirt/clone-disk0'/><target dev='vda'/></disk>"));

        var (exit, stdout, _) = Run("inventory", "validate", root);

        Assert.Equal(2, exit);
        Assert.Contains("domains/h2/broken.xml\n  error: 4:3 <xml>: Malformed XML", stdout.ReplaceLineEndings("\n"));
        Assert.Contains("MAC address 52:54:00:00:00:01 appears on 2 interfaces", stdout);
        Assert.Contains("Disk source 'libvirt/clone-disk0' is not in volumes.json", stdout);
        Assert.Contains("3 error(s)", stdout);
        Assert.DoesNotContain("   at ", stdout); // no stack trace
    }

    [Fact]
    public void Missing_folder_is_a_clear_message_and_exit_2()
    {
        var (exit, stdout, stderr) = Run("inventory", "validate", Path.Combine(root, "nope"));

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains("inventory folder", stderr);
        Assert.Contains("does not exist", stderr);
    }

    [Fact]
    public void Missing_fleet_file_exits_2_and_says_which_file()
    {
        File.Delete(Path.Combine(root, "fleet.yaml"));

        var (exit, stdout, _) = Run("inventory", "validate", root);

        Assert.Equal(2, exit);
        Assert.Contains("The inventory has no fleet.yaml.", stdout);
    }

    [Fact]
    public void Unknown_command_or_missing_argument_is_invalid_input()
    {
        Assert.Equal(2, Run("inventory", "validat", root).Exit);
        Assert.Equal(2, Run("inventory", "validate").Exit);
    }

    [Fact]
    public void Help_lists_the_inventory_group_and_exits_0()
    {
        var (exit, stdout, _) = Run("--help");

        Assert.Equal(0, exit);
        Assert.Contains("inventory", stdout);
    }

    [Fact]
    public void Invalid_input_thrown_by_a_command_prints_its_diagnostics_and_exits_2()
    {
        var diagnostic = Diagnostic.Error("plan.json", "waves", "No wave.", "Run taquin plan first.");

        var (exit, stdout, stderr) = RunThrowing(new InvalidInputException([diagnostic]));

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains("plan.json", stderr);
        Assert.Contains("<waves>: No wave.", stderr);
        Assert.Contains("fix: Run taquin plan first.", stderr);
    }

    [Fact]
    public void Unexpected_exception_is_one_line_without_stack_trace_and_exits_1()
    {
        var (exit, _, stderr) = RunThrowing(new InvalidOperationException("boom"));

        Assert.Equal(1, exit);
        Assert.Equal("internal error: InvalidOperationException: boom (set TAQUIN_DEBUG=1 for details)", stderr.Trim());
    }

    [Fact]
    public void Taquin_debug_prints_the_full_exception()
    {
        Environment.SetEnvironmentVariable("TAQUIN_DEBUG", "1");
        try
        {
            var (exit, _, stderr) = RunThrowing(new InvalidOperationException("boom"));

            Assert.Equal(1, exit);
            Assert.StartsWith("internal error: System.InvalidOperationException: boom", stderr);
            Assert.Contains("   at ", stderr);
        }
        finally
        {
            Environment.SetEnvironmentVariable("TAQUIN_DEBUG", null);
        }
    }

    private static (int Exit, string Stdout, string Stderr) RunThrowing(Exception ex)
    {
        var command = new System.CommandLine.Command("explode");
        command.SetAction(int (_) => throw ex);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = Program.Run(["explode"], stdout, stderr, [command]);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = Program.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private void Write(string relative, string content)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private static string Vm(string name, int id, string mac, string disk, string os = "<os><type>hvm</type></os>") => $"""
        <domain type='kvm'>
          <name>{name}</name>
          <uuid>00000000-0000-4000-8000-00000000000{id}</uuid>
          <memory unit='GiB'>{id}</memory>
          <vcpu>1</vcpu>
          {os}
          <devices>
            {disk}
            <interface type='bridge'><mac address='{mac}'/><source bridge='br0'/></interface>
          </devices>
        </domain>
        """;

    public void Dispose() => Directory.Delete(root, recursive: true);
}
