namespace Taquin.Web;

/// <summary>How `taquin serve` runs the web monitor.</summary>
public sealed record WebOptions
{
    /// <summary>Plans (one folder each, with the journal and twin beside plan.json) and users.json live here.</summary>
    public required string DataDirectory { get; init; }
    /// <summary>PostgreSQL for the journal, the audit trail and Hangfire; null means SQLite files + Hangfire.InMemory.</summary>
    public string? PostgresConnection { get; init; }
    /// <summary>Runs execute on a simulated twin of the fleet (the real adapters come with their own issue).</summary>
    public bool Simulate { get; init; }
    /// <summary>Simulated seconds per real second for simulated runs.</summary>
    public double TimeScale { get; init; } = 300;
    /// <summary>When set, a request carrying this header (set by a trusted reverse proxy) is signed in as that local user.</summary>
    public string? TrustedUserHeader { get; init; }
    /// <summary>Users from configuration, on top of users.json.</summary>
    public IReadOnlyList<Accounts.WebUser> ConfiguredUsers { get; init; } = [];

    public string PlansDirectory => Path.Combine(DataDirectory, "plans");
}

/// <summary>A user's mistake or a refused action, shown on the page as is.</summary>
public sealed class WebUserException(string message) : Exception(message);
