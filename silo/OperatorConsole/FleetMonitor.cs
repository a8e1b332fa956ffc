using EvCharge.Charging;
using EvCharge.Silo.Apis;
using EvCharge.Silo.Security;

namespace EvCharge.Silo.OperatorConsole;

/// <summary>What the fleet page shows for a charger, derived from its view.</summary>
public enum FleetStatus { Available, Charging, Faulted, Offline }

public sealed record FleetCharger(
    string ChargerId, string CpoId, FleetStatus Status, bool Online, DateTimeOffset? LastSeen, IReadOnlyList<ConnectorResponse> Connectors,
    string? Vendor, string? Model, string? Location)
{
    /// <summary>
    /// Offline first (a charger that does not answer cannot be charging as far as anyone can act on it), then a
    /// faulted connector, then a connector delivering or holding a session, else available.
    /// </summary>
    public static FleetStatus Classify(bool online, IEnumerable<ConnectorResponse> connectors)
    {
        if (!online) return FleetStatus.Offline;
        var list = connectors.ToList();
        if (list.Any(c => c.Status == ConnectorStatus.Faulted)) return FleetStatus.Faulted;
        if (list.Any(c => c.TransactionId is not null || c.Status is ConnectorStatus.Charging or ConnectorStatus.SuspendedEV or ConnectorStatus.SuspendedEVSE))
            return FleetStatus.Charging;
        return FleetStatus.Available;
    }

    public static FleetCharger From(ChargerView view)
    {
        var connectors = view.Connectors.Select(c => c.ToResponse()).ToList();
        return new FleetCharger(view.ChargerId, view.Registration!.CpoId, Classify(view.Online, connectors), view.Online, view.LastSeen, connectors,
            view.Vendor, view.Registration.Model, view.Registration.Location);
    }

    /// <summary>Equal when nothing an operator would see changed (last-seen ticks with every heartbeat and is left out).</summary>
    public bool SameStatus(FleetCharger other) =>
        Status == other.Status && Online == other.Online && CpoId == other.CpoId && Connectors.SequenceEqual(other.Connectors);
}

public sealed record FleetCounts(int Total, int Online, int Offline, int Charging, int Faulted)
{
    public static FleetCounts Of(IReadOnlyCollection<FleetCharger> chargers) => new(
        chargers.Count, chargers.Count(c => c.Online), chargers.Count(c => !c.Online),
        chargers.Count(c => c.Status == FleetStatus.Charging), chargers.Count(c => c.Status == FleetStatus.Faulted));
}

public sealed record FleetSnapshot(DateTimeOffset TakenAt, IReadOnlyList<FleetCharger> Chargers)
{
    /// <summary>The chargers a caller may see: all for the operator, its own for a CPO.</summary>
    public IReadOnlyList<FleetCharger> For(CallerScope scope) => scope.IsOperator ? Chargers : Chargers.Where(c => scope.CanSee(c.CpoId)).ToList();
}

/// <summary>
/// The fleet as the console shows it, read from the charger grains (online status lives in their memory, so there
/// is no table to query). One snapshot per silo is shared by every page and live stream and refreshed only when
/// someone asks and it is older than <see cref="RefreshEvery"/>: an idle console costs nothing, ten open consoles
/// cost what one does. A refresh reads each CPO's charger list, then every charger's view, at most
/// <see cref="Parallelism"/> at a time (GetView interleaves and touches no storage).
/// </summary>
public sealed class FleetMonitor(IGrainFactory grains, TimeProvider time, ILogger<FleetMonitor> logger)
{
    public static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(2);
    private const int Parallelism = 32;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private FleetSnapshot _snapshot = new(DateTimeOffset.MinValue, []);

    public async Task<FleetSnapshot> GetAsync(CancellationToken ct = default)
    {
        if (time.GetUtcNow() - _snapshot.TakenAt < RefreshEvery) return _snapshot;
        await _refresh.WaitAsync(ct);
        try
        {
            if (time.GetUtcNow() - _snapshot.TakenAt < RefreshEvery) return _snapshot; // another caller just refreshed it
            _snapshot = await ReadAsync(ct);
            return _snapshot;
        }
        finally
        {
            _refresh.Release();
        }
    }

    private async Task<FleetSnapshot> ReadAsync(CancellationToken ct)
    {
        var ids = new List<(string Cpo, string Charger)>();
        foreach (var cpo in await grains.GetGrain<ICpoDirectoryGrain>(0).GetCpoIds())
            foreach (var charger in await grains.GetGrain<ICpoGrain>(cpo).GetChargers())
                ids.Add((cpo, charger));
        var found = new FleetCharger?[ids.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, ids.Count), new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct },
            async (i, _) =>
            {
                try
                {
                    var view = await grains.GetGrain<IChargerGrain>(ids[i].Charger).GetView();
                    // A charger moved to another CPO stays in the old CPO's list; its registration is the truth.
                    if (view.Registration?.CpoId == ids[i].Cpo) found[i] = FleetCharger.From(view);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Fleet view: charger {Charger} did not answer", ids[i].Charger);
                }
            });
        var chargers = found.OfType<FleetCharger>().OrderBy(c => c.ChargerId, StringComparer.Ordinal).ToList();
        return new FleetSnapshot(time.GetUtcNow(), chargers);
    }
}
