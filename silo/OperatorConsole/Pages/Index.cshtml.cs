namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>The fleet: counts by status and the chargers, kept live by console.js from /console/fleet/events.</summary>
public sealed class FleetModel(FleetMonitor fleet) : ConsolePage
{
    /// <summary>Rows rendered; the counts always cover the whole visible fleet.</summary>
    public const int MaxRows = 500;

    public FleetCounts Counts { get; private set; } = new(0, 0, 0, 0, 0);
    public IReadOnlyList<FleetCharger> Chargers { get; private set; } = [];
    public int Hidden { get; private set; }

    public async Task OnGetAsync(CancellationToken ct)
    {
        var visible = (await fleet.GetAsync(ct)).For(Scope);
        Counts = FleetCounts.Of(visible.ToList());
        // Problems first: faulted, then offline, then charging, then available.
        var ordered = visible.OrderBy(c => c.Status switch { FleetStatus.Faulted => 0, FleetStatus.Offline => 1, FleetStatus.Charging => 2, _ => 3 })
            .ThenBy(c => c.ChargerId, StringComparer.Ordinal).ToList();
        Chargers = ordered.Take(MaxRows).ToList();
        Hidden = ordered.Count - Chargers.Count;
    }
}
