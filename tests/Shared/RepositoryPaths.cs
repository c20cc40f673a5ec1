namespace Taquin.Tests.Shared;

/// <summary>Paths inside the repository checkout the tests run from (samples, schemas).</summary>
internal static class RepositoryPaths
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Migration.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Migration.sln not found above " + AppContext.BaseDirectory);
    });

    public static string Root => RootPath.Value;

    public static string Sample(string name) => Path.Combine(Root, "samples", name);
}
