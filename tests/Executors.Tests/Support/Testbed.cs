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

    /// <summary>The test bed's OpenSSH server (scripts/testbed up --only ssh), or a failure that says how to start it.</summary>
    public static SshTestbed RequireSsh()
    {
        string Need(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set, so the SSH tests have no server: scripts/testbed up --only ssh && eval \"$(scripts/testbed env)\" " +
                $"(or set {OptOutVariable}=1 to skip them).");

        return new SshTestbed(
            Need("TAQUIN_SSH_HOST"),
            int.Parse(Need("TAQUIN_SSH_PORT"), System.Globalization.CultureInfo.InvariantCulture),
            Need("TAQUIN_SSH_USER"),
            Need("TAQUIN_SSH_KEY"),
            Need("TAQUIN_SSH_KNOWN_HOSTS"),
            Need("TAQUIN_SSH_HOST_KEY_FINGERPRINT"),
            Need("TAQUIN_TESTBED_DIR"));
    }
}

/// <summary>Where the test bed's sshd listens and the files that authenticate to and trust it.</summary>
public sealed record SshTestbed(string Host, int Port, string User, string KeyFile, string KnownHostsFile, string HostKeyFingerprint, string Directory)
{
    /// <summary>Pid of the sshd listener (its per-connection children serve our sessions).</summary>
    public int ListenerPid => int.Parse(File.ReadAllText(Path.Combine(Directory, "run", "sshd.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
}
