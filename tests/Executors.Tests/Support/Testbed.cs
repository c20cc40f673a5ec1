namespace Taquin.Executors.Tests.Support;

/// <summary>How tests reach the integration test bed (scripts/testbed), read from the environment.</summary>
public static class Testbed
{
    public const string PostgresVariable = "TAQUIN_PG_CONNECTION";
    public const string OptOutVariable = "TAQUIN_NO_TESTBED";

    public const string StartHint = "start the test bed: scripts/testbed up && eval \"$(scripts/testbed env)\"";

    /// <summary>TAQUIN_NO_TESTBED=1: integration tests are skipped (loudly) instead of failing.</summary>
    public static bool OptedOut => Environment.GetEnvironmentVariable(OptOutVariable) == "1";

    public static string SkipReason =>
        $"SKIPPED: {OptOutVariable}=1, so this test did not run against a real server. Unset it and {StartHint}.";

    public static string? PostgresConnectionString =>
        Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } value ? value : null;

    /// <summary>The PostgreSQL connection string, or a failure that says how to get one.</summary>
    public static string RequirePostgres() =>
        PostgresConnectionString ?? throw new InvalidOperationException(
            $"{PostgresVariable} is not set, so the PostgreSQL tests have no server: {StartHint} " +
            $"(or set {OptOutVariable}=1 to skip them).");
}
