using Taquin.Planner.Planning;

namespace Taquin.Bench;

/// <summary>
/// <c>movers --rates-out FILE</c>: the bench's figures as a rates file (docs/rates-format.md) that
/// <c>taquin plan --rates FILE</c> (or fleet.yaml <c>policy.rates</c>) reads, so a sysadmin measures their own hosts.
/// </summary>
internal static class RatesOut
{
    public const string Option = "--rates-out";

    /// <summary>The file after <c>--rates-out</c>, or null when the option is not given.</summary>
    public static string? PathArg(string[] args)
        => Array.IndexOf(args, Option) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    public static async Task WriteAsync(string path, MoversMeasurements measurements, string resultsFile)
    {
        var yaml = RatesFile.Write(measurements.ToRates(),
        [
            $"Written by the movers bench (dotnet run -c Release --project bench/Taquin.Bench -- movers --rates-out {Path.GetFileName(path)}).",
            // Relative to the repository: the file is committed, a machine's path would not be true elsewhere.
            $"The same run's report: bench/results/{Path.GetFileName(resultsFile)}.",
            "Use it with: taquin plan <inventory> --rates " + Path.GetFileName(path) + "   (or fleet.yaml policy.rates: <path relative to the inventory>).",
        ]);
        await File.WriteAllTextAsync(path, yaml);
        Console.WriteLine($"rates written to {path}");
    }
}
