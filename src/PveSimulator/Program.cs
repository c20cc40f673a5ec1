using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Taquin.PveSimulator;

// dotnet run --project src/PveSimulator -- --port N --data DIR [--nodes pve1,pve2] [--standalone]
// Credentials: TAQUIN_PVESIM_PASSWORD (root@pam) and TAQUIN_PVESIM_TOKEN ("root@pam!taquin=SECRET"), generated when unset;
// they are written with the URL and certificate fingerprint to DIR/simulator.json (mode 600), never printed.
var arguments = new Dictionary<string, string>(StringComparer.Ordinal);
var flags = new HashSet<string>(StringComparer.Ordinal);
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--standalone")
    {
        flags.Add(args[i]);
    }
    else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
    {
        arguments[args[i][2..]] = args[++i];
    }
    else
    {
        await Console.Error.WriteLineAsync($"unexpected argument '{args[i]}'; usage: --port N --data DIR [--nodes pve1,pve2] [--standalone]");
        return 2;
    }
}

if (!arguments.TryGetValue("data", out var data))
{
    await Console.Error.WriteLineAsync("--data DIR is required (the folder for the dir/zfspool stand-in storages)");
    return 2;
}

var port = arguments.TryGetValue("port", out var p) && int.TryParse(p, CultureInfo.InvariantCulture, out var n) ? n : 0;
var password = Environment.GetEnvironmentVariable("TAQUIN_PVESIM_PASSWORD") is { Length: > 0 } pw ? pw : Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
var token = Environment.GetEnvironmentVariable("TAQUIN_PVESIM_TOKEN") is { Length: > 0 } t ? t : "root@pam!taquin=" + Guid.NewGuid().ToString();
var split = token.LastIndexOf('=');
var options = new PveSimulatorOptions
{
    Port = port,
    DataDirectory = Path.GetFullPath(data),
    Nodes = arguments.TryGetValue("nodes", out var nodes) ? nodes.Split(',') : ["pve1", "pve2"],
    Clustered = !flags.Contains("--standalone"),
    RootPassword = password,
    ApiTokens = new Dictionary<string, string>(StringComparer.Ordinal) { [token[..split]] = token[(split + 1)..] },
    Ceph = CephAccess.FromEnvironment(),
};

await using var server = await PveSimulatorServer.StartAsync(options);
var info = Path.Combine(options.DataDirectory, "simulator.json");
await File.WriteAllTextAsync(info, JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["url"] = server.BaseAddress.ToString(),
    ["fingerprint"] = server.CertificateFingerprint,
    ["nodes"] = options.Nodes,
    ["user"] = "root@pam",
    ["password"] = password,
    ["token"] = token,
    ["rbd"] = options.Ceph is { } c ? $"storage 'ceph' -> pool {c.Pool}" : "none (TAQUIN_CEPH_CONF unset)",
}));
if (!OperatingSystem.IsWindows())
{
    File.SetUnixFileMode(info, UnixFileMode.UserRead | UnixFileMode.UserWrite);
}
Console.WriteLine($"PVE simulator listening on {server.BaseAddress} fingerprint {server.CertificateFingerprint} (credentials in {info})");
await server.WaitForShutdownAsync();
return 0;
