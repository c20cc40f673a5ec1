using Taquin.Planner.Pve;

namespace Taquin.Planner.Tests.Pve;

public class PveApiSchemaTests
{
    private const string NotDefined = "property is not defined in schema and the schema does not allow additional properties";

    [Theory]
    [InlineData("net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1,tag=10")]
    [InlineData("net31", "model=e1000,bridge=vmbr0")]
    [InlineData("net1", "e1000e=52:54:00:AB:CD:EF,bridge=vmbr1,mtu=9000,queues=4,link_down=1")]
    [InlineData("scsi0", "local-lvm:32,iothread=1")]
    [InlineData("scsi30", "local-zfs:10,ssd=1,discard=on,wwn=0x5000c500a1b2c3d4")]
    [InlineData("virtio15", "file=ceph-vm:vm-100-disk-0,cache=writeback,ro=1,serial=disk%20one")]
    [InlineData("sata5", "local:5,ssd=on,wwn=0x0123456789abcdef")]
    [InlineData("ide2", "local:iso/debian-13.iso,media=cdrom")]
    [InlineData("ide2", "none,media=cdrom")]
    [InlineData("scsi1", "local-zfs:0,import-from=/var/lib/libvirt/images/web.qcow2")]
    [InlineData("boot", "order=scsi0;ide2;net0")]
    [InlineData("boot", "cdn")]
    [InlineData("agent", "enabled=1,fstrim_cloned_disks=1")]
    [InlineData("agent", "1")]
    [InlineData("memory", "2048")]
    [InlineData("memory", "current=4096")]
    [InlineData("balloon", "0")]
    [InlineData("cpu", "host")]
    [InlineData("cpu", "x86-64-v2-AES,flags=+aes;-pcid")]
    [InlineData("cpu", "cputype=EPYC-Rome,hidden=1,phys-bits=host")]
    [InlineData("cpu", "custom-ryzen")]
    [InlineData("machine", "q35")]
    [InlineData("machine", "pc-i440fx-7.2")]
    [InlineData("machine", "type=pc-q35-8.1+pve0,viommu=intel")]
    [InlineData("bios", "ovmf")]
    [InlineData("efidisk0", "local-zfs:1,efitype=4m,pre-enrolled-keys=1")]
    [InlineData("tpmstate0", "local-zfs:1,version=v2.0")]
    [InlineData("serial0", "socket")]
    [InlineData("serial3", "/dev/ttyS0")]
    [InlineData("vga", "serial0")]
    [InlineData("vga", "type=qxl,memory=32")]
    [InlineData("smbios1", "uuid=3f2504e0-4f89-11d3-9a0c-0305e82c3301")]
    [InlineData("rng0", "source=/dev/urandom,max_bytes=1024")]
    [InlineData("watchdog", "model=i6300esb,action=reset")]
    [InlineData("name", "web-01.example.org")]
    [InlineData("ostype", "win11")]
    [InlineData("onboot", "1")]
    [InlineData("scsihw", "virtio-scsi-single")]
    public void Accepts_what_a_real_PVE_accepts(string key, string value)
    {
        var problems = RealPveSchema.CheckCreate((key, value));

        Assert.Empty(problems);
    }

    [Theory]
    [InlineData("virtio0", "local-lvm:32,ssd=1", "invalid format - invalid key in comma-separated list property: ssd\n")]
    [InlineData("sata0", "local-lvm:32,iothread=1", "invalid format - invalid key in comma-separated list property: iothread\n")]
    [InlineData("ide0", "local-lvm:32,ro=1", "invalid format - invalid key in comma-separated list property: ro\n")]
    [InlineData("net0", "virtio=BC:24:11:00:00:01,colour=red", "invalid format - invalid key in comma-separated list property: colour\n")]
    [InlineData("name", "web_01", "invalid format - value does not look like a valid DNS name\n")]
    [InlineData("onboot", "true", "type check ('boolean') failed - got 'true'")]
    [InlineData("cores", "two", "type check ('integer') failed - got 'two'")]
    [InlineData("cores", "0", "value must have a minimum value of 1")]
    [InlineData("scsihw", "buslogic", "value 'buslogic' does not have a value in the enumeration 'lsi, lsi53c810, virtio-scsi-pci, virtio-scsi-single, megasas, pvscsi'")]
    [InlineData("serial0", "pty", "value does not match the regex pattern")]
    [InlineData("cpu", "Zen9", "invalid format - Built-in cputype 'Zen9' is not defined (missing 'custom-' prefix?)\n")]
    [InlineData("cpu", "host,flags=+avx512f", "invalid format - VM-specific CPU flags must be a subset of: nested-virt, md-clear, pcid, spec-ctrl, ssbd, ibpb, virt-ssbd, amd-ssbd, amd-no-ssb, pdpe1gb, hv-tlbflush, hv-evmcs, aes\n")]
    [InlineData("boot", "order=scsi0;efidisk0", "invalid format - format error\nboot.order: invalid format - invalid boot device 'efidisk0'\n\n")]
    [InlineData("scsi0", "nostorage", "invalid format - format error\nscsi0.file: invalid format - unable to parse volume ID 'nostorage'\n\n")]
    [InlineData("watchdog", "model=itco", "invalid format - format error\nwatchdog.model: value 'itco' does not have a value in the enumeration 'i6300esb, ib700'\n")]
    public void Rejects_with_the_message_PVE_gives(string key, string value, string message)
    {
        var problem = Assert.Single(RealPveSchema.CheckCreate((key, value)));

        Assert.Equal(key, problem.Parameter);
        Assert.Equal(message, problem.Message);
    }

    [Theory]
    [InlineData("net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=5000", "net0.tag", "value must have a maximum value of 4094")]
    [InlineData("net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0,mtu=0", "net0.mtu", "value must have a minimum value of 1")]
    [InlineData("net0", "model=virtio9,bridge=vmbr0", "net0.model", "value 'virtio9' does not have a value in the enumeration 'e1000, e1000-82540em, e1000-82544gc, e1000-82545em, e1000e, i82551, i82557b, i82559er, ne2k_isa, ne2k_pci, pcnet, rtl8139, virtio, vmxnet3'")]
    [InlineData("net0", "bridge=vmbr0", "net0.model", "property is missing and it is not optional")]
    [InlineData("net0", "virtio=01:00:5E:00:00:01,bridge=vmbr0", "net0.macaddr", "invalid format - value does not look like a valid unicast MAC address\n")]
    [InlineData("net0", "virtio=BC:24:11:00:00:01,bridge=vm br0", "net0.bridge", "invalid format - invalid bridge ID 'vm br0'\n")]
    [InlineData("scsi0", "local-lvm:32,cache=always", "scsi0.cache", "value 'always' does not have a value in the enumeration 'none, writethrough, writeback, unsafe, directsync'")]
    [InlineData("scsi0", "local-lvm:32,wwn=5000c500a1b2c3d4", "scsi0.wwn", "value does not match the regex pattern")]
    [InlineData("scsi0", "local-lvm:32,ssd=maybe", "scsi0.ssd", "type check ('boolean') failed - got 'maybe'")]
    [InlineData("efidisk0", "local-zfs:1,efitype=8m", "efidisk0.efitype", "value '8m' does not have a value in the enumeration '2m, 4m'")]
    [InlineData("memory", "8", "memory.current", "value must have a minimum value of 16")]
    [InlineData("machine", "pc-q35-rhel9.2.0", "machine.type", "value does not match the regex pattern")]
    [InlineData("agent", "enabled=1,type=usb", "agent.type", "value 'usb' does not have a value in the enumeration 'virtio, isa'")]
    [InlineData("smbios1", "uuid=not-a-uuid", "smbios1.uuid", "value does not match the regex pattern")]
    public void Names_the_failing_sub_key_of_a_property_string(string key, string value, string path, string message)
    {
        var problem = Assert.Single(RealPveSchema.CheckCreate((key, value)));

        Assert.Equal(key, problem.Parameter);
        Assert.StartsWith("invalid format - format error\n", problem.Message, StringComparison.Ordinal);
        var sub = Assert.Single(problem.SubKeyProblems);
        Assert.Equal(path, sub.Path);
        Assert.Equal(message, sub.Message);
    }

    [Theory]
    [InlineData("virtio16")]
    [InlineData("scsi31")]
    [InlineData("ide4")]
    [InlineData("sata6")]
    [InlineData("net32")]
    [InlineData("serial4")]
    [InlineData("efidisk1")]
    [InlineData("tpmstate1")]
    [InlineData("scsi01")]
    [InlineData("colour")]
    public void Refuses_keys_outside_the_schema_and_outside_indexed_ranges(string key)
    {
        var problem = Assert.Single(RealPveSchema.CheckCreate((key, "local-lvm:1")));

        Assert.Equal(key, problem.Parameter);
        Assert.Equal(NotDefined, problem.Message);
    }

    [Theory]
    [InlineData("virtio0")]
    [InlineData("virtio15")]
    [InlineData("scsi30")]
    [InlineData("ide3")]
    [InlineData("sata5")]
    [InlineData("usb13")]
    [InlineData("unused255")]
    public void Accepts_every_index_of_a_family_up_to_its_maximum(string key)
    {
        var value = key.StartsWith("usb", StringComparison.Ordinal) ? "host=spice" : "local-lvm:vm-100-disk-1";

        Assert.Empty(RealPveSchema.CheckCreate((key, value)));
    }

    [Fact]
    public void Reports_a_missing_required_parameter()
    {
        var problems = RealPveSchema.Instance.ValidateParameters(RealPveSchema.CreateVm, "POST", new Dictionary<string, string> { ["cores"] = "2" });

        var problem = Assert.Single(problems);
        Assert.Equal("vmid", problem.Parameter);
        Assert.Equal("property is missing and it is not optional", problem.Message);
    }

    [Fact]
    public void Reports_a_parameter_that_requires_another()
    {
        var problems = RealPveSchema.CheckCreate(("force", "1"));

        var problem = Assert.Single(problems);
        Assert.Equal("archive", problem.Parameter);
        Assert.Equal("missing property required by 'force'", problem.Message);
    }

    [Fact]
    public void Reports_every_problem_of_a_request_at_once()
    {
        var problems = RealPveSchema.CheckCreate(("virtio16", "local-lvm:1"), ("ostype", "linux"), ("net0", "virtio=BC:24:11:00:00:01,tag=0"), ("cores", "4"));

        Assert.Equal(["net0", "ostype", "virtio16"], problems.Select(p => p.Parameter).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Checks_path_variables_of_a_concrete_path()
    {
        var good = RealPveSchema.Instance.ValidateParameters("/nodes/pve1/qemu", "POST", new Dictionary<string, string> { ["vmid"] = "100" });
        var bad = RealPveSchema.Instance.ValidateParameters("/nodes/pve_1/qemu", "POST", new Dictionary<string, string> { ["vmid"] = "100" });

        Assert.Empty(good);
        var problem = Assert.Single(bad);
        Assert.Equal("node", problem.Parameter);
        Assert.Equal("invalid format - value does not look like a valid node name\n", problem.Message);
    }

    [Fact]
    public void Finds_endpoints_by_template_or_concrete_path()
    {
        var schema = RealPveSchema.Instance;

        Assert.Equal("/nodes/{node}/qemu/{vmid}/config", schema.FindEndpoint("/nodes/pve1/qemu/101/config", "put")?.Path);
        Assert.Equal("/nodes/{node}/qemu/{vmid}/status/start", schema.FindEndpoint("/nodes/pve1/qemu/101/status/start", "POST")?.Path);
        Assert.Equal("/cluster/nextid", schema.FindEndpoint("/cluster/nextid", "GET")?.Path);
        Assert.Null(schema.FindEndpoint("/nodes/pve1/qemu/101/teleport", "POST"));
        Assert.Throws<ArgumentException>(() => schema.ValidateParameters("/nodes/pve1/teleport", "POST", new Dictionary<string, string>()));
    }

    [Fact]
    public void Indexes_every_endpoint_of_the_PVE_9_1_dump()
    {
        // pve-apidata.SOURCE.txt: 649 path+method pairs.
        Assert.Equal(649, RealPveSchema.Instance.Endpoints.Count);
    }

    [Fact]
    public void Every_pattern_in_the_real_schema_translates_to_a_working_regex()
    {
        var patterns = RealPveSchema.Instance.Endpoints
            .SelectMany(e => e.Parameters.Values)
            .SelectMany(p => p.FormatProperties is null ? [p] : p.FormatProperties.Values.Prepend(p))
            .Where(p => p.Pattern is not null)
            .ToList();

        Assert.NotEmpty(patterns);
        foreach (var p in patterns)
        {
            var ex = Record.Exception(() => PerlRegex.Anchored(p.Pattern!).IsMatch("x"));
            Assert.True(ex is null, $"pattern {p.Pattern}: {ex?.Message}");
        }
    }

    [Theory]
    [InlineData(@"[A-Za-z0-9\-_\s]{,16}", "ATA Disk 123", true)]
    [InlineData(@"[A-Za-z0-9\-_\s]{,16}", "seventeen-chars-x", false)]
    [InlineData(@"(?^:\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*)", "10;20-30", true)]
    [InlineData(@"(?^i:[a-z0-9_][a-z0-9_\-\+\.]*)", "Tag_1", true)]
    [InlineData(@"/dev/parport\d+|/dev/usb/lp\d+", "/dev/parport0", true)]
    [InlineData(@"[A-Za-z][A-Za-z0-9\-\_]+", "ab_c", true)]
    public void Reads_Perl_pattern_syntax_like_Perl(string perl, string value, bool matches)
    {
        Assert.Equal(matches, PerlRegex.Anchored(perl).IsMatch(value));
    }

    [Fact]
    public void Parses_a_schema_from_text_without_files()
    {
        const string Json = """
            [{"path":"/nodes","text":"nodes","leaf":0,"children":[
              {"path":"/nodes/{node}/thing","text":"thing","leaf":1,"info":{"POST":{"name":"create",
                "parameters":{"additionalProperties":0,"properties":{
                  "node":{"type":"string","format":"pve-node"},
                  "size":{"type":"integer","minimum":1,"maximum":10},
                  "opt":{"type":"string","optional":1,"format":{"mode":{"type":"string","enum":["a","b"],"default_key":1}}}}}}}}]}]
            """;

        var schema = PveApiSchema.Parse(Json);

        Assert.Empty(schema.ValidateParameters("/nodes/n1/thing", "POST", new Dictionary<string, string> { ["size"] = "3", ["opt"] = "a" }));
        var problems = schema.ValidateParameters("/nodes/n1/thing", "POST", new Dictionary<string, string> { ["size"] = "11", ["opt"] = "mode=c" });
        Assert.Equal(["opt", "size"], problems.Select(p => p.Parameter).Order(StringComparer.Ordinal));
    }
}
