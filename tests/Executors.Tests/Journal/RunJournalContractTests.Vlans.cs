using Taquin.Executors.Journal;
using Taquin.Executors.Tests.Support;

namespace Taquin.Executors.Tests.Journal;

/// <summary>VLAN allocation (docs/adr/0009): one VLAN per VM, never shared, stable, atomic across workers.</summary>
public abstract partial class RunJournalContractTests
{
    [ContractFact]
    public async Task A_vm_gets_the_lowest_free_vlan_and_keeps_it_on_every_later_request()
    {
        Assert.Equal(100, await Journal.AllocateVlanAsync("web-01", 100, 199, "worker-a"));
        Assert.Equal(101, await Journal.AllocateVlanAsync("db-01", 100, 199, "worker-a"));
        Assert.Equal(100, await Journal.AllocateVlanAsync("web-01", 100, 199, "worker-b"));

        var allocations = await Journal.GetVlanAllocationsAsync();
        Assert.Equal([(100, "web-01", "worker-a"), (101, "db-01", "worker-a")], allocations.Select(a => (a.Vlan, a.Vm, a.AllocatedBy)));
        Assert.All(allocations, a => Assert.Equal(Start, a.AllocatedAt));
    }

    [ContractFact]
    public async Task A_re_plan_with_another_range_keeps_the_vlans_already_held_and_skips_them()
    {
        await Journal.AllocateVlanAsync("web-01", 100, 199, "plan-1");
        await Journal.AllocateVlanAsync("db-01", 100, 199, "plan-1");

        var second = Open();
        Assert.Equal(100, await second.AllocateVlanAsync("web-01", 101, 300, "plan-2"));
        Assert.Equal(102, await second.AllocateVlanAsync("mail-01", 101, 300, "plan-2"));
    }

    [ContractFact]
    public async Task A_full_range_is_refused_with_the_fix_and_a_released_vlan_goes_to_the_next_vm()
    {
        await Journal.AllocateVlanAsync("a", 10, 11, "w");
        await Journal.AllocateVlanAsync("b", 10, 11, "w");

        var full = await Assert.ThrowsAsync<VlanRangeExhaustedException>(() => Journal.AllocateVlanAsync("c", 10, 11, "w"));
        Assert.Contains("10..11", full.Message, StringComparison.Ordinal);
        Assert.Contains("policy.vlanRange", full.Message, StringComparison.Ordinal);

        Assert.True(await Journal.ReleaseVlanAsync("a"));
        Assert.False(await Journal.ReleaseVlanAsync("a"));
        Assert.Equal(10, await Journal.AllocateVlanAsync("c", 10, 11, "w"));
        Assert.Equal([(10, "c"), (11, "b")], (await Journal.GetVlanAllocationsAsync()).Select(a => (a.Vlan, a.Vm)));
    }

    [ContractFact]
    public async Task Two_workers_allocating_the_same_vms_at_once_never_share_a_vlan_and_agree_on_each_vm()
    {
        // Two journal instances on one store: two processes' worth of connections racing for the same VMs.
        const int Vms = 40;
        var workers = new[] { Open(), Open() };
        var names = Enumerable.Range(0, Vms).Select(i => $"vm-{i:D2}").ToList();
        var results = await Task.WhenAll(workers.Select((journal, w) => Task.Run(async () =>
        {
            var order = w == 0 ? names : Enumerable.Reverse(names);
            var got = new Dictionary<string, int>(StringComparer.Ordinal);
            await Parallel.ForEachAsync(order, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (vm, ct) =>
            {
                var vlan = await journal.AllocateVlanAsync(vm, 1000, 1000 + Vms - 1, $"worker-{w}", ct);
                lock (got)
                {
                    got[vm] = vlan;
                }
            });
            return got;
        })));

        Assert.Equal(results[0].OrderBy(kv => kv.Key, StringComparer.Ordinal), results[1].OrderBy(kv => kv.Key, StringComparer.Ordinal));
        var stored = await Journal.GetVlanAllocationsAsync();
        Assert.Equal(Enumerable.Range(1000, Vms), stored.Select(a => a.Vlan));
        Assert.Equal(names.Order(StringComparer.Ordinal), stored.Select(a => a.Vm).Order(StringComparer.Ordinal));
        Assert.All(stored, a => Assert.Equal(results[0][a.Vm], a.Vlan));
    }
}
