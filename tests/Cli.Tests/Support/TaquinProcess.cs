using System.Diagnostics;
using Taquin.Cli.Commands;

namespace Taquin.Cli.Tests.Support;

/// <summary>The built <c>taquin</c> started as a real child process, with its output captured.</summary>
internal sealed record TaquinChild(Process Process, int Pid, Task<string> Stdout, Task<string> Stderr)
{
    public async Task<string> OutputAsync() => await Stdout + await Stderr;
}

internal static class TaquinProcess
{
    /// <summary>Starts <c>dotnet taquin.dll args</c>; the PostgreSQL connection comes only from <paramref name="postgres"/>.</summary>
    public static TaquinChild Start(string? postgres, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "taquin.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["COLUMNS"] = "300";
        info.Environment.Remove(RunOptions.PostgresVariable);
        if (postgres is not null)
        {
            info.Environment[RunOptions.PostgresVariable] = postgres;
        }

        var process = Process.Start(info)!;
        return new TaquinChild(process, process.Id, process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
    }

    /// <summary>Runs to the end within <paramref name="patience"/> (killed and failed otherwise); exit code and labelled output.</summary>
    public static async Task<(int Exit, string Output)> RunToEndAsync(TimeSpan patience, string? postgres, params string[] args)
    {
        var child = Start(postgres, args);
        using var process = child.Process;
        using var timeout = new CancellationTokenSource(patience);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            Assert.Fail($"taquin {string.Join(' ', args)} did not end within {patience.TotalSeconds} s");
        }

        return (process.ExitCode, $"taquin {string.Join(' ', args)}:{Environment.NewLine}{await child.OutputAsync()}");
    }

    public static void ExpectSuccess((int Exit, string Output) result) => Assert.True(result.Exit == 0, result.Output);
}
