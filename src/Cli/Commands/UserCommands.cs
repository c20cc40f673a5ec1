using System.CommandLine;
using Spectre.Console;
using Taquin.Web;
using Taquin.Web.Accounts;

namespace Taquin.Cli.Commands;

/// <summary>`taquin user add`: local accounts of the web monitor (users.json in its data folder, passwords hashed).</summary>
internal static class UserCommands
{
    internal static Command Build() => Build(Console.In);

    internal static Command Build(TextReader input)
    {
        var name = new Argument<string>("name") { Description = "User name" };
        var role = new Option<string>("--role") { Description = "admin (approves plans), operator (runs waves) or viewer (reads)", Required = true };
        var data = ServeCommands.DataOption();
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from the first line of standard input (for scripts)" };
        var add = new Command("add", "Add a user, or replace the password and role of an existing one") { name, role, data, passwordStdin };
        add.SetAction(parse =>
        {
            var ui = AnsiConsole.Console;
            var password = parse.GetValue(passwordStdin) || Console.IsInputRedirected
                ? input.ReadLine() ?? ""
                : ui.Prompt(new TextPrompt<string>("Password:").Secret());
            try
            {
                UserStore.Add(Path.GetFullPath(parse.GetValue(data)!), parse.GetValue(name)!, parse.GetValue(role)!, password);
            }
            catch (WebUserException ex)
            {
                ui.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
                return 2;
            }

            ui.MarkupLineInterpolated($"user [bold]{parse.GetValue(name)}[/] ({parse.GetValue(role)}) saved in {UserStore.FileIn(Path.GetFullPath(parse.GetValue(data)!))}");
            return 0;
        });
        var user = new Command("user", "Manage the web monitor's local accounts");
        user.Subcommands.Add(add);
        return user;
    }
}
