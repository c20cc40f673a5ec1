namespace Taquin.Planner.Samples;

/// <summary>What fleet to generate. The defaults give the fleet of the talk: 216 VMs on 7 hosts.</summary>
public sealed record FleetGeneratorOptions
{
    public const int DefaultSeed = 1;
    public const int DefaultVms = 216;
    public const int DefaultHosts = 7;

    /// <summary>Same seed, same options: byte-identical output.</summary>
    public long Seed { get; init; } = DefaultSeed;
    public int Vms { get; init; } = DefaultVms;
    public int Hosts { get; init; } = DefaultHosts;

    /// <summary>RAM of every host in GiB; null picks 128 GiB, or the next common size when the VMs need more.</summary>
    public int? HostRamGiB { get; init; }

    /// <summary>The fleet policy's RAM reserve per host, in GiB.</summary>
    public int RamReservePerHostGiB { get; init; } = 16;

    /// <summary>
    /// Total VM RAM stays at or below this fraction of what (hosts − 1) hosts offer after the reserve,
    /// so any one host can always be emptied with room to spare.
    /// </summary>
    public double MaxRamFillOnHostsMinusOne { get; init; } = 0.75;

    /// <summary>
    /// Used bytes of RBD images per VM: the talk's 80 TB raw used at size 3 over 216 VMs.
    /// Old-Ceph raw capacity scales with it (180 TB raw for 80 TB raw used).
    /// </summary>
    public long RbdUsedBytesPerVm { get; init; } = 80_000_000_000_000L / 3 / 216;

    /// <summary>Old-Ceph raw capacity over raw used (180 TB / 80 TB in the talk).</summary>
    public double OldCephRawOverRawUsed { get; init; } = 180.0 / 80.0;

    internal void Validate()
    {
        if (Vms < 1)
        {
            throw new ArgumentException($"--vms must be at least 1 (got {Vms}).");
        }

        if (Hosts < 2)
        {
            throw new ArgumentException($"--hosts must be at least 2 so one host can be emptied (got {Hosts}).");
        }

        if (Hosts > 999)
        {
            throw new ArgumentException($"--hosts must be at most 999 (got {Hosts}).");
        }

        if (Vms > 100_000)
        {
            throw new ArgumentException($"--vms must be at most 100000 (got {Vms}).");
        }

        if (HostRamGiB is { } ram && ram <= RamReservePerHostGiB)
        {
            throw new ArgumentException($"--host-ram-gib must exceed the {RamReservePerHostGiB} GiB reserve (got {ram}).");
        }

        if (MaxRamFillOnHostsMinusOne is <= 0 or > 1)
        {
            throw new ArgumentException($"The RAM fill ratio must be in (0, 1] (got {MaxRamFillOnHostsMinusOne}).");
        }
    }
}
