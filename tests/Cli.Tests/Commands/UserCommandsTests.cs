using System.CommandLine;
using Taquin.Cli.Commands;
using Taquin.Web.Accounts;

namespace Taquin.Cli.Tests.Commands;

public sealed class UserCommandsTests
{
    [Fact]
    public void User_add_stores_a_hash_that_verifies_and_never_the_password()
    {
        var data = Directory.CreateTempSubdirectory("taquin-users-").FullName;
        try
        {
            var exit = Invoke(data, "correct horse battery", "user", "add", "alice", "--role", "operator", "--data", data, "--password-stdin");

            Assert.Equal(0, exit);
            var users = new UserStore(data, []);
            Assert.Equal("operator", users.Verify("alice", "correct horse battery")?.Role);
            Assert.Null(users.Verify("alice", "wrong password"));
            Assert.DoesNotContain("correct horse battery", File.ReadAllText(UserStore.FileIn(data)), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Theory]
    [InlineData("superuser", "long enough password")]
    [InlineData("viewer", "short")]
    public void User_add_refuses_an_unknown_role_or_a_short_password(string role, string password)
    {
        var data = Directory.CreateTempSubdirectory("taquin-users-").FullName;
        try
        {
            Assert.Equal(2, Invoke(data, password, "user", "add", "bob", "--role", role, "--data", data, "--password-stdin"));
            Assert.Null(new UserStore(data, []).Find("bob"));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static int Invoke(string data, string password, params string[] args)
    {
        Assert.True(Directory.Exists(data));
        var root = new RootCommand { UserCommands.Build(new StringReader(password + "\n")) };
        return root.Parse(args).Invoke();
    }
}
