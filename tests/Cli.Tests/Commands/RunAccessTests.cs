using System.CommandLine;
using Spectre.Console;
using Taquin.Cli.Commands;
using Taquin.Tests.Shared;

namespace Taquin.Cli.Tests.Commands;

/// <summary>`taquin run` and `taquin worker` with --access FILE: the real adapters' entry, checked before anything runs.</summary>
public sealed class RunAccessTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("taquin-access-run-").FullName;
    private readonly string _inventory = RepositoryPaths.Sample("fleet-tiny");
    private readonly string _plan;

    public RunAccessTests() => _plan = Path.Combine(_folder, "plan.json");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static Task<int> InvokeAsync(Command command, params string[] args) => new RootCommand { command }.Parse(args).InvokeAsync();

    private async Task<(int Exit, string Text)> RunAsync(Func<IAnsiConsole, Command> build, params string[] args)
    {
        using var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 400;
        var exit = await new RootCommand { build(console) }.Parse(args).InvokeAsync();
        return (exit, output.ToString());
    }

    private async Task PlanAsync()
    {
        Assert.Equal(0, await InvokeAsync(PlanCommands.Build(solver: null), "plan", _inventory, "--greedy", "-o", _plan));
    }

    private string Access(string yaml)
    {
        var path = Path.Combine(_folder, "access.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private string[] Files() => [.. Directory.GetFiles(_folder).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    [Fact]
    public async Task Simulate_and_access_together_are_refused()
    {
        await PlanAsync();

        var (exit, text) = await RunAsync(c => RunCommands.Build(RunInputs.Default, c),
            "run", "start", _plan, "--wave", "1", "--inventory", _inventory, "--simulate", "--access", Access("{}"));

        Assert.Equal(2, exit);
        Assert.Contains("exclude each other", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_access_file_is_reported_with_line_key_and_fix_and_nothing_is_created()
    {
        await PlanAsync();
        var access = Access("""
            ssh:
              identityFile: /nonexistent/key
            ceph:
              adminHost: kvm9
            """);

        var (exit, text) = await RunAsync(c => RunCommands.Build(RunInputs.Default, c),
            "run", "start", _plan, "--wave", "1", "--inventory", _inventory, "--access", access);

        Assert.Equal(2, exit);
        Assert.Contains("2:17 <ssh.identityFile>", text, StringComparison.Ordinal);
        Assert.Contains("4:14 <ceph.adminHost> (value 'kvm9'): 'kvm9' is not a host of fleet.yaml.", text, StringComparison.Ordinal);
        Assert.Contains("fix:", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.Equal(["access.yaml", "plan.json"], Files());
    }

    [Fact]
    public async Task An_access_file_without_a_pve_section_says_what_to_add()
    {
        await PlanAsync();
        var key = Path.Combine(_folder, "key");
        File.WriteAllText(key, "not used: the run stops before connecting");
        var access = Access($"""
            ssh: {"{"} identityFile: {key} {"}"}
            ceph: {"{"} adminHost: h1 {"}"}
            """);

        var (exit, text) = await RunAsync(c => RunCommands.Build(RunInputs.Default, c),
            "run", "start", _plan, "--wave", "1", "--inventory", _inventory, "--access", access);

        Assert.Equal(2, exit);
        Assert.Contains("no pve: section", text, StringComparison.Ordinal);
        Assert.Contains("tokenSecretFile", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_worker_takes_access_too_and_reports_its_problems_the_same_way()
    {
        await PlanAsync();
        var access = Access("pve: { url: 'http://pve1:8006', tokenId: root@pam!t, tokenSecret: hunter2 }\n");

        var (exit, text) = await RunAsync(c => WorkerCommands.Build(WorkerInputs.Default, c),
            "worker", "--plan", _plan, "--inventory", _inventory, "--access", access);

        Assert.Equal(2, exit);
        Assert.Contains("<pve.url>", text, StringComparison.Ordinal);
        Assert.Contains("<pve.tokenSecret>", text, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
    }
}
