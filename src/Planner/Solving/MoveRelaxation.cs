using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// A relaxation with the crossing stage of every VM but no placement: the conversion stage of every host,
/// on[v,s] = VM v is on PVE at stage s, and each capacity summed over the hosts in the state that offers it.
/// A VM that has not crossed when its home host converts must have left that host by a live migration, so the
/// fewest such VMs bounds the live migrations of every plan within that many stages, and "no schedule within T
/// stages" proves that no plan has T stages. Arguments: docs/planner-model.md, "Live-migration lower bound".
/// </summary>
internal static class MoveRelaxation
{
    /// <summary>Largest VMs × stages for which the per-VM relaxation is built (bigger fleets keep the older bounds).</summary>
    public const long MaxVmStages = 6_000;

    public static bool Fits(PlanningProblem problem, int stages) => (long)problem.Vms.Count * stages <= MaxVmStages;

    /// <summary>
    /// The smallest T in [lower, upper) this relaxation does not rule out, or upper when it rules all out. A probe
    /// that times out rules nothing out, so the result is always a proven bound. <paramref name="problem"/>: the
    /// inventory rounded for bounds (<see cref="PlanningProblem.ForBounds"/>), so the bound holds for plans in bytes.
    /// Each probe minimizes the live migrations, so the one that admits T also gives T's live-migration bound and best
    /// schedule (<paramref name="admitted"/>; null when it timed out without a schedule or all were ruled out).
    /// </summary>
    public static int RaiseLowerBound(SearchContext context, PlanningProblem problem, int lower, int upper, double deterministicSeconds, out MoveBound? admitted)
    {
        admitted = null;
        var t = lower;
        for (; t < upper && Fits(problem, t); t++)
        {
            var model = new CpModel();
            var relaxation = Build(model, problem, t);
            model.Minimize(relaxation.MustMigrate);
            var (status, solver) = context.Solve(model, deterministicSeconds, fineBatches: true);
            context.Log.Add($"move relaxation T={t}: {status}");
            if (status != CpSolverStatus.Infeasible)
            {
                admitted = ToBound(problem, relaxation, t, status, solver);
                return t;
            }
        }

        return t;
    }

    /// <summary>
    /// The fewest live migrations of any plan with at most <paramref name="stages"/> stages, as proven by the
    /// solver's objective bound (valid even when the search stops early); null when nothing was proven.
    /// </summary>
    /// <param name="hint">The schedule (conversion stage per host) of a plan with these stages, to start the search from.</param>
    public static MoveBound? LiveMigrationBound(
        SearchContext context, PlanningProblem problem, int stages, double deterministicSeconds, bool secondHops = false, IReadOnlyList<int?>? hint = null)
    {
        if (!Fits(problem, stages))
        {
            return null;
        }

        var model = new CpModel();
        var relaxation = Build(model, problem, stages, secondHops);
        // The plan's schedule as a start: within its short limit the search begins near a schedule known to pack.
        if (hint is not null)
        {
            foreach (var ((h, s), conv) in relaxation.Conversion.Conv)
            {
                model.AddHint(conv, hint[h] == s);
            }
        }

        model.Minimize(relaxation.MustMigrate);
        // With a hint, the caller's plan has these stages: it satisfies the relaxation.
        var (status, solver) = context.Solve(model, deterministicSeconds, fineBatches: true, knownFeasible: hint is not null);
        context.Log.Add($"live-migration relaxation T={stages}: {status}, bound {Math.Ceiling(solver.BestObjectiveBound - 1e-6)} ({solver.WallTime():0.00}s)");
        return status == CpSolverStatus.Infeasible ? new MoveBound(stages, 0, Feasible: false, Exact: true) : ToBound(problem, relaxation, stages, status, solver);
    }

    /// <summary>The solved relaxation's proven bound and best schedule; null when the solve found no schedule.</summary>
    private static MoveBound? ToBound(PlanningProblem problem, RelaxedSchedule relaxation, int stages, CpSolverStatus status, CpSolver solver)
    {
        if (status is not (CpSolverStatus.Optimal or CpSolverStatus.Feasible))
        {
            return null;
        }

        var bound = (int)Math.Max(0, Math.Ceiling(solver.BestObjectiveBound - 1e-6));
        var schedule = problem.Hosts
            .Select(h => h.Convertible ? Enumerable.Range(1, stages).First(s => solver.BooleanValue(relaxation.Conversion.Conv[(h.Index, s)])) : (int?)null)
            .ToList();
        return new MoveBound(stages, bound, Feasible: true, Exact: status == CpSolverStatus.Optimal) { Schedule = schedule };
    }

    /// <summary>Adds the relaxation within <paramref name="stages"/> stages to <paramref name="model"/>.</summary>
    internal static RelaxedSchedule Build(CpModel model, PlanningProblem problem, int stages, bool secondHops = false)
    {
        var hosts = problem.Hosts;
        var vms = problem.Vms;
        var conversion = new HostConversionVariables(model, hosts, stages);

        // on[v][s]: monotone, nobody at stage 0 (as in the exact model), everybody at the last stage.
        var on = new LinearExpr[vms.Count][];
        foreach (var v in vms)
        {
            var row = new LinearExpr[stages + 1];
            row[0] = LinearExpr.Constant(0);
            for (var s = 1; s <= stages; s++)
            {
                if (s == stages)
                {
                    row[s] = LinearExpr.Constant(1);
                    continue;
                }

                var y = model.NewBoolVar($"on_{v.Index}_{s}");
                model.Add(y >= row[s - 1]);
                row[s] = y;
            }

            // Pins are left out: the plan file does not record them, so the bound holds for every plan that verifies.
            on[v.Index] = row;
        }

        for (var s = 1; s <= stages; s++)
        {
            AddCapacities(model, problem, conversion, on, s);
        }

        // stay[v]: v never live-migrates, so it sits on its home host until it crosses, no later than the wave
        // the home host converts in. Every other VM live-migrates at least once.
        var stay = new BoolVar?[vms.Count];
        var mustMigrate = LinearExpr.NewBuilder();
        foreach (var v in vms)
        {
            var home = hosts[v.Home];
            if (!home.Convertible)
            {
                continue;
            }

            var keep = model.NewBoolVar($"stay_{v.Index}");
            stay[v.Index] = keep;
            var converted = new List<BoolVar>();
            for (var s = 1; s < stages; s++)
            {
                // Converted by s (cumulative: a stronger linear relaxation than the single stage) ∧ stay ⇒ crossed by s.
                converted.Add(conversion.Conv[(home.Index, s)]);
                model.Add(on[v.Index][s] >= keep + LinearExpr.Sum(converted) - 1);
            }

            mustMigrate.Add(1 - keep);
        }

        if (secondHops)
        {
            AddSecondHops(model, problem, conversion, on, stay, mustMigrate, stages);
        }

        BreakSymmetry(model, problem, on, stay, stages);
        return new RelaxedSchedule(conversion, on, mustMigrate);
    }

    private static void AddCapacities(CpModel model, PlanningProblem problem, HostConversionVariables conversion, LinearExpr[][] on, int s)
    {
        var room = StageCapacity.Build(model, problem, conversion, s);
        var ramOnPve = LinearExpr.NewBuilder();
        var ramOnLibvirt = LinearExpr.NewBuilder();
        var storageOnPve = LinearExpr.NewBuilder();
        var rbdOnOldCeph = LinearExpr.NewBuilder();
        var copies = LinearExpr.NewBuilder();
        var files = LinearExpr.NewBuilder();
        var filesBefore = LinearExpr.NewBuilder();
        foreach (var v in problem.Vms)
        {
            var now = on[v.Index][s];
            var before = on[v.Index][s - 1];
            ramOnPve.AddTerm(now, v.RamMiB);
            ramOnLibvirt.AddTerm(1 - now, v.RamMiB);
            storageOnPve.AddTerm(now, v.ProvisionedMiB);
            // A VM crossing in wave s still has its RBD images in the old Ceph at s (retired when the wave commits).
            rbdOnOldCeph.AddTerm(1 - before, v.RbdMiB);
            copies.AddTerm(now - before, v.CopyMiB);
            files.AddTerm(1 - now, v.FileMiB);
            filesBefore.AddTerm(1 - before, v.FileMiB);
        }

        model.Add(ramOnPve <= room.PveRam);
        model.Add(ramOnLibvirt <= room.LibvirtRam);
        model.Add(storageOnPve <= room.PveStorage);
        model.Add(rbdOnOldCeph <= room.OldCeph);
        // Every move to PVE charges its bytes to the receiving PVE host's NIC in that wave.
        model.Add(copies <= room.Budget);
        model.Add(files <= room.LocalImages);
        model.Add(filesBefore <= room.LocalImagesBefore);
    }

    /// <summary>
    /// Second hops (ADR 0022). hop[v,d]: v live-migrates exactly once, to d. After that single hop v sits on d
    /// until it crosses, so it has crossed by the wave d converts in, and it is on d at every stage from the
    /// conversion of its home (it has left home by then) until it crosses. Stayers sit on their home until they
    /// cross. Those VMs are a subset of what each libvirt host holds, so their RAM fits its capacity. A VM that
    /// neither stays nor hops once live-migrates at least twice, and counts 2.
    /// </summary>
    private static void AddSecondHops(
        CpModel model, PlanningProblem problem, HostConversionVariables conversion, LinearExpr[][] on, BoolVar?[] stay, LinearExprBuilder mustMigrate, int stages)
    {
        var hosts = problem.Hosts;
        // Landing hosts: every host other than the home that is not PVE from the start (a plan's hop lands on a libvirt host).
        var landings = hosts.Where(h => !h.AlreadyPve).ToList();
        var load = new Dictionary<(int Host, int Stage), LinearExprBuilder>();
        LinearExprBuilder Load(int h, int s) => load.TryGetValue((h, s), out var b) ? b : load[(h, s)] = LinearExpr.NewBuilder();
        foreach (var v in problem.Vms)
        {
            if (stay[v.Index] is not { } keep)
            {
                continue;
            }

            var home = hosts[v.Home];
            var hops = new List<BoolVar>();
            for (var s = 1; s < stages; s++)
            {
                var atHome = model.NewBoolVar($"at_home_{v.Index}_{s}");
                model.Add(atHome >= keep - on[v.Index][s]);
                Load(home.Index, s).AddTerm(atHome, v.RamMiB);
            }

            foreach (var d in landings.Where(d => d.Index != v.Home))
            {
                var hop = model.NewBoolVar($"hop_{v.Index}_{d.Index}");
                hops.Add(hop);
                var landedBy = new List<BoolVar>();
                var homeConverted = new List<BoolVar>();
                for (var s = 1; s < stages; s++)
                {
                    homeConverted.Add(conversion.Conv[(home.Index, s)]);
                    if (d.Convertible)
                    {
                        // d holds nothing while converting: v has crossed by then. A hop lands in wave 1 at the earliest,
                        // so d does not convert in wave 1.
                        landedBy.Add(conversion.Conv[(d.Index, s)]);
                        model.Add(on[v.Index][s] >= hop + LinearExpr.Sum(landedBy) - 1);
                    }

                    var guest = model.NewBoolVar($"guest_{v.Index}_{d.Index}_{s}");
                    model.Add(guest >= hop + LinearExpr.Sum(homeConverted) - on[v.Index][s] - 1);
                    Load(d.Index, s).AddTerm(guest, v.RamMiB);
                }
            }

            if (hops.Count == 0)
            {
                mustMigrate.Add(1 - keep);
                continue;
            }

            // At most one of stay / one hop; a hop needs a libvirt host in wave 1 and leaves v off PVE at stage 1.
            model.Add(keep + LinearExpr.Sum(hops) <= 1);
            model.Add(on[v.Index][1] + LinearExpr.Sum(hops) <= 1);
            mustMigrate.Add(1 - keep - LinearExpr.Sum(hops));
        }

        foreach (var ((h, _), used) in load)
        {
            model.Add(used <= hosts[h].RamCapacityMiB);
        }
    }

    /// <summary>
    /// VMs of one home host with the same numbers are interchangeable here: the stayers come first by index, and
    /// among VMs that both stay or both do not, the lower index crosses no later (any solution can be relabelled
    /// that way at no cost: sort the group's profiles by stay, then crossing stage).
    /// </summary>
    private static void BreakSymmetry(CpModel model, PlanningProblem problem, LinearExpr[][] on, BoolVar?[] stay, int stages)
    {
        var groups = problem.Vms.GroupBy(v => (v.Home, v.RamMiB, v.RbdMiB, v.CopyMiB, v.ProvisionedMiB, v.FileMiB));
        foreach (var group in groups)
        {
            var list = group.OrderBy(v => v.Index).ToList();
            for (var i = 1; i < list.Count; i++)
            {
                var (a, b) = (list[i - 1].Index, list[i].Index);
                if (stay[a] is { } keepA && stay[b] is { } keepB)
                {
                    model.Add(keepA >= keepB);
                    for (var s = 1; s < stages; s++)
                    {
                        model.Add(on[a][s] >= on[b][s] - keepA + keepB);
                    }
                }
                else
                {
                    for (var s = 1; s < stages; s++)
                    {
                        model.Add(on[a][s] >= on[b][s]);
                    }
                }
            }
        }
    }
}

/// <summary>The relaxation's variables: host conversions, VMs on PVE per stage, and the VMs that must live-migrate.</summary>
internal sealed record RelaxedSchedule(HostConversionVariables Conversion, LinearExpr[][] OnPve, LinearExpr MustMigrate);

/// <summary>
/// Live migrations every plan with at most <see cref="Stages"/> stages needs. Feasible false: the relaxation
/// has no schedule within that many stages (then no plan has). Exact: the relaxation was solved to optimality.
/// </summary>
internal sealed record MoveBound(int Stages, int LiveMigrations, bool Feasible, bool Exact)
{
    /// <summary>The conversion stage per host of the relaxation's best schedule (null for hosts that do not convert).</summary>
    public IReadOnlyList<int?> Schedule { get; init; } = [];

    public bool Equals(MoveBound? other) => other is not null && Stages == other.Stages && LiveMigrations == other.LiveMigrations
        && Feasible == other.Feasible && Exact == other.Exact && Schedule.SequenceEqual(other.Schedule);

    public override int GetHashCode() => HashCode.Combine(Stages, LiveMigrations, Feasible, Exact);
}
