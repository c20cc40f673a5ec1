using System.Text.Json;
using System.Text.Json.Serialization;

namespace Taquin.Executors.Steps;

/// <summary>A disk to carry over: where it is now and which PVE drive it becomes.</summary>
/// <param name="Key">"pool/image" for RBD, the file path for a file disk.</param>
/// <param name="PveKey">PVE drive key, same bus as in libvirt ("virtio0", "scsi1", …).</param>
public sealed record DiskInput(string Key, bool IsRbd, string? Format, long SizeBytes, long UsedBytes, string PveKey);

/// <summary>A VM the drain step live-migrates (or, when shut off, re-defines) onto another libvirt host.</summary>
public sealed record DrainMove(string Vm, string ToHost);

/// <summary>Input of a step, stored as InputJson in the journal. One shape for every step type; each reads what it needs.</summary>
public sealed record StepInput
{
    public string? Vm { get; init; }
    public string? Host { get; init; }
    public string? FromHost { get; init; }
    public string? FromStorage { get; init; }
    public string? ToHost { get; init; }
    public string? ToStorage { get; init; }
    /// <summary>cold, warm or attach-and-move.</summary>
    public string? Strategy { get; init; }
    public bool WasRunning { get; init; } = true;
    /// <summary>How disk bytes travel: "direct" (host to host, the default) or "relayed" (through the orchestrator).</summary>
    public string? DataPath { get; init; }
    public long RamBytes { get; init; }
    public int Cores { get; init; } = 1;
    public Guid? Uuid { get; init; }
    public IReadOnlyList<string> Macs { get; init; } = [];
    public IReadOnlyList<DiskInput> Disks { get; init; } = [];
    /// <summary>
    /// The libvirt→PVE translator's create parameters for this VM (docs/adr/0002), computed when the plan is compiled;
    /// create-target-vm allocates the disks itself on top of them. Null when the VM could not be translated.
    /// </summary>
    public IReadOnlyDictionary<string, string>? CreateParameters { get; init; }
    /// <summary>A fixed VLAN tag for the NICs; when null the network step allocates the VM's VLAN from [VlanFrom, VlanTo].</summary>
    public int? VlanTag { get; init; }
    /// <summary>The fleet's VLAN range (policy.vlanRange) the network step allocates the VM's VLAN from (docs/adr/0009).</summary>
    public int? VlanFrom { get; init; }
    public int? VlanTo { get; init; }
    /// <summary>The VM's routed addresses (libvirt &lt;ip&gt;/&lt;route&gt; of its routed taps) the router must take over.</summary>
    public Taquin.Planner.Network.VmAddressing? Addressing { get; init; }
    /// <summary>The fleet's router (fleet.yaml router:); null when the router side is not managed by Taquin.</summary>
    public Taquin.Planner.Inventory.RouterSpec? Router { get; init; }
    public string Bridge { get; init; } = "vmbr0";
    public IReadOnlyList<DrainMove> Drain { get; init; } = [];
    /// <summary>join-cluster: a node already in the cluster, or null to create the cluster.</summary>
    public string? ClusterPeer { get; init; }
    public IReadOnlyList<string> OldCephMonitors { get; init; } = [];
    public string? OldCephPool { get; init; }
    /// <summary>create-pve-ceph: the PVE nodes that get OSDs.</summary>
    public IReadOnlyList<string> CephNodes { get; init; } = [];
    public string? CephPool { get; init; }
    public int CephPoolSize { get; init; } = 3;
    /// <summary>Steps ("subject/step-type") of the same wave that must have succeeded (or been skipped) first.</summary>
    public IReadOnlyList<string> WaitFor { get; init; } = [];
    /// <summary>Steps that must have ended, however (e.g. drain waits for the VM pipelines leaving its host).</summary>
    public IReadOnlyList<string> WaitForSettled { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<string, StepInput> Parsed = [];

    /// <summary>Like <see cref="FromJson"/>, parsed once per JSON string instance (inputs never change once written).</summary>
    public static StepInput Cached(string? json) => json is null ? new StepInput() : Parsed.GetValue(json, FromJson);

    public static StepInput FromJson(string? json)
        => string.IsNullOrWhiteSpace(json) ? new StepInput() : JsonSerializer.Deserialize<StepInput>(json, Json) ?? new StepInput();
}
