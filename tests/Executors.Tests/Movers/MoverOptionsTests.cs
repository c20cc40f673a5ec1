using Taquin.Executors.Movers;
using Taquin.Executors.Movers.RbdDiff;

namespace Taquin.Executors.Tests.Movers;

public sealed class MoverOptionsTests
{
    [Fact]
    public void The_cipher_list_is_trimmed_and_kept_in_order_and_cbc_3des_or_unknown_names_are_refused()
    {
        Assert.Equal(("aes256-gcm@openssh.com,aes128-ctr", 0), Flatten(MoverOptions.ParseSshCiphers(" aes256-gcm@openssh.com , aes128-ctr ")));
        Assert.Equal((null, 2), Flatten(MoverOptions.ParseSshCiphers("aes128-cbc,chacha20-poly1305@openssh.com,3des-cbc")));
        Assert.Equal(["aes128-cbc", "3des-cbc"], MoverOptions.ParseSshCiphers("aes128-cbc,chacha20-poly1305@openssh.com,3des-cbc").Refused);
        Assert.Null(MoverOptions.ParseSshCiphers(" , ").Ciphers);
        Assert.Equal((MoverOptions.DefaultSshCiphers, 0), Flatten(MoverOptions.ParseSshCiphers(MoverOptions.DefaultSshCiphers)));
    }

    private static (string?, int) Flatten((string? Ciphers, IReadOnlyList<string> Refused) parsed) => (parsed.Ciphers, parsed.Refused.Count);

    [Fact]
    public void The_direct_paths_ssh_gets_the_configured_ciphers_right_after_the_program_and_other_commands_are_left_alone()
    {
        var options = new MoverOptions { SshCiphers = "chacha20-poly1305@openssh.com" };
        var wrapped = options with { HostToHostSsh = host => ["/usr/local/bin/tsh", host] };

        var command = options.SshCommand("pve1");

        Assert.Equal(["ssh", "-c", "chacha20-poly1305@openssh.com", .. MoverOptions.FastSshOptions, "root@pve1"], command);
        Assert.StartsWith("aes128-gcm@openssh.com,", new MoverOptions().SshCommand("pve1")[2], StringComparison.Ordinal);
        Assert.Equal(["/usr/local/bin/tsh", "pve1"], wrapped.SshCommand("pve1"));
    }

    [Theory]
    [InlineData("direct", DataPath.Direct)]
    [InlineData(null, DataPath.Direct)]
    [InlineData("relayed", DataPath.Relayed)]
    [InlineData("target-client", DataPath.TargetClient)]
    [InlineData("Target-Client", DataPath.TargetClient)]
    public void Data_path_names_parse_to_their_own_path_and_back(string? name, DataPath path)
    {
        Assert.Equal(path, DataPathNames.Parse(name));
        Assert.Equal(path, DataPathNames.Parse(DataPathNames.Name(path)));
    }

    [Fact]
    public void An_unknown_data_path_name_is_no_path_at_all()
    {
        Assert.Null(DataPathNames.Parse("teleport"));
        Assert.Null(DataPathNames.Parse("target"));
    }

    [Theory]
    [InlineData(null, "base")]
    [InlineData("base", "final")]
    [InlineData("b\u00e4se", "taquin-final")]
    public async Task The_stream_length_computed_from_the_extents_is_the_length_of_the_export_diff_stream(string? from, string to)
    {
        (bool Exists, long Length)[] extents = [(true, 4096), (false, 1 << 20), (true, 3 << 20), (false, 512)];
        using var stream = new MemoryStream();
        var writer = new RbdDiffWriter(stream);
        await writer.WriteHeaderAsync(new RbdDiffHeader(1, from, to, 64 << 20));
        long offset = 0;
        foreach (var (exists, length) in extents)
        {
            if (exists)
            {
                await writer.WriteDataAsync(offset, new byte[length]);
            }
            else
            {
                await writer.WriteZeroAsync(offset, length);
            }

            offset += length;
        }

        await writer.WriteEndAsync();

        Assert.Equal(stream.Length, CommandDiskMover.DiffStreamBytes(from, to, extents));
    }
}
