using System.Diagnostics;
using System.Security.Cryptography;

namespace Taquin.Executors.Tests.Support;

/// <summary>The test bed's Ceph through the rbd CLI (CEPH_CONF from `scripts/testbed env`): images named per test, removed on dispose.</summary>
public sealed class TestbedCeph : IDisposable
{
    private readonly List<string> _images = [];

    public TestbedCeph()
    {
        Conf = Environment.GetEnvironmentVariable("TAQUIN_CEPH_CONF") is { Length: > 0 } conf ? conf
            : throw new InvalidOperationException($"TAQUIN_CEPH_CONF is not set, so there is no Ceph to test against: {Testbed.StartHint.Replace("up", "up --only ssh,ceph", StringComparison.Ordinal)}");
        Pool = Environment.GetEnvironmentVariable("TAQUIN_CEPH_POOL") is { Length: > 0 } pool ? pool : "rbd";
    }

    public string Conf { get; }
    public string Pool { get; }

    /// <summary>A new image "pool/name" of <paramref name="sizeBytes"/>, removed (with its snapshots) on dispose.</summary>
    public string CreateImage(string prefix, long sizeBytes)
    {
        var name = $"{Pool}/{prefix}-{Guid.NewGuid():N}"[..Math.Min(60, Pool.Length + 1 + prefix.Length + 33)];
        Rbd("create", "--size", $"{sizeBytes / 1024 / 1024}M", name);
        _images.Add(name);
        return name;
    }

    public void Track(string image) => _images.Add(image);

    /// <summary>
    /// A new image of <paramref name="mib"/> MiB of random bytes, every byte written (no zero run for rbd to skip),
    /// streamed into <c>rbd import -</c> without a staging file; returns the SHA-256 of the bytes sent. The caller tracks it.
    /// </summary>
    public string ImportRandom(string image, int mib)
    {
        var start = new ProcessStartInfo("rbd") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "--conf", Conf, "import", "--no-progress", "-", image })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var block = new byte[8 << 20];
        try
        {
            for (var left = (long)mib << 20; left > 0; left -= block.Length)
            {
                var chunk = block.AsSpan(0, (int)Math.Min(left, block.Length));
                RandomNumberGenerator.Fill(chunk);
                sha.AppendData(chunk);
                process.StandardInput.BaseStream.Write(chunk);
            }
        }
        catch (IOException)
        {
            // rbd stopped reading: its exit code and stderr below say why
        }
        finally
        {
            process.StandardInput.Close();
        }

        process.WaitForExit();
        stdout.GetAwaiter().GetResult();
        return process.ExitCode == 0 ? Convert.ToHexStringLower(sha.GetHashAndReset())
            : throw new InvalidOperationException($"rbd import - {image} exited {process.ExitCode}: {stderr.GetAwaiter().GetResult()}");
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> of the image (through rbd import-diff of a hand-built diff).</summary>
    public void Write(string image, long offset, byte[] data)
    {
        var size = Size(image);
        using var diff = new MemoryStream();
        var writer = new Executors.Movers.RbdDiff.RbdDiffWriter(diff);
        writer.WriteHeaderAsync(new Executors.Movers.RbdDiff.RbdDiffHeader(1, null, null, size)).GetAwaiter().GetResult();
        writer.WriteDataAsync(offset, data).GetAwaiter().GetResult();
        writer.WriteEndAsync().GetAwaiter().GetResult();
        Run(["rbd", "--conf", Conf, "import-diff", "--no-progress", "-", image], diff.ToArray());
    }

    public void Snapshot(string image, string snapshot) => Rbd("snap", "create", $"{image}@{snapshot}");

    public long Size(string image)
        => System.Text.Json.JsonDocument.Parse(Rbd("info", image, "--format", "json")).RootElement.GetProperty("size").GetInt64();

    public byte[] ExportDiff(string image, string? from, string to)
        => RunBytes(["rbd", "--conf", Conf, "export-diff", "--no-progress", .. from is null ? Array.Empty<string>() : ["--from-snap", from], $"{image}@{to}", "-"]);

    public byte[] Export(string spec, params string[] extra) => RunBytes(["rbd", "--conf", Conf, "export", "--no-progress", .. extra, spec, "-"]);

    public string Sha256(string spec) => Convert.ToHexStringLower(SHA256.HashData(Export(spec)));

    public string Rbd(params string[] args) => System.Text.Encoding.UTF8.GetString(RunBytes(["rbd", "--conf", Conf, .. args]));

    public static byte[] RunBytes(IReadOnlyList<string> argv) => Run(argv, null);

    public static byte[] Run(IReadOnlyList<string> argv, byte[]? stdin)
    {
        var start = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in argv.Skip(1))
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var writer = Task.Run(() =>
        {
            if (stdin is not null)
            {
                process.StandardInput.BaseStream.Write(stdin);
            }

            process.StandardInput.Close();
        });
        using var output = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(output);
        process.WaitForExit();
        writer.GetAwaiter().GetResult();
        return process.ExitCode == 0 ? output.ToArray()
            : throw new InvalidOperationException($"{string.Join(' ', argv)} exited {process.ExitCode}: {stderr.GetAwaiter().GetResult()}");
    }

    public void Dispose()
    {
        foreach (var image in _images)
        {
            try
            {
                Rbd("snap", "purge", "--no-progress", image);
                Rbd("rm", "--no-progress", image);
            }
            catch (InvalidOperationException)
            {
                // already gone (a test renamed or removed it)
            }
        }
    }
}
