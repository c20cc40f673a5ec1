using Taquin.Executors.Adapters;
using Taquin.Executors.Movers;

namespace Taquin.Executors.Tests.Movers;

public sealed class TcpDataPathOptionsTests
{
    [Theory]
    [InlineData("60000-60050", 60000, 60050)]
    [InlineData(" 61000 - 61000 ", 61000, 61000)]
    [InlineData("60010", 60010, 60010)]
    public void A_port_range_or_a_single_port_is_read(string text, int first, int last)
    {
        var (range, error) = TcpDataPathOptions.ParsePorts(text);

        Assert.Null(error);
        Assert.Equal((first, last), range);
    }

    [Theory]
    [InlineData("60050-60000", "ends before it starts")]
    [InlineData("22-80", "no privileged ports")]
    [InlineData("60000-70000", "within 1024-65535")]
    [InlineData("60000:60050", "not a port or a range")]
    [InlineData("", "not a port or a range")]
    [InlineData("-1-5", "not a port or a range")]
    public void A_bad_port_range_says_why(string text, string reason)
    {
        var (range, error) = TcpDataPathOptions.ParsePorts(text);

        Assert.Null(range);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_host_uses_its_own_address_else_the_default_else_none()
    {
        var tcp = new TcpDataPathOptions { Addresses = new Dictionary<string, string> { ["pve1"] = "10.10.0.11" }, DefaultAddress = "10.10.0.1" };

        Assert.Equal("10.10.0.11", tcp.AddressOf("pve1"));
        Assert.Equal("10.10.0.1", tcp.AddressOf("pve2"));
        Assert.Null((tcp with { DefaultAddress = null }).AddressOf("pve2"));
        Assert.True(TcpDataPathOptions.IsAddress("fd00::11"));
        Assert.False(TcpDataPathOptions.IsAddress("pve1.migration.lan"));
    }

    private static TcpPipe Pipe(TcpDataPathOptions tcp) => new(new LocalProcessRunner(), MoverOptions.Default with { DataPath = DataPath.DirectTcp, Tcp = tcp });

    [Fact]
    public void The_ports_are_tried_once_each_from_the_chosen_start_wrapping_around()
    {
        var pipe = Pipe(new TcpDataPathOptions { FirstPort = 60000, LastPort = 60004 });

        Assert.Equal([60003, 60004, 60000, 60001, 60002], pipe.PortOrder(60003));
        Assert.Equal([60000, 60001, 60002, 60003, 60004], pipe.PortOrder(60000));
    }

    [Fact]
    public void The_receiver_listens_on_the_targets_address_for_the_source_only_and_becomes_the_target_command()
    {
        var pipe = Pipe(new TcpDataPathOptions { FirstPort = 60000, LastPort = 60001, AcceptTimeout = TimeSpan.FromSeconds(20), IdleTimeout = TimeSpan.FromSeconds(90) });

        var script = pipe.ReceiverScript("pve1", "10.10.0.11", "10.10.0.21", ["rbd", "import-diff", "/dev/stdin", "rbd/vm-100-disk-0"]);

        // socat accepts one connection from the source and then execs the target command on the socket (nofork).
        Assert.Contains("socat -d -d -u TCP4-LISTEN:$port,bind=10.10.0.11,accept-timeout=20,range=10.10.0.21/32,keepalive,keepidle=90,keepintvl=10,keepcnt=3 \"EXEC:bash $run,nofork\" 2>\"$log\" &", script, StringComparison.Ordinal);
        Assert.Contains("run=$(mktemp) && printf '%s\\n' 'exec rbd import-diff /dev/stdin rbd/vm-100-disk-0' > \"$run\"", script, StringComparison.Ordinal);
        Assert.Contains("listening=1; echo \"$port $job\" > \"$ctl.new\"; mv \"$ctl.new\" \"$ctl\"", script, StringComparison.Ordinal);
        Assert.Matches(@"for port in (60000 60001|60001 60000); do", script);
        Assert.Contains("command -v socat >/dev/null 2>&1 || { echo 'socat is not installed on pve1 (it is the receiver of the direct-tcp data path): apt-get install socat' >&2; exit 127; }", script, StringComparison.Ordinal);
        Assert.Contains("\nset -m\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6_addresses_are_bracketed_and_an_unrestricted_receiver_has_no_range()
    {
        var pipe = Pipe(new TcpDataPathOptions());

        var receiver = pipe.ReceiverScript("pve1", "fd00::11", null, ["cat"]);
        var sender = pipe.SenderScript("kvm1", "fd00::21", "fd00::11", 60007, ["rbd", "export-diff", "rbd/a@s", "-"]);

        Assert.Contains("TCP6-LISTEN:$port,bind=[fd00::11],accept-timeout=30,keepalive", receiver, StringComparison.Ordinal);
        Assert.DoesNotContain("range=", receiver, StringComparison.Ordinal);
        Assert.Contains("socat -U TCP6:[fd00::11]:60007,connect-timeout=10,bind=[fd00::21],keepalive,keepidle=300,keepintvl=10,keepcnt=3 \"EXEC:bash $run,nofork\" &", sender, StringComparison.Ordinal);
        Assert.Contains("printf '%s\\n' 'exec rbd export-diff rbd/a@s -' > \"$run\"", sender, StringComparison.Ordinal);
        Assert.Contains("echo \"0 $job\" > \"$ctl\"", sender, StringComparison.Ordinal);
    }

    [Fact]
    public void A_target_without_an_address_is_refused_naming_the_host_and_the_setting()
    {
        var options = MoverOptions.Default with { DataPath = DataPath.DirectTcp };

        var error = Assert.Throws<AdapterException>(() => TcpPipe.CheckAddresses(options, "kvm1", "pve2", "copy x"));

        Assert.False(error.IsTransient);
        Assert.Equal("copy x: the direct-tcp data path needs pve2's migration address (movers.tcp.addresses.pve2 or movers.tcp.bindAddress in the access file)", error.Message);
    }

    [Theory]
    [InlineData("direct-tcp", DataPath.DirectTcp)]
    [InlineData("Direct-TCP", DataPath.DirectTcp)]
    [InlineData("direct", DataPath.Direct)]
    public void The_name_direct_tcp_stands_for_the_tcp_path_and_back(string name, DataPath path)
    {
        Assert.Equal(path, DataPathNames.Parse(name));
        Assert.Contains(DataPathNames.Name(path), DataPathNames.All);
    }
}
