using Taquin.Planner.Pve;

namespace Taquin.Planner.Tests.Pve;

/// <summary>The real PVE 9.1 schema (schemas/pve-api/pve-apidata.json, copied beside the tests), parsed once.</summary>
internal static class RealPveSchema
{
    private static readonly Lazy<PveApiSchema> Schema = new(() =>
        PveApiSchema.LoadFile(Path.Combine(AppContext.BaseDirectory, "pve-api", "pve-apidata.json")));

    public static PveApiSchema Instance => Schema.Value;

    public const string CreateVm = "/nodes/{node}/qemu";

    /// <summary>Problems PVE would report for a create request with these parameters (vmid added when absent).</summary>
    public static IReadOnlyList<PveParameterProblem> CheckCreate(IReadOnlyDictionary<string, string> parameters)
    {
        var withVmid = new Dictionary<string, string>(parameters);
        withVmid.TryAdd("vmid", "100");
        return Instance.ValidateParameters(CreateVm, "POST", withVmid);
    }

    public static IReadOnlyList<PveParameterProblem> CheckCreate(params (string Key, string Value)[] parameters)
        => CheckCreate(parameters.ToDictionary(p => p.Key, p => p.Value));
}
