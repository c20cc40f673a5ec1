using Taquin.Planner.Inventory;
using Taquin.Planner.Libvirt;
using Taquin.Planner.Tests.Pve;
using Taquin.Planner.Translation;
using Taquin.Tests.Shared;

namespace Taquin.Planner.Tests.Translation;

/// <summary>
/// Every VM of the committed samples, translated as Taquin would create it on Proxmox VE, is a request
/// the real PVE 9.1 API accepts: each key exists for POST /nodes/{node}/qemu, enums and ranges hold,
/// property-string sub-keys exist.
/// </summary>
public sealed class SampleTranslationTests
{
    public static TheoryData<string, DiskAllocation> Fleets => new()
    {
        { "fleet-216", DiskAllocation.Placeholder },
        { "fleet-216", DiskAllocation.ImportFromSource },
        { "fleet-tiny", DiskAllocation.Placeholder },
        { "fleet-tiny", DiskAllocation.ImportFromSource },
    };

    [Theory]
    [MemberData(nameof(Fleets))]
    public void Every_sample_vm_translates_to_parameters_the_real_pve_schema_accepts(string fleet, DiskAllocation disks)
    {
        var loaded = InventoryLoader.Load(RepositoryPaths.Sample(fleet));
        var inventory = Assert.IsType<FleetInventory>(loaded.Inventory);
        Assert.DoesNotContain(loaded.Diagnostics, d => d.Severity == Diagnostics.Severity.Error);

        var problems = new List<string>();
        var vlan = 100;
        foreach (var vm in inventory.Vms)
        {
            var config = PveTranslator.Translate(vm, new TranslationTarget
            {
                Node = "pve1",
                DiskStorage = "local-zfs",
                VlanTag = vlan++,
                Disks = disks,
                OldCephStorage = "old-ceph",
            });
            Assert.False(config.IsRefused, $"{vm.Name}: {string.Join("; ", config.Refusals)}");
            problems.AddRange(RealPveSchema.CheckCreate(config.Params).Select(p => $"{vm.Name}: {p.Parameter}: {p.Message.Trim()}"));

            // Guest-visible identity survives: every MAC and the SMBIOS UUID are in the request.
            foreach (var mac in vm.Domain.Interfaces.Select(i => i.Mac).OfType<string>())
            {
                Assert.Contains(config.Params.Values, v => v.Contains(mac, StringComparison.OrdinalIgnoreCase));
            }

            Assert.Contains(vm.Domain.Uuid.ToString(), config.Params["smbios1"], StringComparison.OrdinalIgnoreCase);
        }

        Assert.Empty(problems);
        Assert.Equal(fleet == "fleet-216" ? 216 : 12, inventory.Vms.Count);
    }

    public static TheoryData<string> EdgeCases => new(
        Directory.GetFiles(RepositoryPaths.Sample("libvirt-xml"), "*.xml").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(EdgeCases))]
    public void Each_hand_written_edge_case_translates_cleanly_or_is_refused_with_a_reason(string file)
    {
        var path = Path.Combine(RepositoryPaths.Sample("libvirt-xml"), file);
        var parsed = DomainXmlParser.Parse(File.ReadAllText(path), file);
        var domain = Assert.IsType<LibvirtDomain>(parsed.Domain);
        Assert.False(parsed.HasErrors, string.Join("; ", parsed.Diagnostics));

        // Sizes are not in domain XML; give every source one so only the domain itself decides the outcome.
        var vm = new VmRecord
        {
            Domain = domain,
            Host = "h1",
            SourceFile = file,
            Disks = domain.Disks.Where(d => d.VolumeKey is not null)
                .Select(d => new VmDisk(d, new VolumeInfo(20L * ByteSize.GiB, 5L * ByteSize.GiB))).ToList(),
        };
        var config = PveTranslator.Translate(vm, new TranslationTarget { Node = "pve1", DiskStorage = "local-zfs", VlanTag = 42 });

        var expectedRefusal = file switch
        {
            "hostdev-gpu.xml" => "HOSTDEV",
            "virtiofs-share.xml" => "FILESYSTEM_SHARE",
            _ => null,
        };
        if (expectedRefusal is null)
        {
            Assert.False(config.IsRefused, string.Join("; ", config.Refusals));
            Assert.Empty(RealPveSchema.CheckCreate(config.Params));
        }
        else
        {
            Assert.Contains(config.Refusals, r => r.Code == expectedRefusal);
            // A refusal tells the admin what to do, not only what is wrong.
            Assert.All(config.Refusals, r => Assert.Matches("(Detach|Replace|migrate this VM by hand)", r.Message));
        }
    }
}
