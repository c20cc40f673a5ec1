using System.CommandLine;
using Taquin.Cli.Commands;
using Taquin.Planner.Samples;

namespace Taquin.Cli.Tests.Commands;

public sealed class SamplesCommandsTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taquin-samples-" + Path.GetRandomFileName());

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand("taquin");
        root.Subcommands.Add(SamplesCommands.Build());
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private string[] WrittenFiles() => Directory.EnumerateFiles(_folder, "*", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(_folder, f).Replace(Path.DirectorySeparatorChar, '/'))
        .Order(StringComparer.Ordinal)
        .ToArray();

    [Fact]
    public void Generate_writes_the_generators_files_and_says_what_it_wrote()
    {
        var (exit, output, error) = Run("samples", "generate", "--seed", "9", "--vms", "30", "--hosts", "3", "-o", _folder);

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        var expected = FleetGenerator.Generate(new FleetGeneratorOptions { Seed = 9, Vms = 30, Hosts = 3 }).Files;
        Assert.Equal(expected.Keys, WrittenFiles());
        Assert.All(expected, f => Assert.Equal(f.Value, File.ReadAllText(Path.Combine(_folder, f.Key))));
        Assert.Contains("30 VMs on 3 hosts", output, StringComparison.Ordinal);
        Assert.Contains(_folder, output, StringComparison.Ordinal);
        Assert.Contains("30 domain XML files", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Generate_defaults_to_the_talks_fleet()
    {
        var (exit, output, _) = Run("samples", "generate", "-o", _folder);

        Assert.Equal(0, exit);
        Assert.Contains("216 VMs on 7 hosts of 128 GiB RAM", output, StringComparison.Ordinal);
        Assert.Equal(
            FleetGenerator.Generate(new FleetGeneratorOptions()).Files["volumes.json"],
            File.ReadAllText(Path.Combine(_folder, "volumes.json")));
    }

    [Fact]
    public void Generate_refuses_a_non_empty_folder_without_force_and_touches_nothing()
    {
        Directory.CreateDirectory(_folder);
        File.WriteAllText(Path.Combine(_folder, "notes.txt"), "mine");

        var (exit, output, error) = Run("samples", "generate", "--vms", "10", "--hosts", "3", "-o", _folder);

        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Contains("not empty", error, StringComparison.Ordinal);
        Assert.Contains("--force", error, StringComparison.Ordinal);
        Assert.Equal(["notes.txt"], WrittenFiles());
    }

    [Fact]
    public void Generate_with_force_replaces_a_previous_inventory_but_keeps_other_files()
    {
        Assert.Equal(0, Run("samples", "generate", "--seed", "1", "--vms", "20", "--hosts", "3", "-o", _folder).ExitCode);
        File.WriteAllText(Path.Combine(_folder, "notes.txt"), "mine");

        var (exit, _, _) = Run("samples", "generate", "--seed", "2", "--vms", "10", "--hosts", "3", "-o", _folder, "--force");

        Assert.Equal(0, exit);
        var expected = FleetGenerator.Generate(new FleetGeneratorOptions { Seed = 2, Vms = 10, Hosts = 3 }).Files.Keys.Append("notes.txt").Order(StringComparer.Ordinal);
        Assert.Equal(expected, WrittenFiles());
    }

    [Theory]
    [InlineData("--hosts", "1", "--hosts must be at least 2")]
    [InlineData("--vms", "0", "--vms must be at least 1")]
    [InlineData("--host-ram-gib", "8", "--host-ram-gib must exceed")]
    public void Generate_rejects_impossible_options_with_exit_code_2_and_writes_nothing(string option, string value, string message)
    {
        var (exit, _, error) = Run("samples", "generate", option, value, "-o", _folder);

        Assert.Equal(2, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_folder) && WrittenFiles().Length > 0);
    }

    [Fact]
    public void Generate_with_force_and_a_refused_option_keeps_the_previous_inventory()
    {
        Assert.Equal(0, Run("samples", "generate", "--vms", "20", "--hosts", "3", "-o", _folder).ExitCode);
        var before = WrittenFiles();

        var (exit, _, _) = Run("samples", "generate", "--hosts", "1", "-o", _folder, "--force");

        Assert.Equal(2, exit);
        Assert.Equal(before, WrittenFiles());
    }
}
