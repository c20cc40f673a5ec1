namespace Taquin.Executors.Steps;

/// <summary>The step types, kebab-case as stored in the journal, and the pipelines they form.</summary>
public static class StepTypes
{
    public const string Preflight = "preflight";
    public const string CreateTargetVm = "create-target-vm";
    public const string CopyDisks = "copy-disks";
    public const string ShutdownSource = "shutdown-source";
    public const string FinalSync = "final-sync";
    public const string Network = "network";
    public const string StartTarget = "start-target";
    public const string Verify = "verify";
    public const string Commit = "commit";
    public const string LiveMigrate = "live-migrate";
    public const string PveLiveMigrate = "pve-live-migrate";
    public const string PveMoveDisk = "pve-move-disk";

    public const string DisablePlacement = "disable-placement";
    public const string Drain = "drain";
    public const string CephOsdsOut = "ceph-osds-out";
    public const string GateReinstall = "gate-reinstall";
    public const string VerifyNode = "verify-node";
    public const string JoinCluster = "join-cluster";
    public const string CreateStorage = "create-storage";
    public const string CreatePveCeph = "create-pve-ceph";

    /// <summary>A VM's move to PVE, in order.</summary>
    public static IReadOnlyList<string> MoveToPvePipeline { get; } =
        [Preflight, CreateTargetVm, CopyDisks, ShutdownSource, FinalSync, Network, StartTarget, Verify, Commit];

    /// <summary>A host's conversion to PVE, in order.</summary>
    public static IReadOnlyList<string> ConvertHostPipeline { get; } =
        [DisablePlacement, Drain, CephOsdsOut, GateReinstall, VerifyNode, JoinCluster, CreateStorage];
}
