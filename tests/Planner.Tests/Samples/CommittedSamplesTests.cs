using Taquin.Planner.Samples;
using Taquin.Tests.Shared;

namespace Taquin.Planner.Tests.Samples;

/// <summary>The committed sample inventories are exactly what the generator prints: they never drift.</summary>
public sealed class CommittedSamplesTests
{
    public static TheoryData<string, int, int, int, int?> Samples => new()
    {
        // folder, seed, vms, hosts, host RAM (GiB) — the commands in samples/README.md
        { "fleet-216", 1, 216, 7, null },
        { "fleet-tiny", 5, 12, 4, 32 },
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public void Committed_sample_equals_a_fresh_generation(string folder, int seed, int vms, int hosts, int? hostRamGiB)
    {
        var root = Path.Combine(RepositoryPaths.Root, "samples", folder);
        var expected = FleetGenerator.Generate(new FleetGeneratorOptions { Seed = seed, Vms = vms, Hosts = hosts, HostRamGiB = hostRamGiB }).Files;

        var committed = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.Equal(expected.Keys, committed);
        foreach (var (path, content) in expected)
        {
            // Compare bytes: a checkout that rewrote line endings or encoding is drift too.
            Assert.True(
                File.ReadAllBytes(Path.Combine(root, path)).AsSpan().SequenceEqual(System.Text.Encoding.UTF8.GetBytes(content)),
                $"samples/{folder}/{path} differs from the generator's output; regenerate it (samples/README.md).");
        }
    }

    [Fact]
    public void Tiny_fleet_matches_the_figures_its_readme_states()
    {
        var facts = InventoryFacts.Read(FleetGenerator.Generate(new FleetGeneratorOptions { Seed = 5, Vms = 12, Hosts = 4, HostRamGiB = 32 }).Files);
        Assert.Equal(4, facts.Hosts.Count);
        Assert.Equal(12, facts.Vms.Count);
        Assert.Equal(21L * 1024 * 1024 * 1024, facts.TotalVmRam);
        // 3 hosts × (32 − 16) GiB = 48 GiB: any one host can be emptied.
        Assert.True(facts.TotalVmRam <= 0.75 * 3 * 16L * 1024 * 1024 * 1024);
        Assert.Single(facts.Files);
        Assert.Equal("h2", Assert.Single(facts.Vms, v => v.Ovmf).Host);
        Assert.Equal("h4", Assert.Single(facts.Files.Keys).Host);
    }
}
