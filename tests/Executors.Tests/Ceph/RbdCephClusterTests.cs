using System.Security.Cryptography;
using Taquin.Executors.Adapters;
using Taquin.Executors.Ceph;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Ceph;

/// <summary>ceph/rbd against the test bed's cluster (pool size 1).</summary>
[Collection(TestbedCollections.Ceph)]
public sealed class RbdCephClusterTests
{
    private readonly ISshRunner _runner = TestbedHosts.Runner();

    private RbdCephCluster Ceph() => new(_runner, TestbedHosts.CephOptions());

    [IntegrationFact]
    public async Task The_cluster_reports_health_usage_and_its_OSDs()
    {
        var ceph = Ceph();

        var health = await ceph.WaitHealthyAsync(TimeSpan.FromMinutes(2));
        var usage = await ceph.GetUsageAsync();
        var osds = await ceph.ListOsdsAsync();

        Assert.True(health.IsOk, string.Join("; ", health.Checks));
        Assert.True(usage.TotalBytes >= osds.Count * 4L * 1024 * 1024 * 1024 * 99 / 100, $"{osds.Count} OSDs of 4 GiB, total {usage.TotalBytes}");
        Assert.InRange(usage.UsedBytes, 1, usage.TotalBytes);
        Assert.Equal(int.Parse(TestbedHosts.Require("TAQUIN_CEPH_OSDS"), System.Globalization.CultureInfo.InvariantCulture), osds.Count);
        Assert.All(osds, o => Assert.True(o.Up && o.Host.Length > 0));
    }

    [IntegrationFact]
    public async Task An_image_round_trips_through_export_import_and_diffs_with_equal_checksums()
    {
        var ceph = Ceph();
        var pool = TestbedHosts.CephPool;
        string source = $"{pool}/taquin-it-rt", copy = $"{pool}/taquin-it-rt-copy", diffCopy = $"{pool}/taquin-it-rt-diff", renamed = $"{pool}/taquin-it-rt-renamed";
        foreach (var image in new[] { source, copy, diffCopy, renamed })
        {
            await RemoveWithSnapshotsAsync(ceph, image);
        }

        var data = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        var expected = Convert.ToHexStringLower(SHA256.HashData(data));
        try
        {
            await ceph.ImportAsync(new MemoryStream(data), source);
            await ceph.CreateSnapshotAsync(source, "s1");
            await ceph.CreateSnapshotAsync(source, "s1");
            Assert.Equal(["s1"], await ceph.ListSnapshotsAsync(source));

            // The checksum is computed next to the cluster; it must match the bytes we wrote.
            Assert.Equal(expected, await ceph.ChecksumAsync(source, "s1"));
            using (var exported = new MemoryStream())
            {
                await ceph.ExportAsync(source, "s1", exported);
                Assert.Equal(expected, Convert.ToHexStringLower(SHA256.HashData(exported.ToArray())));
                exported.Position = 0;
                await ceph.ImportAsync(exported, copy);
            }

            await ceph.CreateSnapshotAsync(copy, "c");
            Assert.Equal(expected, await ceph.ChecksumAsync(copy, "c"));

            // export-diff from nothing to s1, applied to an empty image of the same size, recreates s1 there.
            using (var diff = new MemoryStream())
            {
                await ceph.ExportDiffAsync(source, null, "s1", diff);
                await TestbedHosts.RbdCliAsync(_runner, "create", "--size", "8", diffCopy);
                diff.Position = 0;
                await ceph.ImportDiffAsync(diff, diffCopy);
            }

            Assert.Contains("s1", await ceph.ListSnapshotsAsync(diffCopy));
            Assert.Equal(expected, await ceph.ChecksumAsync(diffCopy, "s1"));

            var usage = await ceph.GetImageUsageAsync(source);
            Assert.Equal(data.Length, usage.ProvisionedBytes);
            Assert.Contains(await ceph.ListImageUsageAsync(pool), u => u.Image == source && u.ProvisionedBytes == data.Length);

            await ceph.RenameImageAsync(copy, renamed);
            Assert.False(await ceph.ImageExistsAsync(copy));
            Assert.True(await ceph.ImageExistsAsync(renamed));

            var busy = await Assert.ThrowsAsync<CephCommandException>(() => ceph.RemoveImageAsync(renamed));
            Assert.False(busy.IsTransient);
            Assert.Contains("snapshot", busy.Message, StringComparison.OrdinalIgnoreCase);
            await ceph.RemoveSnapshotAsync(renamed, "c");
            await ceph.RemoveSnapshotAsync(renamed, "c");
            await ceph.RemoveImageAsync(renamed);
            await ceph.RemoveImageAsync(renamed);
            Assert.False(await ceph.ImageExistsAsync(renamed));
        }
        finally
        {
            foreach (var image in new[] { source, copy, diffCopy, renamed })
            {
                await RemoveWithSnapshotsAsync(ceph, image);
            }
        }
    }

    [IntegrationFact]
    public async Task Snapshotting_a_missing_image_fails_for_good_with_the_errno()
    {
        var error = await Assert.ThrowsAsync<CephCommandException>(() => Ceph().CreateSnapshotAsync("taquin-it-missing", "s"));

        Assert.Equal(2, error.Errno);
        Assert.False(error.IsTransient);
        Assert.Contains(TestbedHosts.CephAdmin, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rbd: error opening image x: (2) No such file or directory", 2, false)]
    [InlineData("rbd: delete error: (16) Device or resource busy", 16, true)]
    [InlineData("[errno 110] RADOS timed out (error connecting to the cluster)", null, true)]
    [InlineData("rbd: image has snapshots - these must be deleted with 'rbd snap purge' before the image can be removed.", null, false)]
    public void Ceph_errors_are_classified_from_their_errno_and_message(string stderr, int? errno, bool transient)
    {
        var error = CephErrors.From("admin", "rbd x", new SshResult(1, "", stderr));

        Assert.Equal(errno, error.Errno);
        Assert.Equal(transient, error.IsTransient);
    }

    [Fact]
    public void Rbd_du_lists_image_heads_and_leaves_snapshot_rows_out()
    {
        const string json = """
            {"images":[{"name":"a","id":"1","snapshot":"s1","snapshot_id":4,"provisioned_size":100,"used_size":40},
                       {"name":"a","id":"1","provisioned_size":100,"used_size":60},
                       {"name":"b","id":"2","provisioned_size":50,"used_size":0}],
             "total_provisioned_size":150,"total_used_size":60}
            """;

        var usage = RbdCephCluster.ParseDu(json, "libvirt");

        Assert.Equal([new RbdImageUsage("libvirt/a", 100, 60), new RbdImageUsage("libvirt/b", 50, 0)], usage);
    }

    [IntegrationFact]
    public async Task A_pool_listing_that_meets_an_image_removed_under_it_walks_the_pool_again()
    {
        using var testbed = new TestbedCeph();
        var image = testbed.CreateImage("taquin-it-du", 8L * 1024 * 1024);
        // rbd du fails with ENOENT when an image it listed is removed before its turn: the first walks meet that race.
        var racing = new PoolWalkRacingRunner(_runner, failures: RbdCephCluster.PoolListingTries - 1);

        var usage = await new RbdCephCluster(racing, TestbedHosts.CephOptions()).ListImageUsageAsync(testbed.Pool);

        Assert.Contains(usage, u => u.Image == image && u.ProvisionedBytes == 8L * 1024 * 1024);
        Assert.Equal(RbdCephCluster.PoolListingTries, racing.PoolWalks);
        var always = new PoolWalkRacingRunner(_runner, failures: int.MaxValue);
        var error = await Assert.ThrowsAsync<CephCommandException>(() => new RbdCephCluster(always, TestbedHosts.CephOptions()).ListImageUsageAsync(testbed.Pool));
        Assert.Equal(2, error.Errno);
        Assert.Contains("No such file or directory", error.Message, StringComparison.Ordinal);
        Assert.Equal(RbdCephCluster.PoolListingTries, always.PoolWalks);
    }

    /// <summary>Answers the first <c>rbd du --pool</c> calls as rbd does when an image vanished mid-walk; runs the rest for real.</summary>
    private sealed class PoolWalkRacingRunner(ISshRunner inner, int failures) : ISshRunner
    {
        public int PoolWalks { get; private set; }

        public Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default)
        {
            if (argv[0] == "rbd" && argv.Contains("du") && argv.Contains("--pool") && ++PoolWalks <= failures)
            {
                return Task.FromResult(new SshResult(2, "", "rbd: du failed: (2) No such file or directory"));
            }

            return inner.RunAsync(host, argv, stdin, ct);
        }

        public Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default)
            => inner.RunStreamingAsync(host, argv, stdin, stdout, ct);
    }

    private static async Task RemoveWithSnapshotsAsync(RbdCephCluster ceph, string image)
    {
        if (!await ceph.ImageExistsAsync(image))
        {
            return;
        }

        foreach (var snapshot in await ceph.ListSnapshotsAsync(image))
        {
            await ceph.RemoveSnapshotAsync(image, snapshot);
        }

        await ceph.RemoveImageAsync(image);
    }
}
