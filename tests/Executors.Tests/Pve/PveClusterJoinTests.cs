using Taquin.Executors.Adapters;
using Taquin.PveSimulator;

namespace Taquin.Executors.Tests.Pve;

/// <summary>Cluster creation and joining through the API, on a simulator whose nodes start standalone.</summary>
public sealed class PveClusterJoinTests : IAsyncLifetime
{
    private readonly SimulatedPveCluster pve = new()
    {
        Configure = dir => new PveSimulatorOptions
        {
            DataDirectory = dir,
            Clustered = false,
            ApiTokens = new Dictionary<string, string>(StringComparer.Ordinal) { [SimulatedPveCluster.TokenId] = SimulatedPveCluster.TokenSecret },
        },
    };

    public Task InitializeAsync() => pve.InitializeAsync();

    public Task DisposeAsync() => pve.DisposeAsync();

    [Fact]
    public async Task A_standalone_node_reports_no_cluster_until_it_creates_one()
    {
        using var client = pve.TokenClient();
        Assert.Empty(await client.GetClusterNodesAsync());

        var upid = await client.JoinClusterAsync("pve1", peer: null);

        Assert.Contains(":clustercreate:taquin:", upid, StringComparison.Ordinal);
        Assert.True((await client.WaitForTaskAsync("pve1", upid, TimeSpan.FromSeconds(30))).Succeeded);
        Assert.Equal(["pve1"], await client.GetClusterNodesAsync());
    }

    [Fact]
    public async Task Joining_a_peer_without_its_password_and_fingerprint_is_refused_before_any_call()
    {
        using var client = pve.TokenClient();

        var error = await Assert.ThrowsAsync<PveApiException>(() => client.JoinClusterAsync("pve2", "pve1"));

        Assert.False(error.IsTransient);
        Assert.Contains("root password and certificate fingerprint", error.Message, StringComparison.Ordinal);
    }
}
