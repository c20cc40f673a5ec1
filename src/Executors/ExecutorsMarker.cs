namespace Taquin.Executors;

/// <summary>Placeholder until the step engine lands (issue 4).</summary>
internal static class ExecutorsMarker;
