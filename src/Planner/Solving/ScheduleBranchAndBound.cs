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

    /// <summary>Below this many deterministic seconds a solve of the 216-VM models proves nothing: stop instead.</summary>
    private const double MinSolveSeconds = 0.1;

    /// <param name="first">The live-migration relaxation already solved at this stage count (its schedule is placed first).</param>
    public static ScheduleSearchResult? Run(
        SearchContext context, PlanningProblem relaxed, SolverDecisions incumbent, double deterministicSeconds, MoveBound? first = null, int maxRounds = MaxRounds)
    {
        var problem = context.Problem;
        var stages = incumbent.Stages;
        var bounds = Unpinned(relaxed);
        if (!Applies(problem, relaxed, stages))
        {
            return null;
        }

        var best = incumbent;
        // Proven bound of each schedule cut off from the relaxation (its optimum, or what its solve proved).
        var resolved = new List<(int?[] Schedule, int Bound)>();
        var remaining = 0;
        var finished = false;
        var spent = 0.0;
        var rounds = 0;
        double Share() => Math.Max(MinSolveSeconds, (deterministicSeconds - spent) * SolveShare);
        if (first is { Feasible: true } && first.Stages == stages && first.Schedule.Count == bounds.Hosts.Count && first.LiveMigrations < best.LiveMigrations)
        {
            // Round 1 is the relaxation the planner already solved: place its schedule.
            rounds++;
            remaining = first.LiveMigrations;
            var schedule = first.Schedule.ToArray();
            var (bound, plan, placed) = Resolve(context, bounds, schedule, stages, best.LiveMigrations, Share());
            spent += placed;
            // The schedule was among those the relaxation bounded: its bound holds for it too.
            bound = Math.Max(bound, Math.Min(remaining, best.LiveMigrations));
            resolved.Add((schedule, bound));
            context.Log.Add($"schedule search 1: bound schedule {string.Join(",", schedule)}: ≥ {bound}{(plan is null ? "" : $", plan {plan.LiveMigrations}")}");
            if (plan is not null && plan.LiveMigrations < best.LiveMigrations && Valid(problem, plan))
            {
                best = plan;
            }
        }

        while (rounds < maxRounds && deterministicSeconds - spent > MinSolveSeconds && !context.Cancellation.IsCancellationRequested && !context.Budget.StopNow())
        {
            rounds++;
            var perSolve = Share();
            var model = new CpModel();
            var relaxation = MoveRelaxation.Build(model, bounds, stages);
            foreach (var (schedule, _) in resolved)
            {
                CutOff(model, relaxation.Conversion, bounds, schedule);
            }

            // Only schedules that could beat the incumbent matter; the others are bounded by it.
            model.Add(relaxation.MustMigrate <= best.LiveMigrations - 1);
            model.Minimize(relaxation.MustMigrate);
            var (status, solver) = context.Solve(model, perSolve);
            spent += Math.Max(perSolve * 0.05, solver.Response?.DeterministicTime ?? perSolve);
            if (status == CpSolverStatus.Infeasible)
            {
                remaining = best.LiveMigrations;
                finished = true;
                context.Log.Add($"schedule search: no schedule left below {best.LiveMigrations} ({resolved.Count} resolved)");
                break;
            }

            if (status is not (CpSolverStatus.Optimal or CpSolverStatus.Feasible))
            {
                context.Log.Add($"schedule search: relaxation {status} after {resolved.Count} schedules");
                break;
            }

            remaining = Math.Min(best.LiveMigrations, (int)Math.Ceiling(solver.BestObjectiveBound - 1e-6));
            var candidate = bounds.Hosts
                .Select(h => h.Convertible ? Enumerable.Range(1, stages).First(s => solver.BooleanValue(relaxation.Conversion.Conv[(h.Index, s)])) : (int?)null)
                .ToArray();
            var (bound, plan, placed) = Resolve(context, bounds, candidate, stages, best.LiveMigrations, Share());
            spent += placed;
            bound = Math.Max(bound, remaining);
            resolved.Add((candidate, bound));
            context.Log.Add(string.Create(CultureInfo.InvariantCulture,
                $"schedule search {rounds}: relaxation {(int)solver.ObjectiveValue} (bound {remaining}), schedule {string.Join(",", candidate)}: ≥ {bound}{(plan is null ? "" : $", plan {plan.LiveMigrations}")}"));
            if (plan is not null && plan.LiveMigrations < best.LiveMigrations && Valid(problem, plan))
            {
                best = plan;
            }
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
    /// The fewest live migrations of <paramref name="schedule"/> on the bounds' rounding (every plan valid in bytes
    /// with that schedule fits), below <paramref name="below"/>; a solution there is also tried as a plan on the
    /// planning rounding. Returns the proven bound for the schedule (≥ below when none beats it).
    /// </summary>
    private static (int Bound, SolverDecisions? Plan, double Spent) Resolve(
        SearchContext context, PlanningProblem bounds, int?[] schedule, int stages, int below, double deterministicSeconds)
    {
        var empty = new SolverDecisions(stages, schedule, [.. bounds.Vms.Select(_ => new VmDecision(stages, 0, false, []))]);
        var placement = new PlacementModel(bounds, empty, [.. bounds.Vms.Select(v => v.Index)]);
        placement.AddLeaveHomeCuts();
        placement.Model.Add(placement.LiveMigrations <= below - 1);
        placement.Model.Minimize(placement.LiveMigrations);
        var (status, solver) = context.Solve(placement.Model, deterministicSeconds);
        var spent = solver.Response?.DeterministicTime ?? deterministicSeconds;
        if (status == CpSolverStatus.Infeasible)
        {
            return (below, null, spent);
        }

        if (status is not (CpSolverStatus.Optimal or CpSolverStatus.Feasible))
        {
            // Stopped without a solution: what the search proved still holds for the schedule.
            return (ProvenBound(solver), null, spent);
        }

        var bound = ProvenBound(solver);
        var found = placement.Extract(solver);
        if (Valid(context.Problem, found))
        {
            return (bound, found, spent);
        }

        // Rounding differs (demands up, capacities down): place again on the planning numbers, hinted.
        var exact = new PlacementModel(context.Problem, found, [.. context.Problem.Vms.Select(v => v.Index)]);
        exact.HintCurrent();
        exact.Model.Add(exact.LiveMigrations <= below - 1);
        exact.Model.Minimize(exact.LiveMigrations);
        var (again, second) = context.Solve(exact.Model, deterministicSeconds);
        spent += second.Response?.DeterministicTime ?? deterministicSeconds;
        return (bound, again is CpSolverStatus.Optimal or CpSolverStatus.Feasible ? exact.Extract(second) : null, spent);
    }

    private static int ProvenBound(CpSolver solver)
        => double.IsFinite(solver.BestObjectiveBound) ? Math.Max(0, (int)Math.Ceiling(solver.BestObjectiveBound - 1e-6)) : 0;

    private static bool Valid(PlanningProblem problem, SolverDecisions decisions) => new PlanSimulation(problem, decisions).Violations().Count == 0;
}

/// <summary>
/// The schedule search's outcome: the best plan (never worse than the incumbent), a live-migration bound valid for
/// every plan of the model with that many stages, whether it equals the plan's count, and how many schedules were placed.
/// </summary>
internal sealed record ScheduleSearchResult(SolverDecisions Plan, int Bound, bool Proven, int Resolved);
