using System.Globalization;
using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Sessions;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.Apis;

/// <summary>
/// <c>missing</c>: the ledger holds money for a session the provider has no record of. <c>extra</c>: the provider
/// holds or moved money the ledger has no journal for. <c>mismatched</c>: both know it, the amounts differ.
/// </summary>
public sealed record ReconciliationItem(string SessionId, string Kind, string Field, long Ledger, long Provider, string? AuthorizationId, string? Detail);

public sealed record ReconciliationReport(DateTimeOffset From, DateTimeOffset To, int SessionsChecked, int SessionsMatched, bool Truncated,
    IReadOnlyList<ReconciliationItem> Items);

/// <summary>Ledger against provider, session by session, for sessions created in a window.</summary>
public static class ReconciliationApi
{
    private const int MaxSessions = 2_000;

    public static RouteGroupBuilder MapReconciliationApi(this RouteGroupBuilder api)
    {
        api.MapGet("/reconciliation", Reconcile).WithTags("Reconciliation").RequireAuthorization(EvChargePolicies.Operator)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .WithSummary("Compare ledger captures, voids and refunds with the provider's records (IPaymentGateway.GetAsync)");
        return api;
    }

    private static async Task<Results<Ok<ReconciliationReport>, ProblemHttpResult>> Reconcile([FromQuery] string? from, [FromQuery] string? to, [FromQuery] string? cpoId,
        ISessionIndex index, ILedger ledger, IPaymentGatewayRegistry gateways, IGrainFactory grains, TimeProvider time, CancellationToken ct)
    {
        var e = new FieldErrors();
        DateTimeOffset? Parse(string field, string? v)
        {
            if (v is null) return null;
            if (DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return t;
            e.Add(field, "must be an ISO 8601 time");
            return null;
        }
        var now = time.GetUtcNow();
        var f = Parse("from", from) ?? now.AddDays(-1);
        var t = Parse("to", to) ?? now.AddMinutes(1);
        if (cpoId is not null) e.Id("cpoId", cpoId);
        if (f >= t) e.Add("to", "must be after from");
        else if (t - f > TimeSpan.FromDays(31)) e.Add("to", "the window is at most 31 days");
        if (e.Any) return e.ToResult();
        try
        {
            return TypedResults.Ok(await RunAsync(f, t, cpoId, index, ledger, gateways, grains, ct));
        }
        catch (PaymentProviderUnavailableException ex)
        {
            return ApiProblems.Unavailable($"The wallet provider did not answer: {ex.Message}");
        }
    }

    /// <summary>Compares every session created in [from, to) (at most 2,000); throws when the provider does not answer.</summary>
    internal static async Task<ReconciliationReport> RunAsync(DateTimeOffset f, DateTimeOffset t, string? cpoId, ISessionIndex index, ILedger ledger,
        IPaymentGatewayRegistry gateways, IGrainFactory grains, CancellationToken ct)
    {
        var items = new List<ReconciliationItem>();
        int checkedCount = 0, matched = 0;
        string? cursor = null;
        var truncated = false;
        do
        {
            var page = await index.QueryAsync(new SessionQuery(cpoId, From: f, To: t, Limit: SessionQueryLimits.MaxLimit, Cursor: cursor), ct);
            foreach (var s in page.Items)
            {
                if (checkedCount == MaxSessions) { truncated = true; break; }
                checkedCount++;
                var found = await CompareAsync(s, ledger, gateways, grains, ct);
                if (found.Count == 0) matched++;
                items.AddRange(found);
            }
            cursor = truncated ? null : page.NextCursor;
        } while (cursor is not null);
        return new ReconciliationReport(f, t, checkedCount, matched, truncated, items);
    }

    private static async Task<List<ReconciliationItem>> CompareAsync(SessionSummary s, ILedger ledger, IPaymentGatewayRegistry gateways,
        IGrainFactory grains, CancellationToken ct)
    {
        var view = await grains.GetGrain<IChargingSessionGrain>(s.SessionId).GetView();
        var provider = s.WalletKey?.Split(':')[0] ?? "sandbox";
        if (!gateways.TryGet(provider, out var gateway) && !gateways.TryGet("sandbox", out gateway))
            return [new(s.SessionId, "missing", "provider", 0, 0, view.AuthorizationId, $"no gateway for provider {provider}")];
        // Each authorization is its own ledger scope: one for most charges, one more per rollover of a long one.
        var items = new List<ReconciliationItem>();
        foreach (var scope in view.Payments.Count > 0 ? view.Payments.Select(p => (p.OrderId, (string?)p.AuthorizationId)) : [(s.SessionId, view.AuthorizationId)])
            items.AddRange(await CompareScopeAsync(scope.OrderId, scope.Item2, ledger, gateway, ct));
        return items;
    }

    private static async Task<List<ReconciliationItem>> CompareScopeAsync(string scope, string? knownAuthorization, ILedger ledger, IPaymentGateway gateway, CancellationToken ct)
    {
        var entries = await ledger.GetSessionEntriesAsync(scope, ct);
        long Sum(params JournalKind[] kinds) => entries.Where(x => kinds.Contains(x.Kind) && x.Amount > 0).Sum(x => x.Amount);
        var held = Sum(JournalKind.Hold, JournalKind.Deposit, JournalKind.HoldIncrement);
        var captured = Sum(JournalKind.Capture);
        var refunded = Sum(JournalKind.Refund);
        var voided = Sum(JournalKind.Void, JournalKind.Expire);
        var authorizationId = entries.FirstOrDefault(x => x.Kind is JournalKind.Hold or JournalKind.Deposit)?.Reference ?? knownAuthorization;

        var remote = authorizationId is not null ? await gateway.GetAsync(authorizationId, ct) : await gateway.FindByOrderAsync(scope, ct);
        var items = new List<ReconciliationItem>();
        if (remote is null)
        {
            if (held > 0) items.Add(new(scope, "missing", "authorization", held, 0, authorizationId, "the provider has no record of this hold"));
            return items;
        }
        if (held == 0)
        {
            // The provider knows a hold the ledger never journaled; harmless only if it was voided or expired there.
            if (remote.Status is not (ProviderAuthorizationStatus.Voided or ProviderAuthorizationStatus.Expired) || remote.Captured > 0)
                items.Add(new(scope, "extra", "authorization", 0, remote.Amount, remote.AuthorizationId, $"provider status {remote.Status}"));
            return items;
        }
        if (remote.Amount != held) items.Add(new(scope, "mismatched", "authorized", held, remote.Amount, remote.AuthorizationId, null));
        if (remote.Captured != captured)
            items.Add(new(scope, captured == 0 ? "extra" : remote.Captured == 0 ? "missing" : "mismatched", "captured", captured, remote.Captured, remote.AuthorizationId, null));
        if (remote.Refunded != refunded)
            items.Add(new(scope, refunded == 0 ? "extra" : remote.Refunded == 0 ? "missing" : "mismatched", "refunded", refunded, remote.Refunded, remote.AuthorizationId, null));
        var remoteVoided = remote.Status is ProviderAuthorizationStatus.Voided or ProviderAuthorizationStatus.Expired;
        if (remoteVoided != voided > 0)
            items.Add(new(scope, remoteVoided ? "extra" : "missing", "voided", voided, remoteVoided ? remote.Amount : 0, remote.AuthorizationId, $"provider status {remote.Status}"));
        return items;
    }
}
