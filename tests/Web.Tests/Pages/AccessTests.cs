using System.Net;
using Taquin.Web.Tests.Support;

namespace Taquin.Web.Tests.Pages;

/// <summary>Who may do what: roles, antiforgery on every form, the sign-in wall, the Hangfire dashboard, the proxy header.</summary>
public sealed class AccessTests
{
    [Fact]
    public async Task A_viewer_can_read_the_review_but_cannot_approve_or_start_a_wave()
    {
        await using var server = await WebServer.StartAsync();
        var planId = server.AddGreedyPlan(server.CopySample("fleet-tiny"));
        using var viewer = await server.SignInAsync("viewer");

        var (status, review, _) = await viewer.GetAsync($"/plans/{planId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain("data-testid=approve", review, StringComparison.Ordinal);

        using var approve = await viewer.PostFormAsync($"/plans/{planId}/approve", []);
        using var start = await viewer.PostFormAsync($"/plans/{planId}/run/start", new() { ["wave"] = "1" });
        Assert.Equal(HttpStatusCode.Forbidden, approve.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, start.StatusCode);
        Assert.Contains("Not approved", (await viewer.GetAsync($"/plans/{planId}")).Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_operator_cannot_approve_and_an_admin_can()
    {
        await using var server = await WebServer.StartAsync();
        var planId = server.AddGreedyPlan(server.CopySample("fleet-tiny"));
        using var operatorClient = await server.SignInAsync("operator");
        await operatorClient.GetAsync($"/plans/{planId}");
        using var refused = await operatorClient.PostFormAsync($"/plans/{planId}/approve", []);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        using var admin = await server.SignInAsync("admin");
        await admin.GetAsync($"/plans/{planId}");
        using var approved = await admin.PostFormAsync($"/plans/{planId}/approve", []);
        Assert.Equal(HttpStatusCode.Redirect, approved.StatusCode);
        var review = (await admin.GetAsync($"/plans/{planId}")).Body;
        Assert.Contains("Approved</span> by admin", review, StringComparison.Ordinal);
        Assert.Contains("plan-approved", review, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_post_without_the_antiforgery_token_is_refused_and_changes_nothing()
    {
        await using var server = await WebServer.StartAsync();
        var planId = server.AddGreedyPlan(server.CopySample("fleet-tiny"));
        using var admin = await server.SignInAsync("admin");
        await admin.GetAsync($"/plans/{planId}");

        using var withoutToken = await admin.PostFormAsync($"/plans/{planId}/approve", [], withToken: false);
        using var forgedToken = await admin.PostFormAsync($"/plans/{planId}/approve", new() { ["__af"] = "forged" }, withToken: false);

        Assert.Equal(HttpStatusCode.BadRequest, withoutToken.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, forgedToken.StatusCode);
        Assert.Contains("Not approved", (await admin.GetAsync($"/plans/{planId}")).Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_login_form_itself_needs_the_token_and_a_wrong_password_is_refused()
    {
        await using var server = await WebServer.StartAsync();
        using var client = server.Anonymous();
        await client.GetAsync("/login");
        using var noToken = await client.PostFormAsync("/login", new() { ["username"] = "admin", ["password"] = "admin-password" }, withToken: false);
        using var wrong = await client.PostFormAsync("/login", new() { ["username"] = "admin", ["password"] = "nope" });
        Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/plans")).Status);
    }

    [Fact]
    public async Task Pages_need_a_signed_in_user()
    {
        await using var server = await WebServer.StartAsync();
        using var client = server.Anonymous();
        var (status, _, response) = await client.GetAsync("/plans");
        Assert.Equal(HttpStatusCode.Redirect, status);
        Assert.StartsWith("/login", PageClient.Location(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_Hangfire_dashboard_is_for_admins_only()
    {
        await using var server = await WebServer.StartAsync();
        using var admin = await server.SignInAsync("admin");
        using var operatorClient = await server.SignInAsync("operator");
        using var anonymous = server.Anonymous();

        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/hangfire")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await operatorClient.GetAsync("/hangfire")).Status);
        var (status, _, response) = await anonymous.GetAsync("/hangfire");
        Assert.Equal(HttpStatusCode.Redirect, status);
        Assert.StartsWith("/login", PageClient.Location(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_trusted_proxy_header_signs_in_the_local_user_it_names_only_when_configured()
    {
        await using var trusting = await WebServer.StartAsync(trustedUserHeader: "X-Remote-User");
        await using var plain = await WebServer.StartAsync();
        foreach (var (server, expected) in new[] { (trusting, HttpStatusCode.OK), (plain, HttpStatusCode.Redirect) })
        {
            using var client = server.Anonymous();
            client.Http.DefaultRequestHeaders.Add("X-Remote-User", "operator");
            var (status, body, _) = await client.GetAsync("/plans");
            Assert.Equal(expected, status);
            if (expected == HttpStatusCode.OK)
            {
                Assert.Contains("operator (operator)", body, StringComparison.Ordinal);
            }
        }

        using var stranger = trusting.Anonymous();
        stranger.Http.DefaultRequestHeaders.Add("X-Remote-User", "mallory");
        Assert.Equal(HttpStatusCode.Forbidden, (await stranger.GetAsync("/plans")).Status);
    }
}
