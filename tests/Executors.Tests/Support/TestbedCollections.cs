namespace Taquin.Executors.Tests.Support;

/// <summary>
/// Test classes sharing one test bed daemon run one after another: the drain test checks that libvirt host lv1 is
/// empty, and the Ceph tests change OSD states and the nearfull ratio of the one cluster (so every class that writes
/// RBD images joins the Ceph collection: the OSD-out tests' live capacity forecast must not see data come and go).
/// </summary>
public static class TestbedCollections
{
    public const string Libvirt = "test bed libvirt";
    public const string Ceph = "test bed ceph";
}

[CollectionDefinition(TestbedCollections.Libvirt)]
public sealed class LibvirtTestbedGroup;

[CollectionDefinition(TestbedCollections.Ceph)]
public sealed class CephTestbedGroup;
