using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Taquin.Planner.Pve;

/// <summary>
/// Formats the API dump references only by name. Transcribed from pve-common JSONSchema.pm
/// (f665029e), qemu-server QemuServer.pm / CPUConfig.pm / RNG.pm (1412b2b4, e6352be6) and
/// pve-storage (parse_volume_id). Messages are the ones those die() with.
/// Formats not listed here are accepted unchecked.
/// </summary>
internal static partial class PveNamedFormats
{
    internal sealed record HashFormat(
        IReadOnlyDictionary<string, PveParameterSchema> Keys,
        Action<IReadOnlyDictionary<string, string>>? Validator = null);

    /// <summary>Drive keys qemu-server knows (is_valid_drivename): ide0-3, sata0-5, scsi0-30, virtio0-15, efidisk0, tpmstate0.</summary>
    internal static readonly IReadOnlyDictionary<string, int> DriveBusMaxIndex = new Dictionary<string, int>
    {
        ["ide"] = 3,
        ["sata"] = 5,
        ["scsi"] = 30,
        ["virtio"] = 15,
    };

    /// <summary>From qemu-server CPUConfig.pm: the x86_64 QEMU models plus the builtin x86-64-vN levels.</summary>
    internal static readonly IReadOnlySet<string> CpuModels = new HashSet<string>(StringComparer.Ordinal)
    {
        "x86-64-v2", "x86-64-v2-AES", "x86-64-v3", "x86-64-v4",
        "486", "pentium", "pentium2", "pentium3", "coreduo", "core2duo", "Conroe", "Penryn", "Nehalem",
        "Nehalem-IBRS", "Westmere", "Westmere-IBRS", "SandyBridge", "SandyBridge-IBRS", "IvyBridge",
        "IvyBridge-IBRS", "Haswell", "Haswell-IBRS", "Haswell-noTSX", "Haswell-noTSX-IBRS", "Broadwell",
        "Broadwell-IBRS", "Broadwell-noTSX", "Broadwell-noTSX-IBRS", "Skylake-Client", "Skylake-Client-IBRS",
        "Skylake-Client-noTSX-IBRS", "Skylake-Client-v4", "Skylake-Server", "Skylake-Server-IBRS",
        "Skylake-Server-noTSX-IBRS", "Skylake-Server-v4", "Skylake-Server-v5", "Cascadelake-Server",
        "Cascadelake-Server-v2", "Cascadelake-Server-noTSX", "Cascadelake-Server-v4", "Cascadelake-Server-v5",
        "Cooperlake", "Cooperlake-v2", "KnightsMill", "Icelake-Client", "Icelake-Client-noTSX", "Icelake-Server",
        "Icelake-Server-noTSX", "Icelake-Server-v3", "Icelake-Server-v4", "Icelake-Server-v5", "Icelake-Server-v6",
        "Icelake-Server-v7", "SapphireRapids", "SapphireRapids-v2", "SapphireRapids-v3", "SapphireRapids-v4",
        "GraniteRapids", "GraniteRapids-v2", "GraniteRapids-v3", "SierraForest", "SierraForest-v2",
        "SierraForest-v3", "ClearwaterForest", "athlon", "phenom", "Opteron_G1", "Opteron_G2", "Opteron_G3",
        "Opteron_G4", "Opteron_G5", "EPYC", "EPYC-IBPB", "EPYC-v3", "EPYC-v4", "EPYC-v5", "EPYC-Rome",
        "EPYC-Rome-v2", "EPYC-Rome-v3", "EPYC-Rome-v4", "EPYC-Rome-v5", "EPYC-Milan", "EPYC-Milan-v2",
        "EPYC-Milan-v3", "EPYC-Genoa", "EPYC-Genoa-v2", "EPYC-Turin", "kvm32", "kvm64", "qemu32", "qemu64",
        "max", "host",
    };

    internal static readonly IReadOnlyList<string> SupportedVmCpuFlags =
    [
        "nested-virt", "md-clear", "pcid", "spec-ctrl", "ssbd", "ibpb", "virt-ssbd", "amd-ssbd", "amd-no-ssb",
        "pdpe1gb", "hv-tlbflush", "hv-evmcs", "aes",
    ];

    private const string Base64Pattern = @"[A-Za-z0-9+\/]+={0,2}";

    internal static readonly IReadOnlyDictionary<string, HashFormat> PropertyStrings = new Dictionary<string, HashFormat>
    {
        ["pve-qm-boot"] = new(new Dictionary<string, PveParameterSchema>
        {
            ["legacy"] = new() { Type = "string", Optional = true, DefaultKey = true, Pattern = "[acdn]{1,4}" },
            ["order"] = new() { Type = "string", Optional = true, FormatName = "pve-qm-bootdev-list" },
        }),
        ["pve-vm-cpu-conf"] = new(
            new Dictionary<string, PveParameterSchema>
            {
                ["cputype"] = new() { Type = "string", Optional = true, DefaultKey = true },
                ["reported-model"] = new() { Type = "string", Optional = true, Enum = [.. CpuModels.Where(m => !m.StartsWith("x86-64-v", StringComparison.Ordinal))] },
                ["hidden"] = new() { Type = "boolean", Optional = true },
                ["hv-vendor-id"] = new() { Type = "string", Optional = true, Pattern = "[a-zA-Z0-9]{1,12}" },
                ["flags"] = new() { Type = "string", Optional = true, Pattern = @"(?:[+-][a-zA-Z0-9\-_\.]+)(?:;[+-][a-zA-Z0-9\-_\.]+)*" },
                ["phys-bits"] = new() { Type = "string", Optional = true, FormatName = "pve-phys-bits" },
                ["guest-phys-bits"] = new() { Type = "integer", Optional = true, Minimum = 32, Maximum = 64 },
            },
            ValidateVmCpuConf),
        ["pve-qm-watchdog"] = new(new Dictionary<string, PveParameterSchema>
        {
            ["model"] = new() { Type = "string", Optional = true, DefaultKey = true, Enum = ["i6300esb", "ib700"] },
            ["action"] = new() { Type = "string", Optional = true, Enum = ["reset", "shutdown", "poweroff", "pause", "debug", "none"] },
        }),
        ["pve-qm-rng"] = new(new Dictionary<string, PveParameterSchema>
        {
            ["source"] = new() { Type = "string", DefaultKey = true, Enum = ["/dev/urandom", "/dev/random", "/dev/hwrng"] },
            ["max_bytes"] = new() { Type = "integer", Optional = true },
            ["period"] = new() { Type = "integer", Optional = true },
        }),
        ["pve-qm-smbios1"] = new(new Dictionary<string, PveParameterSchema>
        {
            ["uuid"] = new() { Type = "string", Optional = true, Pattern = "[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}" },
            ["version"] = new() { Type = "string", Optional = true, Pattern = Base64Pattern },
            ["serial"] = new() { Type = "string", Optional = true, Pattern = Base64Pattern },
            ["manufacturer"] = new() { Type = "string", Optional = true, Pattern = Base64Pattern },
            ["product"] = new() { Type = "string", Optional = true, Pattern = Base64Pattern },
            ["sku"] = new() { Type = "string", Optional = true, Pattern = Base64Pattern },
            ["family"] = new() { Type = "string", Optional = true, Pattern = Base64Pattern },
            ["base64"] = new() { Type = "boolean", Optional = true },
        }),
    };

    internal static readonly IReadOnlyDictionary<string, Action<string>> Validators = new Dictionary<string, Action<string>>
    {
        ["pve-node"] = v => Require(NodeName().IsMatch(v), "value does not look like a valid node name"),
        ["pve-vmid"] = v => Require(VmId().IsMatch(v), "value does not look like a valid VM ID"),
        ["pve-storage-id"] = v => ParseId(v, "storage"),
        ["pve-bridge-id"] = v => Require(BridgeId().IsMatch(v), $"invalid bridge ID '{v}'"),
        ["pve-configid"] = v => Require(ConfigId().IsMatch(v), $"invalid configuration ID '{v}'"),
        ["mac-addr"] = v => Require(UnicastMac().IsMatch(v), "value does not look like a valid unicast MAC address"),
        ["dns-name"] = v => Require(IsDnsName(v), "value does not look like a valid DNS name"),
        ["urlencoded"] = v => Require(UrlEncoded().IsMatch(v), $"invalid urlencoded string: {v}"),
        ["disk-size"] = v => Require(DiskSize().IsMatch(v), $"value does not look like a valid disk size: {v}"),
        ["ipv4"] = v => Require(IsIp(v, AddressFamily.InterNetwork), "value does not look like a valid IPv4 address"),
        ["ipv6"] = v => Require(IsIp(v, AddressFamily.InterNetworkV6), "value does not look like a valid IPv6 address"),
        ["ip"] = v => Require(IsIp(v, null), "value does not look like a valid IP address"),
        ["address"] = v => Require(IsIp(v, null) || IsDnsName(v), $"value does not look like a valid address: {v}"),
        ["pve-iface"] = v => Require(Iface().IsMatch(v), $"invalid network interface name '{v}'"),
        ["pve-tag"] = v => Require(Tag().IsMatch(v), "invalid characters in tag"),
        ["pve-phys-bits"] = v => Require(
            PhysBits().IsMatch(v) && (v == "host" || int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) is >= 8 and <= 64),
            "value must be an integer between 8 and 64 or 'host'"),
        ["pve-volume-id"] = ParseVolumeId,
        ["pve-volume-id-or-absolute-path"] = v =>
        {
            if (!v.StartsWith('/'))
            {
                ParseVolumeId(v);
            }
        },
        ["pve-volume-id-or-qm-path"] = v =>
        {
            if (v is not ("none" or "cdrom") && !v.StartsWith('/'))
            {
                ParseVolumeId(v);
            }
        },
        ["pve-qm-bootdev"] = VerifyBootDevice,
        ["pve-qm-bootdisk"] = v => Require(IsDriveName(v), $"invalid boot disk '{v}'"),
    };

    internal static bool IsDriveName(string key)
    {
        if (key is "efidisk0" or "tpmstate0")
        {
            return true;
        }

        var m = IndexedKey().Match(key);
        return m.Success
            && DriveBusMaxIndex.TryGetValue(m.Groups[1].Value, out var max)
            && int.TryParse(m.Groups[2].Value, out var index)
            && index <= max
            && key == m.Groups[1].Value + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>qemu-server verify_bootdev: drives (not efidisk/tpmstate), net0-31, usb0-13, hostpci0-15.</summary>
    private static void VerifyBootDevice(string dev)
    {
        var special = dev.StartsWith("efidisk", StringComparison.Ordinal) || dev.StartsWith("tpmstate", StringComparison.Ordinal);
        if (IsDriveName(dev) && !special)
        {
            return;
        }

        var m = IndexedKey().Match(dev);
        if (m.Success && int.TryParse(m.Groups[2].Value, out var index)
            && dev == m.Groups[1].Value + index.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            var ok = m.Groups[1].Value switch
            {
                "net" => index < 32,
                "usb" => index < 14,
                "hostpci" => index < 16,
                _ => false,
            };
            if (ok)
            {
                return;
            }
        }

        throw new PveSchemaChecker.FormatError($"invalid boot device '{dev}'\n");
    }

    private static void ValidateVmCpuConf(IReadOnlyDictionary<string, string> cpu)
    {
        if (!cpu.TryGetValue("cputype", out var cputype) || cputype.Length == 0 || cputype == "0")
        {
            throw new PveSchemaChecker.FormatError("CPU is missing cputype\n");
        }

        // Custom models live in the cluster's cpu-models.conf, which a schema cannot see: accept the name shape.
        if (!(cputype.StartsWith("custom-", StringComparison.Ordinal) && cputype.Length > 7) && !CpuModels.Contains(cputype))
        {
            throw new PveSchemaChecker.FormatError($"Built-in cputype '{cputype}' is not defined (missing 'custom-' prefix?)\n");
        }

        if (cpu.TryGetValue("flags", out var flags) && flags.Length > 0)
        {
            var allowed = string.Join('|', SupportedVmCpuFlags.Select(Regex.Escape));
            if (!Regex.IsMatch(flags, $"^[+-](?:{allowed})(;[+-](?:{allowed}))*$", RegexOptions.CultureInvariant))
            {
                throw new PveSchemaChecker.FormatError("VM-specific CPU flags must be a subset of: " + string.Join(", ", SupportedVmCpuFlags) + "\n");
            }
        }

        if (cpu.ContainsKey("reported-model"))
        {
            throw new PveSchemaChecker.FormatError("Property 'reported-model' not allowed in VM-specific CPU config.\n");
        }
    }

    private static void ParseId(string id, string type)
    {
        Require(id.Length >= 2, $"{type} ID '{id}' cannot be shorter than 2 characters");
        Require(StorageId().IsMatch(id), $"{type} ID '{id}' contains illegal characters");
    }

    private static void ParseVolumeId(string volid)
        => Require(VolumeId().IsMatch(volid), $"unable to parse volume ID '{volid}'");

    internal static bool IsDnsName(string name) => DnsName().IsMatch(name);

    private static bool IsIp(string text, AddressFamily? family)
        => (IpV4Literal().IsMatch(text) || text.Contains(':', StringComparison.Ordinal))
            && IPAddress.TryParse(text, out var ip)
            && (family is null || ip.AddressFamily == family)
            && !text.Contains('%', StringComparison.Ordinal);

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new PveSchemaChecker.FormatError(message + "\n");
        }
    }

    [GeneratedRegex(@"^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$")]
    private static partial Regex NodeName();

    [GeneratedRegex(@"^[1-9][0-9]{2,8}$")]
    private static partial Regex VmId();

    [GeneratedRegex(@"^[a-z][a-z0-9\-_\.]*[a-z0-9]$", RegexOptions.IgnoreCase)]
    private static partial Regex StorageId();

    [GeneratedRegex(@"^[-_.\w\d]+$")]
    private static partial Regex BridgeId();

    [GeneratedRegex(@"^[a-z][a-z0-9_-]+$", RegexOptions.IgnoreCase)]
    private static partial Regex ConfigId();

    [GeneratedRegex(@"^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$", RegexOptions.IgnoreCase)]
    private static partial Regex UnicastMac();

    [GeneratedRegex(@"^(([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)\.)*([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$")]
    private static partial Regex DnsName();

    [GeneratedRegex(@"^[-%a-zA-Z0-9_.!~*'()]*$")]
    private static partial Regex UrlEncoded();

    [GeneratedRegex(@"^(\d+(\.\d+)?)([KMGT](?:iB)?)?$")]
    private static partial Regex DiskSize();

    [GeneratedRegex(@"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$|:")]
    private static partial Regex IpV4Literal();

    [GeneratedRegex(@"^[a-z][a-z0-9_]{1,20}([:\.]\d+)?$", RegexOptions.IgnoreCase)]
    private static partial Regex Iface();

    [GeneratedRegex(@"^[a-z0-9_][a-z0-9_\-\+\.]*$", RegexOptions.IgnoreCase)]
    private static partial Regex Tag();

    [GeneratedRegex(@"^(host|\d{1,2})$")]
    private static partial Regex PhysBits();

    [GeneratedRegex(@"^([a-z][a-z0-9\-_\.]*[a-z0-9]):(.+)$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex VolumeId();

    [GeneratedRegex(@"^([a-z]+)(\d+)$")]
    private static partial Regex IndexedKey();
}
