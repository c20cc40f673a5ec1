using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Taquin.Executors.Movers.Progress;

/// <summary>Which tool's own progress output a <see cref="ToolProgressParser"/> reads (formats captured on the test bed).</summary>
public enum ToolProgressFormat
{
    /// <summary>
    /// rbd's progress meter on stderr, <c>\rExporting image: 6% complete...</c>, ending <c>...done.</c> or <c>...failed.</c>:
    /// whole percent of the image's address space walked (export, export-diff).
    /// </summary>
    RbdExport,

    /// <summary><c>qemu-img convert -p</c> on stdout, <c>    (6.25/100%)\r</c>: percent of the data to copy.</summary>
    QemuImg,

    /// <summary>GNU dd <c>status=progress</c> on stderr, <c>\r4194304 bytes (4.2 MB, 4.0 MiB) copied, 3 s, 1.7 MB/s</c>: exact bytes.</summary>
    DdBytes,
}

/// <summary>One progress record as the tool printed it: a percentage (0–100) or a byte count.</summary>
public readonly record struct ToolProgressReading(double? Percent, long? Bytes);

/// <summary>
/// Reads a tool's progress records out of its output as it arrives: records end with <c>\r</c> or <c>\n</c>, may be
/// split across writes, and a pending record is read as soon as it is complete (rbd writes the <c>\r</c> before its
/// record, so waiting for the next one would always be one step late). Anything else (error messages) is ignored here:
/// the runner keeps stderr for the failure reason, and <see cref="WithoutProgress"/> cleans it.
/// </summary>
public sealed partial class ToolProgressParser(ToolProgressFormat format)
{
    /// <summary>Longer records are not progress (an error line): they are skipped without being buffered.</summary>
    private const int MaxRecordBytes = 160;
    private readonly byte[] _record = new byte[MaxRecordBytes];
    private int _length;
    private bool _overlong;

    /// <summary>The newest reading, null until the tool printed one.</summary>
    public ToolProgressReading? Latest { get; private set; }

    /// <summary>Distinct readings seen so far.</summary>
    public int Readings { get; private set; }

    /// <summary>Feeds output bytes; true when they brought a new reading (<see cref="Latest"/>).</summary>
    public bool Feed(ReadOnlySpan<byte> output)
    {
        var changed = false;
        foreach (var b in output)
        {
            if (b is (byte)'\r' or (byte)'\n')
            {
                changed |= Evaluate();
                _length = 0;
                _overlong = false;
            }
            else if (_length < MaxRecordBytes)
            {
                _record[_length++] = b;
            }
            else
            {
                _overlong = true;
            }
        }

        return Evaluate() | changed;
    }

    private bool Evaluate()
    {
        if (_overlong || _length == 0)
        {
            return false;
        }

        var reading = Parse(format, Encoding.ASCII.GetString(_record, 0, _length));
        if (reading is null || reading == Latest)
        {
            return false;
        }

        Latest = reading;
        Readings++;
        return true;
    }

    /// <summary>One complete record, or null when it is not (or not yet) a progress record of <paramref name="format"/>.</summary>
    public static ToolProgressReading? Parse(ToolProgressFormat format, string record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var match = Pattern(format).Match(record);
        if (!match.Success)
        {
            return null;
        }

        var value = match.Groups["n"].Value;
        if (format == ToolProgressFormat.DdBytes)
        {
            return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) ? new ToolProgressReading(null, bytes) : null;
        }

        return double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var percent) && percent <= 100
            ? new ToolProgressReading(percent, null)
            : null;
    }

    /// <summary>
    /// <paramref name="output"/> without its bare progress records (one line per remaining record): what is left is what
    /// a failure reason should show, e.g. <c>Exporting image: 0% complete...failed.</c> and <c>rbd: export-diff error: …</c>.
    /// </summary>
    public static string WithoutProgress(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var kept = output.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(r => !BareProgress().IsMatch(r));
        return string.Join('\n', kept);
    }

    private static Regex Pattern(ToolProgressFormat format) => format switch
    {
        ToolProgressFormat.RbdExport => RbdExportRecord(),
        ToolProgressFormat.QemuImg => QemuImgRecord(),
        ToolProgressFormat.DdBytes => DdRecord(),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    [GeneratedRegex(@"^Exporting image: (?<n>\d{1,3})% complete\.\.\.", RegexOptions.CultureInvariant)]
    private static partial Regex RbdExportRecord();

    [GeneratedRegex(@"^\s*\((?<n>\d{1,3}\.\d{2})/100%\)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex QemuImgRecord();

    [GeneratedRegex(@"^(?<n>\d{1,19}) bytes \(", RegexOptions.CultureInvariant)]
    private static partial Regex DdRecord();

    [GeneratedRegex(@"^(?:[A-Za-z][A-Za-z ]*: \d{1,3}% complete\.\.\.|\(\d{1,3}\.\d{2}/100%\)|\d+ bytes \(.*\) copied, .*|\d+\+\d+ records (?:in|out))$", RegexOptions.CultureInvariant)]
    private static partial Regex BareProgress();
}
