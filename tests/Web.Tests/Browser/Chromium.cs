using Microsoft.Playwright;

namespace Taquin.Web.Tests.Browser;

/// <summary>
/// Headless Chromium from Debian's `chromium` package driven by Playwright (no browser download): the test fails
/// with the command to run when it is missing.
/// </summary>
internal static class Chromium
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        Assert.True(File.Exists(ExecutablePath),
            $"the browser tests drive Debian's Chromium at {ExecutablePath}, which is missing: run `scripts/install-deps.sh` as root (or `apt-get install -y chromium`)");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
        return (playwright, browser);
    }

    public static async Task SignInAsync(IPage page, Uri server, string user)
    {
        await page.GotoAsync(new Uri(server, "/login").ToString());
        await page.FillAsync("input[name=username]", user);
        await page.FillAsync("input[name=password]", user + "-password");
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync("**/plans");
    }

    public static async Task SignOutAsync(IPage page)
    {
        await page.ClickAsync("header button:has-text('Sign out')");
        await page.WaitForURLAsync("**/login");
    }
}
