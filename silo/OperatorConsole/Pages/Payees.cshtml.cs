using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Silo.Apis;
using Microsoft.Extensions.Options;

namespace EvCharge.Silo.OperatorConsole.Pages;

public sealed record PayeeRow(string PayeeAccount, string Whose, PayeeBalanceResponse Balance);

/// <summary>Payee accounts with their all-time ledger balance: the platform's and each CPO's (a CPO sees its own).</summary>
public sealed class PayeesModel(IGrainFactory grains, ILedger ledger, IOptions<EvChargeOptions> options) : ConsolePage
{
    public IReadOnlyList<PayeeRow> Rows { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken ct)
    {
        var accounts = new List<(string Account, string Whose)>();
        if (IsOperator) accounts.Add((options.Value.PlatformPayeeAccount, "platform operator"));
        var cpoIds = IsOperator ? await grains.GetGrain<ICpoDirectoryGrain>(0).GetCpoIds() : [Scope.CpoId!];
        foreach (var id in cpoIds)
            if (await grains.GetGrain<ICpoGrain>(id).GetContract() is { } contract) accounts.Add((contract.PayeeAccount, $"CPO {id} ({contract.Name})"));
        var rows = new List<PayeeRow>();
        foreach (var (account, whose) in accounts.DistinctBy(a => a.Account))
            rows.Add(new PayeeRow(account, whose, (await ledger.GetPayeeBalanceAsync(account, ct)).ToResponse()));
        Rows = rows;
    }
}
