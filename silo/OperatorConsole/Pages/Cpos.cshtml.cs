using EvCharge.Charging;
using EvCharge.Silo.Apis;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>CPO contracts: commission and payee account, tariffs, chargers (a CPO sees its own).</summary>
public sealed class CposModel(IGrainFactory grains) : ConsolePage
{
    public IReadOnlyList<CpoResponse> Cpos { get; private set; } = [];

    public async Task OnGetAsync()
    {
        var ids = IsOperator ? await grains.GetGrain<ICpoDirectoryGrain>(0).GetCpoIds() : [Scope.CpoId!];
        var list = new List<CpoResponse>();
        foreach (var id in ids.Order(StringComparer.Ordinal))
        {
            var cpo = grains.GetGrain<ICpoGrain>(id);
            if (await cpo.GetContract() is { } contract) list.Add(new CpoResponse(id, contract.ToResponse(), await cpo.GetChargers()));
        }
        Cpos = list;
    }
}
