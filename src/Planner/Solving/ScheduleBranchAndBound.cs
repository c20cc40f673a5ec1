using System.Globalization;
using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// Branch and bound over conversion schedules for the fewest live migrations at a fixed stage count (ADR 0026).
/// The live-migration relaxation (<see cref="MoveRelaxation"/>) bounds every schedule at once; its best schedule is
/// then placed exactly (<see cref="PlacementModel"/>, every VM free, host states constant), which resolves that
/// schedule: its optimum, or a proof it cannot beat the incumbent. The schedule is cut off from the relaxation
/// (one no-good clause) and the relaxation solved again, until it admits no schedule below the incumbent: then the
/// incumbent is the fewest live migrations of every plan with that many stages (within the model's moves, see
/// the ADR). Deterministic (deterministic limits, counted rounds); stopped early, it still returns a valid bound:
/// the least of the resolved schedules' proven bounds and the relaxation's bound over the rest.
/// </summary>
internal static class ScheduleBranchAndBound
{
    /// <summary>Most schedules resolved in one run (each costs one relaxation and one placement solve).</summary>
    public const int MaxRounds = 40;

    /// <summary>Share of the deterministic time left that one solve (relaxation or placement) may use.</summary>
    private const double SolveShare = 0.5;

    /// <summary>Share of a schedule's deterministic seconds for its relaxation (the bound and the crossing waves).</summary>
    private const double RelaxationShare = 0.4;

    /// <summary>Up to this many Booleans the unrestricted placement on the bounds' rounding is tried for the schedule's optimum.</summary>
    private const long ExactBoundVariables = 5_000;

    /// <summary>The greedy packings tried at the relaxation's waves (each wins on some fleets, each costs milliseconds at 216 VMs).</summary>
    private static readonly WavePacking[] Packings = Enum.GetValues<WavePacking>();

    /// <summary>Below this many deterministic seconds a solve of the 216-VM models proves nothing: stop instead.</summary>
    private const double MinSolveSeconds = 0.1;

    /// <param name="first">The live-migration relaxation already solved at this stage count (its schedule is placed first).</param>
    /// <param name="stages">
    /// The stage count searched; fewer than the incumbent's when the per-VM relaxation admits fewer stages than the plan
    /// has (then any plan found wins, being lexicographically better, and the result is null when none is found).
    /// </param>
    public static ScheduleSearchResult? Run(
        SearchContext context, PlanningProblem relaxed, SolverDecisions incumbent, double deterministicSeconds, MoveBound? first = null, int maxRounds = MaxRounds,
        int? stages = null)
    {
        var problem = context.Problem;
        var target = stages ?? incumbent.Stages;
        var bounds = Unpinned(relaxed);
        if (target > incumbent.Stages || !Applies(problem, relaxed, target))
        {
            return null;
        }

        // Below the incumbent's stage count there is no plan to beat yet: every plan found is better.
        var best = incumbent.Stages == target ? incumbent : null;
        var uncapped = problem.Vms.Count * (target + 1) + 1;
        int Cap() => best?.LiveMigrations ?? uncapped;
        // Proven bound of each schedule cut off from the relaxation (its optimum, or what its solve proved).
        var resolved = new List<(int?[] Schedule, int Bound)>();
        var remaining = 0;
        var finished = false;
        var spent = 0.0;
        var rounds = 0;
        // Without a plan at this stage count yet, the first schedule that places matters most: it gets the whole share.
        double Share() => Math.Max(MinSolveSeconds, (deterministicSeconds - spent) * (best is null ? 1 : SolveShare));
        bool Better(SolverDecisions? plan) => plan is not null && plan.Stages == target && plan.LiveMigrations < Cap() && Valid(problem, plan);
        if (first is { Feasible: true } && first.Stages == target && first.Schedule.Count == bounds.Hosts.Count && first.LiveMigrations < Cap())
        {
            // Round 1 is the relaxation the planner already solved: place its schedule.
            rounds++;
            remaining = first.LiveMigrations;
            var schedule = first.Schedule.ToArray();
            var (bound, plan, placed) = Resolve(context, bounds, schedule, target, Cap(), Share());
            spent += placed;
            // The schedule was among those the relaxation bounded: its bound holds for it too.
            bound = Math.Max(bound, Math.Min(remaining, Cap()));
            resolved.Add((schedule, bound));
            context.Log.Add($"schedule search 1 ({target} stages): bound schedule {string.Join(",", schedule)}: ≥ {bound}{(plan is null ? "" : $", plan {plan.LiveMigrations}")}");
            if (Better(plan))
            {
                best = plan;
            }
        }

        while (rounds < maxRounds && deterministicSeconds - spent > MinSolveSeconds && !context.Cancellation.IsCancellationRequested && !context.Budget.StopNow())
        {
            rounds++;
            var perSolve = Share();
            var model = new CpModel();
            var relaxation = MoveRelaxation.Build(model, bounds, target);
            foreach (var (schedule, _) in resolved)
            {
                CutOff(model, relaxation.Conversion, bounds, schedule);
            }

            // Only schedules that could beat the incumbent matter; the others are bounded by it.
            if (best is not null)
            {
                model.Add(relaxation.MustMigrate <= best.LiveMigrations - 1);
            }

            model.Minimize(relaxation.MustMigrate);
            var (status, solver) = context.Solve(model, perSolve, fineBatches: true);
            spent += Math.Max(perSolve * 0.05, solver.Response?.DeterministicTime ?? perSolve);
            if (status == CpSolverStatus.Infeasible)
            {
                // Without a plan at this stage count nothing is proven: a resolved schedule may have a plan not found.
                remaining = Cap();
                finished = best is not null;
                context.Log.Add($"schedule search: no schedule left below {Cap()} ({resolved.Count} resolved)");
                break;
            }

            if (status is not (CpSolverStatus.Optimal or CpSolverStatus.Feasible))
            {
                context.Log.Add($"schedule search: relaxation {status} after {resolved.Count} schedules");
                break;
            }

            remaining = Math.Min(Cap(), (int)Math.Ceiling(solver.BestObjectiveBound - 1e-6));
            var candidate = bounds.Hosts
                .Select(h => h.Convertible ? Enumerable.Range(1, target).First(s => solver.BooleanValue(relaxation.Conversion.Conv[(h.Index, s)])) : (int?)null)
                .ToArray();
            var (bound, plan, placed) = Resolve(context, bounds, candidate, target, Cap(), Share());
            spent += placed;
            bound = Math.Max(bound, remaining);
            resolved.Add((candidate, bound));
            context.Log.Add(string.Create(CultureInfo.InvariantCulture,
                $"schedule search {rounds} ({target} stages): relaxation {(int)solver.ObjectiveValue} (bound {remaining}), schedule {string.Join(",", candidate)}: ≥ {bound}{(plan is null ? "" : $", plan {plan.LiveMigrations}")}"));
            if (Better(plan))
            {
                best = plan;
            }
        }

        if (best is null)
        {
            return null;
        }

        var proven = resolved.Select(r => r.Bound).Append(best.LiveMigrations).Append(finished ? best.LiveMigrations : remaining).Min();
        return new ScheduleSearchResult(best, Math.Max(0, proven), finished && proven >= best.LiveMigrations, resolved.Count);
    }

    /// <summary>
    /// Runs only where the placement model is a relaxation of the verifier's rules for every plan of the model's
    /// moves: no pins (the plan file does not record them) and every host holding file disks at stage 0 accepts
    /// copies (the model never lets a file come back to a host that does not).
    /// </summary>
    public static bool Applies(PlanningProblem problem, PlanningProblem relaxed, int stages)
        => MoveRelaxation.Fits(relaxed, stages) && problem.PinnedHost.Count == 0 && problem.PinnedStage.Count == 0 && problem.PinnedOrder.Count == 0
            && relaxed.Hosts.All(h => h.FileCopyTarget || h.Excluded || h.AlreadyPve || !relaxed.Vms.Any(v => v.Home == h.Index && v.FileMiB > 0));

    private static PlanningProblem Unpinned(PlanningProblem relaxed) => new()
    {
        Hosts = relaxed.Hosts,
        Vms = relaxed.Vms,
        OldCephFactor = relaxed.OldCephFactor,
        NewCephFactor = relaxed.NewCephFactor,
        NewCephMinHosts = relaxed.NewCephMinHosts,
        PinnedHost = new Dictionary<int, int>(),
        PinnedStage = new Dictionary<int, int>(),
        PinnedOrder = [],
        RamReserveMiB = relaxed.RamReserveMiB,
        ForBounds = true,
    };

    /// <summary>No-good: not every convertible host at its stage in <paramref name="schedule"/>.</summary>
    private static void CutOff(CpModel model, HostConversionVariables conversion, PlanningProblem problem, int?[] schedule)
    {
        var same = problem.Hosts.Where(h => h.Convertible && schedule[h.Index] is not null)
            .Select(h => conversion.Conv[(h.Index, schedule[h.Index]!.Value)]).ToList();
        model.Add(LinearExpr.Sum(same) <= same.Count - 1);
    }

    /// <summary>
    /// Resolves one schedule below <paramref name="below"/> live migrations (ADR 0029). Its bound is the schedule
    /// relaxation's on the bounds' rounding (every plan valid in bytes with that schedule fits it). Its plan comes from
    /// the exact placement on the planning numbers guided by that relaxation: first with every VM's crossing wave fixed
    /// to the relaxation's (small: hosts only), then with only the relaxation's stayers held to their home's wave,
    /// started from the first placement. On small fleets the unrestricted placement on the bounds' rounding, with the
    /// time left, may raise the bound to the schedule's optimum (ADR 0026).
    /// </summary>
    private static (int Bound, SolverDecisions? Plan, double Spent) Resolve(
        SearchContext context, PlanningProblem bounds, int?[] schedule, int stages, int below, double deterministicSeconds)
    {
        var relaxation = ScheduleRelaxation.Solve(context, bounds, schedule, stages, deterministicSeconds * RelaxationShare);
        var spent = relaxation.Spent;
        if (!relaxation.Feasible)
        {
            return (below, null, spent);
        }

        var bound = relaxation.Bound;
        if (bound >= below || relaxation.Waves is not { } waves)
        {
            return (bound, null, spent);
        }

        var problem = context.Problem;
        var all = problem.Vms.Select(v => v.Index).ToList();
        var empty = new SolverDecisions(stages, schedule, [.. problem.Vms.Select(_ => new VmDecision(stages, 0, false, []))]);
        double Left(double share) => Math.Max(MinSolveSeconds, (deterministicSeconds - spent) * share);

        // The relaxation's crossing waves, packed host by host (fast, every packing), then placed exactly with those waves fixed.
        var order = problem.Hosts.Where(h => h.Convertible && schedule[h.Index] is not null).OrderBy(h => schedule[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();
        var plan = Packings
            .Select(packing => GreedyDecisions.Solve(problem, order, [.. schedule.Select(c => c ?? 0)], targetWaves: waves, packing: packing))
            .Where(guided => guided is not null && guided.Stages <= stages && guided.LiveMigrations < below && Valid(problem, guided))
            .MinBy(guided => guided!.LiveMigrations);
        context.Log.Add($"schedule packing at the relaxation's waves: {plan?.LiveMigrations.ToString(CultureInfo.InvariantCulture) ?? "none"}");
        if (plan is not null && plan.LiveMigrations <= bound)
        {
            return (bound, plan, spent);
        }

        var atWaves = new PlacementModel(problem, empty, all);
        atWaves.FixCrossingWaves(waves);
        var placed = Place(context, atWaves, plan?.LiveMigrations ?? below, Left(0.4), ref spent);
        context.Log.Add($"schedule placement at the relaxation's waves: {placed?.LiveMigrations.ToString(CultureInfo.InvariantCulture) ?? "none"} (bound {bound})");
        plan = placed ?? plan;
        if (plan is not null && plan.LiveMigrations <= bound)
        {
            return (bound, plan, spent);
        }

        // Then only the relaxation's stayers held to their home's wave, started from the best placement that keeps them.
        var stayers = problem.Vms.Where(v => problem.Hosts[v.Home].Convertible && schedule[v.Home] is { } home && waves[v.Index] <= home).ToList();
        var start = plan is not null && plan.Stages == stages && plan.ConversionStage.SequenceEqual(schedule)
            && stayers.All(v => plan.Vms[v.Index].CrossStage <= schedule[v.Home]) ? plan : null;
        var held = new PlacementModel(problem, start ?? empty, all);
        foreach (var v in stayers)
        {
            held.RequireCrossedBy(v.Index, schedule[v.Home]!.Value);
        }

        // Only a plan that keeps the stayers is a hint, a solution of the model (ADR 0030); without it the model may have none.
        if (start is not null)
        {
            held.HintCurrent();
        }

        var better = Place(context, held, below, Left(ExactBoundVariables >= EstimatedVariables(problem, empty) ? 0.5 : 1), ref spent, knownFeasible: start is not null);
        context.Log.Add($"schedule placement with the relaxation's stayers: {better?.LiveMigrations.ToString(CultureInfo.InvariantCulture) ?? "none"}");
        if (better is not null && (plan is null || better.LiveMigrations < plan.LiveMigrations))
        {
            plan = better;
        }

        // Small fleets: the whole placement on the bounds' rounding closes the schedule (its optimum, or no plan below).
        if ((plan?.LiveMigrations ?? below) > bound && ExactBoundVariables >= EstimatedVariables(problem, empty) && deterministicSeconds - spent > MinSolveSeconds)
        {
            var exact = new PlacementModel(bounds, empty, all);
            exact.AddLeaveHomeCuts();
            exact.Model.Add(exact.LiveMigrations <= (plan?.LiveMigrations ?? below) - 1);
            exact.Model.Minimize(exact.LiveMigrations);
            var (status, solver) = context.Solve(exact.Model, Left(1), fineBatches: true);
            spent += solver.Response?.DeterministicTime ?? 0;
            bound = status == CpSolverStatus.Infeasible ? plan?.LiveMigrations ?? below : Math.Max(bound, ProvenBound(solver));
            if (status is CpSolverStatus.Optimal or CpSolverStatus.Feasible && exact.Extract(solver) is { } found && Valid(problem, found)
                && found.LiveMigrations < (plan?.LiveMigrations ?? below))
            {
                plan = found;
            }
        }

        return (bound, plan, spent);
    }

    /// <summary>Fewest live migrations below <paramref name="below"/> the placement finds, checked on the planning numbers.</summary>
    private static SolverDecisions? Place(SearchContext context, PlacementModel placement, int below, double deterministicSeconds, ref double spent, bool knownFeasible = false)
    {
        placement.Model.Add(placement.LiveMigrations <= below - 1);
        placement.Model.Minimize(placement.LiveMigrations);
        var (status, solver) = context.Solve(placement.Model, deterministicSeconds, fineBatches: true, knownFeasible: knownFeasible);
        spent += solver.Response?.DeterministicTime ?? 0;
        return status is CpSolverStatus.Optimal or CpSolverStatus.Feasible && placement.Extract(solver) is { } found && Valid(context.Problem, found) ? found : null;
    }

    private static long EstimatedVariables(PlanningProblem problem, SolverDecisions schedule) => WindowSearch.EstimatedVariables(problem, schedule);

    private static int ProvenBound(CpSolver solver)
        => double.IsFinite(solver.BestObjectiveBound) ? Math.Max(0, (int)Math.Ceiling(solver.BestObjectiveBound - 1e-6)) : 0;

    private static bool Valid(PlanningProblem problem, SolverDecisions decisions) => new PlanSimulation(problem, decisions).Violations().Count == 0;
}

/// <summary>
/// The schedule search's outcome: the best plan (never worse than the incumbent), a live-migration bound valid for
/// every plan of the model with that many stages, whether it equals the plan's count, and how many schedules were placed.
/// </summary>
internal sealed record ScheduleSearchResult(SolverDecisions Plan, int Bound, bool Proven, int Resolved);
