using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// The conversion stage of every convertible host as exactly-one booleans over stages 1..T, and the
/// host state they imply. Shared by the host-level models (stage relaxation, decomposition).
/// </summary>
internal sealed class HostConversionVariables
{
    private readonly int stages;

    public HostConversionVariables(CpModel model, IEnumerable<SolverHost> hosts, int stages)
    {
        this.stages = stages;
        foreach (var h in hosts.Where(h => h.Convertible))
        {
            var options = new List<BoolVar>();
            for (var s = 1; s <= stages; s++)
            {
                Conv[(h.Index, s)] = model.NewBoolVar($"conv_{h.Index}_{s}");
                options.Add(Conv[(h.Index, s)]);
            }

            model.AddExactlyOne(options);
        }
    }

    /// <summary>conv[(host, s)]: the host is converting during wave s.</summary>
    public Dictionary<(int Host, int Stage), BoolVar> Conv { get; } = [];

    /// <summary>1 when the host runs PVE at stage s (it converted in an earlier wave).</summary>
    public LinearExpr Pve(SolverHost h, int s) => h.AlreadyPve ? LinearExpr.Constant(1) : !h.Convertible ? LinearExpr.Constant(0)
        : LinearExpr.Sum(Enumerable.Range(1, s - 1).Select(k => Conv[(h.Index, k)]));

    /// <summary>1 when the host still runs libvirt at stage s (it converts in a later wave).</summary>
    public LinearExpr Libvirt(SolverHost h, int s) => h.AlreadyPve ? LinearExpr.Constant(0) : !h.Convertible ? LinearExpr.Constant(1)
        : LinearExpr.Sum(Enumerable.Range(s + 1, stages - s).Select(k => Conv[(h.Index, k)]));
}
