namespace Taquin.Executors.Tests.Support;

/// <summary>A fact that needs the test bed: skipped with a loud reason when TAQUIN_NO_TESTBED=1, else it runs (and fails without a server).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class IntegrationFactAttribute : FactAttribute
{
    public IntegrationFactAttribute()
    {
        if (Testbed.OptedOut)
        {
            Skip = Testbed.SkipReason;
        }
    }
}

/// <summary>A theory that needs the test bed; see <see cref="IntegrationFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class IntegrationTheoryAttribute : TheoryAttribute
{
    public IntegrationTheoryAttribute()
    {
        if (Testbed.OptedOut)
        {
            Skip = Testbed.SkipReason;
        }
    }
}
