using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// Fewer live migrations for a fixed conversion schedule (docs/planner-model.md, "Window search"):
/// the exact <see cref="PlacementModel"/> over every VM when it is small enough, else large-neighbourhood
/// search over windows of two or three waves (the VMs that hop or cross in the window are re-placed, the
/// rest fixed), then storage-copy MiB and RAM spread with live migrations held. Every candidate is checked by
/// <see cref="PlanSimulation"/>; a result is never worse than its input (stages, then live migrations).
/// Deterministic: counted steps and deterministic time limits.
/// </summary>
internal sealed class WindowSearch(SearchContext context)
{
    /// <summary>Largest model (Booleans) solved over the whole fleet; above it, windows only.</summary>
    internal const int FullModelLimit = 60_000;

    /// <summary>Most VMs re-placed in one window step.</summary>
    internal const int WindowVmLimit = 160;

    /// <summary>Booleans a window step aims at: small enough to be solved to optimality in its share of the budget.</summary>
    private const int WindowVariableTarget = 5_000;

    /// <summary>Hosts beyond which a window step may use only a few hosts besides the VMs' own paths.</summary>
    private const int AllHostsLimit = 16;

    private readonly PlanningProblem problem = context.Problem;

    /// <summary>True when the whole-fleet model proved the live migrations minimal for the schedule.</summary>
    public bool ProvenForSchedule { get; private set; }

    /// <param name="fullModelLimit">Largest whole-fleet model solved at once (tests pass 0 to exercise the windows alone).</param>
    public SolverDecisions Improve(SolverDecisions start, double deterministicSeconds, int maxSteps = 24, int fullModelLimit = FullModelLimit)
    {
        var best = start;
        var all = problem.Vms.Select(v => v.Index).ToList();
        var full = all.Count > 0 && EstimatedVariables(best) <= fullModelLimit ? new PlacementModel(problem, best, all) : null;
        var spent = 0.0;
        if (full is not null && full.Variables <= fullModelLimit && best.LiveMigrations > 0)
        {
            var share = deterministicSeconds * 0.6;
            spent += share;
            var (status, candidate) = Solve(full, best, share);
            context.Log.Add($"window search, whole fleet ({full.Variables} Booleans): {status}, {candidate?.LiveMigrations.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} live migrations");
            best = Accept(best, candidate);
            ProvenForSchedule = status == CpSolverStatus.Optimal && candidate is not null && candidate.LiveMigrations == best.LiveMigrations;
        }

        if (!ProvenForSchedule && best.LiveMigrations > 0)
        {
            best = Windows(best, (deterministicSeconds - spent) * 0.8, maxSteps);
            spent = deterministicSeconds * 0.9;
        }

        if (full is not null && full.Variables <= fullModelLimit && best.LiveMigrations > 0 && !context.Budget.StopNow())
        {
            best = Polish(best, Math.Max(0.05, deterministicSeconds - spent));
        }

        return best;
    }

    /// <summary>Booleans of the whole-fleet model, roughly (z, its arrival, x per VM and stage), before building it.</summary>
    private long EstimatedVariables(SolverDecisions decisions) => EstimatedVariables(problem, decisions);

    /// <summary>Booleans of the whole-fleet placement model for these decisions' schedule, roughly, without building it.</summary>
    internal static long EstimatedVariables(PlanningProblem problem, SolverDecisions decisions)
    {
        long perVm = 0;
        for (var s = 1; s <= decisions.Stages; s++)
        {
            var libvirt = problem.Hosts.Count(h => !h.AlreadyPve && (decisions.ConversionStage[h.Index] is not { } c || s < c));
            var pve = problem.Hosts.Count(h => !h.Excluded && (h.AlreadyPve || (decisions.ConversionStage[h.Index] is { } c && s > c)));
            perVm += (2 * libvirt) + pve;
        }

        return perVm * problem.Vms.Count;
    }

    /// <summary>Sliding windows of 2 then 3 waves, round after round while one improves, within the step count.</summary>
    private SolverDecisions Windows(SolverDecisions best, double deterministicSeconds, int maxSteps)
    {
        var windows = new List<(int First, int Last)>();
        foreach (var width in new[] { 2, 3 })
        {
            for (var first = 1; first + width - 1 <= best.Stages; first++)
            {
                windows.Add((first, first + width - 1));
            }
        }

        if (windows.Count == 0)
        {
            return best;
        }

        var perStep = deterministicSeconds / Math.Max(1, Math.Min(maxSteps, windows.Count * 2));
        var steps = 0;
        var improved = true;
        while (improved && steps < maxSteps && best.LiveMigrations > 0 && !context.Cancellation.IsCancellationRequested && !context.Budget.StopNow())
        {
            improved = false;
            foreach (var (first, last) in windows)
            {
                if (steps >= maxSteps || best.LiveMigrations == 0 || context.Cancellation.IsCancellationRequested || context.Budget.StopNow())
                {
                    break;
                }

                var free = WindowVms(best, first, last);
                if (!free.Any(v => best.Vms[v].Hops.Count > 0))
                {
                    continue;
                }

                steps++;
                var hosts = problem.Hosts.Count <= AllHostsLimit ? null : WindowHosts(best, first, last);
                var model = new PlacementModel(problem, best, free, hosts);
                while (model.Variables > WindowVariableTarget * 3 / 2 && free.Count > 8)
                {
                    // Keep the step solvable: the VMs that hop in the window come first, so they stay.
                    free = free.Take(free.Count / 2).ToList();
                    model = new PlacementModel(problem, best, free, hosts);
                }

                var (status, candidate) = Solve(model, best, perStep);
                var before = best.LiveMigrations;
                best = Accept(best, candidate);
                context.Log.Add($"window {first}..{last} ({free.Count} VMs, {model.Variables} Booleans): {status}, live migrations {before} -> {best.LiveMigrations}");
                improved |= best.LiveMigrations < before;
            }
        }

        return best;
    }

    /// <summary>The VMs that hop or cross within the waves first..last; those that hop first, at most <see cref="WindowVmLimit"/>.</summary>
    private List<int> WindowVms(SolverDecisions best, int first, int last)
    {
        bool In(int s) => s >= first && s <= last;
        return problem.Vms.Select(v => v.Index)
            .Where(v => In(best.Vms[v].CrossStage) || best.Vms[v].Hops.Any(h => In(h.Stage)))
            .OrderByDescending(v => best.Vms[v].Hops.Count(h => In(h.Stage)))
            .ThenBy(v => v)
            .Take(VmsPerWindow(best))
            .ToList();
    }

    /// <summary>As many VMs as keep the window model near <see cref="WindowVariableTarget"/> Booleans (per VM: its share of the whole-fleet estimate, or of the hosts a big-fleet window allows).</summary>
    private int VmsPerWindow(SolverDecisions best)
    {
        var perVm = EstimatedVariables(best) / Math.Max(1, problem.Vms.Count);
        if (problem.Hosts.Count > AllHostsLimit)
        {
            perVm = perVm * (AllHostsLimit / 2) / problem.Hosts.Count;
        }

        return (int)Math.Clamp(WindowVariableTarget / Math.Max(1, perVm), 8, WindowVmLimit);
    }

    /// <summary>
    /// For big fleets, besides each VM's own path: the PVE hosts (at the window's first wave) with the most RAM
    /// left at the end, where a hop could become a crossing, and the libvirt hosts converted last.
    /// </summary>
    private HashSet<int> WindowHosts(SolverDecisions best, int first, int last)
    {
        var simulation = new PlanSimulation(problem, best);
        var ram = new long[problem.Hosts.Count];
        foreach (var vm in problem.Vms)
        {
            ram[simulation.Where(vm.Index, best.Stages).Host] += vm.RamMiB;
        }

        var hosts = problem.Hosts.Where(h => !h.Excluded && simulation.HostState(h.Index, first) == PlanSimulation.State.Pve)
            .OrderByDescending(h => h.RamCapacityMiB - ram[h.Index]).ThenBy(h => h.Index).Take(4).Select(h => h.Index).ToHashSet();
        hosts.UnionWith(problem.Hosts.Where(h => h.Convertible && best.ConversionStage[h.Index] > last)
            .OrderByDescending(h => best.ConversionStage[h.Index]).ThenBy(h => h.Index).Take(4).Select(h => h.Index));
        return hosts;
    }

    private (CpSolverStatus Status, SolverDecisions? Candidate) Solve(PlacementModel model, SolverDecisions current, double deterministicSeconds)
    {
        model.HintCurrent();
        model.Model.Add(model.LiveMigrations <= current.LiveMigrations);
        model.Model.Minimize(model.LiveMigrations);
        // The current plan satisfies the model (hint and cap): the hint is kept.
        var (status, solver) = context.Solve(model.Model, deterministicSeconds, knownFeasible: true);
        return (status, status is CpSolverStatus.Optimal or CpSolverStatus.Feasible ? model.Extract(solver) : null);
    }

    /// <summary>Live migrations held: storage-copy MiB first, then the RAM spread (at most 1000, hence the factor).</summary>
    private SolverDecisions Polish(SolverDecisions best, double deterministicSeconds)
    {
        var model = new PlacementModel(problem, best, problem.Vms.Select(v => v.Index).ToList());
        model.HintCurrent();
        model.Model.Add(model.LiveMigrations <= best.LiveMigrations);
        model.Model.Minimize((model.StorageCopyMiB * 1001) + model.RamSpread);
        var (status, solver) = context.Solve(model.Model, deterministicSeconds, knownFeasible: true);
        context.Log.Add($"window search, storage copies and RAM balance: {status}");
        if (status is not (CpSolverStatus.Optimal or CpSolverStatus.Feasible))
        {
            return best;
        }

        var candidate = model.Extract(solver);
        return candidate.LiveMigrations <= best.LiveMigrations && candidate.StorageCopyMiB(problem) <= best.StorageCopyMiB(problem)
            && new PlanSimulation(problem, candidate).Violations().Count == 0 ? candidate : best;
    }

    /// <summary>The candidate when it is valid and has fewer live migrations (stages are the schedule's, unchanged).</summary>
    private SolverDecisions Accept(SolverDecisions best, SolverDecisions? candidate)
    {
        if (candidate is null || candidate.LiveMigrations >= best.LiveMigrations)
        {
            return best;
        }

        var violations = new PlanSimulation(problem, candidate).Violations();
        if (violations.Count > 0)
        {
            context.Log.Add($"window search: candidate rejected by the simulation ({violations[0]})");
            return best;
        }

        return candidate;
    }
}
