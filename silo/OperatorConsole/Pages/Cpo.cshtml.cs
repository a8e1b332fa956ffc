using EvCharge.Charging;
using EvCharge.Silo.Apis;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>One CPO's contract, its tariffs in full and its chargers with their live status.</summary>
public sealed class CpoModel(IGrainFactory grains, FleetMonitor fleet) : ConsolePage
{
    public CpoResponse Cpo { get; private set; } = null!;
    public IReadOnlyList<FleetCharger> Chargers { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(string cpoId, CancellationToken ct)
    {
        // Another CPO's contract is "not found" here, like its chargers and sessions.
        var (contract, problem) = await CposApi.Contract(cpoId, User, grains);
        if (problem is not null) return NotFoundPage($"No CPO {cpoId}.");
        Cpo = new CpoResponse(cpoId, contract!.ToResponse(), await grains.GetGrain<ICpoGrain>(cpoId).GetChargers());
        Chargers = (await fleet.GetAsync(ct)).For(Scope).Where(c => c.CpoId == cpoId).ToList();
        return Page();
    }
}
