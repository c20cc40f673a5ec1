namespace Taquin.Web;

/// <summary>Placeholder until the web job monitor lands (issue 8).</summary>
internal static class WebMarker;
