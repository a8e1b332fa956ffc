using EvCharge.Ledger;
using EvCharge.Silo.Apis;
using Microsoft.AspNetCore.Authorization;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>The ledger's invariants: debits = credits, holds resolved once, splits and refunds within the capture (operator only).</summary>
[Authorize(Policy = ConsoleAuth.OperatorPolicy)]
public sealed class LedgerModel(ILedger ledger) : ConsolePage
{
    public InvariantReportResponse Report { get; private set; } = null!;

    public async Task OnGetAsync(CancellationToken ct) => Report = (await ledger.CheckInvariantsAsync(ct)).ToResponse();
}
