using Taquin.Executors.Adapters;
using Taquin.Executors.Ssh;

namespace Taquin.Executors.Tests.Ssh;

/// <summary>Host key policy on keys made by ssh-keygen and known_hosts files written (and hashed) by ssh-keygen.</summary>
public sealed class HostKeyTrustTests : IDisposable
{
    private static readonly SshEndpoint Endpoint = new("root", "10.1.0.11", 2222);
    private readonly string _scratch = Directory.CreateTempSubdirectory("taquin-hostkey-test-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task A_key_listed_for_the_endpoint_is_trusted_and_its_fingerprint_is_the_one_ssh_keygen_prints()
    {
        var key = await NewKeyAsync("a");
        var trust = new HostKeyTrust(KnownHosts.Parse($"[10.1.0.11]:2222 {key.Type} {key.Base64}\n"), NoPins);

        var decision = trust.Check("kvm1", Endpoint, key.Type, key.Blob);

        Assert.True(decision.Trusted, decision.Message);
        Assert.Equal(key.SshKeygenFingerprint, decision.Fingerprint);
    }

    [Fact]
    public async Task A_hashed_known_hosts_entry_trusts_the_same_key()
    {
        var key = await NewKeyAsync("a");
        var file = Path.Combine(_scratch, "known_hosts");
        await File.WriteAllTextAsync(file, $"[10.1.0.11]:2222 {key.Type} {key.Base64}\n");
        await RunAsync("ssh-keygen", "-H", "-f", file);
        Assert.StartsWith("|1|", await File.ReadAllTextAsync(file), StringComparison.Ordinal);

        var decision = new HostKeyTrust(KnownHosts.Load([file]), NoPins).Check("kvm1", Endpoint, key.Type, key.Blob);

        Assert.True(decision.Trusted, decision.Message);
    }

    [Fact]
    public async Task An_entry_for_another_port_or_address_does_not_trust_the_key()
    {
        var key = await NewKeyAsync("a");
        var trust = new HostKeyTrust(KnownHosts.Parse($"10.1.0.11 {key.Type} {key.Base64}\n[10.1.0.12]:2222 {key.Type} {key.Base64}\n"), NoPins);

        var decision = trust.Check("kvm1", Endpoint, key.Type, key.Blob);

        Assert.False(decision.Trusted);
        Assert.Contains("unknown host key", decision.Message, StringComparison.Ordinal);
        Assert.Contains($"TAQUIN_SSH_HOST_KEYS=kvm1={decision.Fingerprint}", decision.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_different_key_than_the_listed_one_is_a_mismatch_naming_both_fingerprints()
    {
        var listed = await NewKeyAsync("listed");
        var presented = await NewKeyAsync("presented");
        var trust = new HostKeyTrust(KnownHosts.Parse($"[10.1.0.11]:2222 {listed.Type} {listed.Base64}\n", "fleet_known_hosts"), NoPins);

        var decision = trust.Check("kvm1", Endpoint, presented.Type, presented.Blob);

        Assert.False(decision.Trusted);
        Assert.Contains("HOST KEY MISMATCH", decision.Message, StringComparison.Ordinal);
        Assert.Contains(presented.SshKeygenFingerprint, decision.Message, StringComparison.Ordinal);
        Assert.Contains(listed.SshKeygenFingerprint, decision.Message, StringComparison.Ordinal);
        Assert.Contains("fleet_known_hosts:1", decision.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pinned_fingerprint_trusts_only_its_own_host()
    {
        var key = await NewKeyAsync("a");
        var trust = new HostKeyTrust(KnownHosts.Parse(""), SshAccessOptions.ParsePins($"kvm1={key.SshKeygenFingerprint}"));

        Assert.True(trust.Check("kvm1", Endpoint, key.Type, key.Blob).Trusted);
        Assert.False(trust.Check("kvm2", Endpoint, key.Type, key.Blob).Trusted);
    }

    [Fact]
    public async Task A_revoked_key_is_refused_even_when_also_pinned()
    {
        var key = await NewKeyAsync("a");
        var trust = new HostKeyTrust(
            KnownHosts.Parse($"@revoked [10.1.0.11]:2222 {key.Type} {key.Base64}\n"), SshAccessOptions.ParsePins($"kvm1={key.SshKeygenFingerprint}"));

        var decision = trust.Check("kvm1", Endpoint, key.Type, key.Blob);

        Assert.False(decision.Trusted);
        Assert.Contains("@revoked", decision.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("kvm1")]
    [InlineData("kvm1=MD5:aa:bb")]
    [InlineData("kvm1=SHA256:tooshort")]
    public void Malformed_pins_are_refused_with_the_expected_form(string text)
    {
        var error = Assert.Throws<FormatException>(() => SshAccessOptions.ParsePins(text));

        Assert.Contains("host=SHA256:<base64>", error.Message, StringComparison.Ordinal);
    }

    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> NoPins = SshAccessOptions.ParsePins(null);

    private sealed record HostKey(string Type, string Base64, byte[] Blob, string SshKeygenFingerprint);

    private async Task<HostKey> NewKeyAsync(string name)
    {
        var file = Path.Combine(_scratch, name);
        await RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", file);
        var fields = (await File.ReadAllTextAsync(file + ".pub")).Split(' ');
        var fingerprint = (await RunAsync("ssh-keygen", "-l", "-E", "sha256", "-f", file + ".pub")).Split(' ')[1];
        return new HostKey(fields[0], fields[1], Convert.FromBase64String(fields[1]), fingerprint);
    }

    private static async Task<string> RunAsync(params string[] argv)
    {
        var result = await new LocalProcessRunner().RunAsync("localhost", argv);
        Assert.True(result.Succeeded, result.Stderr);
        return result.Stdout;
    }
}
