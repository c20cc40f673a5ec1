using System.Globalization;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ceph;
using Taquin.Executors.Libvirt;
using Taquin.Executors.Ssh;

namespace Taquin.Executors.Tests.Support;

/// <summary>
/// The test bed's libvirt hosts and Ceph as fleet hosts: "lv1" (libvirt), "lv2" (libvirt2), "ceph-admin" and "pve1"
/// (the PVE simulator's node, whose volumes the movers read and write on this machine),
/// all reached through the test bed's sshd with the real SSH runner. Needs `scripts/testbed up --only ssh,libvirt,libvirt2,ceph --osds 2`.
/// </summary>
public static class TestbedHosts
{
    public const string Lv1 = "lv1";
    public const string Lv2 = "lv2";
    public const string CephAdmin = "ceph-admin";

    public static string Require(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value ? value : throw new InvalidOperationException(
            $"{variable} is not set, so this test has no test bed service to talk to: start it with " +
            "`scripts/testbed up --only ssh,libvirt,libvirt2,ceph --osds 2 && eval \"$(scripts/testbed env)\"` " +
            $"(or set {Testbed.OptOutVariable}=1 to skip the integration tests).");

    public static string Images => Require("TAQUIN_LIBVIRT_IMAGES");

    /// <summary>
    /// Where a test stages a file that only feeds its setup (e.g. the raw bytes qemu-img turns into a qcow2 disk): memory
    /// (/dev/shm) when the machine has it. The test bed's images folder is on disk, where writing a 1 GiB staging file
    /// took 1.5 to 3.5 s here and its write-back slowed Ceph's OSD files beside it.
    /// </summary>
    public static string Staging => Directory.Exists("/dev/shm") ? "/dev/shm" : Images;
    public static string CephPool => Require("TAQUIN_CEPH_POOL");

    /// <summary>Every test host name is the test bed's sshd; one runner (and its reused connections) for the test process.</summary>
    public static ISshRunner Runner() => SharedRunner.Value;

    private static readonly Lazy<SshNetRunner> SharedRunner = new(() =>
    {
        var endpoint = new SshEndpoint(Require("TAQUIN_SSH_USER"), Require("TAQUIN_SSH_HOST"), int.Parse(Require("TAQUIN_SSH_PORT"), CultureInfo.InvariantCulture));
        var hosts = new[] { Lv1, Lv2, CephAdmin, "lv-gone", "pve1" }.ToDictionary(h => h, _ => endpoint, StringComparer.Ordinal);
        Require("TAQUIN_SSH_KEY");
        Require("TAQUIN_SSH_KNOWN_HOSTS");
        return new SshNetRunner(hosts, SshAccessOptions.FromEnvironment());
    });

    public static VirshOptions VirshOptions() => new()
    {
        Hosts = new Dictionary<string, LibvirtEndpoint>(StringComparer.Ordinal)
        {
            // virsh on the source reaches the destination daemon itself (direct migration); QEMU streams over loopback.
            [Lv1] = new() { ConnectUri = Require("TAQUIN_LIBVIRT_URI"), MigrationUri = Require("TAQUIN_LIBVIRT_URI"), MigrationAddress = "127.0.0.1", SharedFileStorage = true },
            [Lv2] = new() { ConnectUri = Require("TAQUIN_LIBVIRT2_URI"), MigrationUri = Require("TAQUIN_LIBVIRT2_URI"), MigrationAddress = "127.0.0.1", SharedFileStorage = true },
        },
    };

    public static CephClusterOptions CephOptions(IReadOnlyDictionary<string, string>? crushHosts = null) => new()
    {
        AdminHost = CephAdmin,
        ConfPath = Require("TAQUIN_CEPH_CONF"),
        KeyringPath = Require("TAQUIN_CEPH_KEYRING"),
        Id = Require("TAQUIN_CEPH_USER"),
        Pool = CephPool,
        PollInterval = TimeSpan.FromSeconds(1),
        CrushHosts = crushHosts ?? new Dictionary<string, string>(StringComparer.Ordinal),
    };

    /// <summary>Runs a setup command on the test bed and fails the test with its stderr when it fails.</summary>
    public static async Task<string> RunAsync(ISshRunner runner, string host, params string[] argv)
    {
        var result = await runner.RunAsync(host, argv);
        Assert.True(result.Succeeded, $"{string.Join(' ', argv)} failed ({result.ExitCode}): {result.Stderr}");
        return result.Stdout;
    }

    public static Task<string> CephCliAsync(ISshRunner runner, params string[] args)
        => RunAsync(runner, CephAdmin, ["ceph", "--conf", Require("TAQUIN_CEPH_CONF"), "--id", Require("TAQUIN_CEPH_USER"), "--keyring", Require("TAQUIN_CEPH_KEYRING"), .. args]);

    public static Task<string> RbdCliAsync(ISshRunner runner, params string[] args)
        => RunAsync(runner, CephAdmin, ["rbd", "--conf", Require("TAQUIN_CEPH_CONF"), "--id", Require("TAQUIN_CEPH_USER"), "--keyring", Require("TAQUIN_CEPH_KEYRING"), .. args]);

    /// <summary>A fresh qcow2 file in the shared images folder; returns its path.</summary>
    public static async Task<string> CreateQcow2Async(ISshRunner runner, string name, int mib)
    {
        var path = Path.Combine(Images, name + ".qcow2");
        await RunAsync(runner, Lv1, "qemu-img", "create", "-q", "-f", "qcow2", path, mib.ToString(CultureInfo.InvariantCulture) + "M");
        return path;
    }

    /// <summary>An RBD image of the test pool (recreated empty); returns "pool/image".</summary>
    public static async Task<string> CreateRbdImageAsync(ISshRunner runner, string name, int mib)
    {
        var spec = $"{CephPool}/{name}";
        await runner.RunAsync(CephAdmin, ["rbd", "--conf", Require("TAQUIN_CEPH_CONF"), "--id", Require("TAQUIN_CEPH_USER"), "--keyring", Require("TAQUIN_CEPH_KEYRING"), "rm", "--no-progress", spec]);
        await RbdCliAsync(runner, "create", "--size", mib.ToString(CultureInfo.InvariantCulture), spec);
        return spec;
    }

    /// <summary>An OS-less TCG guest (no KVM here): it runs, ignores ACPI, and needs nothing but QEMU.</summary>
    public static string TcgDomainXml(string name, string? qcow2Path = null, string? rbdSpec = null, string? mac = null)
    {
        var disks = "";
        if (qcow2Path is not null)
        {
            disks += $"""
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2'/>
                      <source file='{qcow2Path}'/>
                      <target dev='vda' bus='virtio'/>
                    </disk>
                """;
        }

        if (rbdSpec is not null)
        {
            disks += $"""
                    <disk type='network' device='disk'>
                      <driver name='qemu' type='raw' cache='writeback'/>
                      <auth username='{Require("TAQUIN_CEPH_USER")}'><secret type='ceph' uuid='{Require("TAQUIN_CEPH_SECRET_UUID")}'/></auth>
                      <source protocol='rbd' name='{rbdSpec}'>
                        <host name='{Require("TAQUIN_CEPH_MON_HOST")}' port='{Require("TAQUIN_CEPH_MON_PORT")}'/>
                      </source>
                      <target dev='{(qcow2Path is null ? "vda" : "vdb")}' bus='virtio'/>
                    </disk>
                """;
        }

        var nic = mac is null ? "" : $"<interface type='user'><mac address='{mac}'/><model type='virtio'/><link state='down'/></interface>";
        return $"""
            <domain type='qemu'>
              <name>{System.Security.SecurityElement.Escape(name)}</name>
              <memory unit='MiB'>64</memory>
              <vcpu>1</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
              <on_poweroff>destroy</on_poweroff>
              <devices>
                <emulator>/usr/bin/qemu-system-x86_64</emulator>
            {disks}
                {nic}
                <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
                <memballoon model='none'/>
              </devices>
            </domain>
            """;
    }

    /// <summary>Removes a domain wherever it is (power off, then undefine), ignoring what is not there.</summary>
    public static async Task RemoveDomainAsync(ILibvirtHost libvirt, string domain)
    {
        foreach (var host in new[] { Lv1, Lv2 })
        {
            if (await libvirt.GetDomainStateAsync(host, domain) == DomainRunState.Undefined)
            {
                continue;
            }

            await libvirt.DestroyAsync(host, domain);
            await libvirt.UndefineAsync(host, domain);
        }
    }
}
