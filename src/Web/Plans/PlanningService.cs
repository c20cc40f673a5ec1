using System.Collections.Concurrent;
using global::Hangfire;
using Taquin.Planner.Planning;
using Taquin.Planner.Solving;
using Taquin.Web.Audit;

namespace Taquin.Web.Plans;

/// <summary>Where a background planning job is, for the progress bar.</summary>
public sealed record PlanningProgress(string Phase, DateTimeOffset PhaseStarted, double? ExpectedSeconds);

/// <summary>
/// Plans an inventory folder in the background (a Hangfire job on its own queue, so `taquin worker` processes
/// sharing a PostgreSQL storage never take it): loads and validates the inventory, solves, adds the greedy baseline
/// and the lower bound the review shows, writes plan.json.
/// </summary>
public sealed class PlanningService(PlanCatalog catalog, InventoryCache inventories, AuditTrail audit, TimeProvider time)
{
    public const string QueueName = "web-planning";
    private readonly ConcurrentDictionary<string, PlanningProgress> _progress = new(StringComparer.Ordinal);

    public PlanningProgress? Progress(string planId) => _progress.GetValueOrDefault(planId);

    /// <summary>Creates the plan entry and queues its planning; returns the new plan's id.</summary>
    public string Queue(IBackgroundJobClient jobs, string name, string inventoryFolder, string planner, double timeLimit, string actor)
    {
        if (string.IsNullOrWhiteSpace(inventoryFolder))
        {
            throw new WebUserException("give the inventory folder (the one holding fleet.yaml, volumes.json and domains/)");
        }

        if (!Directory.Exists(inventoryFolder))
        {
            throw new WebUserException($"inventory folder '{inventoryFolder}' does not exist on the server");
        }

        if (planner is not ("cp-sat" or "greedy"))
        {
            throw new WebUserException($"planner '{planner}' is neither cp-sat nor greedy");
        }

        if (!(timeLimit is > 0 and <= 3600))
        {
            throw new WebUserException("the time limit must be between 1 and 3600 seconds");
        }

        var meta = catalog.Create(name, inventoryFolder, actor, "planned", PlanStatus.Planning, time.GetUtcNow(), planner, timeLimit);
        _progress[meta.Id] = new PlanningProgress("queued", time.GetUtcNow(), null);
        jobs.Create<PlanningService>(s => s.Plan(meta.Id), new global::Hangfire.States.EnqueuedState(QueueName));
        return meta.Id;
    }

    /// <summary>The Hangfire job. Failures end in the plan's status, never in a retry loop.</summary>
    [AutomaticRetry(Attempts = 0)]
    public void Plan(string planId)
    {
        var meta = catalog.FindMeta(planId) ?? throw new InvalidOperationException($"plan {planId} vanished");
        try
        {
            Report(planId, "loading the inventory", null);
            var state = inventories.Get(meta.InventoryFolder);
            if (state.Usable is not { } inventory)
            {
                throw new WebUserException("the inventory is not valid: " + string.Join("; ", state.Errors.Take(5).Select(e => e.ToString())));
            }

            DowntimeModel downtime;
            try
            {
                // fleet.yaml policy.rates, relative to the inventory (docs/rates-format.md); the defaults without it.
                downtime = RatesFile.ModelFor(inventory.Fleet, meta.InventoryFolder, null);
            }
            catch (RatesFileException e)
            {
                throw new WebUserException("rates file named by fleet.yaml policy.rates: " + e.Message);
            }

            var options = new PlannerOptions { TimeLimitSeconds = meta.TimeLimitSeconds, Downtime = downtime };
            Report(planId, meta.Planner == "greedy" ? "greedy planner" : "CP-SAT solver", meta.Planner == "greedy" ? null : meta.TimeLimitSeconds);
            IPlanSolver solver = meta.Planner == "greedy" ? new GreedyPlanner() : new CpSatPlanner();
            var plan = solver.Solve(inventory, options, CancellationToken.None);
            Report(planId, "baseline and lower bound", null);
            plan = WithBaselineAndBound(plan, inventory, options);
            catalog.SavePlan(planId, PlanJson.Serialize(plan));
            // The event goes in before the plan shows as ready: a reader who sees it ready also sees how it was made.
            audit.RecordPlanEventAsync(planId, meta.CreatedBy, "plan-created", $"{meta.Planner}: {plan.Solver.Status}, {plan.Metrics.Stages} stages, inventory {meta.InventoryFolder}").GetAwaiter().GetResult();
            catalog.SaveMeta(meta with { Status = PlanStatus.Ready });
        }
        catch (Exception ex) when (ex is WebUserException or PlanInfeasibleException or IOException)
        {
            var error = ex is PlanInfeasibleException infeasible ? "no plan: " + string.Join("; ", infeasible.Blockers) : ex.Message;
            catalog.SaveMeta(meta with { Status = PlanStatus.Failed, Error = error });
        }
        catch (Exception ex)
        {
            // Not the admin's mistake (a journal that cannot be written, a bug): the plan must not look "planning" for
            // good. Rethrown so the Hangfire dashboard keeps the details; the page shows the short form.
            catalog.SaveMeta(meta with { Status = PlanStatus.Failed, Error = $"planning stopped on an unexpected error ({ex.GetType().Name}: {ex.Message}); the job's details are on /hangfire" });
            throw;
        }
        finally
        {
            _progress.TryRemove(planId, out _);
        }
    }

    /// <summary>
    /// With the embedded job store a restart loses queued and running jobs: a plan still "planning" then never ends.
    /// Called once at start-up; PostgreSQL-backed jobs survive a restart and are left to finish.
    /// </summary>
    public static int FailPlansLostInRestart(PlanCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var lost = catalog.List().Where(m => m.Status == PlanStatus.Planning).ToList();
        foreach (var meta in lost)
        {
            catalog.SaveMeta(meta with { Status = PlanStatus.Failed, Error = "the server restarted while this plan was being made (the embedded job store does not keep jobs): plan the inventory again" });
        }

        return lost.Count;
    }

    /// <summary>The review shows the gain and the gap: the baseline and the bound when the planner did not give them.</summary>
    public static MigrationPlan WithBaselineAndBound(MigrationPlan plan, Planner.Inventory.FleetInventory inventory, PlannerOptions options)
    {
        var baseline = plan.Baseline;
        if (baseline is null)
        {
            try
            {
                baseline = GreedyPlanner.Plan(inventory, options).Metrics;
            }
            catch (PlanInfeasibleException)
            {
                // The solver found a plan the greedy cannot: no baseline to show.
            }
        }

        return plan with { Baseline = baseline, LowerBound = plan.LowerBound ?? LowerBounds.Compute(inventory, options) };
    }

    private void Report(string planId, string phase, double? expectedSeconds) => _progress[planId] = new PlanningProgress(phase, time.GetUtcNow(), expectedSeconds);
}
