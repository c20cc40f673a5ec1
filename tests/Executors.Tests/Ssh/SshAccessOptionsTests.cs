using Taquin.Executors.Ssh;

namespace Taquin.Executors.Tests.Ssh;

public sealed class SshAccessOptionsTests
{
    [Fact]
    public void The_environment_sets_key_trust_and_timeouts()
    {
        var environment = new Dictionary<string, string>
        {
            ["TAQUIN_SSH_KEY"] = "/keys/taquin",
            ["TAQUIN_SSH_KNOWN_HOSTS"] = "/etc/taquin/known_hosts:/root/.ssh/known_hosts",
            ["TAQUIN_SSH_HOST_KEYS"] = "kvm1=SHA256:HpRiLZShHpJVrTHnIWqiEjQkRxCmZbyuCoORYJWKs8U,kvm1=SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ["TAQUIN_SSH_CONNECT_TIMEOUT"] = "5",
            ["TAQUIN_SSH_COMMAND_TIMEOUT"] = "7200",
        };

        var options = SshAccessOptions.FromEnvironment(name => environment.GetValueOrDefault(name));

        Assert.Equal("/keys/taquin", options.IdentityFile);
        Assert.Equal(["/etc/taquin/known_hosts", "/root/.ssh/known_hosts"], options.KnownHostsFiles);
        Assert.Equal(2, options.PinnedFingerprints["kvm1"].Count);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromHours(2), options.CommandTimeout);
    }

    [Fact]
    public void A_bad_timeout_names_the_variable()
    {
        var error = Assert.Throws<FormatException>(() => SshAccessOptions.FromEnvironment(n => n == "TAQUIN_SSH_CONNECT_TIMEOUT" ? "soon" : null));

        Assert.Contains("TAQUIN_SSH_CONNECT_TIMEOUT", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_passphrase_never_appears_when_the_options_are_printed()
    {
        var options = new SshAccessOptions { IdentityFile = "/keys/taquin", Passphrase = "correct horse battery staple" };

        var printed = options.ToString();

        Assert.DoesNotContain("correct horse", printed, StringComparison.Ordinal);
        Assert.Contains("Passphrase = (set)", printed, StringComparison.Ordinal);
        Assert.Contains("/keys/taquin", printed, StringComparison.Ordinal);
    }
}
