using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Taquin.Planner.Diagnostics;
using Taquin.Planner.Inventory;

namespace Taquin.Web.Plans;

/// <summary>
/// An inventory folder as loaded now: the inventory when it parses (the review can show it even when validation
/// fails) and the errors; only a usable one (no error) can be planned, approved or run.
/// </summary>
public sealed record InventoryState(string Folder, FleetInventory? Inventory, IReadOnlyList<Diagnostic> Errors)
{
    public string? Digest => Inventory?.Digest;
    public FleetInventory? Usable => Errors.Count == 0 ? Inventory : null;
}

/// <summary>
/// Loaded inventories, reloaded when a file of the folder changes (names, sizes, modification times), so pages do
/// not re-parse hundreds of XML files per request while a changed inventory is still seen at once.
/// </summary>
public sealed class InventoryCache
{
    private readonly ConcurrentDictionary<string, (string Fingerprint, InventoryState State)> _loaded = new(StringComparer.Ordinal);

    public InventoryState Get(string folder)
    {
        var full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
        {
            return new InventoryState(full, null, [Diagnostic.Error(full, "inventory", $"inventory folder '{full}' does not exist", "give the folder that holds fleet.yaml, volumes.json and domains/<host>/*.xml")]);
        }

        var fingerprint = Fingerprint(full);
        if (_loaded.TryGetValue(full, out var cached) && cached.Fingerprint == fingerprint)
        {
            return cached.State;
        }

        var state = Load(full);
        _loaded[full] = (fingerprint, state);
        return state;
    }

    private static InventoryState Load(string folder)
    {
        var loaded = InventoryLoader.Load(folder);
        var diagnostics = loaded.Diagnostics.ToList();
        if (loaded.Inventory is { } inventory)
        {
            diagnostics.AddRange(InventoryValidator.Validate(inventory));
        }

        var errors = diagnostics.Where(d => d.Severity == Severity.Error).ToList();
        return new InventoryState(folder, loaded.Inventory, errors);
    }

    private static string Fingerprint(string folder)
    {
        var text = new StringBuilder();
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(file);
            text.Append(file).Append('|').Append(info.Length.ToString(CultureInfo.InvariantCulture)).Append('|')
                .Append(info.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
