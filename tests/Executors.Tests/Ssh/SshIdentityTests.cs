using Taquin.Executors.Adapters;
using Taquin.Executors.Ssh;

namespace Taquin.Executors.Tests.Ssh;

/// <summary>Identity file problems are found before any connection and never leak the passphrase.</summary>
public sealed class SshIdentityTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("taquin-identity-test-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task An_encrypted_key_without_passphrase_asks_for_the_passphrase_variable()
    {
        var key = await EncryptedKeyAsync("right passphrase 42");
        using var runner = RunnerWith(new SshAccessOptions { IdentityFile = key });

        var error = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync("kvm1", ["true"]));

        Assert.False(error.IsTransient);
        Assert.Contains(SshAccessOptions.PassphraseVariable, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_passphrase_is_permanent_and_no_passphrase_appears_in_the_error()
    {
        var key = await EncryptedKeyAsync("right passphrase 42");
        using var runner = RunnerWith(new SshAccessOptions { IdentityFile = key, Passphrase = "wrong passphrase 17" });

        var error = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync("kvm1", ["true"]));

        Assert.False(error.IsTransient);
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("passphrase 17", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("passphrase 42", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_identity_file_names_the_variable()
    {
        using var runner = RunnerWith(new SshAccessOptions { IdentityFile = Path.Combine(_scratch, "absent") });

        var error = await Assert.ThrowsAsync<SshCommandException>(() => runner.RunAsync("kvm1", ["true"]));

        Assert.False(error.IsTransient);
        Assert.Contains(SshAccessOptions.IdentityFileVariable, error.Message, StringComparison.Ordinal);
    }

    // Port 9 on loopback: nothing listens, and nothing is reached anyway (the key is loaded first).
    private static SshNetRunner RunnerWith(SshAccessOptions options) =>
        new(new Dictionary<string, SshEndpoint> { ["kvm1"] = new("root", "127.0.0.1", 9) }, options);

    private async Task<string> EncryptedKeyAsync(string passphrase)
    {
        var file = Path.Combine(_scratch, "key");
        var result = await new LocalProcessRunner().RunAsync("localhost", ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", file]);
        Assert.True(result.Succeeded, result.Stderr);
        return file;
    }
}
