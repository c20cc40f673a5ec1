using System.Globalization;
using Google.OrTools.Sat;
using Taquin.Planner.Inventory;
using Taquin.Planner.Planning;

namespace Taquin.Planner.Solving;

/// <summary>
/// The planner: quick necessary checks, the greedy plan, then CP-SAT over the number of stages
/// (lowest first, each smaller count proven impossible), then fewest live migrations, then RAM balance,
/// each level solved with the previous one fixed. Big fleets go through the decomposition.
/// Deterministic for the same input and settings (deterministic time limits, fixed seed).
/// </summary>
public sealed class CpSatPlanner(CpSatTuning? tuning = null, TimeProvider? clock = null) : IPlanSolver
{
    /// <summary>Share of the budget kept for building and checking the plan at the end (at least <see cref="MinFinishSeconds"/>).</summary>
    internal const double FinishShare = 0.08;
    internal const double MinFinishSeconds = 0.5;

    private readonly CpSatTuning tuning = tuning ?? new CpSatTuning();
    // The only clock the planner reads: the wall-clock budget of --time-limit (docs/adr/0021-planning-budget.md).
    private readonly TimeProvider clock = clock ?? TimeProvider.System;

    /// <summary>IPlanSolver: the plan, or <see cref="PlanInfeasibleException"/> with the reasons (pins naming unknown VMs or hosts included).</summary>
    public MigrationPlan Solve(FleetInventory inventory, PlannerOptions options, CancellationToken cancellationToken)
    {
        PlanningResult result;
        try
        {
            result = Plan(inventory, options, cancellationToken);
        }
        catch (PlanningInputException e)
        {
            throw new PlanInfeasibleException(e.Problems);
        }

        return result.Plan ?? throw new PlanInfeasibleException(result.Infeasibility?.Reasons ?? ["no plan found"]);
    }

    /// <summary>Plans, or explains with reasons why no plan exists. Unknown names in pins throw <see cref="PlanningInputException"/>.</summary>
    public PlanningResult Plan(FleetInventory inventory, PlannerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inventory);
        ArgumentNullException.ThrowIfNull(options);
        var budget = new PlanningBudget(clock, tuning.WallLimitSeconds ?? Math.Min(options.TimeLimitSeconds, options.WallBudgetSeconds ?? double.PositiveInfinity));
        // Kept for building the plan and checking it in full (and the baseline fallback), whatever the phases before do.
        var finish = Math.Min(budget.TotalSeconds, Math.Max(MinFinishSeconds, budget.TotalSeconds * FinishShare));
        budget.Enter("greedy", 1, finish);
        var problem = PlanningProblem.From(inventory, options);
        var log = new List<string>();
        var baseline = Baseline(inventory, options, cancellationToken);
        var quick = InfeasibilityExplainer.QuickChecks(problem);
        if (quick.Count > 0)
        {
            budget.Enter("plan and checks", 1);
            return baseline is not null
                ? KeepBaseline(inventory, baseline, "the CP-SAT model's quick checks reject this fleet (" + string.Join("; ", quick) + ")", log, budget)
                : new PlanningResult { Infeasibility = new Infeasibility(quick), Log = log };
        }

        // Two heuristics: ours and the baseline's; the better valid one is the hint and the upper bound.
        // One host per stage: never competitive on stages once hosts are many, and slow there.
        var sequential = problem.Hosts.Count(h => h.Convertible) <= 30 ? GreedyDecisions.Solve(problem) : null;
        var greedy = Valid(problem, sequential, "greedy", log);
        var fromBaseline = Valid(problem, baseline is null ? null : FromPlan(problem, baseline), "baseline", log);
        if (greedy is null || (fromBaseline is not null && ExactSearch.Worse(greedy, fromBaseline)))
        {
            greedy = fromBaseline;
        }

        if (greedy is not null)
        {
            budget.NoteFirstPlan();
        }

        // Wall shares of what is left after the final reserve: stage bounds 10 %, the search 75 % of the rest,
        // the bounds after it the remainder (docs/adr/0021-planning-budget.md).
        budget.Enter("stage bounds", StageBoundShare, finish);
        var bounds = LowerBounds.Compute(inventory, options);
        // The bounds use the problem rounded the other way (demands down, capacities up): valid for plans in bytes.
        var relaxed = PlanningProblem.From(inventory, options, forBounds: true);
        var lower = Math.Max(StageLowerBound(relaxed), bounds.Stages);
        var upper = greedy?.Stages ?? FallbackStageLimit(problem);
        var scheduleSearch = ScheduleBranchAndBound.Applies(problem, relaxed, upper);
        var context = new SearchContext(problem, options, tuning, log, cancellationToken) { Budget = budget, ScheduleSearchFollows = scheduleSearch };
        // The same relaxation with interchangeable hosts counted per class decides big fleets fast (ADR 0027); both are valid.
        lower = HostClassRelaxation.RaiseLowerBound(context, relaxed, lower, upper, Math.Max(0.5, options.TimeLimitSeconds * 0.05));
        lower = StageRelaxation.RaiseLowerBound(context, lower, upper, relaxed);
        var size = (long)problem.Vms.Count * problem.Hosts.Count * upper;
        // Big fleets get the host-level and LP bounds instead of the per-VM relaxations: the search leaves them the same share
        // (with all of it, fleet-5000's window search on a dived plan left the bound 0.07 s, and the plan showed bound 43).
        budget.Enter("search", SearchShare, finish);
        var outcome = size <= tuning.ExactModelLimit
            ? new ExactSearch(context).Run(greedy, lower, upper)
            : new Decomposition(context).Run(greedy, lower, upper);
        if (outcome.Decisions is null)
        {
            budget.Enter("plan and checks", 1);
            if (baseline is not null)
            {
                return KeepBaseline(inventory, baseline, "CP-SAT found no plan within its model and time limit (" + string.Join("; ", outcome.Reasons.Take(3)) + ")", log, budget, lower);
            }

            var reasons = outcome.Reasons.Count > 0 ? outcome.Reasons : ["no plan found within the time limit, and none proven impossible; raise --time-limit"];
            return new PlanningResult { Infeasibility = new Infeasibility(reasons), Log = log };
        }

        var violations = new PlanSimulation(problem, outcome.Decisions).Violations();
        if (violations.Count == 0)
        {
            budget.NoteFirstPlan();
        }

        if (violations.Count > 0)
        {
            budget.Enter("plan and checks", 1);
            return baseline is not null
                ? KeepBaseline(inventory, baseline, "the CP-SAT plan broke a rule of the model (" + violations[0] + ")", log, budget, lower)
                : throw new InvalidOperationException("solver produced an invalid plan: " + string.Join("; ", violations.Take(5)));
        }

        // The per-VM relaxation may prove the plan's stage count where the host-level one did not (after the search,
        // which keeps its own start; the probe runs only when it can change the status).
        budget.Enter("move bounds", 1, finish);
        MoveBound? admitted = null;
        if (outcome.Decisions.Stages > lower)
        {
            budget.EnterWithin("per-VM stage bound", 0.25);
            lower = MoveRelaxation.RaiseLowerBound(context, relaxed, lower, outcome.Decisions.Stages, options.TimeLimitSeconds * MoveStageBoundDeterministicShare, out admitted);
        }

        // When the per-VM relaxation admits fewer stages than the plan has, its schedules are searched at that count
        // (a plan found there wins outright); otherwise at the plan's count.
        var target = outcome.Decisions.Stages;
        if (target > lower && scheduleSearch && ScheduleBranchAndBound.Applies(problem, relaxed, lower))
        {
            target = lower;
        }

        // Live migrations are bounded at the plan's stage count only when that count is proven minimal (lexicographic);
        // the schedule search needs the relaxation's schedule either way (Optimality ignores a bound above the stage bound).
        // Half of what is left: the other half is the bound schedule's or the schedule search's (below).
        // The probe that admitted fewer stages already solved that relaxation: its schedule starts the search there.
        MoveBound? moveBound = target < outcome.Decisions.Stages && admitted is { Feasible: true } && admitted.Stages == target ? admitted : null;
        if (moveBound is null && (target <= lower || (scheduleSearch && ScheduleBranchAndBound.Applies(problem, relaxed, target))))
        {
            budget.EnterWithin("live-migration bound", 0.5);
            var hint = target == outcome.Decisions.Stages ? outcome.Decisions.ConversionStage : null;
            moveBound = MoveRelaxation.LiveMigrationBound(context, relaxed, target, options.TimeLimitSeconds * MoveBoundDeterministicShare, hint: hint);
        }

        // The per-VM relaxation as an LP (ADR 0034) where its root fits the bound's share and CP-SAT's version did not close,
        // before the host-level bound, which can use the whole phase (fleet-5000 at 5 stages: 659 → 811; fleet-1000: 139 → 148).
        // Both are valid: the larger counts, the CP-SAT schedule stays.
        int? linearBound = null;
        if (target <= lower && moveBound is not { Exact: true }
            && LinearMoveRelaxation.EstimatedRootSeconds(relaxed, target) <= options.TimeLimitSeconds * MoveBoundDeterministicShare && !budget.StopNow())
        {
            budget.EnterWithin("linear live-migration bound", 0.25);
            using var linear = new LinearMoveRelaxation(relaxed, target);
            linearBound = linear.LiveMigrationBound(budget.PhaseRemaining);
            context.Log.Add($"linear live-migration relaxation T={target}: bound {linearBound?.ToString(CultureInfo.InvariantCulture) ?? "none"}");
        }

        // The host-level bound (ADR 0031) where the per-VM relaxation is not built or found no schedule within its limit
        // (1,000 VMs): its LP answers at the root. On the 216-VM fleets it only took time from the schedule search.
        if (target <= lower && moveBound is null)
        {
            budget.EnterWithin("host live-migration bound", 0.5);
            if (HostMoveRelaxation.LiveMigrationBound(context, relaxed, target, options.TimeLimitSeconds * MoveBoundDeterministicShare) is { } hostBound)
            {
                moveBound = new MoveBound(target, hostBound, Feasible: true, Exact: false);
            }

        }
        else if (target <= lower && moveBound is { Feasible: true, Exact: false } && moveBound.Stages == target)
        {
            // The per-VM relaxation stopped before its optimum: its proven bound can sit below the host-level one, whose LP
            // closes at the root (seed-5: 38 against 75, fleet-1000 at 60 s: 126 against 139). Both are valid; the larger counts.
            budget.EnterWithin("host live-migration bound", 0.25);
            if (HostMoveRelaxation.LiveMigrationBound(context, relaxed, target, options.TimeLimitSeconds * HostBoundBesidePerVmDeterministicShare) is { } hostBound && hostBound > moveBound.LiveMigrations)
            {
                context.Log.Add($"host-level bound {hostBound} above the per-VM relaxation's {moveBound.LiveMigrations}");
                moveBound = moveBound with { LiveMigrations = hostBound };
            }
        }

        if (linearBound is { } linearValue && linearValue > (moveBound?.LiveMigrations ?? 0))
        {
            moveBound = moveBound is null ? new MoveBound(target, linearValue, Feasible: true, Exact: false) : moveBound with { LiveMigrations = linearValue };
        }

        // ADR 0026: branch and bound over schedules (relaxation's best schedule placed exactly, cut off, again) proves
        // the live migrations or raises their bound; ADR 0022's single bound schedule where it does not apply.
        if (moveBound is { Feasible: true } && (target < outcome.Decisions.Stages || outcome.Decisions.LiveMigrations > moveBound.LiveMigrations)
            && ScheduleBranchAndBound.Applies(problem, relaxed, target))
        {
            budget.EnterWithin("schedule search", 1);
            if (ScheduleBranchAndBound.Run(context, relaxed, outcome.Decisions, options.TimeLimitSeconds * ScheduleSearchDeterministicShare, moveBound, stages: target) is { } searched)
            {
                outcome = outcome with { Decisions = searched.Plan };
                moveBound = moveBound with { LiveMigrations = Math.Max(moveBound.LiveMigrations, searched.Bound) };
            }
        }
        else if (moveBound is not null)
        {
            budget.EnterWithin("bound schedule", 1);
            if (BoundSchedule.Improve(context, outcome.Decisions, moveBound, options.TimeLimitSeconds * 0.2) is { } fromBound)
            {
                outcome = outcome with { Decisions = fromBound };
            }
        }

        // A bound at fewer stages than the plan kept says nothing about the plan's live migrations.
        if (moveBound is not null && moveBound.Stages != outcome.Decisions.Stages)
        {
            moveBound = null;
        }

        budget.Enter("plan and checks", 1);
        var lowerBound = Optimality.LowerBound(bounds, lower, moveBound);
        var report = new SolverReport
        {
            Status = outcome.Status,
            Gap = outcome.Gap,
            // Includes the bound solves after the search.
            WallSeconds = context.Wall,
            FirstFeasibleSeconds = budget.FirstPlanSeconds ?? outcome.FirstFeasibleSeconds,
            Seed = options.Seed,
            TimeLimitSeconds = options.TimeLimitSeconds,
            Workers = options.Workers,
            Model = outcome.Model,
        };
        var plan = PlanBuilder.Build(inventory, ToPlanDecisions(problem, outcome.Decisions), options, report) with
        {
            Baseline = baseline?.Metrics,
            LowerBound = lowerBound,
            ExcludedHosts = [.. options.ExcludedHosts],
        };
        // The exact model's own proof (stages probed, live migrations optimal) stands; otherwise the bounds decide.
        var proven = outcome.Status == "OPTIMAL" ? [.. Optimality.Required] : Optimality.Proven(plan.Metrics, lowerBound);
        plan = plan with
        {
            Solver = plan.Solver with
            {
                Status = outcome.Status == "OPTIMAL" || Optimality.IsOptimal(proven) ? "OPTIMAL" : outcome.Status,
                Proven = proven,
                Gap = Optimality.IsOptimal(proven) ? 0 : plan.Solver.Gap,
            },
        };
        if (baseline is not null && (PlanVerifier.Verify(plan, inventory).Count > 0 || WorseThan(plan.Metrics, baseline.Metrics)))
        {
            return KeepBaseline(inventory, baseline, $"CP-SAT's best plan ({plan.Metrics.Stages} stages, {plan.Metrics.LiveMigrations} live migrations) is not better than the baseline", log, budget, lower);
        }

        return new PlanningResult { Plan = WithTimings(plan, budget), Log = log, StageLowerBound = lower };
    }

    /// <summary>Closes the budget's last phase and writes the phase timings and the wall-cap flag into the plan's solver report.</summary>
    private static MigrationPlan WithTimings(MigrationPlan plan, PlanningBudget budget)
    {
        budget.Close();
        return plan with
        {
            Solver = plan.Solver with
            {
                WallLimitHit = budget.WallCapHit,
                Phases = [.. budget.Phases],
                WallSeconds = Math.Max(plan.Solver.WallSeconds, budget.Elapsed),
            },
        };
    }

    /// <summary>Lexicographic: more stages, or as many stages and more live migrations.</summary>
    internal static bool WorseThan(PlanMetrics a, PlanMetrics b)
        => a.Stages > b.Stages || (a.Stages == b.Stages && a.LiveMigrations > b.LiveMigrations);

    /// <summary>The baseline is a verified plan: better to return it, saying why CP-SAT did not improve it, than an infeasibility.</summary>
    private static PlanningResult KeepBaseline(FleetInventory inventory, MigrationPlan baseline, string why, List<string> log, PlanningBudget budget, int stageLowerBound = 0)
    {
        var violations = PlanVerifier.Verify(baseline, inventory);
        if (violations.Count > 0)
        {
            throw new InvalidOperationException("the baseline plan does not verify: " + string.Join("; ", violations.Take(5)));
        }

        log.Add("baseline kept: " + why);
        var plan = baseline with { Warnings = [.. baseline.Warnings, "CP-SAT could not improve the greedy baseline, which is returned: " + why] };
        return new PlanningResult { Plan = WithTimings(plan, budget), Log = log, StageLowerBound = Math.Min(stageLowerBound, baseline.Metrics.Stages) };
    }

    /// <summary>Wall share of the stage-bound phase (of the time left before the final reserve).</summary>
    internal const double StageBoundShare = 0.1;

    /// <summary>Wall share of the search (of the time left before the final reserve); the bounds after it get the rest.</summary>
    internal const double SearchShare = 0.75;

    /// <summary>Deterministic share of the time limit for the per-VM stage-bound probe, and for the live-migration bound.</summary>
    internal const double MoveStageBoundDeterministicShare = 0.1;
    internal const double MoveBoundDeterministicShare = 0.1;

    /// <summary>Deterministic share for the host-level bound beside a per-VM bound that stopped early (its LP closes at the root).</summary>
    internal const double HostBoundBesidePerVmDeterministicShare = MoveBoundDeterministicShare * 0.5;

    /// <summary>Deterministic share of the time limit for the branch and bound over schedules (ADR 0026).</summary>
    internal const double ScheduleSearchDeterministicShare = 0.4;

    private static MigrationPlan? Baseline(FleetInventory inventory, PlannerOptions options, CancellationToken cancellationToken)
    {
        try
        {
            return GreedyPlanner.Plan(inventory, options, cancellationToken);
        }
        catch (PlanInfeasibleException)
        {
            return null;
        }
    }

    private static SolverDecisions? Valid(PlanningProblem problem, SolverDecisions? decisions, string name, List<string> log)
    {
        if (decisions is null)
        {
            log.Add($"{name}: no plan");
            return null;
        }

        var violations = new PlanSimulation(problem, decisions).Violations();
        if (violations.Count > 0)
        {
            log.Add($"{name}: plan not usable in the MiB model ({violations[0]})");
            return null;
        }

        log.Add($"{name}: {decisions.Stages} stages, {decisions.LiveMigrations} live migrations");
        return decisions;
    }

    /// <summary>Reads the decisions back from a plan (null when it uses moves the model does not have).</summary>
    internal static SolverDecisions? FromPlan(PlanningProblem problem, MigrationPlan plan)
    {
        var stages = plan.Stages.Count - 1;
        var conversions = problem.Hosts.Select(h => plan.Stages.FirstOrDefault(s => s.Hosts.GetValueOrDefault(h.Name) == HostState.Converting)?.Index).ToList();
        var decisions = new List<VmDecision>();
        foreach (var vm in problem.Vms)
        {
            int? cross = null;
            var hops = new List<LiveHop>();
            var host = vm.Home;
            var onCeph = false;
            var target = -1;
            foreach (var stage in plan.Stages.Skip(1))
            {
                if (!stage.Placements.TryGetValue(vm.Name, out var placement))
                {
                    return null;
                }

                var index = problem.Hosts.FirstOrDefault(h => h.Name == placement.Host)?.Index ?? -1;
                if (index < 0)
                {
                    return null;
                }

                var onLibvirt = placement.Storage == StorageIds.OldCeph || StorageIds.IsFile(placement.Storage);
                if (cross is null && onLibvirt && index != host)
                {
                    hops.Add(new LiveHop(stage.Index, index));
                    host = index;
                }
                else if (cross is null && !onLibvirt)
                {
                    cross = stage.Index;
                    target = index;
                    onCeph = placement.Storage == StorageIds.PveCeph;
                }
                else if (cross is not null && (index != target || (placement.Storage == StorageIds.PveCeph) != onCeph))
                {
                    return null;
                }
            }

            if (cross is null)
            {
                return null;
            }

            decisions.Add(new VmDecision(cross.Value, target, onCeph, hops));
        }

        return new SolverDecisions(stages, conversions, decisions);
    }

    internal static PlanDecisions ToPlanDecisions(PlanningProblem problem, SolverDecisions decisions)
    {
        var hosts = problem.Hosts;
        return new PlanDecisions
        {
            ConversionStages = hosts.Where(h => decisions.ConversionStage[h.Index] is not null)
                .ToDictionary(h => h.Name, h => decisions.ConversionStage[h.Index]!.Value, StringComparer.Ordinal),
            Moves = problem.Vms.Select(v =>
            {
                var d = decisions.Vms[v.Index];
                var host = hosts[d.TargetHost].Name;
                return new MoveDecision(v.Name, d.CrossStage, host, d.OnPveCeph ? StorageIds.PveCeph : StorageIds.Zfs(host));
            }).ToList(),
            LiveMigrations = problem.Vms.SelectMany(v => decisions.Vms[v.Index].Hops.Select(h => new LiveMigrationDecision(v.Name, h.Stage, hosts[h.Host].Name))).ToList(),
            PveCephStage = decisions.PveCephCreatedStage,
        };
    }

    /// <summary>
    /// Valid lower bound on stages: a first host must convert before anything can cross (unless a PVE host
    /// exists), and all bytes must fit through the PVE hosts' NICs over the remaining waves.
    /// </summary>
    internal static int StageLowerBound(PlanningProblem problem)
    {
        var convertible = problem.Hosts.Count(h => h.Convertible);
        var anyPve = problem.Hosts.Any(h => h.AlreadyPve && !h.Excluded);
        var bound = convertible > 0 ? 1 : 0;
        if (problem.Vms.Count > 0)
        {
            var firstCrossing = anyPve ? 1 : 2;
            var budget = problem.Hosts.Where(h => !h.Excluded).Sum(h => h.CopyBudgetMiB);
            var total = problem.Vms.Sum(v => v.CopyMiB);
            var waves = budget > 0 ? (int)Math.Min(int.MaxValue / 2, (total + budget - 1) / budget) : 1;
            bound = Math.Max(bound, firstCrossing - 1 + Math.Max(1, waves));
        }

        return Math.Max(bound, problem.PinnedStage.Values.DefaultIfEmpty(0).Max());
    }

    internal static int FallbackStageLimit(PlanningProblem problem)
        => Math.Max(StageLowerBound(problem), problem.Hosts.Count(h => h.Convertible) + 2);

    internal static string Parameters(PlannerOptions options, double deterministicSeconds, int? workers = null)
    {
        var w = workers ?? Math.Max(1, options.Workers);
        return string.Create(CultureInfo.InvariantCulture,
            $"num_workers:{w}, random_seed:{options.Seed}, max_deterministic_time:{Math.Max(0.01, deterministicSeconds):0.###}, relative_gap_limit:{options.RelativeGap:0.######}, log_search_progress:false, interleave_search:true");
    }
}

internal sealed record SearchOutcome(
    SolverDecisions? Decisions,
    string Status,
    double? Gap,
    double WallSeconds,
    double? FirstFeasibleSeconds,
    string Model,
    IReadOnlyList<string> Reasons);

internal sealed record SearchContext(PlanningProblem Problem, PlannerOptions Options, CpSatTuning Tuning, List<string> Log, CancellationToken Cancellation)
{
    /// <summary>The run's wall-clock budget; unlimited unless the planner sets one.</summary>
    public PlanningBudget Budget { get; init; } = new(TimeProvider.System, double.PositiveInfinity);

    /// <summary>
    /// The schedule search (ADR 0026, 0029) runs after the search: the decomposition then leaves its window search out
    /// and the time to it (it places whole schedules guided by their relaxation, which the windows do not beat).
    /// </summary>
    public bool ScheduleSearchFollows { get; init; }

    public double Wall { get; private set; }

    /// <summary>Seconds from the start of the run to the first plan that passed the model's check (heuristic or solver).</summary>
    public double? FirstFeasible => Budget.FirstPlanSeconds;

    /// <summary>
    /// One CP-SAT solve: the deterministic limit decides (reproducible); the current phase's remaining wall time is
    /// a safety cap, and a solve it stops is reported through <see cref="PlanningBudget.WallCapHit"/>.
    /// </summary>
    /// <param name="fineBatches">
    /// Two interleaved tasks per batch instead of CP-SAT's default (3 per worker): a solve then stops close to its
    /// deterministic limit and soon after a proof, where a big batch runs every task's slice to its end (ADR 0029: the
    /// schedule relaxation answered in 0.2 s and returned after 3.5 s). Used by the per-VM relaxations and the schedule
    /// search; the host-level models of big fleets keep the default, which finds their schedules.
    /// </param>
    /// <param name="knownFeasible">
    /// The model has a solution (the hinted plan satisfies it). Only then is a solution hint kept: CP-SAT 9.15 aborts the
    /// whole process ("Check failed: heuristics.fixed_search != nullptr") when, in interleaved search, a subsolver proves a
    /// hinted model infeasible while loading it and then follows the hint (ADR 0030). A model with a solution cannot be
    /// proven infeasible, so its hint is safe.
    /// </param>
    public (CpSolverStatus Status, CpSolver Solver) Solve(CpModel model, double deterministicSeconds, int? workers = null, bool fineBatches = false, bool knownFeasible = false)
    {
        if (!knownFeasible && model.Model.SolutionHint is { Vars.Count: > 0 })
        {
            model.ClearHints();
            Log.Add("solution hint dropped: the model may have no solution (ADR 0030)");
        }

        var cap = Budget.PhaseRemaining;
        var parameters = CpSatPlanner.Parameters(Options, deterministicSeconds, workers) + (fineBatches ? ", interleave_batch_size:2" : "");
        if (double.IsFinite(cap))
        {
            parameters += string.Create(CultureInfo.InvariantCulture, $", max_time_in_seconds:{Math.Max(0.01, cap):0.###}");
        }

        var solver = new CpSolver { StringParameters = parameters };
        using var stop = Cancellation.Register(solver.StopSearch);
        var status = solver.Solve(model);

        Wall += solver.WallTime();
        var deterministic = solver.Response?.DeterministicTime ?? 0;
        Budget.CountSolve(deterministic);
        // Stopped by the wall cap: not proven, the wall cap (nearly) reached, the deterministic limit not.
        if (double.IsFinite(cap) && status is not (CpSolverStatus.Optimal or CpSolverStatus.Infeasible or CpSolverStatus.ModelInvalid)
            && solver.WallTime() >= (cap * 0.95) - 0.02 && deterministic < Math.Max(0.01, deterministicSeconds) * 0.98)
        {
            Budget.MarkCapped();
        }

        return (status, solver);
    }
}

/// <summary>The full VM×host×stage model, with stage probes and lexicographic levels.</summary>
internal sealed class ExactSearch(SearchContext context)
{
    private readonly PlanningProblem problem = context.Problem;
    private readonly List<string> log = context.Log;

    public SearchOutcome Run(SolverDecisions? greedy, int lower, int upper)
    {
        var budget = context.Options.TimeLimitSeconds;
        var stagesProven = true;
        SolverDecisions? best = null;
        var movesProven = false;
        double? gap = null;
        for (var t = lower; t <= upper && best is null; t++)
        {
            if (t > lower && context.Budget.StopNow())
            {
                // Out of wall time: the stage counts not probed stay open; the greedy plan stands.
                stagesProven = false;
                break;
            }

            var isLast = t == upper;
            var model = new CpSatStageModel(problem, t);
            // The greedy plan is a solution only with at least its stages (padded); below, the probe may have none.
            var hinted = context.Tuning.UseGreedyHint && greedy is not null && t >= greedy.Stages;
            if (hinted)
            {
                model.Hint(problem, greedy!);
            }

            model.Model.Minimize(model.LiveMigrations);
            var (status, solver) = context.Solve(model.Model, isLast ? budget * 0.6 : budget * 0.15, knownFeasible: hinted);
            log.Add($"T={t}: {status} ({solver.WallTime():0.00}s)");
            if (status is CpSolverStatus.Optimal or CpSolverStatus.Feasible)
            {
                best = model.Extract(solver);
                context.Budget.NoteFirstPlan();
                movesProven = status == CpSolverStatus.Optimal;
                gap = Gap(solver);
                if (movesProven)
                {
                    best = Balance(t, best, (long)solver.ObjectiveValue, budget * 0.25) ?? best;
                }
            }
            else if (status != CpSolverStatus.Infeasible)
            {
                stagesProven = false;
            }
        }

        if (best is null && greedy is not null)
        {
            best = greedy;
            stagesProven = false;
            log.Add("CP-SAT found nothing better in time: greedy plan kept");
        }

        if (best is not null && greedy is not null && Worse(best, greedy))
        {
            best = greedy;
            movesProven = false;
        }

        if (best is null)
        {
            return new SearchOutcome(null, "INFEASIBLE", null, context.Wall, context.FirstFeasible, "exact", Explain(upper));
        }

        var status2 = stagesProven && movesProven ? "OPTIMAL" : "FEASIBLE";
        return new SearchOutcome(best, status2, gap, context.Wall, context.FirstFeasible,
            $"exact CP-SAT: stages {lower}..{best.Stages} probed ({(stagesProven ? "stage count proven" : "stage count not proven")}), live migrations {(movesProven ? "proven minimal" : "best found")}", []);
    }

    internal static bool Worse(SolverDecisions a, SolverDecisions b)
        => a.Stages > b.Stages || (a.Stages == b.Stages && a.LiveMigrations > b.LiveMigrations);

    private static double? Gap(CpSolver solver)
    {
        var objective = solver.ObjectiveValue;
        return objective <= 0 ? 0 : Math.Max(0, (objective - solver.BestObjectiveBound) / objective);
    }

    private SolverDecisions? Balance(int stages, SolverDecisions current, long moves, double deterministicSeconds)
    {
        var model = new CpSatStageModel(problem, stages);
        model.Hint(problem, current);
        model.Model.Add(model.LiveMigrations <= moves);
        // Lexicographic within one solve: bytes of storage copies first, then the RAM spread (0..1000).
        model.Model.Minimize((model.StorageCopyMiB * 1001) + model.RamSpread);
        var (status, solver) = context.Solve(model.Model, deterministicSeconds, knownFeasible: true);
        log.Add($"balance T={stages}: {status}");
        return status is CpSolverStatus.Optimal or CpSolverStatus.Feasible ? model.Extract(solver) : null;
    }

    /// <summary>Names a set of constraint groups that block every plan within the stage limit.</summary>
    private IReadOnlyList<string> Explain(int stages)
    {
        var model = new CpSatStageModel(problem, stages, explain: true);
        var (status, solver) = context.Solve(model.Model, context.Options.TimeLimitSeconds * 0.5, workers: 1);
        if (status != CpSolverStatus.Infeasible)
        {
            return [$"no plan found within {stages} stages and the time limit (solver status {status}); raise --time-limit"];
        }

        var blocking = solver.SufficientAssumptionsForInfeasibility()
            .Select(literal => model.Blockers.TryGetValue(literal, out var b) ? b : null)
            .OfType<Blocker>()
            .ToList();
        return blocking.Count == 0
            ? [$"no plan exists within {stages} stages: the stage count itself is the limit"]
            : InfeasibilityExplainer.Describe(problem, blocking, stages);
    }
}
