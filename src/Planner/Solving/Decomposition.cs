using System.Globalization;
using Google.OrTools.Sat;

namespace Taquin.Planner.Solving;

/// <summary>
/// For fleets too big for the VM×host×stage model: a host-level CP-SAT model picks the conversion
/// stage of every host (several per stage when capacity allows) on aggregate RAM, storage, old-Ceph
/// and copy figures, treating the crossing VMs as a fluid fraction of the fleet; then the greedy
/// packs VMs stage by stage following those stages. Each candidate is checked in full; the best
/// valid plan (fewest stages, then live migrations) wins, the sequential greedy plan being the fallback.
/// </summary>
internal sealed class Decomposition(SearchContext context)
{
    private const int Scale = 1000;

    /// <summary>Wall share of the search for the schedules (host-level models, packings, schedule search); the window search gets the rest.</summary>
    internal const double ScheduleWallShare = 0.45;

    /// <summary>
    /// Deterministic seconds of the search per second of time limit: with the bounds' shares and the model building
    /// (not counted in deterministic time) a run stays within its wall budget on a quiet 2-core machine, so the
    /// deterministic limits, not the wall cap, decide (docs/adr/0021-planning-budget.md).
    /// </summary>
    internal const double SearchDeterministicShare = 0.6;

    /// <summary>Share of the search's deterministic seconds for the window search (placement for the fixed schedule).</summary>
    internal const double WindowDeterministicShare = 0.25;

    /// <summary>Greedy packings the schedule search may try, per second of time limit and per VM (counted, not timed: deterministic).</summary>
    internal const double PackingsPerSecondAndVm = 8000;

    /// <summary>
    /// Capacity margins of the schedule dives, tried in turn (ADR 0034). Whether a dived schedule packs in its stages is
    /// erratic in the margin: per-VM dives of the 5,000-VM fleet pack in 5 stages at 0.995 (896) and 0.99 (939), in 6 at 1,
    /// 0.98 and 0.97; grouped ones in 6 at 0.99 only.
    /// </summary>
    internal static readonly double[] DiveMargins = [0.995, 0.99, 0.985, 0.98, 0.97];

    /// <summary>Share of the time limit the schedule dives may take, counted by their estimated cost (deterministic).</summary>
    internal const double DiveShare = 0.3;

    /// <summary>Wall share of what the search has left when the dives start (their step; the window search keeps the rest).</summary>
    internal const double DiveWallShare = 0.6;

    private readonly PlanningProblem problem = context.Problem;

    public SearchOutcome Run(SolverDecisions? greedy, int lower, int upper)
    {
        var best = greedy;
        var budget = context.Options.TimeLimitSeconds * SearchDeterministicShare;
        context.Budget.EnterWithin("schedules", ScheduleWallShare);
        // Same conversion stages as the best heuristic plan, repacked: often the same stages with fewer live migrations.
        if (best is not null)
        {
            var stages = best.ConversionStage.Select(c => c ?? 0).ToArray();
            var order = problem.Hosts.Where(h => h.Convertible).OrderBy(h => stages[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();
            var repacked = GreedyDecisions.Solve(problem, order, stages);
            if (repacked is not null && new PlanSimulation(problem, repacked).Violations().Count == 0 && ExactSearch.Worse(best, repacked))
            {
                context.Log.Add($"repacking: {repacked.Stages} stages, {repacked.LiveMigrations} live migrations");
                best = repacked;
            }
        }

        // ADR 0027: class counts per wave from the stage relaxation, then hosts, then VMs; once at the stage bound, the fluid models below have nothing shorter to find.
        if ((best is null || best.Stages > lower) && HostClassSchedules.Applies(problem))
        {
            if (HostClassSchedules.Search(context, best, lower, budget / 8) is { } counted)
            {
                context.Log.Add($"host-class schedules: {counted.Stages} stages, {counted.LiveMigrations} live migrations");
                best = counted;
                context.Budget.NoteFirstPlan();
            }
        }

        // Safety margins on the aggregate capacities: the fluid model ignores packing losses.
        double[] margins = [0.97, 0.9, 0.8, 0.7];
        var proven = false;
        // First the fewest stages the fluid model allows, then, for each margin, schedules with exactly `target` stages, one stage fewer after each success:
        // the least aggressive schedule first, since the packing loses what the fluid model does not see.
        var tries = 0;
        // Already at the stage bound (ADR 0027's schedules): nothing shorter to look for.
        var atBound = best is not null && best.Stages <= lower;
        var fewestStatus = CpSolverStatus.Unknown;
        var fewest = atBound ? null : HostLevel((best?.Stages ?? (upper + 1)) - 1, margins[0], budget / 16, out fewestStatus, aggressive: true);
        context.Log.Add($"host-level model, fewest stages: {(atBound ? "skipped (at the stage bound)" : fewestStatus)}");
        if (fewest is not null)
        {
            var order = problem.Hosts.Where(h => h.Convertible).OrderBy(h => fewest[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();
            var packed = GreedyDecisions.Solve(problem, order, fewest);
            if (packed is not null && new PlanSimulation(problem, packed).Violations().Count == 0 && (best is null || ExactSearch.Worse(best, packed)))
            {
                context.Log.Add($"packing: {packed.Stages} stages, {packed.LiveMigrations} live migrations");
                best = packed;
            }
        }

        foreach (var margin in margins)
        {
            for (var target = (best?.Stages ?? (upper + 1)) - 1; target >= lower && tries < 16; target = (best?.Stages ?? (upper + 1)) - 1)
            {
                if (context.Cancellation.IsCancellationRequested || context.Budget.StopNow())
                {
                    break;
                }

                tries++;
                var stages = HostLevel(target, margin, budget / 16, out var status);
                context.Log.Add($"host-level model, {target} stages, margin {margin}: {status}");
                if (stages is null)
                {
                    break;
                }

                var order = problem.Hosts.Where(h => h.Convertible).OrderBy(h => stages[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();
                var packed = GreedyDecisions.Solve(problem, order, stages);
                if (packed is null || new PlanSimulation(problem, packed).Violations().Count > 0
                    || (best is not null && !ExactSearch.Worse(best, packed)))
                {
                    break;
                }

                context.Log.Add($"packing: {packed.Stages} stages, {packed.LiveMigrations} live migrations");
                best = packed;
            }
        }

        if (best is not null)
        {
            // Above the stage bound the host-level schedules and the local search look for fewer stages first (seed-19: the
            // local search merges 8 stages into 7, where no dived 7-stage schedule packs), then the dives. At the bound the
            // dives go first, while the search has time (fleet-1000 at 10 s: after the others they had none), and the local
            // search and the window search go on from a dived plan. The dives get a step of their own, 60 % of what the
            // search has left: after the host-class schedules the schedules step had too little for one grouped dive.
            var atStageBound = best.Stages <= lower;
            if (atStageBound)
            {
                context.Budget.EnterWithin("schedule dives", DiveWallShare);
                best = DiveSchedules(best, lower);
            }

            best = FewestHopSchedules(best);
            best = ScheduleSearch(best, lower);
            if (!atStageBound)
            {
                context.Budget.EnterWithin("schedule dives", DiveWallShare);
                best = DiveSchedules(best, lower);
            }
        }

        if (best is null)
        {
            return new SearchOutcome(null, "UNKNOWN", null, context.Wall, context.FirstFeasible, "decomposition", []);
        }

        // The schedule is settled: the exact placement model (or windows of it) removes needless live migrations,
        // unless the schedule search follows (ADR 0029): it places whole schedules, guided, and takes this time.
        var window = new WindowSearch(context);
        if (!context.ScheduleSearchFollows)
        {
            context.Budget.EnterWithin("window search", 1);
            // A quarter of the search's deterministic time: the schedule search above finds the live migrations and
            // the whole-fleet placement proves or polishes them (no fewer on the 4 instances of bench/results/2026-11-24-plan-speed.txt).
            best = window.Improve(best, budget * WindowDeterministicShare);
        }

        proven |= best.Stages <= lower;
        var gap = best.Stages == 0 ? 0 : (double)(best.Stages - lower) / best.Stages;
        // Stages may be proven; live migrations are not minimised exactly here, so the plan is FEASIBLE.
        return new SearchOutcome(best, "FEASIBLE", gap, context.Wall, context.FirstFeasible,
            $"decomposition: host-level CP-SAT for the conversion stages, greedy packing per stage, {(context.ScheduleSearchFollows ? "then a search over schedules, each bounded by its relaxation and placed from it" : window.ProvenForSchedule ? "CP-SAT placement proving the live migrations minimal for that schedule" : "CP-SAT placement over windows of stages")}; stage lower bound {lower}{(proven ? " reached: stage count optimal" : "")}", []);
    }

    /// <summary>
    /// Schedules of the best plan's length that the host-level model expects to need the fewest live
    /// migrations (a few per margin, each new one cut off from the next solve), packed and checked in full.
    /// </summary>
    private SolverDecisions FewestHopSchedules(SolverDecisions best)
    {
        var tried = new List<int[]>();
        foreach (var margin in new[] { 0.97 })
        {
            for (var k = 0; k < 3 && !context.Cancellation.IsCancellationRequested && !context.Budget.StopNow(); k++)
            {
                var stages = HostLevel(best.Stages, margin, context.Options.TimeLimitSeconds * SearchDeterministicShare / 32, out var status, fewestHopsExcept: tried);
                if (stages is null)
                {
                    break;
                }

                tried.Add(stages);
                var order = problem.Hosts.Where(h => h.Convertible).OrderBy(h => stages[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();
                var packed = GreedyDecisions.Solve(problem, order, stages);
                var valid = packed is not null && new PlanSimulation(problem, packed).Violations().Count == 0;
                // Unguided and unhinted, the exact placement found nothing in 47 of 47 tries on the 216-VM fleets
                // (bench/results/2026-11-25-plan-session9.txt); where the schedule search follows, it places schedules guided.
                if (!valid && !context.ScheduleSearchFollows)
                {
                    var exact = PlaceExactly(stages, best.Stages, context.Options.TimeLimitSeconds * SearchDeterministicShare / 32);
                    if (exact is not null && new PlanSimulation(problem, exact).Violations().Count == 0)
                    {
                        packed = exact;
                        valid = true;
                    }
                }

                context.Log.Add($"host-level model, fewest live migrations, margin {margin}: {status}, packing {(valid ? $"{packed!.Stages} stages, {packed.LiveMigrations} live migrations" : "failed")}");
                if (valid && ExactSearch.Worse(best, packed!))
                {
                    best = packed!;
                }
            }
        }

        return best;
    }

    /// <summary>
    /// Schedules from the per-VM relaxation as an LP (ADR 0034): a dive fixes the hosts' waves, the LP with them fixed
    /// gives each VM's crossing wave, and the packings aim at those waves. One stage fewer first while above the stage
    /// bound. Run while the dives' estimated cost fits <see cref="DiveShare"/> of the time limit (counted, not timed).
    /// </summary>
    private SolverDecisions DiveSchedules(SolverDecisions best, int lower)
    {
        var allowance = context.Options.TimeLimitSeconds * DiveShare;
        var groups = LinearMoveRelaxation.Groups(problem).Count;
        int[] targets = best.Stages > lower ? [best.Stages - 1, best.Stages] : [best.Stages];
        foreach (var target in targets)
        {
            foreach (var margin in DiveMargins)
            {
                // Every VM on its own where two such dives fit, else similar VMs of a host as one: fleet-5000 at 10 s gets a
                // dive at all, and at 60 s the two kinds end equal (886 and 889 live migrations after the windows).
                var cost = LinearMoveRelaxation.EstimatedDiveSeconds(problem.Vms.Count, target);
                var grouped = cost > allowance / 2;
                cost = grouped ? LinearMoveRelaxation.EstimatedDiveSeconds(groups, target) : cost;
                if (cost > allowance || target > best.Stages || context.Cancellation.IsCancellationRequested || context.Budget.StopNow())
                {
                    context.Log.Add(string.Create(CultureInfo.InvariantCulture,
                        $"schedule dives stop: {target} stages, margin {margin}, estimated {cost:0.0} s of {allowance:0.0} s left{(grouped ? $" ({groups} groups)" : "")}{(context.Budget.StopNow() ? ", phase over" : "")}"));
                    return best;
                }

                allowance -= cost;
                using var relaxation = new LinearMoveRelaxation(problem, target, margin, grouped);
                var value = relaxation.Solve(context.Budget.PhaseRemaining);
                var schedule = value is null ? null : relaxation.Dive(() => context.Budget.PhaseRemaining, context.Budget.StopNow);
                if (schedule is null)
                {
                    context.Log.Add($"schedule dive ({target} stages, margin {margin}{(grouped ? $", {groups} groups" : "")}): {(value is null ? "LP not solved" : "no schedule")}");
                    continue;
                }

                // Crossing waves from the LP with the margin and from the LP without it (each packs where the other fails).
                using var full = new LinearMoveRelaxation(problem, target, grouped: grouped);
                int[]?[] waves = [relaxation.CrossingWaves(schedule, context.Budget.PhaseRemaining), full.CrossingWaves(schedule, context.Budget.PhaseRemaining)];
                var order = problem.Hosts.Where(h => h.Convertible).OrderBy(h => schedule[h.Index]).ThenBy(h => h.Index).Select(h => h.Index).ToList();
                int[] stages = [.. schedule.Select(c => c ?? 0)];
                var packed = waves.OfType<int[]>()
                    .SelectMany(targetWaves => Enum.GetValues<WavePacking>().Select(packing => GreedyDecisions.Solve(problem, order, stages, targetWaves: targetWaves, packing: packing)))
                    .Append(GreedyDecisions.Solve(problem, order, stages))
                    .Where(plan => plan is not null && new PlanSimulation(problem, plan).Violations().Count == 0)
                    .Aggregate((SolverDecisions?)null, (a, b) => a is null || ExactSearch.Worse(a, b!) ? b : a);
                context.Log.Add(string.Create(CultureInfo.InvariantCulture,
                    $"schedule dive ({target} stages, margin {margin}{(grouped ? $", {groups} groups" : "")}): LP {value:0.0}, packing {(packed is null ? "failed" : $"{packed.Stages} stages, {packed.LiveMigrations} live migrations")}"));
                if (packed is not null && ExactSearch.Worse(best, packed))
                {
                    best = packed;
                    context.Budget.NoteFirstPlan();
                }
            }
        }

        return best;
    }

    /// <summary>The exact placement model for a schedule the greedy packing could not fill (no hint); null if none found.</summary>
    private SolverDecisions? PlaceExactly(int[] schedule, int stages, double deterministicSeconds)
    {
        var conversions = problem.Hosts.Select(h => h.Convertible ? schedule[h.Index] : (int?)null).ToList();
        var placeholder = new SolverDecisions(stages, conversions, problem.Vms.Select(v => new VmDecision(stages, v.Home, false, [])).ToList());
        if (WindowSearch.EstimatedVariables(problem, placeholder) > WindowSearch.FullModelLimit)
        {
            return null;
        }

        var model = new PlacementModel(problem, placeholder, problem.Vms.Select(v => v.Index).ToList());

        model.Model.Minimize(model.LiveMigrations);
        var (status, solver) = context.Solve(model.Model, deterministicSeconds);
        context.Log.Add($"exact placement for schedule {string.Join(",", schedule)}: {status}");
        return status is CpSolverStatus.Optimal or CpSolverStatus.Feasible ? model.Extract(solver) : null;
    }

    /// <summary>
    /// Local search over conversion schedules, one stage fewer at a time: merge two adjacent stages of the
    /// best schedule, optionally move one host to another stage, and repack. The number of packings tried
    /// scales with the time limit and the fleet size (deterministic: no clock).
    /// </summary>
    private SolverDecisions ScheduleSearch(SolverDecisions best, int lower)
    {
        var convertible = problem.Hosts.Where(h => h.Convertible).Select(h => h.Index).ToList();
        var budget = (int)Math.Min(400, context.Options.TimeLimitSeconds * PackingsPerSecondAndVm / Math.Max(1, problem.Vms.Count));
        var tried = new HashSet<string>(StringComparer.Ordinal);
        var improved = true;
        while (improved && best.LiveMigrations > 0 && budget > 0 && !context.Cancellation.IsCancellationRequested && !context.Budget.StopNow())
        {
            improved = false;
            var current = best.ConversionStage.Select(c => c ?? 0).ToArray();
            var last = convertible.Max(h => current[h]);
            foreach (var candidate in Neighbours(current, convertible, last, merge: best.Stages > lower))
            {
                if (budget <= 0 || context.Cancellation.IsCancellationRequested || context.Budget.StopNow())
                {
                    break;
                }

                if (!tried.Add(string.Join(",", candidate)))
                {
                    continue;
                }

                budget--;
                var order = convertible.OrderBy(h => candidate[h]).ThenBy(h => h).ToList();
                var packed = GreedyDecisions.Solve(problem, order, candidate);
                if (packed is not null && ExactSearch.Worse(best, packed) && new PlanSimulation(problem, packed).Violations().Count == 0)
                {
                    context.Log.Add($"schedule search: {packed.Stages} stages, {packed.LiveMigrations} live migrations");
                    best = packed;
                    improved = true;
                    break;
                }
            }
        }

        return best;
    }

    /// <summary>
    /// Schedules with the stages k and k + 1 merged, then each of those with one host moved to another stage,
    /// then the current schedule with one host moved (same stages, perhaps fewer live migrations).
    /// </summary>
    private static IEnumerable<int[]> Neighbours(int[] current, List<int> convertible, int last, bool merge)
    {
        var merged = new List<int[]>();
        for (var k = 1; k < Math.Max(2, last) && merge; k++)
        {
            merged.Add([.. current.Select(s => s > k ? s - 1 : s)]);
        }

        foreach (var m in merged)
        {
            yield return m;
        }

        foreach (var m in merged)
        {
            var top = convertible.Max(h => m[h]);
            foreach (var h in convertible)
            {
                for (var s = 1; s <= top; s++)
                {
                    if (s != m[h])
                    {
                        var moved = (int[])m.Clone();
                        moved[h] = s;
                        yield return moved;
                    }
                }
            }
        }

        foreach (var h in convertible)
        {
            for (var s = 1; s <= last; s++)
            {
                if (s != current[h])
                {
                    var moved = (int[])current.Clone();
                    moved[h] = s;
                    yield return moved;
                }
            }
        }

        // Two hosts trade stages: the same stage sizes, another order.
        foreach (var a in convertible)
        {
            foreach (var b in convertible.Where(b => b > a && current[b] != current[a]))
            {
                var swapped = (int[])current.Clone();
                (swapped[a], swapped[b]) = (current[b], current[a]);
                yield return swapped;
            }
        }
    }

    /// <summary>Conversion stage per host within <paramref name="stages"/> stages, fewest stages first; null if none found.</summary>
    private int[]? HostLevel(int stages, double margin, double deterministicSeconds, out CpSolverStatus status, bool aggressive = false,
        IReadOnlyList<int[]>? fewestHopsExcept = null)
    {
        var hosts = problem.Hosts;
        var vms = problem.Vms;
        var model = new CpModel();
        var conversion = new HostConversionVariables(model, hosts, stages);
        var conv = conversion.Conv;
        LinearExpr Pve(SolverHost h, int s) => conversion.Pve(h, s);
        LinearExpr Libvirt(SolverHost h, int s) => conversion.Libvirt(h, s);

        long Cap(long value) => (long)Math.Floor(value * margin);
        var ram = vms.Sum(v => v.RamMiB);
        var rbd = vms.Sum(v => v.RbdMiB);
        var storage = vms.Sum(v => v.ProvisionedMiB);
        var copy = vms.Sum(v => v.CopyMiB);
        var files = vms.Sum(v => v.FileMiB);
        // crossed[s]: fraction (per mille) of the fleet on PVE at stage s.
        var crossed = new IntVar[stages + 1];
        crossed[0] = model.NewConstant(0);
        var last = model.NewIntVar(1, stages, "last");
        for (var s = 1; s <= stages; s++)
        {
            crossed[s] = model.NewIntVar(0, Scale, $"crossed_{s}");
            model.Add(crossed[s] >= crossed[s - 1]);
            var pveRam = LinearExpr.NewBuilder();
            var libvirtRam = LinearExpr.NewBuilder();
            var pveStorage = LinearExpr.NewBuilder();
            var oldCeph = LinearExpr.NewBuilder();
            var copyBudget = LinearExpr.NewBuilder();
            var pveHosts = LinearExpr.NewBuilder();
            var localImages = LinearExpr.NewBuilder();
            foreach (var h in hosts)
            {
                var target = !h.Excluded;
                if (target)
                {
                    pveRam.AddTerm(Pve(h, s), Cap(h.RamCapacityMiB) * Scale);
                    pveStorage.AddTerm(Pve(h, s), (Cap(h.ZfsCapacityMiB) + Cap(problem.NewCephCapacityMiB([h]))) * Scale);
                    copyBudget.AddTerm(Pve(h, s), Cap(h.CopyBudgetMiB) * Scale);
                    pveHosts.Add(Pve(h, s));
                }

                libvirtRam.AddTerm(Libvirt(h, s), Cap(h.RamCapacityMiB) * Scale);
                oldCeph.AddTerm(Libvirt(h, s), problem.OldCephCapacityMiB([h]) * Scale);
                localImages.AddTerm(Libvirt(h, s), Cap(h.LocalImagesMiB) * Scale);
            }

            model.Add(crossed[s] * ram <= pveRam);
            model.Add((Scale - crossed[s]) * ram <= libvirtRam);
            model.Add(crossed[s] * storage <= pveStorage);
            model.Add((Scale - crossed[s - 1]) * rbd <= oldCeph);
            // File images still on libvirt fit the local-images capacity of the libvirt hosts left.
            model.Add((Scale - crossed[s]) * files <= localImages);
            model.Add((crossed[s] - crossed[s - 1]) * copy <= copyBudget);
        }

        foreach (var ((h, s), var) in conv)
        {
            model.Add(last >= s).OnlyEnforceIf(var);
        }

        // Everything has crossed by the last stage used.
        for (var s = 1; s <= stages; s++)
        {
            var isLast = model.NewBoolVar($"is_last_{s}");
            model.Add(last == s).OnlyEnforceIf(isLast);
            model.Add(last != s).OnlyEnforceIf(isLast.Not());
            model.Add(crossed[s] == Scale).OnlyEnforceIf(isLast);
        }

        for (var i = 1; i <= problem.PinnedOrder.Count && problem.PinnedOrder.Count > 0; i++)
        {
            var a = hosts[problem.PinnedOrder[i - 1]];
            var followers = i < problem.PinnedOrder.Count ? [hosts[problem.PinnedOrder[i]]]
                : hosts.Where(h => h.Convertible && !problem.PinnedOrder.Contains(h.Index)).ToList();
            foreach (var b in followers.Where(b => a.Convertible && b.Convertible))
            {
                model.Add(StageOf(conv, a.Index, stages) + 1 <= StageOf(conv, b.Index, stages));
            }
        }

        if (fewestHopsExcept is not null)
        {
            model.Add(last == stages);
            MinimizeHops(model, conv, crossed, stages, fewestHopsExcept);
        }
        else if (aggressive)
        {
            model.Minimize(last);
        }
        else
        {
            // Exactly this many stages: spreading conversions over them leaves the packing the most room.
            model.Add(last == stages);
        }
        var (result, solver) = context.Solve(model, deterministicSeconds);
        status = result;
        if (result is not (CpSolverStatus.Optimal or CpSolverStatus.Feasible))
        {
            return null;
        }

        var stagesOf = new int[hosts.Count];
        foreach (var ((h, s), var) in conv)
        {
            if (solver.BooleanValue(var))
            {
                stagesOf[h] = s;
            }
        }

        return stagesOf;
    }

    /// <summary>
    /// Objective for a schedule of fixed length: the RAM (GiB) that must leave hosts converting in wave s
    /// minus the RAM crossing to PVE in that wave (fluid) has to live-migrate; the VM count of the hosts
    /// converting in wave 1 is exact when nothing is PVE yet. Schedules already tried are cut off.
    /// </summary>
    private void MinimizeHops(CpModel model, Dictionary<(int Host, int Stage), BoolVar> conv, IntVar[] crossed, int stages, IReadOnlyList<int[]> except)
    {
        const long GiB = 1024;
        var ramGiB = Math.Max(1, (problem.Vms.Sum(v => v.RamMiB) + GiB - 1) / GiB);
        var vmCount = Math.Max(1, problem.Vms.Count);
        var objective = LinearExpr.NewBuilder();
        var convertible = problem.Hosts.Where(h => h.Convertible).ToList();
        for (var s = 1; s <= stages; s++)
        {
            var leaving = LinearExpr.NewBuilder();
            foreach (var h in convertible)
            {
                leaving.AddTerm(conv[(h.Index, s)], problem.VmsOn(h.Index).Sum(v => v.RamMiB) * Scale / GiB);
                if (s == 1)
                {
                    objective.AddTerm(conv[(h.Index, s)], problem.VmsOn(h.Index).Count() * ramGiB * Scale);
                }
            }

            var hops = model.NewIntVar(0, ramGiB * Scale, $"hop_ram_{s}");
            model.Add(hops >= leaving - ((crossed[s] - crossed[s - 1]) * ramGiB));
            objective.AddTerm(hops, vmCount);
        }

        foreach (var schedule in except)
        {
            model.AddBoolOr(convertible.Select(h => conv[(h.Index, schedule[h.Index])].Not()));
        }

        model.Minimize(objective);
    }

    private static LinearExpr StageOf(Dictionary<(int, int), BoolVar> conv, int host, int stages)
    {
        var b = LinearExpr.NewBuilder();
        for (var s = 1; s <= stages; s++)
        {
            b.AddTerm(conv[(host, s)], s);
        }

        return b;
    }
}
