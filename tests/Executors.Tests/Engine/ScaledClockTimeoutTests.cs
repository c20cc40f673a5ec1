using Taquin.Executors.Engine;
using Taquin.Executors.Journal;
using Taquin.Executors.Simulation;
using Taquin.Executors.Steps;

namespace Taquin.Executors.Tests.Engine;

public sealed class ScaledClockTimeoutTests
{
    [Fact]
    public async Task On_a_600x_simulated_clock_a_step_is_not_timed_out_by_the_engines_own_real_time_work()
    {
        // A 1-minute timeout is 0.1 s of real time at 600×; the step's own work here takes 1.5 s of real time, as journal
        // round trips do on a loaded machine. The engine gives every attempt at least 10 real seconds on a sped-up clock.
        var h = new TestFleet.Harness();
        var run = await h.CreateRunAsync();
        var slow = new SlowPreflight(TimeSpan.FromSeconds(1.5));
        var registry = new StepRegistry(StepRegistry.CreateDefault().Types.Select(t => t == StepTypes.Preflight ? slow : StepRegistry.CreateDefault().Get(t)));
        var scaled = new ScaledTimeProvider(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, 600);
        var engine = new StepEngine(h.Journal, registry, h.Adapters, scaled, new EngineOptions { WorkerId = "w1", LeaseTtl = TimeSpan.FromDays(1), CopySlotsPerHost = 1 });

        var preflight = await h.StepAsync(run, "vm:web-01", StepTypes.Preflight);
        var outcome = await engine.RunStepAsync(preflight.StepId);

        var after = (await h.Journal.GetStepAsync(preflight.StepId))!;
        Assert.True(outcome == StepRunOutcome.Succeeded, $"{outcome}: {after.LastReason}");
        Assert.Equal(1, after.Attempts);
        Assert.True(slow.Finished);
    }

    private sealed class SlowPreflight(TimeSpan realWork) : StepBase
    {
        public bool Finished { get; private set; }
        public override string Type => StepTypes.Preflight;
        public override StepPolicy Policy { get; } = new(TimeSpan.FromMinutes(1), new RetryPolicy(1, TimeSpan.Zero), CanCompensate: false, UsesCopySlots: false);

        public override async Task<StepResult> ExecuteAsync(StepContext context)
        {
            await Task.Delay(realWork, context.CancellationToken);
            Finished = true;
            return StepResult.Done("slow but done");
        }

        public override Task<bool> VerifyAsync(StepContext context) => Task.FromResult(Finished);
    }
}
