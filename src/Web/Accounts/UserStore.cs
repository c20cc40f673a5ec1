using System.Text.Json;
using Microsoft.AspNetCore.Identity;

namespace Taquin.Web.Accounts;

/// <summary>A local account; the password is kept only as an ASP.NET Core Identity hash (PBKDF2).</summary>
public sealed record WebUser(string Name, string Role, string PasswordHash);

public static class Roles
{
    public const string Admin = "admin";
    public const string Operator = "operator";
    public const string Viewer = "viewer";
    public static IReadOnlyList<string> All { get; } = [Admin, Operator, Viewer];

    /// <summary>Policy names: admins approve; operators (and admins) run waves.</summary>
    public const string CanApprove = "can-approve";
    public const string CanOperate = "can-operate";
}

/// <summary>Users from configuration plus <c>users.json</c> in the data folder (written by `taquin user add`).</summary>
public sealed class UserStore
{
    private static readonly PasswordHasher<WebUser> Hasher = new();
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private readonly string _file;
    private readonly IReadOnlyList<WebUser> _configured;

    public UserStore(string dataDirectory, IReadOnlyList<WebUser> configured)
    {
        _file = FileIn(dataDirectory);
        _configured = configured;
    }

    public static string FileIn(string dataDirectory) => Path.Combine(dataDirectory, "users.json");

    public IReadOnlyList<WebUser> All()
    {
        var fromFile = Read(_file);
        return [.. _configured, .. fromFile.Where(u => _configured.All(c => c.Name != u.Name))];
    }

    public WebUser? Find(string name) => All().FirstOrDefault(u => string.Equals(u.Name, name, StringComparison.Ordinal));

    /// <summary>The user when the password matches its hash; null otherwise (unknown user or wrong password alike).</summary>
    public WebUser? Verify(string name, string password)
    {
        var user = Find(name);
        if (user is null || string.IsNullOrEmpty(password))
        {
            return null;
        }

        return Hasher.VerifyHashedPassword(user, user.PasswordHash, password) == PasswordVerificationResult.Failed ? null : user;
    }

    public static string Hash(string password) => Hasher.HashPassword(new WebUser("", "", ""), password);

    /// <summary>Adds or replaces a user in <c>users.json</c> of the data folder.</summary>
    public static void Add(string dataDirectory, string name, string role, string password)
    {
        if (!Roles.All.Contains(role))
        {
            throw new WebUserException($"role '{role}' is not one of {string.Join(", ", Roles.All)}");
        }

        if (string.IsNullOrWhiteSpace(name) || name.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new WebUserException($"user name '{name}' must be non-empty, without spaces");
        }

        if (password.Length < 8)
        {
            throw new WebUserException("the password must have at least 8 characters");
        }

        Directory.CreateDirectory(dataDirectory);
        var file = FileIn(dataDirectory);
        var users = Read(file).Where(u => u.Name != name).Append(new WebUser(name, role, Hash(password))).OrderBy(u => u.Name, StringComparer.Ordinal).ToList();
        var temporary = file + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(users, Json));
        File.Move(temporary, file, overwrite: true);
    }

    private static List<WebUser> Read(string file)
    {
        if (!File.Exists(file))
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize<List<WebUser>>(File.ReadAllText(file)) ?? [];
        }
        catch (JsonException ex)
        {
            throw new WebUserException($"{file} is not a valid users file ({ex.Message}): fix it or remove it and run `taquin user add` again");
        }
    }
}
