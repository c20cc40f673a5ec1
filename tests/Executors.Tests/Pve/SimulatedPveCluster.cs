using Taquin.Executors.Pve;
using Taquin.PveSimulator;

namespace Taquin.Executors.Tests.Pve;

/// <summary>A PVE simulator on a free port with a token and a root password, and clients for it.</summary>
public sealed class SimulatedPveCluster : IAsyncLifetime
{
    public const string TokenId = "root@pam!taquin";
    public const string TokenSecret = "5f0e6c1a-0d6e-4c1b-9a57-token-secret";
    public const string RootPassword = "sim-root-password";

    private readonly string dataDirectory = Directory.CreateTempSubdirectory("taquin-pvesim-").FullName;
    private PveSimulatorServer? server;

    public PveSimulatorServer Server => server ?? throw new InvalidOperationException("not started");

    /// <summary>Options for the simulator; override before <see cref="InitializeAsync"/> (constructor of a derived fixture).</summary>
    public Func<string, PveSimulatorOptions> Configure { get; init; } = Options;

    public static PveSimulatorOptions Options(string dataDirectory) => new()
    {
        DataDirectory = dataDirectory,
        RootPassword = RootPassword,
        ApiTokens = new Dictionary<string, string>(StringComparer.Ordinal) { [TokenId] = TokenSecret },
        Ceph = CephAccess.FromEnvironment(),
    };

    public string DataDirectory => dataDirectory;

    public async Task InitializeAsync() => server = await PveSimulatorServer.StartAsync(Configure(dataDirectory));

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        Directory.Delete(dataDirectory, recursive: true);
    }

    public PveHttpClient TokenClient(string? fingerprint = null, string secret = TokenSecret) => new(new PveClientOptions
    {
        BaseAddress = Server.BaseAddress,
        Credentials = new PveApiToken("root@pam", "taquin", secret),
        CertificateFingerprint = fingerprint ?? Server.CertificateFingerprint,
        TaskPollInterval = TimeSpan.FromMilliseconds(20),
    });

    public PveHttpClient PasswordClient(TimeProvider? clock = null, TimeSpan? ticketLifetime = null, string password = RootPassword) => new(new PveClientOptions
    {
        BaseAddress = Server.BaseAddress,
        Credentials = new PvePassword("root@pam", password),
        CertificateFingerprint = Server.CertificateFingerprint,
        TicketLifetime = ticketLifetime ?? TimeSpan.FromHours(2),
        TaskPollInterval = TimeSpan.FromMilliseconds(20),
    }, clock);
}
