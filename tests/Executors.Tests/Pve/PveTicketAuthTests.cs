using Microsoft.Extensions.Time.Testing;
using Taquin.Executors.Adapters;

namespace Taquin.Executors.Tests.Pve;

/// <summary>Ticket auth: POST /access/ticket, cookie + CSRF header, renewal before the lifetime ends and once on a 401.</summary>
public sealed class PveTicketAuthTests : IAsyncLifetime
{
    private readonly FakeTimeProvider clock = new(new DateTimeOffset(2026, 11, 24, 6, 0, 0, TimeSpan.Zero));
    private readonly SimulatedPveCluster pve;

    public PveTicketAuthTests() => pve = new SimulatedPveCluster
    {
        Configure = dir => new Taquin.PveSimulator.PveSimulatorOptions
        {
            DataDirectory = dir,
            RootPassword = SimulatedPveCluster.RootPassword,
            Clock = clock,
            TicketLifetime = TimeSpan.FromHours(2),
        },
    };

    public Task InitializeAsync() => pve.InitializeAsync();

    public Task DisposeAsync() => pve.DisposeAsync();

    [Fact]
    public async Task A_ticket_is_reused_then_renewed_before_its_two_hours_run_out()
    {
        using var client = pve.PasswordClient(clock);

        await client.GetClusterNodesAsync();
        clock.Advance(TimeSpan.FromMinutes(100));
        await client.GetClusterNodesAsync();
        Assert.Equal(1, pve.Server.Auth.TicketsIssued);

        clock.Advance(TimeSpan.FromMinutes(10));
        await client.GetClusterNodesAsync();
        Assert.Equal(2, pve.Server.Auth.TicketsIssued);

        // Past the first ticket's 2 h: only the renewed one still works, and no 401 was needed.
        clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(["pve1", "pve2"], await client.GetClusterNodesAsync());
        Assert.Equal(2, pve.Server.Auth.TicketsIssued);
    }

    [Fact]
    public async Task Writes_with_a_ticket_carry_the_csrf_token()
    {
        using var client = pve.PasswordClient(clock);

        var upid = await client.CreateVmAsync("pve1", 100, new Dictionary<string, string> { ["name"] = "ticketed" });

        Assert.EndsWith(":qmcreate:100:root@pam:", upid, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rejected_ticket_is_renewed_once_and_the_call_repeated()
    {
        // The client believes tickets live 10 h; the server says 2 h, so the first one dies unnoticed.
        using var client = pve.PasswordClient(clock, ticketLifetime: TimeSpan.FromHours(10));
        await client.GetClusterNodesAsync();

        clock.Advance(TimeSpan.FromHours(3));
        Assert.Equal(["pve1", "pve2"], await client.GetClusterNodesAsync());
        Assert.Equal(2, pve.Server.Auth.TicketsIssued);

        pve.Server.Auth.RevokeTickets();
        var upid = await client.CreateVmAsync("pve1", 101, new Dictionary<string, string> { ["name"] = "after-revocation" });
        Assert.EndsWith(":qmcreate:101:root@pam:", upid, StringComparison.Ordinal);
        Assert.Equal(3, pve.Server.Auth.TicketsIssued);
    }

    [Fact]
    public async Task A_wrong_password_fails_for_good_without_echoing_it()
    {
        using var client = pve.PasswordClient(clock, password: "hunter2-wrong");

        var error = await Assert.ThrowsAsync<PveApiException>(() => client.GetClusterNodesAsync());

        Assert.Equal(401, error.StatusCode);
        Assert.False(error.IsTransient);
        Assert.DoesNotContain("hunter2-wrong", error.Message, StringComparison.Ordinal);
    }
}
