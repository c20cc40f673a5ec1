using Taquin.Executors.Adapters;

namespace Taquin.Executors.Tests.Support;

/// <summary>
/// Test support for the namespace tests: an <see cref="ISshRunner"/> whose "hosts" are network namespaces of this
/// machine. Each command goes to the real <see cref="LocalProcessRunner"/> as <c>ip netns exec NS argv…</c> (the host
/// name picks NS), and is recorded; <paramref name="rewrite"/> lets a test replace a command this kernel cannot run.
/// </summary>
public sealed class NetnsRunner(IReadOnlyDictionary<string, string> namespaces, Func<IReadOnlyList<string>, IReadOnlyList<string>>? rewrite = null) : ISshRunner
{
    private readonly LocalProcessRunner _local = new(TimeSpan.FromSeconds(30));
    private readonly List<(string Host, IReadOnlyList<string> Argv)> _commands = [];

    public IReadOnlyList<(string Host, IReadOnlyList<string> Argv)> Commands
    {
        get
        {
            lock (_commands)
            {
                return [.. _commands];
            }
        }
    }

    public Task<SshResult> RunAsync(string host, IReadOnlyList<string> argv, Stream? stdin = null, CancellationToken ct = default) =>
        InNamespace(host, argv) is { } local ? _local.RunAsync(host, local, stdin, ct) : Task.FromResult(Unknown(host));

    public Task<SshResult> RunStreamingAsync(string host, IReadOnlyList<string> argv, Stream? stdin, Stream stdout, CancellationToken ct = default) =>
        InNamespace(host, argv) is { } local ? _local.RunStreamingAsync(host, local, stdin, stdout, ct) : Task.FromResult(Unknown(host));

    public Task<SshResult> RunWithStderrTapAsync(string host, IReadOnlyList<string> argv, Stream stderrTap, Stream? stdin = null, CancellationToken ct = default) =>
        InNamespace(host, argv) is { } local ? _local.RunWithStderrTapAsync(host, local, stderrTap, stdin, ct) : Task.FromResult(Unknown(host));

    private string[]? InNamespace(string host, IReadOnlyList<string> argv)
    {
        if (!namespaces.TryGetValue(host, out var netns))
        {
            return null;
        }

        lock (_commands)
        {
            _commands.Add((host, argv));
        }

        return ["ip", "netns", "exec", netns, .. rewrite?.Invoke(argv) ?? argv];
    }

    private static SshResult Unknown(string host) => new(255, "", $"ssh: Could not resolve hostname {host}");
}
