namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>Charges per hour (last 24 hours), energy and revenue per day (last two weeks), for the caller's scope.</summary>
public sealed class ChartsModel(ChargeCharts charts) : ConsolePage
{
    public ChargeChartData Data { get; private set; } = null!;

    public async Task OnGetAsync(CancellationToken ct) => Data = await charts.GetAsync(Scope, ct);
}
