namespace Taquin.Planner.Samples;

/// <summary>An inventory folder held in memory: relative path ('/' separated) to file content.</summary>
public sealed class GeneratedInventory
{
    internal GeneratedInventory(IReadOnlyDictionary<string, string> files, GeneratedFleetSummary summary)
    {
        Files = files;
        Summary = summary;
    }

    /// <summary>fleet.yaml, volumes.json, runtime.json and domains/&lt;host&gt;/&lt;vm&gt;.xml, in ordinal path order.</summary>
    public IReadOnlyDictionary<string, string> Files { get; }

    public GeneratedFleetSummary Summary { get; }

    /// <summary>Writes every file under <paramref name="folder"/> (UTF-8, no BOM). The only place the generator touches disk.</summary>
    public void WriteTo(string folder)
    {
        var utf8 = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        foreach (var (relative, content) in Files)
        {
            var path = Path.Combine(folder, relative.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, content, utf8);
        }
    }
}

/// <summary>Aggregate figures of a generated fleet, for the CLI's report.</summary>
public sealed record GeneratedFleetSummary(
    int Hosts,
    int Vms,
    long HostRamBytes,
    long RamReservePerHostBytes,
    long TotalVmRamBytes,
    long RbdProvisionedBytes,
    long RbdUsedBytes,
    long FileUsedBytes,
    long OldCephRawBytes,
    int PoolSize,
    IReadOnlyDictionary<string, long> VmRamByHost)
{
    /// <summary>Total VM RAM over what (hosts − 1) hosts offer after the reserve.</summary>
    public double RamFillOnHostsMinusOne => (double)TotalVmRamBytes / ((Hosts - 1) * (HostRamBytes - RamReservePerHostBytes));

    public long OldCephRawUsedBytes => RbdUsedBytes * PoolSize;
}
