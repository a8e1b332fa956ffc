using EvCharge.Ledger;
using EvCharge.Silo.Security;

namespace EvCharge.Silo.Apis;

public static class LedgerApi
{
    public static RouteGroupBuilder MapLedgerApi(this RouteGroupBuilder api)
    {
        api.MapGet("/ledger/invariants", async (ILedger ledger, CancellationToken ct) => TypedResults.Ok((await ledger.CheckInvariantsAsync(ct)).ToResponse()))
            .WithTags("Ledger").RequireAuthorization(EvChargePolicies.Operator)
            .WithSummary("Check the ledger's invariants: debits = credits, holds resolved once, splits and refunds within the capture");
        return api;
    }
}
