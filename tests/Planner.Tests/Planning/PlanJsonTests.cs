using Taquin.Planner.Planning;
using static Taquin.Planner.Tests.Planning.TestFleets;

namespace Taquin.Planner.Tests.Planning;

public sealed class PlanJsonTests
{
    private static MigrationPlan SamplePlan() => GreedyPlanner.Plan(Random(4, hostCount: 4, vmsPerHost: 5), new PlannerOptions());

    [Fact]
    public void A_plan_survives_a_round_trip_unchanged()
    {
        var plan = SamplePlan();

        var json = PlanJson.Serialize(plan);
        var back = PlanJson.Deserialize(json);

        Assert.Equal(json, PlanJson.Serialize(back));
        Assert.Equal(plan.Metrics, back.Metrics);
        Assert.Equal(plan.Stages[^1].Placements.OrderBy(p => p.Key), back.Stages[^1].Placements.OrderBy(p => p.Key));
        Assert.Equal(plan.Stages.SelectMany(s => s.Actions), back.Stages.SelectMany(s => s.Actions));
    }

    [Fact]
    public void The_file_uses_the_documented_names()
    {
        var json = PlanJson.Serialize(SamplePlan());

        Assert.Contains("\"schemaVersion\": 1", json, StringComparison.Ordinal);
        Assert.Contains("\"inventoryDigest\":", json, StringComparison.Ordinal);
        Assert.Contains("\"status\": \"GREEDY\"", json, StringComparison.Ordinal);
        Assert.Contains("\"kind\": \"convert-host\"", json, StringComparison.Ordinal);
        Assert.Contains("\"kind\": \"move-to-pve\"", json, StringComparison.Ordinal);
        Assert.Contains("\"h1\": \"converting\"", json, StringComparison.Ordinal);
        Assert.Contains("\"storage\": \"old-ceph\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_schema_version_is_refused_with_the_path_and_a_fix()
    {
        var json = PlanJson.Serialize(SamplePlan()).Replace("\"schemaVersion\": 1", "\"schemaVersion\": 7", StringComparison.Ordinal);

        var error = Assert.Throws<PlanFileException>(() => PlanJson.Deserialize(json, "plans/wave.json"));

        Assert.Equal("plans/wave.json", error.File);
        Assert.Equal("$.schemaVersion", error.JsonPath);
        Assert.Contains("schema version 7 is not supported", error.Message, StringComparison.Ordinal);
        Assert.Contains("Fix: re-run `taquin plan`", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wrong_value_deep_in_the_file_is_located_by_json_path()
    {
        var json = PlanJson.Serialize(SamplePlan()).Replace("\"h1\": \"converting\"", "\"h1\": \"rebooting\"", StringComparison.Ordinal);

        var error = Assert.Throws<PlanFileException>(() => PlanJson.Deserialize(json, "plan.json"));

        Assert.StartsWith("$.stages[", error.JsonPath, StringComparison.Ordinal);
        Assert.Contains(".hosts.h1", error.JsonPath, StringComparison.Ordinal);
    }

    [Fact]
    public void A_placement_without_host_is_a_coverage_violation_not_a_crash()
    {
        var inventory = Random(4, hostCount: 4, vmsPerHost: 5);
        var vm = inventory.Vms[0].Name;
        var json = PlanJson.Serialize(GreedyPlanner.Plan(inventory, new PlannerOptions()))
            .Replace($"\"{vm}\": {{\n          \"host\": \"{inventory.Vms[0].Host}\",", $"\"{vm}\": {{", StringComparison.Ordinal);

        var violations = PlanVerifier.Verify(PlanJson.Deserialize(json), inventory);

        Assert.Contains(violations, v => v.Rule == PlanRule.Coverage && v.Subject == vm && v.Stage == 0);
    }

    [Fact]
    public void Broken_json_names_the_line()
    {
        var error = Assert.Throws<PlanFileException>(() => PlanJson.Deserialize("{ \"schemaVersion\": 1, \"stages\": [ }", "plan.json"));

        Assert.Contains("line 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("Fix:", error.Message, StringComparison.Ordinal);
    }
}
