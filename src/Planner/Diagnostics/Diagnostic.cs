namespace Taquin.Planner.Diagnostics;

public enum Severity
{
    Warning,
    Error,
}

/// <summary>
/// One problem found in the user's input, precise enough to act on without reading code:
/// where (file, line, element), what (value, message) and what to do (fix).
/// </summary>
public sealed record Diagnostic(
    Severity Severity,
    string File,
    string Element,
    string Message,
    string Fix,
    string? Value = null,
    int? Line = null,
    int? Column = null)
{
    public static Diagnostic Error(string file, string element, string message, string fix, string? value = null, int? line = null, int? column = null)
        => new(Severity.Error, file, element, message, fix, value, line, column);

    public static Diagnostic Warn(string file, string element, string message, string fix, string? value = null, int? line = null, int? column = null)
        => new(Severity.Warning, file, element, message, fix, value, line, column);

    public string Location => Line is { } l ? $"{File}:{l}:{Column ?? 0}" : File;

    public override string ToString()
    {
        var value = Value is null ? "" : $" (value '{Value}')";
        return $"{(Severity == Severity.Error ? "error" : "warning")}: {Location}: <{Element}>{value}: {Message} Fix: {Fix}";
    }
}

/// <summary>Thrown only at the edge when input cannot be used at all; carries every diagnostic at once.</summary>
public sealed class InvalidInputException(IReadOnlyList<Diagnostic> diagnostics)
    : Exception($"{diagnostics.Count} problem(s) in the input: " + string.Join("; ", diagnostics.Take(3)))
{
    public IReadOnlyList<Diagnostic> Diagnostics { get; } = diagnostics;
}
