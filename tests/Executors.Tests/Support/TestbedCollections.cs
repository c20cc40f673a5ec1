namespace Taquin.Executors.Tests.Support;

/// <summary>
/// Test classes sharing one test bed daemon run one after another: the drain test checks that libvirt host lv1 is
/// empty (<see cref="Libvirt"/>). Every class that writes RBD images is in one of the two Ceph collections, which may run
/// beside each other: <see cref="CephGuests"/> holds the classes whose PVE simulators name RBD volumes vm-VMID-disk-N
/// from VMID 100 up (the same names: one class at a time), <see cref="Ceph"/> the movers and the rest, whose images have
/// names of their own and whose TCP ports are fixed per test and distinct. The tests that set OSDs out and change the
/// nearfull ratio are in <see cref="CephOsds"/>, which xUnit runs after every parallel collection and alone: the OSD-out
/// tests' live capacity forecast must not see data come and go, and no other test may see an OSD out.
/// </summary>
public static class TestbedCollections
{
    public const string Libvirt = "test bed libvirt";
    public const string Ceph = "test bed ceph";
    public const string CephGuests = "test bed ceph, PVE simulator volumes";
    public const string CephOsds = "test bed ceph OSD states, alone";
}

[CollectionDefinition(TestbedCollections.Libvirt)]
public sealed class LibvirtTestbedGroup;

[CollectionDefinition(TestbedCollections.Ceph)]
public sealed class CephTestbedGroup;

[CollectionDefinition(TestbedCollections.CephGuests)]
public sealed class CephGuestsTestbedGroup;

[CollectionDefinition(TestbedCollections.CephOsds, DisableParallelization = true)]
public sealed class CephOsdsTestbedGroup;
