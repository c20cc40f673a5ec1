using System.Globalization;

namespace Taquin.Planner.Inventory;

/// <summary>Sizes as users write them: "128GiB", "3.84TB", "960G", "512 MiB", or a plain byte count.</summary>
public static class ByteSize
{
    public const long KiB = 1024;
    public const long MiB = 1024 * KiB;
    public const long GiB = 1024 * MiB;
    public const long TiB = 1024 * GiB;

    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim().Replace(" ", "", StringComparison.Ordinal);
        var i = 0;
        while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '.'))
        {
            i++;
        }

        if (i == 0 || !double.TryParse(s[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || number < 0)
        {
            return false;
        }

        long? factor = s[i..].ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KIB" => KiB,
            "KB" => 1000,
            "M" or "MIB" => MiB,
            "MB" => 1000L * 1000,
            "G" or "GIB" => GiB,
            "GB" => 1000L * 1000 * 1000,
            "T" or "TIB" => TiB,
            "TB" => 1000L * 1000 * 1000 * 1000,
            "P" or "PIB" => 1024 * TiB,
            "PB" => 1000L * 1000 * 1000 * 1000 * 1000,
            _ => null,
        };
        if (factor is null)
        {
            return false;
        }

        bytes = checked((long)Math.Round(number * factor.Value));
        return true;
    }

    /// <summary>libvirt's unit attribute (memory, currentMemory): default KiB, 'k' = KiB, 'KB' = 1000.</summary>
    public static bool TryFromLibvirt(string value, string? unit, out long bytes)
    {
        bytes = 0;
        if (!long.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            return false;
        }

        long? factor = (unit ?? "KiB") switch
        {
            "b" or "bytes" => 1,
            "KB" => 1000,
            "k" or "KiB" => KiB,
            "MB" => 1000L * 1000,
            "M" or "MiB" => MiB,
            "GB" => 1000L * 1000 * 1000,
            "G" or "GiB" => GiB,
            "TB" => 1000L * 1000 * 1000 * 1000,
            "T" or "TiB" => TiB,
            _ => null,
        };
        if (factor is null)
        {
            return false;
        }

        bytes = checked(n * factor.Value);
        return true;
    }

    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double v = bytes;
        var u = 0;
        while (Math.Abs(v) >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }

        return u == 0 ? $"{bytes} B" : v.ToString(v >= 100 ? "0" : v >= 10 ? "0.#" : "0.##", CultureInfo.InvariantCulture) + " " + units[u];
    }
}
