using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Taquin.Tests.Shared;
using Taquin.Web.Tests.Support;

namespace Taquin.Web.Tests.Browser;

/// <summary>
/// The real pages in headless Chromium against a real Kestrel: an admin plans and approves the tiny sample, an
/// operator runs wave 1 on the simulated twin (gates confirmed, progress to 100 %), then rehearses a failure (the
/// engine rolls the VM back) and rolls a host back at its gate; a viewer can neither approve nor start. Screenshots go to artifacts/screenshots.
/// </summary>
public sealed partial class MigrationWalkthroughTests
{
    private static readonly string Screenshots = Path.Combine(RepositoryPaths.Root, "artifacts", "screenshots");
    private const float Patience = 120_000;

    [Fact]
    public async Task Admin_plans_and_approves_operator_runs_wave_1_confirms_gates_and_rehearses_a_failure_and_a_rollback()
    {
        await using var server = await WebServer.StartAsync(simulate: true);
        var inventory = server.CopySample("fleet-tiny");
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        page.SetDefaultTimeout(Patience);

        // Admin: plan the inventory in the background, review, approve.
        await Chromium.SignInAsync(page, server.Address, "admin");
        await page.FillAsync("[data-testid=create-plan] input[name=inventory]", inventory);
        await page.FillAsync("[data-testid=create-plan] input[name=name]", "fleet-tiny");
        await page.SelectOptionAsync("[data-testid=create-plan] select[name=planner]", "greedy");
        await page.ClickAsync("[data-testid=create-plan] button[type=submit]");
        // Planning runs as a Hangfire job; the waiting page refreshes itself until the review appears.
        await page.WaitForSelectorAsync("[data-testid=approve]", new() { Timeout = 3 * Patience });
        var reviewUrl = new Uri(page.Url).GetLeftPart(UriPartial.Path);
        Assert.Contains("GREEDY", await page.TextContentAsync("[data-testid=solver]"), StringComparison.Ordinal);
        var vms = Directory.EnumerateFiles(Path.Combine(inventory, "domains"), "*.xml", SearchOption.AllDirectories).Count();
        Assert.StartsWith($"{vms} of {vms} VMs", await page.TextContentAsync("[data-testid=vm-count]"), StringComparison.Ordinal);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "review.png"), FullPage = true });
        await page.ClickAsync("[data-testid=approve]");
        Assert.Contains("approved by admin", await page.TextContentAsync("[data-testid=flash]"), StringComparison.Ordinal);
        Assert.Contains("Approved", await page.TextContentAsync("[data-testid=approval]"), StringComparison.Ordinal);
        await Chromium.SignOutAsync(page);

        // Operator: start wave 1, confirm the reinstall gates as they come (live updates, no reload), reach 100 %.
        await Chromium.SignInAsync(page, server.Address, "operator");
        await page.GotoAsync(reviewUrl + "/run");
        await page.ClickAsync("[data-testid=start-wave-1]");
        Assert.Contains("wave 1 started", await page.TextContentAsync("[data-testid=flash]"), StringComparison.Ordinal);
        foreach (var host in new[] { "h1", "h3" })
        {
            var confirm = page.Locator($"[data-testid='confirm-host:{host}']");
            await confirm.WaitForAsync();
            await confirm.ClickAsync();
            Assert.Contains("gate confirmed", await page.TextContentAsync("[data-testid=flash]"), StringComparison.Ordinal);
        }

        await Assertions.Expect(page.Locator("[data-testid=wave-state-1]")).ToHaveTextAsync("completed", new() { Timeout = Patience });
        await Assertions.Expect(page.Locator("[data-testid=wave-progress-1]")).ToContainTextAsync("100 %");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "run-wave-1.png"), FullPage = true });

        // Rehearse a failure: the final sync of adh-002 fails for good in wave 2. The engine rolls the VM back by itself
        // (its earlier steps compensated newest first) while the page follows live.
        await page.FillAsync("[data-testid=fault-input]", "final-sync@adh-002:permanent");
        await page.ClickAsync("[data-testid=inject-fault]");
        await page.ClickAsync("[data-testid=start-wave-2]");
        await Assertions.Expect(page.Locator("[data-testid='state-vm:adh-002']")).ToHaveTextAsync("RolledBack", new() { Timeout = Patience });
        await Assertions.Expect(page.Locator("[data-testid=run-events]")).ToContainTextAsync("vm-rolled-back");
        var chips = await page.Locator("[data-testid='pipeline-vm:adh-002'] .chip").EvaluateAllAsync<string[]>("els => els.map(e => e.className)");
        Assert.DoesNotContain(chips, c => c.Contains("s-Succeeded", StringComparison.Ordinal));
        Assert.Contains(chips, c => c.Contains("s-Failed", StringComparison.Ordinal));
        Assert.Contains(chips, c => c.Contains("s-RolledBack", StringComparison.Ordinal));

        // The operator's own rollback: host h2 waits at its reinstall gate (drained, OSDs out); roll it back instead.
        await page.Locator("[data-testid='confirm-host:h2']").WaitForAsync();
        await page.FillAsync("[data-testid='rollback-reason-host:h2']", "reinstall postponed");
        await page.ClickAsync("[data-testid='rollback-host:h2']");
        Assert.Contains("host:h2 rolled back", await page.TextContentAsync("[data-testid=flash]"), StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("[data-testid=run-events]")).ToContainTextAsync("subject-rolled-back");
        var hostChips = await page.Locator("[data-testid='pipeline-host:h2'] .chip").EvaluateAllAsync<string[]>("els => els.map(e => e.className)");
        Assert.DoesNotContain(hostChips, c => c.Contains("s-Succeeded", StringComparison.Ordinal));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "run-rollback.png"), FullPage = true });
    }

    [Fact]
    public async Task A_viewer_sees_no_approve_or_start_button_and_a_forged_post_is_refused()
    {
        await using var server = await WebServer.StartAsync(simulate: true);
        var planId = server.AddGreedyPlan(server.CopySample("fleet-tiny"));
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        await Chromium.SignInAsync(page, server.Address, "viewer");

        await page.GotoAsync(new Uri(server.Address, $"/plans/{planId}").ToString());
        Assert.Equal(0, await page.Locator("[data-testid=approve]").CountAsync());
        await page.GotoAsync(new Uri(server.Address, $"/plans/{planId}/run").ToString());
        Assert.Equal(0, await page.Locator("[data-testid^=start-wave]").CountAsync());

        // The page's own token (from the sign-out form) does not give a viewer the operator's rights; no token is refused outright.
        var statuses = await page.EvaluateAsync<int[]>("""
            async (id) => {
              const token = document.querySelector('input[name=__af]').value;
              const post = (path, body) => fetch(path, { method: 'POST', body: new URLSearchParams(body), redirect: 'manual' }).then(r => r.status);
              return [
                await post(`/plans/${id}/approve`, { __af: token }),
                await post(`/plans/${id}/run/start`, { __af: token, wave: '1' }),
                await post(`/plans/${id}/run/start`, { wave: '1' }),
              ];
            }
            """, planId);
        Assert.Equal([403, 403, 400], statuses);
    }
}
