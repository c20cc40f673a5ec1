using Taquin.Executors.Access;
using Taquin.Executors.Movers;
using Taquin.Planner.Diagnostics;

namespace Taquin.Executors.Tests.Access;

public sealed class AccessFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("taquin-access-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    // No TAQUIN_SSH_* in these tests: the file alone decides (the process may run inside the test bed's environment).
    private static string? NoVariables(string name) => null;

    private AccessSettings Parse(string yaml) =>
        AccessFile.Parse(yaml, Path.Combine(_folder, "access.yaml"), TestFleet.Inventory().Fleet, NoVariables);

    private IReadOnlyList<Diagnostic> Problems(string yaml) =>
        Assert.Throws<InvalidInputException>(() => Parse(yaml)).Diagnostics;

    [Fact]
    public void A_complete_file_fills_every_section_with_paths_relative_to_the_file()
    {
        Write("id_ed25519", "key");
        Write("known_hosts", "");
        Write("pve-token", "5e2b-secret\n");
        var access = Parse("""
            ssh:
              identityFile: id_ed25519
              knownHosts: [known_hosts]
              hostKeys:
                h1: SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
              connectTimeoutSeconds: 5
            pve:
              url: https://pve1.example.org:8006
              tokenId: root@pam!taquin
              tokenSecretFile: pve-token
              fingerprint: ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89
            libvirt:
              connectUri: qemu:///system
              hosts:
                h2:
                  migrationAddress: 10.0.0.12
                  peerToPeer: true
            ceph:
              adminHost: h1
              conf: /etc/ceph/ceph.conf
              id: admin
              pool: vms
            movers:
              dataPath: relayed
              verify: sampled
              localHosts: [h4]
            """);

        Assert.Equal(Path.Combine(_folder, "id_ed25519"), access.Ssh.IdentityFile);
        Assert.Equal([Path.Combine(_folder, "known_hosts")], access.Ssh.KnownHostsFiles);
        Assert.Equal(["SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"], access.Ssh.PinnedFingerprints["h1"]);
        Assert.Equal(TimeSpan.FromSeconds(5), access.Ssh.ConnectTimeout);
        var pve = Assert.IsType<PveAccess>(access.Pve);
        Assert.Equal(("root@pam", "taquin"), (pve.User, pve.TokenName));
        Assert.Equal("5e2b-secret", pve.TokenSecret.Read("token"));
        Assert.StartsWith("AB:CD:EF:01", pve.CertificateFingerprint, StringComparison.Ordinal);
        var h2 = access.Libvirt.Hosts["h2"].Over(access.Libvirt.Default);
        Assert.Equal(("qemu:///system", "10.0.0.12", true), (h2.ConnectUri, h2.MigrationAddress, h2.PeerToPeer));
        Assert.Equal(("h1", "vms", "admin"), (access.Ceph!.AdminHost, access.Ceph.Pool, access.Ceph.Id));
        Assert.Equal(("relayed", "sampled"), (access.Movers.DataPath, access.Movers.Verify));
        Assert.Equal(["h4"], access.Movers.LocalHosts);
    }

    [Fact]
    public void The_shutdown_grace_time_is_set_for_every_host_and_overridden_per_host()
    {
        var access = AccessFile.Parse("""
            libvirt:
              shutdownGraceSeconds: 30
              hosts:
                h2: { shutdownGraceSeconds: 5 }
                h3: { connectUri: "qemu+ssh://h3/system" }
            """, Path.Combine(_folder, "a.yaml"));
        var settings = access.Libvirt.StepSettings();

        Assert.Equal(TimeSpan.FromSeconds(30), settings.ShutdownGrace!("h1"));
        Assert.Equal(TimeSpan.FromSeconds(5), settings.ShutdownGrace("h2"));
        Assert.Equal(TimeSpan.FromSeconds(30), settings.ShutdownGrace("h3"));
        Assert.Null(AccessFile.Parse("libvirt: { connectUri: \"qemu:///system\" }", Path.Combine(_folder, "a.yaml")).Libvirt.ShutdownGraceOf("h1"));
        var problem = Assert.Single(Assert.Throws<InvalidInputException>(() => AccessFile.Parse("libvirt: { shutdownGraceSeconds: soon }", Path.Combine(_folder, "a.yaml"))).Diagnostics);
        Assert.Equal("libvirt.shutdownGraceSeconds", problem.Element);
    }

    [Fact]
    public void The_ssh_environment_is_the_default_and_the_file_overrides_it()
    {
        var envKey = Write("env_key", "k");
        var fileKey = Write("file_key", "k");
        string? Variables(string name) => name switch
        {
            "TAQUIN_SSH_KEY" => envKey,
            "TAQUIN_SSH_CONNECT_TIMEOUT" => "7",
            _ => null,
        };

        var fromEnvironment = AccessFile.Parse("ceph: { adminHost: h1 }", Path.Combine(_folder, "a.yaml"), null, Variables);
        var overridden = AccessFile.Parse("ssh: { identityFile: file_key }", Path.Combine(_folder, "a.yaml"), null, Variables);

        Assert.Equal((envKey, TimeSpan.FromSeconds(7)), (fromEnvironment.Ssh.IdentityFile, fromEnvironment.Ssh.ConnectTimeout));
        Assert.Equal((fileKey, TimeSpan.FromSeconds(7)), (overridden.Ssh.IdentityFile, overridden.Ssh.ConnectTimeout));
    }

    [Fact]
    public void Every_problem_is_reported_at_once_with_its_line_key_and_fix()
    {
        Write("k", "key");
        var problems = Problems("""
            ssh:
              identityFile: k
              knownHosts: missing_known_hosts
              hostKeys:
                h9: SHA256:x
            pve:
              url: http://pve1:8006
              tokenId: taquin
              tokenSecretFile: no-such-secret
            ceph:
              adminHost: kvm7
              poool: rbd
            movers:
              dataPath: teleport
            """);

        Assert.Contains(problems, p => p.Element == "ssh.knownHosts" && p.Line == 3 && p.Message.Contains("missing_known_hosts", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Element == "ssh.hostKeys.h9" && p.Message.Contains("not a host of fleet.yaml", StringComparison.Ordinal) && p.Fix.Contains("h1, h2, h3, h4", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Element == "ssh.hostKeys.h9" && p.Message == "Not a host key fingerprint.");
        Assert.Contains(problems, p => p.Element == "pve.url" && p.Line == 7 && p.Fix.Contains("https://", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Element == "pve.tokenId" && p.Fix.Contains("user@realm!tokenname", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Element == "pve.tokenSecretFile" && p.Message.Contains("does not exist", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Element == "ceph.adminHost" && p.Value == "kvm7");
        Assert.Contains(problems, p => p.Element == "ceph.poool" && p.Line == 12 && p.Message.Contains("Unknown key", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Element == "movers.dataPath" && p.Value == "teleport" && p.Fix.Contains("relayed", StringComparison.Ordinal));
        Assert.All(problems, p => Assert.Equal(Path.Combine(_folder, "access.yaml"), p.File));
    }

    [Fact]
    public void The_movers_take_target_client_with_the_old_conf_on_the_nodes_and_a_checked_cipher_list()
    {
        var access = Parse("""
            movers:
              dataPath: target-client
              sourceCephConfOnTarget: /etc/pve/priv/ceph/old-ceph.conf
              sshCiphers: chacha20-poly1305@openssh.com, aes256-gcm@openssh.com
            """);

        var options = RealAdapters.MoverOptionsOf(TestFleet.Inventory().Fleet, access);

        Assert.Equal(DataPath.TargetClient, options.DataPath);
        Assert.Equal("/etc/pve/priv/ceph/old-ceph.conf", options.SourceCephConfOnTarget);
        Assert.Equal("chacha20-poly1305@openssh.com,aes256-gcm@openssh.com", options.SshCiphers);
    }

    [Theory]
    [InlineData("sampled", null, VerifyMode.Sampled)]
    [InlineData("full", null, VerifyMode.Full)]
    [InlineData("sampled", "full", VerifyMode.Full)]
    [InlineData("full", "sampled", VerifyMode.Sampled)]
    public void The_movers_verify_as_the_fleet_policy_planned_unless_the_access_file_says_otherwise(string policyVerify, string? accessVerify, VerifyMode expected)
    {
        var inventory = TestFleet.Inventory();
        var fleet = inventory.Fleet with { Policy = inventory.Fleet.Policy with { Verify = policyVerify } };
        var access = Parse(accessVerify is null ? "movers: { dataPath: relayed }" : $"movers: {{ dataPath: relayed, verify: {accessVerify} }}");

        Assert.Equal(expected, RealAdapters.MoverOptionsOf(fleet, access).Verify);
    }

    [Fact]
    public void A_weak_or_unknown_cipher_is_refused_and_target_client_without_the_old_conf_is_refused_when_the_movers_are_built()
    {
        var problems = Problems("""
            movers:
              sshCiphers: aes128-gcm@openssh.com,3des-cbc,aes128-cbc
            """);
        var withoutConf = Parse("movers: { dataPath: target-client }");

        var cipher = Assert.Single(problems);
        Assert.Equal("movers.sshCiphers", cipher.Element);
        Assert.Contains("3des-cbc, aes128-cbc", cipher.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("aes128-gcm", cipher.Message, StringComparison.Ordinal);
        var error = Assert.Throws<AccessException>(() => RealAdapters.MoverOptionsOf(TestFleet.Inventory().Fleet, withoutConf));
        Assert.Contains("movers.sourceCephConfOnTarget", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_movers_take_direct_tcp_with_addresses_per_host_a_default_ports_and_timeouts()
    {
        var access = Parse("""
            movers:
              dataPath: direct-tcp
              tcp:
                bindAddress: 10.10.0.1
                addresses: { h1: 10.10.0.21, h2: "fd00::12" }
                ports: 61000-61009
                acceptTimeoutSeconds: 12
                restrictToSource: false
            """);

        var options = RealAdapters.MoverOptionsOf(TestFleet.Inventory().Fleet, access);

        Assert.Equal(DataPath.DirectTcp, options.DataPath);
        Assert.Equal("10.10.0.21", options.Tcp.AddressOf("h1"));
        Assert.Equal("fd00::12", options.Tcp.AddressOf("h2"));
        Assert.Equal("10.10.0.1", options.Tcp.AddressOf("h3"));
        Assert.Equal((61000, 61009), (options.Tcp.FirstPort, options.Tcp.LastPort));
        Assert.Equal(TimeSpan.FromSeconds(12), options.Tcp.AcceptTimeout);
        Assert.Equal(TcpDataPathOptions.Default.IdleTimeout, options.Tcp.IdleTimeout);
        Assert.False(options.Tcp.RestrictToSource);
    }

    [Fact]
    public void Bad_tcp_addresses_and_port_ranges_are_named_with_their_fix_and_direct_tcp_without_addresses_is_refused()
    {
        var problems = Problems("""
            movers:
              tcp:
                bindAddress: pve-migration.lan
                addresses: { h1: 10.10.0.300, h9: 10.10.0.9 }
                ports: 60050-60000
            """);
        var withoutTcp = Parse("movers: { dataPath: direct-tcp }");

        Assert.Contains(problems, p => p.Element == "movers.tcp.bindAddress" && p.Message == "Not an IP address." && p.Value == "pve-migration.lan" && p.Fix.Contains("no names", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Element == "movers.tcp.addresses.h1" && p.Value == "10.10.0.300");
        Assert.Contains(problems, p => p.Element == "movers.tcp.addresses.h9" && p.Message.Contains("not a host of fleet.yaml", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Element == "movers.tcp.ports" && p.Message.Contains("ends before it starts", StringComparison.Ordinal) && p.Fix.Contains("60000-60050", StringComparison.Ordinal));
        Assert.Equal(4, problems.Count);
        var error = Assert.Throws<AccessException>(() => RealAdapters.MoverOptionsOf(TestFleet.Inventory().Fleet, withoutTcp));
        Assert.Contains("movers.tcp.addresses", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_inline_secret_is_refused_without_echoing_it()
    {
        Write("k", "key");
        var problems = Problems("""
            ssh: { identityFile: k }
            pve:
              url: https://pve1:8006
              tokenId: root@pam!taquin
              tokenSecret: 9f1c-very-secret
            """);

        var inline = Assert.Single(problems, p => p.Element == "pve.tokenSecret");
        Assert.Contains("tokenSecretFile or tokenSecretEnv", inline.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain(problems, p => p.ToString().Contains("9f1c-very-secret", StringComparison.Ordinal));
    }

    [Fact]
    public void The_token_secret_can_come_from_an_environment_variable_and_an_unset_one_says_so()
    {
        Write("k", "key");
        var access = Parse("""
            ssh: { identityFile: k }
            pve: { url: "https://pve1:8006", tokenId: "root@pam!taquin", tokenSecretEnv: TAQUIN_TEST_PVE_SECRET_UNSET }
            """);

        var pve = access.Pve!;
        Assert.Equal("environment variable TAQUIN_TEST_PVE_SECRET_UNSET", pve.TokenSecret.ToString());
        var error = Assert.Throws<AccessException>(() => pve.TokenSecret.Read("PVE API token root@pam!taquin"));
        Assert.Contains("TAQUIN_TEST_PVE_SECRET_UNSET is empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Printing_the_settings_shows_where_the_secret_is_never_the_secret()
    {
        Write("k", "key");
        Write("token", "d41d8cd9-secret-value");
        var access = Parse("""
            ssh: { identityFile: k }
            pve: { url: "https://pve1:8006", tokenId: "root@pam!taquin", tokenSecretFile: token }
            """);

        foreach (var text in new[] { access.ToString(), AccessText.Describe(access), access.Pve!.ToString() })
        {
            Assert.DoesNotContain("d41d8cd9-secret-value", text, StringComparison.Ordinal);
        }

        Assert.Contains($"secret file '{Path.Combine(_folder, "token")}'", AccessText.Describe(access), StringComparison.Ordinal);
    }

    [Fact]
    public void Broken_yaml_names_the_line()
    {
        var problem = Assert.Single(Problems("ssh:\n  identityFile: [unclosed\n"));

        Assert.Equal("yaml", problem.Element);
        Assert.NotNull(problem.Line);
    }

    [Fact]
    public void A_missing_file_is_a_diagnostic_not_a_crash()
    {
        var problem = Assert.Single(Assert.Throws<InvalidInputException>(() => AccessFile.Load(Path.Combine(_folder, "nope.yaml"))).Diagnostics);

        Assert.Contains("--access FILE", problem.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_any_key_the_ssh_section_says_where_to_put_one()
    {
        var problems = Problems("ssh: { connectTimeoutSeconds: 3 }");

        Assert.Contains(problems, p => p.Element == "ssh" && p.Fix.Contains("identityFile", StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_required_key_is_named_by_its_path_with_the_key_to_add()
    {
        Write("pve-token", "5e2b-secret\n");

        var problem = Assert.Single(Problems("pve: { tokenId: root@pam!taquin, tokenSecretFile: pve-token }"));

        Assert.Equal(("pve.url", "Required key 'url' is missing.", 1), (problem.Element, problem.Message, problem.Line));
        Assert.Contains("Add 'url: https://", problem.Fix, StringComparison.Ordinal);
        Assert.Contains("docs/access.md", problem.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_mistakes_are_worded_as_in_fleet_yaml()
    {
        var access = Problems("""
            libvirt:
              peerToPeer: maybe
              connectUri: [a, b]
              hosts: qemu
            movers:
              verify: quick
              dataPth: direct
            """);
        var fleetProblems = new List<Diagnostic>();
        Taquin.Planner.Inventory.InventoryLoader.ReadFleet("""
            hosts:
              - { name: h1, ram: 64GiB, cores: 16, nicGbits: 10, excluded: maybe, ssh: [a, b] }
            oldCeph: {}
            newCeph: cephs
            policy:
              vlanRange: { from: 100, to: 200 }
              verify: quick
              bridg: vmbr1
            """, fleetProblems);

        // Each pair: (access file element, fleet.yaml element): same mistake, same message and the same shape of fix.
        foreach (var (inAccess, inFleet) in new[]
        {
            ("libvirt.peerToPeer", "hosts[0].excluded"),
            ("libvirt.connectUri", "hosts[0].ssh"),
            ("libvirt.hosts", "newCeph"),
            ("movers.verify", "policy.verify"),
            ("movers.dataPth", "policy.bridg"),
        })
        {
            var a = Assert.Single(access, d => d.Element == inAccess);
            var f = Assert.Single(fleetProblems, d => d.Element == inFleet);
            Assert.Equal(WithoutKey(a, a.Message), WithoutKey(f, f.Message));
            Assert.Equal(Shape(WithoutKey(a, a.Fix)), Shape(WithoutKey(f, f.Fix)));
        }

        Assert.Contains("known keys here: dataPath, sshCiphers", Assert.Single(access, d => d.Element == "movers.dataPth").Fix, StringComparison.Ordinal);
    }

    private static string WithoutKey(Diagnostic d, string text) => text.Replace($"'{d.Element.Split('.')[^1]}", "'KEY", StringComparison.Ordinal);

    /// <summary>The first two words of a fix ("Write true", "Use full", "Remove it"): the rest names the file's own keys and docs.</summary>
    private static string Shape(string fix) => string.Join(' ', fix.Split(' ').Take(2));
}
