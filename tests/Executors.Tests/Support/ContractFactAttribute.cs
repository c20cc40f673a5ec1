using Xunit.Abstractions;
using Xunit.Sdk;

namespace Taquin.Executors.Tests.Support;

/// <summary>Marks a test class whose tests (including inherited contract tests) need the integration test bed.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresTestbedAttribute : Attribute;

/// <summary>
/// A fact of a contract suite shared by several implementations. The attribute sits on the abstract base, so it
/// cannot know the store; its discoverer looks at the concrete class and skips the test when that class
/// <see cref="RequiresTestbedAttribute">requires the test bed</see> and TAQUIN_NO_TESTBED=1.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
[XunitTestCaseDiscoverer("Taquin.Executors.Tests.Support.ContractFactDiscoverer", "Taquin.Executors.Tests")]
public sealed class ContractFactAttribute : FactAttribute;

public sealed class ContractFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    private readonly IMessageSink _diagnosticMessageSink = diagnosticMessageSink;

    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        var needsTestbed = testMethod.TestClass.Class is IReflectionTypeInfo reflected
            && reflected.Type.IsDefined(typeof(RequiresTestbedAttribute), inherit: true);
        if (needsTestbed && Testbed.OptedOut)
        {
            return
            [
                new XunitSkippedDataRowTestCase(_diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
                    discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, Testbed.SkipReason),
            ];
        }

        return base.Discover(discoveryOptions, testMethod, factAttribute);
    }
}
