using Taquin.Executors.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestCollectionOrderer("Taquin.Executors.Tests.Support.TestbedCollectionOrderer", "Taquin.Executors.Tests")]

namespace Taquin.Executors.Tests.Support;

/// <summary>
/// Starts the test bed collections first, the longest (Ceph) before libvirt, then every other collection in xUnit's
/// default order. The Ceph collection runs its classes one after another and is most of the project's wall time; left
/// in the default order it waited ~30 s behind unit-test collections for one of the two test threads, which then
/// finished with nothing left to run beside it.
/// </summary>
public sealed class TestbedCollectionOrderer : ITestCollectionOrderer
{
    private static readonly string[] First = [TestbedCollections.Ceph, TestbedCollections.Libvirt];

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections)
        => new DefaultTestCollectionOrderer().OrderTestCollections(testCollections)
            .OrderBy(c => Array.IndexOf(First, c.DisplayName) is var i and >= 0 ? i : First.Length);
}
