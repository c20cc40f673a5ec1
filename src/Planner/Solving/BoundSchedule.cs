using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// The live-migration relaxation's best schedule (conversion stage per host) as one more candidate for the plan
/// (ADR 0022): on the fleets measured the search's schedules were the loose side, and this schedule, packed and
/// placed exactly, often meets the bound. Packed by <see cref="GreedyDecisions"/> then improved by
/// <see cref="WindowSearch"/>; when the greedy packing gets stuck and the fleet is small, the exact model with the
/// conversions fixed places it instead. The result replaces the plan only with the same stages and fewer live migrations.
/// </summary>
internal static class BoundSchedule
{
    /// <summary>Largest VMs × hosts × stages for which the exact model with a fixed schedule is tried.</summary>
    public const long ExactLimit = 6_000;

    public static SolverDecisions? Improve(SearchContext context, SolverDecisions plan, MoveBound bound, double deterministicSeconds)
    {
        var problem = context.Problem;
        if (!bound.Feasible || bound.Stages != plan.Stages || plan.LiveMigrations <= bound.LiveMigrations
            || bound.Schedule.Count != problem.Hosts.Count || bound.Schedule.SequenceEqual(plan.ConversionStage))
        {
            return null;
        }

        var stages = bound.Schedule.Select(c => c ?? 0).ToArray();
        var order = problem.Hosts.Where(h => h.Convertible).OrderBy(h => stages[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();
        var packed = GreedyDecisions.Solve(problem, order, stages);
        if (packed is not null && (packed.Stages != plan.Stages || new PlanSimulation(problem, packed).Violations().Count > 0))
        {
            packed = null;
        }

        context.Log.Add($"bound schedule {string.Join(",", bound.Schedule)}: packing {(packed is null ? "stuck" : packed.LiveMigrations + " live migrations")}");
        packed = packed is not null
            ? new WindowSearch(context).Improve(packed, deterministicSeconds)
            : Exact(context, plan.Stages, bound.Schedule, deterministicSeconds);
        if (packed is null || packed.Stages != plan.Stages || packed.LiveMigrations >= plan.LiveMigrations
            || new PlanSimulation(problem, packed).Violations().Count > 0)
        {
            return null;
        }

        context.Log.Add($"bound schedule: {packed.LiveMigrations} live migrations (plan had {plan.LiveMigrations})");
        return packed;
    }

    private static SolverDecisions? Exact(SearchContext context, int stages, IReadOnlyList<int?> schedule, double deterministicSeconds)
    {
        var problem = context.Problem;
        if ((long)problem.Vms.Count * problem.Hosts.Count * stages > ExactLimit)
        {
            return null;
        }

        var model = new CpSatStageModel(problem, stages);
        model.FixConversions(schedule);
        model.Model.Minimize(model.LiveMigrations);
        var (status, solver) = context.Solve(model.Model, deterministicSeconds);
        context.Log.Add($"bound schedule, exact placement: {status} ({solver.WallTime():0.00}s)");
        return status is CpSolverStatus.Optimal or CpSolverStatus.Feasible ? model.Extract(solver) : null;
    }
}
