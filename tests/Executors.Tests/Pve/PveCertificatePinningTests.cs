using Taquin.Executors.Adapters;
using Taquin.Executors.Pve;

namespace Taquin.Executors.Tests.Pve;

/// <summary>PVE's certificate is self-signed: the client trusts exactly the pinned SHA-256 fingerprint, never "anything".</summary>
public sealed class PveCertificatePinningTests(SimulatedPveCluster pve) : IClassFixture<SimulatedPveCluster>
{
    [Fact]
    public async Task The_pinned_fingerprint_is_accepted_in_any_spelling()
    {
        var lowerNoColons = pve.Server.CertificateFingerprint.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
        using var client = pve.TokenClient(lowerNoColons);

        Assert.Equal("pve-manager/9.1.1", await client.GetVersionAsync("pve1"));
    }

    [Fact]
    public async Task A_different_certificate_is_refused_naming_the_fingerprint_it_presented()
    {
        var wrong = string.Join(':', Enumerable.Repeat("AB", 32));
        using var client = pve.TokenClient(wrong);

        var error = await Assert.ThrowsAsync<PveApiException>(() => client.GetVersionAsync("pve1"));

        Assert.False(error.IsTransient);
        Assert.Null(error.StatusCode);
        Assert.Contains(pve.Server.CertificateFingerprint, error.Message, StringComparison.Ordinal);
        Assert.Contains("not the pinned " + wrong, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_pin_the_self_signed_certificate_fails_ordinary_validation()
    {
        using var client = new PveHttpClient(new PveClientOptions
        {
            BaseAddress = pve.Server.BaseAddress,
            Credentials = new PveApiToken("root@pam", "taquin", SimulatedPveCluster.TokenSecret),
        });

        var error = await Assert.ThrowsAsync<PveApiException>(() => client.GetVersionAsync("pve1"));

        Assert.False(error.IsTransient);
        Assert.Contains("not trusted", error.Message, StringComparison.Ordinal);
        Assert.Contains("presented: " + pve.Server.CertificateFingerprint, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_pin_is_refused_up_front()
        => Assert.Throws<ArgumentException>(() => PveClientOptions.NormalizeFingerprint("AB:CD"));
}
