using Taquin.Planner.Inventory;

namespace Taquin.Planner.Planning;

/// <summary>The greedy planner's board, stage by stage, indexed by host and VM number for speed.</summary>
internal sealed class GreedyState
{
    private const byte OldCeph = 0, File = 1, Zfs = 2, PveCeph = 3;

    private readonly PlannerOptions _options;
    private readonly Fleet _fleet;
    private readonly HostSpec[] _hosts;
    private readonly Dictionary<string, int> _hostIndex;
    private readonly VmRecord[] _vms;
    private readonly bool[] _excluded;
    private readonly long[] _ramCap, _zfsCap, _localCap, _oldCephRaw, _newCephRaw, _vmRam, _vmProv, _vmRbd, _vmLocalProv, _vmLocalBytes, _vmMoveBytes, _vmLiveBytes;
    private readonly double[] _nicBudget;
    private readonly bool[] _vmFile;
    private readonly int?[] _pinnedHost, _pinnedStage;
    private readonly HostState[] _state;
    private readonly List<MoveDecision> _moves = [];
    private readonly List<LiveMigrationDecision> _liveMigrations = [];
    private readonly Dictionary<string, int> _conversions = new(StringComparer.Ordinal);
    private readonly List<string> _candidateFailures = [];
    private readonly int[] _vmHost;
    private readonly byte[] _vmStore;
    private long[] _ramUsed, _zfsUsed, _nic;
    // Local image use counts a file disk on its host until the end of the wave that copies it away, as the verifier does.
    private long[] _localUsed;
    // Per host, how late it converts in the order of the wave being planned: live migrations go to the latest.
    private readonly int[] _stayRank;
    private readonly bool[] _movedThisWave;
    private long _newCephUsed, _oldCephAtWave;
    // Host states change only at BeginWave (converting → pve) and in conversion trials (libvirt ↔ converting),
    // so what depends on the pve hosts alone is computed once per wave.
    private long _newCephCapacity;
    private int _pveCount;
    private int _onPve, _wave;
    private int? _pveCephStage;

    public GreedyState(FleetInventory inventory, PlannerOptions options)
    {
        _options = options;
        _fleet = inventory.Fleet;
        _hosts = [.. _fleet.Hosts];
        _hostIndex = _hosts.Select((h, i) => (h.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        _vms = [.. inventory.Vms];
        _excluded = [.. _hosts.Select(options.IsExcluded)];
        var policy = _fleet.Policy;
        _ramCap = [.. _hosts.Select(h => PlanVerifier.RamCapacity(h, policy))];
        _zfsCap = [.. _hosts.Select(h => PlanVerifier.ZfsCapacity(h, policy))];
        _nicBudget = [.. _hosts.Select(h => PlanVerifier.NicBytesPerSecond(h) * policy.WaveWindowHours * 3600)];
        _oldCephRaw = [.. _hosts.Select(h => h.OldCephOsdRawBytes)];
        _newCephRaw = [.. _hosts.Select(h => h.NewCephOsdRawBytes)];
        // VmRecord's sizes are computed from its disks on every read: read each once.
        _vmRam = [.. _vms.Select(v => v.RamBytes)];
        _vmProv = [.. _vms.Select(v => v.ProvisionedBytes)];
        _vmRbd = [.. _vms.Select(v => v.RbdBytes)];
        _vmFile = [.. _vms.Select(v => v.Storage == SourceStorage.LocalFile)];
        _vmLocalProv = [.. _vms.Select((v, i) => _vmFile[i] ? v.LocalFileProvisionedBytes : 0)];
        _vmLocalBytes = [.. _vms.Select((v, i) => _vmFile[i] ? v.LocalFileBytes : 0)];
        _vmMoveBytes = [.. _vms.Select(v => options.Downtime.MoveToPve(v, StrategyChooser.Choose(v, policy, options.OldCephReachableFromPve).Strategy).Bytes)];
        _vmLiveBytes = [.. _vms.Select(v => options.Downtime.LibvirtLiveMigration(v).Bytes)];
        _pinnedHost = [.. _vms.Select(v => options.PinnedHosts.TryGetValue(v.Name, out var h) && _hostIndex.TryGetValue(h, out var i) ? (int?)i : null)];
        _pinnedStage = [.. _vms.Select(v => options.PinnedStages.TryGetValue(v.Name, out var s) ? (int?)s : null)];
        _state = [.. _hosts.Select(h => h.AlreadyPve ? HostState.Pve : HostState.Libvirt)];
        _vmHost = [.. _vms.Select(v => _hostIndex.TryGetValue(v.Host, out var i) ? i : -1)];
        // PlanVerifier.LocalImagesCapacity, with the stage-0 file disks summed in one pass instead of one per host.
        var heldAtStageZero = new long[_hosts.Length];
        for (var v = 0; v < _vms.Length; v++)
        {
            if (_vmHost[v] >= 0)
            {
                heldAtStageZero[_vmHost[v]] += _vmLocalProv[v];
            }
        }

        _localCap = [.. _hosts.Select((h, i) => PlanVerifier.LocalImagesCapacity(h, heldAtStageZero[i]))];
        _vmStore = [.. _vms.Select((v, i) => _vmFile[i] ? File : OldCeph)];
        _ramUsed = new long[_hosts.Length];
        _zfsUsed = new long[_hosts.Length];
        _nic = new long[_hosts.Length];
        _localUsed = new long[_hosts.Length];
        _stayRank = new int[_hosts.Length];
        _movedThisWave = new bool[_vms.Length];
        for (var v = 0; v < _vms.Length; v++)
        {
            if (_vmHost[v] >= 0)
            {
                _ramUsed[_vmHost[v]] += _vmRam[v];
            }
        }

        UpdatePveTotals();
    }

    public int HostCount => _hosts.Length;

    public int VmCount => _vms.Length;

    public bool WaveDidSomething { get; private set; }

    public bool Done => _onPve == _vms.Length && !AnyHostLeftToConvert();

    public bool WaitingForPins(int wave)
    {
        for (var v = 0; v < _vms.Length; v++)
        {
            if (!OnPve(v) && _pinnedStage[v] > wave)
            {
                return true;
            }
        }

        return false;
    }

    public PlanDecisions Decisions() => new()
    {
        ConversionStages = _conversions,
        Moves = _moves,
        LiveMigrations = _liveMigrations,
        PveCephStage = _pveCephStage,
    };

    /// <summary>What makes the input impossible before any wave: too-big VMs, a full cluster, unknown pins.</summary>
    public IReadOnlyList<string> InitialBlockers()
    {
        var blockers = new List<string>();
        var reserve = _fleet.Policy.RamReservePerHostBytes;
        var targets = Enumerable.Range(0, _hosts.Length).Where(h => !_excluded[h]).ToList();
        if (_vms.Length > 0 && targets.Count == 0)
        {
            blockers.Add("every host is excluded: no host can become a PVE target");
            return blockers;
        }

        // The same for every VM (and there is a target whenever there is a VM).
        var biggest = targets.Count > 0 ? targets.MaxBy(h => _ramCap[h]) : -1;
        var maxZfs = targets.Count > 0 ? targets.Max(h => _zfsCap[h]) : 0;
        var newCephAll = PlanVerifier.NewCephUsable(_fleet, targets.Sum(h => _newCephRaw[h]));
        var budget = targets.Count > 0 ? targets.Max(h => _nicBudget[h]) : 0;
        for (var v = 0; v < _vms.Length; v++)
        {
            var vm = _vms[v];
            if (_vmHost[v] < 0)
            {
                blockers.Add($"{vm.Name} runs on host {vm.Host}, which is not in fleet.yaml");
                continue;
            }

            if (_vmRam[v] > _ramCap[biggest])
            {
                blockers.Add($"{vm.Name} needs {Gib(_vmRam[v])} RAM, the largest PVE host {_hosts[biggest].Name} offers {Gib(_hosts[biggest].RamBytes)} − {Gib(reserve)} reserve = {Gib(_ramCap[biggest])}");
            }

            var newCephPossible = targets.Count >= _fleet.NewCeph.MinHosts && newCephAll >= _vmProv[v];
            if (_vmProv[v] > maxZfs && !newCephPossible)
            {
                blockers.Add($"{vm.Name} has {ByteSize.Format(_vmProv[v])} of disks: the largest ZFS pool holds {ByteSize.Format(maxZfs)} (× zfsFillRatio) and the new Ceph {(targets.Count < _fleet.NewCeph.MinHosts ? $"needs {_fleet.NewCeph.MinHosts} PVE hosts, only {targets.Count} can convert" : $"offers {ByteSize.Format(newCephAll)} at most")}");
            }

            if (_vmMoveBytes[v] > budget)
            {
                blockers.Add($"{vm.Name} copies {ByteSize.Format(_vmMoveBytes[v])}, more than any host's NIC moves in a {_fleet.Policy.WaveWindowHours} h wave window ({ByteSize.Format((long)budget)}): widen policy.waveWindowHours");
            }

            if (_pinnedHost[v] is null && _options.PinnedHosts.TryGetValue(vm.Name, out var pinned))
            {
                blockers.Add($"{vm.Name} is pinned to host {pinned}, which is not in fleet.yaml");
            }
            else if (_pinnedHost[v] is { } ph && _excluded[ph])
            {
                blockers.Add($"{vm.Name} is pinned to host {_hosts[ph].Name}, which is excluded");
            }
        }

        for (var h = 0; h < _hosts.Length; h++)
        {
            if (_ramUsed[h] > _ramCap[h])
            {
                blockers.Add($"host {_hosts[h].Name} already holds {Gib(_ramUsed[h])} of VM RAM > {Gib(_ramCap[h])} ({Gib(_hosts[h].RamBytes)} − {Gib(reserve)} reserve) at stage 0: lower policy.ramReservePerHost or the VMs' memory");
            }
        }

        var rbd = _vmRbd.Sum();
        var oldCap = PlanVerifier.OldCephUsable(_fleet, LibvirtOldCephRaw(except: -1));
        if (rbd > oldCap)
        {
            blockers.Add($"the old Ceph already holds {ByteSize.Format(rbd)} > {ByteSize.Format(oldCap)} usable at stage 0 (raw ÷ size × nearfull): check volumes.json and oldCeph in fleet.yaml");
        }

        foreach (var name in _options.ConversionOrder.Where(n => !_hostIndex.ContainsKey(n)))
        {
            blockers.Add($"the fixed conversion order names host {name}, which is not in fleet.yaml");
        }

        return blockers;
    }

    public void BeginWave(int wave)
    {
        _wave = wave;
        for (var h = 0; h < _hosts.Length; h++)
        {
            if (_state[h] == HostState.Converting)
            {
                _state[h] = HostState.Pve;
            }
        }

        UpdatePveTotals();
        if (_pveCephStage is null && PveCount() >= _fleet.NewCeph.MinHosts && NewCephCapacity() > 0)
        {
            _pveCephStage = wave;
        }

        Array.Clear(_nic);
        Array.Clear(_movedThisWave);
        _candidateFailures.Clear();
        WaveDidSomething = false;
        _oldCephAtWave = 0;
        Array.Clear(_localUsed);
        for (var v = 0; v < _vms.Length; v++)
        {
            if (!OnPve(v))
            {
                _oldCephAtWave += _vmRbd[v];
            }

            if (_vmStore[v] == File)
            {
                _localUsed[_vmHost[v]] += _vmLocalProv[v];
            }
        }
    }

    public bool MovePinned(out IReadOnlyList<string> blockers)
    {
        var failures = new List<string>();
        for (var v = 0; v < _vms.Length; v++)
        {
            if (_pinnedStage[v] == _wave && !OnPve(v) && !TryMoveToPve(v))
            {
                failures.Add($"{_vms[v].Name} is pinned to wave {_wave} but cannot move then: {ExplainNoRoom(v)}");
            }
        }

        blockers = failures;
        return failures.Count == 0;
    }

    public int ConvertHosts(bool multiple)
    {
        var converted = 0;
        foreach (var c in ConversionCandidates())
        {
            if (TryConvert(c))
            {
                converted++;
                if (!multiple)
                {
                    break;
                }
            }
            else if (converted > 0 || _options.ConversionOrder.Count > 0)
            {
                break;
            }
        }

        return converted;
    }

    public void FillPve()
    {
        if (PveCount() == 0)
        {
            return;
        }

        var hostRank = new int[_hosts.Length];
        Array.Fill(hostRank, int.MaxValue);
        var candidates = ConversionCandidates();
        var seen = new bool[_hosts.Length];
        for (var i = 0; i < candidates.Count; i++)
        {
            // A host named twice in a fixed order keeps its first place (the former ToDictionary threw on it).
            if (!seen[candidates[i]])
            {
                seen[candidates[i]] = true;
                hostRank[candidates[i]] = i;
            }
        }

        // VMs with a file disk go first: any later live migration would copy their disks. RBD VMs
        // (which live-migrate with their RAM only) leave them the PVE RAM they still need.
        var order = new List<int>();
        for (var v = 0; v < _vms.Length; v++)
        {
            if (!OnPve(v) && !_movedThisWave[v] && (_pinnedStage[v] is null || _pinnedStage[v] == _wave))
            {
                order.Add(v);
            }
        }

        order.Sort((a, b) =>
        {
            var c = (_vmFile[a] ? 0 : 1).CompareTo(_vmFile[b] ? 0 : 1);
            if (c == 0)
            {
                c = hostRank[_vmHost[a]].CompareTo(hostRank[_vmHost[b]]);
            }

            return c != 0 ? c : BiggestFirst(a, b);
        });
        var maxFree = MaxFreePveRam();
        var totalFree = TotalFreePveRam();
        long fileRamWaiting = 0;
        foreach (var v in order)
        {
            if (_vmFile[v])
            {
                fileRamWaiting += _vmRam[v];
            }
        }

        foreach (var v in order)
        {
            if (_vmRam[v] > maxFree)
            {
                continue;
            }

            if (!_vmFile[v] && totalFree - _vmRam[v] < fileRamWaiting)
            {
                continue;
            }

            if (_vmFile[v])
            {
                fileRamWaiting -= _vmRam[v];
            }

            var from = _vmHost[v];
            var freeBefore = FreePveRam(from);
            if (TryMoveToPve(v))
            {
                // Only the source and the target changed: the total follows without a scan over the hosts.
                var to = _vmHost[v];
                if (to != from)
                {
                    var targetBefore = _ramUsed[to] - _vmRam[v];
                    totalFree += FreePveRam(from) - freeBefore + FreePveRam(to) - FreePveRam(to, targetBefore);
                }

                maxFree = MaxFreePveRam();
                if (maxFree <= 0)
                {
                    break;
                }
            }
        }
    }

    public IReadOnlyList<string> ExplainStuck()
    {
        var stuck = Enumerable.Range(0, _vms.Length).Where(v => !OnPve(v)).OrderByDescending(v => _vmRam[v]).Take(2).ToList();
        var reasons = _candidateFailures.Take(3).Concat(stuck.Select(v => $"{_vms[v].Name} cannot move to PVE in wave {_wave}: {ExplainNoRoom(v)}")).ToList();
        return reasons.Count > 0 ? reasons : ["no host can convert and no VM can move"];
    }

    private List<int> ConversionCandidates()
    {
        var fixedOrder = new List<int>();
        var inFixedOrder = new bool[_hosts.Length];
        foreach (var name in _options.ConversionOrder)
        {
            if (_hostIndex.TryGetValue(name, out var h) && _state[h] == HostState.Libvirt && !_excluded[h])
            {
                fixedOrder.Add(h);
                inFixedOrder[h] = true;
            }
        }

        var fileBytes = new long[_hosts.Length];
        for (var v = 0; v < _vms.Length; v++)
        {
            if (_vmFile[v] && _vmHost[v] >= 0 && !OnPve(v))
            {
                fileBytes[_vmHost[v]] += _vmLocalBytes[v];
            }
        }

        var rest = new List<int>();
        for (var h = 0; h < _hosts.Length; h++)
        {
            if (_state[h] == HostState.Libvirt && !_excluded[h] && !inFixedOrder[h])
            {
                rest.Add(h);
            }
        }

        // Least RAM + file data to evacuate first, ties by name (host names are unique).
        rest.Sort((a, b) =>
        {
            var c = (_ramUsed[a] + fileBytes[a]).CompareTo(_ramUsed[b] + fileBytes[b]);
            return c != 0 ? c : string.CompareOrdinal(_hosts[a].Name, _hosts[b].Name);
        });
        fixedOrder.AddRange(rest);
        return fixedOrder;
    }

    private bool TryConvert(int host)
    {
        var name = _hosts[host].Name;
        var capacity = PlanVerifier.OldCephUsable(_fleet, LibvirtOldCephRaw(except: host));
        if (_oldCephAtWave > capacity)
        {
            _candidateFailures.Add($"converting {name} in wave {_wave} would shrink the old Ceph to {ByteSize.Format(capacity)} usable while it still holds {ByteSize.Format(_oldCephAtWave)}");
            return false;
        }

        var order = ConversionCandidates();
        Array.Fill(_stayRank, -1);
        for (var i = 0; i < order.Count; i++)
        {
            _stayRank[order[i]] = i;
        }

        _state[host] = HostState.Converting;
        var onHost = new List<int>();
        for (var v = 0; v < _vms.Length; v++)
        {
            if (_vmHost[v] == host)
            {
                onHost.Add(v);
            }
        }

        onHost.Sort(BiggestFirst);
        var snapshot = Save(onHost);
        foreach (var v in onHost)
        {
            if (_movedThisWave[v] || !(TryMoveToPve(v) || TryLiveMigrate(v)))
            {
                var why = _movedThisWave[v] ? "it already moved in this wave" : ExplainNoRoom(v);
                Restore(snapshot);
                _state[host] = HostState.Libvirt;
                _candidateFailures.Add($"{name} cannot convert in wave {_wave}: {_vms[v].Name} cannot leave it: {why}");
                return false;
            }
        }

        _conversions[name] = _wave;
        WaveDidSomething = true;
        return true;
    }

    private bool TryMoveToPve(int v)
    {
        if (OnPve(v) || _movedThisWave[v] || (_pinnedStage[v] is { } ps && ps != _wave))
        {
            return false;
        }

        var target = FindPveTarget(v);
        if (target is not { } t)
        {
            return false;
        }

        var from = _vmHost[v];
        var bytes = _vmMoveBytes[v];
        _ramUsed[from] -= _vmRam[v];
        _ramUsed[t.Host] += _vmRam[v];
        _nic[t.Host] += bytes;
        if (_vmStore[v] == File)
        {
            _nic[from] += bytes;
        }

        if (t.Store == Zfs)
        {
            _zfsUsed[t.Host] += _vmProv[v];
        }
        else
        {
            _newCephUsed += _vmProv[v];
        }

        _vmHost[v] = t.Host;
        _vmStore[v] = t.Store;
        _movedThisWave[v] = true;
        _onPve++;
        _moves.Add(new MoveDecision(_vms[v].Name, _wave, _hosts[t.Host].Name, t.Store == Zfs ? StorageIds.Zfs(_hosts[t.Host].Name) : StorageIds.PveCeph));
        WaveDidSomething = true;
        return true;
    }

    private (int Host, byte Store)? FindPveTarget(int v)
    {
        var from = _vmHost[v];
        var bytes = _vmMoveBytes[v];
        if (_vmStore[v] == File && _nic[from] + bytes > _nicBudget[from])
        {
            return null;
        }

        // ZFS first, the new Ceph otherwise; among the hosts that fit, the least RAM-filled one
        // (VMs come biggest first, so this keeps the PVE hosts balanced without hurting the packing much).
        var newCephFree = _pveCephStage is not null ? NewCephCapacity() - _newCephUsed : -1;
        int viaZfs = -1, viaCeph = -1;
        for (var h = 0; h < _hosts.Length; h++)
        {
            if (_state[h] != HostState.Pve || _excluded[h] || (_pinnedHost[v] is { } ph && ph != h)
                || _ramUsed[h] + _vmRam[v] > _ramCap[h] || _nic[h] + bytes > _nicBudget[h])
            {
                continue;
            }

            if (_zfsUsed[h] + _vmProv[v] <= _zfsCap[h])
            {
                viaZfs = LessFilled(h, viaZfs);
            }
            else if (_vmProv[v] <= newCephFree)
            {
                viaCeph = LessFilled(h, viaCeph);
            }
        }

        return viaZfs >= 0 ? (viaZfs, Zfs) : viaCeph >= 0 ? (viaCeph, PveCeph) : null;
    }

    private int LessFilled(int h, int best)
        => best < 0 || (_ramUsed[h] / (double)Math.Max(1, _ramCap[h])) < (_ramUsed[best] / (double)Math.Max(1, _ramCap[best])) ? h : best;

    /// <summary>libvirt → libvirt live migration; a file-disk VM takes its disks along (storage copy) and needs local image room.</summary>
    private bool TryLiveMigrate(int v)
    {
        if (_movedThisWave[v] || OnPve(v))
        {
            return false;
        }

        var from = _vmHost[v];
        var bytes = _vmLiveBytes[v];
        if (_nic[from] + bytes > _nicBudget[from])
        {
            return false;
        }

        var best = -1;
        for (var h = 0; h < _hosts.Length; h++)
        {
            if (h == from || _state[h] != HostState.Libvirt || _excluded[h]
                || _ramUsed[h] + _vmRam[v] > _ramCap[h] || _nic[h] + bytes > _nicBudget[h]
                || (_vmFile[v] && _localUsed[h] + _vmLocalProv[v] > _localCap[h]))
            {
                continue;
            }

            // The host that stays libvirt longest: moving there avoids moving (and copying) the VM twice.
            if (best < 0 || _stayRank[h] > _stayRank[best])
            {
                best = h;
            }
        }

        if (best < 0)
        {
            return false;
        }

        _ramUsed[from] -= _vmRam[v];
        _ramUsed[best] += _vmRam[v];
        _nic[from] += bytes;
        _nic[best] += bytes;
        if (_vmFile[v])
        {
            // The source file still counts on its host until the wave is committed (see BeginWave).
            _localUsed[best] += _vmLocalProv[v];
        }

        _vmHost[v] = best;
        _movedThisWave[v] = true;
        _liveMigrations.Add(new LiveMigrationDecision(_vms[v].Name, _wave, _hosts[best].Name));
        WaveDidSomething = true;
        return true;
    }

    private string ExplainNoRoom(int v)
    {
        var reserve = _fleet.Policy.RamReservePerHostBytes;
        var pve = Enumerable.Range(0, _hosts.Length).Where(h => _state[h] == HostState.Pve && !_excluded[h] && (_pinnedHost[v] is not { } ph || ph == h)).ToList();
        string pvePart;
        if (_pinnedStage[v] is { } ps && ps != _wave)
        {
            pvePart = $"it is pinned to wave {ps}";
        }
        else if (pve.Count == 0)
        {
            pvePart = _pinnedHost[v] is { } ph ? $"it is pinned to {_hosts[ph].Name}, which is not PVE yet" : "no PVE host exists yet";
        }
        else
        {
            var roomiest = pve.MaxBy(h => _ramCap[h] - _ramUsed[h]);
            var free = _ramCap[roomiest] - _ramUsed[roomiest];
            var zfsBest = pve.MaxBy(h => _zfsCap[h] - _zfsUsed[h]);
            pvePart = _vmRam[v] > free
                ? $"the largest PVE host {_hosts[roomiest].Name} offers {Gib(_hosts[roomiest].RamBytes)} − {Gib(reserve)} reserve − {Gib(_ramUsed[roomiest])} in use = {Gib(free)}"
                : FindPveTarget(v) is null && pve.All(h => _nic[h] + _vmMoveBytes[v] > _nicBudget[h] || _ramUsed[h] + _vmRam[v] > _ramCap[h])
                    ? $"the PVE hosts with room have used their copy budget for wave {_wave} ({_fleet.Policy.WaveWindowHours} h window)"
                    : $"its {ByteSize.Format(_vmProv[v])} of disks fit no ZFS pool (most free: {_hosts[zfsBest].Name}, {ByteSize.Format(_zfsCap[zfsBest] - _zfsUsed[zfsBest])}) and the new Ceph {(_pveCephStage is null ? $"does not exist yet ({PveCount()} of {_fleet.NewCeph.MinHosts} PVE hosts)" : $"has {ByteSize.Format(NewCephCapacity() - _newCephUsed)} free")}";
        }

        string libvirtPart;
        var others = Enumerable.Range(0, _hosts.Length).Where(h => h != _vmHost[v] && _state[h] == HostState.Libvirt && !_excluded[h]).ToList();
        if (others.Count == 0)
        {
            libvirtPart = "no other libvirt host is left for a live migration";
        }
        else if (_vmFile[v])
        {
            var roomiest = others.MaxBy(h => _localCap[h] - _localUsed[h]);
            libvirtPart = $"a live migration with storage copy needs {ByteSize.Format(_vmLocalProv[v])} of local image storage: the libvirt host with most, {_hosts[roomiest].Name}, has {ByteSize.Format(Math.Max(0, _localCap[roomiest] - _localUsed[roomiest]))} free (of {ByteSize.Format(_localCap[roomiest])}) and {Gib(_ramCap[roomiest] - _ramUsed[roomiest])} RAM free";
        }
        else
        {
            var roomiest = others.MaxBy(h => _ramCap[h] - _ramUsed[h]);
            libvirtPart = $"the libvirt host with most room, {_hosts[roomiest].Name}, has {Gib(_ramCap[roomiest] - _ramUsed[roomiest])} free";
        }

        return $"{_vms[v].Name} needs {Gib(_vmRam[v])} RAM; {pvePart}; {libvirtPart}";
    }

    private bool OnPve(int v) => _vmStore[v] is Zfs or PveCeph;

    private bool AnyHostLeftToConvert()
    {
        for (var h = 0; h < _hosts.Length; h++)
        {
            if (_state[h] == HostState.Libvirt && !_excluded[h])
            {
                return true;
            }
        }

        return false;
    }

    private int PveCount() => _pveCount;

    private long NewCephCapacity() => _newCephCapacity;

    private void UpdatePveTotals()
    {
        _pveCount = 0;
        long raw = 0;
        for (var h = 0; h < _hosts.Length; h++)
        {
            if (_state[h] == HostState.Pve)
            {
                _pveCount++;
                raw += _newCephRaw[h];
            }
        }

        _newCephCapacity = PlanVerifier.NewCephUsable(_fleet, raw);
    }

    /// <summary>OSD bytes of the hosts still libvirt (optionally but one), as PlanVerifier.OldCephCapacity sums them.</summary>
    private long LibvirtOldCephRaw(int except)
    {
        long raw = 0;
        for (var h = 0; h < _hosts.Length; h++)
        {
            if (h != except && _state[h] == HostState.Libvirt)
            {
                raw += _oldCephRaw[h];
            }
        }

        return raw;
    }

    /// <summary>Biggest RAM first, then by name (then fleet order, as a stable sort would keep it).</summary>
    private int BiggestFirst(int a, int b)
    {
        var c = _vmRam[b].CompareTo(_vmRam[a]);
        if (c == 0)
        {
            c = string.CompareOrdinal(_vms[a].Name, _vms[b].Name);
        }

        return c != 0 ? c : a.CompareTo(b);
    }

    private long MaxFreePveRam()
    {
        long best = 0;
        for (var h = 0; h < _hosts.Length; h++)
        {
            if (_state[h] == HostState.Pve && !_excluded[h])
            {
                best = Math.Max(best, _ramCap[h] - _ramUsed[h]);
            }
        }

        return best;
    }

    private long TotalFreePveRam()
    {
        long free = 0;
        for (var h = 0; h < _hosts.Length; h++)
        {
            free += FreePveRam(h);
        }

        return free;
    }

    /// <summary>What host <paramref name="h"/> adds to <see cref="TotalFreePveRam"/> (with <paramref name="used"/> bytes in use, by default its own).</summary>
    private long FreePveRam(int h, long? used = null)
        => _state[h] == HostState.Pve && !_excluded[h] ? Math.Max(0, _ramCap[h] - (used ?? _ramUsed[h])) : 0;

    /// <summary>
    /// What a conversion trial can change: the host sums, and the VMs of the converting host (no other VM moves in a trial),
    /// so a trial costs O(H + its VMs) to save rather than O(V).
    /// </summary>
    private Snapshot Save(List<int> trialVms) => new(
        [.. trialVms], [.. trialVms.Select(v => _vmHost[v])], [.. trialVms.Select(v => _vmStore[v])], [.. trialVms.Select(v => _movedThisWave[v])],
        (long[])_ramUsed.Clone(), (long[])_zfsUsed.Clone(), (long[])_nic.Clone(), (long[])_localUsed.Clone(),
        _newCephUsed, _onPve, _moves.Count, _liveMigrations.Count, WaveDidSomething);

    private void Restore(Snapshot s)
    {
        for (var i = 0; i < s.Vms.Length; i++)
        {
            var v = s.Vms[i];
            _vmHost[v] = s.VmHost[i];
            _vmStore[v] = s.VmStore[i];
            _movedThisWave[v] = s.Moved[i];
        }

        _ramUsed = s.RamUsed;
        _zfsUsed = s.ZfsUsed;
        _nic = s.Nic;
        _localUsed = s.LocalUsed;
        _newCephUsed = s.NewCephUsed;
        _onPve = s.OnPve;
        _moves.RemoveRange(s.Moves, _moves.Count - s.Moves);
        _liveMigrations.RemoveRange(s.LiveMigrations, _liveMigrations.Count - s.LiveMigrations);
        WaveDidSomething = s.DidSomething;
    }

    private static string Gib(long bytes) => PlanVerifier.Gib(bytes);

    private sealed record Snapshot(int[] Vms, int[] VmHost, byte[] VmStore, bool[] Moved, long[] RamUsed, long[] ZfsUsed, long[] Nic, long[] LocalUsed, long NewCephUsed, int OnPve, int Moves, int LiveMigrations, bool DidSomething);
}
