using EvCharge.Ledger;
using EvCharge.Payments;
using Microsoft.Extensions.Logging;

namespace EvCharge.Reconciliation;

/// <summary>
/// Compares the ledger with the wallet providers' records. From the ledger side: every Hold journal names an
/// authorization; the provider's record of it (<see cref="IPaymentGateway.GetAsync"/>) must agree with what the ledger
/// says became of it (still held, captured with these splits and refunds, voided or expired). From the provider side:
/// every authorization it still holds, or captured, must be known to the ledger. Callable on demand; the
/// <c>ReconciliationGrain</c> runs it periodically.
/// </summary>
public sealed class ReconciliationService(
    ILedgerJournalReader journals, IPaymentGatewayRegistry gateways, TimeProvider clock, ILogger<ReconciliationService> logger)
{
    private static readonly ProviderAuthorizationStatus[] ProviderSideStatuses =
    [
        ProviderAuthorizationStatus.Authorized, ProviderAuthorizationStatus.Captured,
        ProviderAuthorizationStatus.PartiallyRefunded, ProviderAuthorizationStatus.Refunded,
    ];

    public async Task<ReconciliationReport> RunAsync(CancellationToken ct = default)
    {
        var startedAt = clock.GetUtcNow();
        var rows = await journals.ReadAllAsync(ct);
        var sessions = rows.GroupBy(r => r.SessionId).Select(LedgerSession.From).Where(s => s.AuthorizationId is not null).ToList();
        var findings = new List<ReconciliationFinding>();
        var unreachable = new List<string>();
        var open = new List<string>();
        var known = new HashSet<string>(StringComparer.Ordinal);

        foreach (var s in sessions)
        {
            known.Add(s.AuthorizationId!);
            if (!gateways.TryGet(s.Provider, out var gateway))
            {
                unreachable.Add($"{s.SessionId}: no gateway for provider {s.Provider}");
                continue;
            }
            ProviderAuthorization? p;
            try
            {
                p = await gateway.GetAsync(s.AuthorizationId!, ct);
            }
            catch (PaymentProviderUnavailableException ex)
            {
                unreachable.Add($"{s.SessionId}: {ex.Message}");
                continue;
            }
            if (p is { Status: ProviderAuthorizationStatus.Authorized } && s.Resolution == LedgerResolution.Open) open.Add(s.SessionId);
            findings.AddRange(Compare(s, p));
        }

        var providerRecords = 0;
        foreach (var gateway in DistinctGateways())
        {
            foreach (var status in ProviderSideStatuses)
            {
                IReadOnlyList<ProviderAuthorization> list;
                try
                {
                    list = await gateway.ListAuthorizationsAsync(status, ct);
                }
                catch (PaymentProviderUnavailableException ex)
                {
                    unreachable.Add($"list {status}: {ex.Message}");
                    continue;
                }
                providerRecords += list.Count;
                foreach (var p in list.Where(p => !known.Contains(p.AuthorizationId)))
                {
                    findings.Add(new(ReconciliationKind.Extra, p.OrderId, p.AuthorizationId, status == ProviderAuthorizationStatus.Authorized ? "hold" : "capture",
                        0, status == ProviderAuthorizationStatus.Authorized ? p.Amount : p.Captured,
                        $"the provider has a {status} authorization for order {p.OrderId} that no ledger Hold names"));
                }
            }
        }

        var report = new ReconciliationReport(startedAt, clock.GetUtcNow(), sessions.Count, providerRecords, open,
            sessions.Where(s => s.Debt > 0).Select(s => s.SessionId).ToList(), findings, unreachable);
        if (!report.Clean) logger.LogWarning("Reconciliation found differences: {Report}", report);
        return report;
    }

    /// <summary>
    /// Each provider account once: configured entries are singletons (two entries of one kind, e.g. a CPO's own merchant
    /// account, are two accounts), while the sandbox adapter is created per resolution and answers for several names.
    /// </summary>
    private IEnumerable<IPaymentGateway> DistinctGateways()
    {
        var seen = new HashSet<object>();
        foreach (var name in gateways.Providers)
        {
            if (!gateways.TryGet(name, out var g) || !gateways.TryGet(name, out var again)) continue;
            if (seen.Add(ReferenceEquals(g, again) ? g : g.GetType())) yield return g;
        }
    }

    /// <summary>One session's ledger, judged against the provider's record of its authorization.</summary>
    internal static IEnumerable<ReconciliationFinding> Compare(LedgerSession s, ProviderAuthorization? p)
    {
        ReconciliationFinding F(ReconciliationKind kind, string field, long ledger, long provider, string detail) =>
            new(kind, s.SessionId, s.AuthorizationId, field, ledger, provider, detail);

        if (p is null)
        {
            yield return F(ReconciliationKind.Missing, "hold", s.Held, 0, "the provider has no record of this authorization");
            yield break;
        }
        if (p.Amount != s.Held) yield return F(ReconciliationKind.Mismatched, "hold", s.Held, p.Amount, "hold amounts differ");
        var providerCaptured = p.Status is ProviderAuthorizationStatus.Captured or ProviderAuthorizationStatus.PartiallyRefunded or ProviderAuthorizationStatus.Refunded;
        var providerReleased = p.Status is ProviderAuthorizationStatus.Voided or ProviderAuthorizationStatus.Expired;
        switch (s.Resolution)
        {
            case LedgerResolution.Open when providerCaptured:
                yield return F(ReconciliationKind.Extra, "capture", 0, p.Captured, "captured at the provider, not in the ledger");
                break;
            case LedgerResolution.Open when providerReleased:
                yield return F(ReconciliationKind.Extra, "release", 0, p.Amount, $"{p.Status} at the provider, the ledger still holds it");
                break;
            case LedgerResolution.Captured when !providerCaptured:
                yield return F(ReconciliationKind.Missing, "capture", s.Captured, 0, $"the ledger captured it, the provider says {p.Status}");
                break;
            case LedgerResolution.Captured:
                if (p.Captured != s.Captured) yield return F(ReconciliationKind.Mismatched, "capture", s.Captured, p.Captured, "captured amounts differ");
                if (p.PaymentId != s.PaymentId) yield return F(ReconciliationKind.Mismatched, "payment", 0, 0, $"payment id {s.PaymentId} in the ledger, {p.PaymentId} at the provider");
                if (p.Refunded != s.Refunded) yield return F(ReconciliationKind.Mismatched, "refunded", s.Refunded, p.Refunded, "refunded amounts differ");
                var providerSplits = p.Remittances.GroupBy(r => r.PayeeAccount).ToDictionary(g => g.Key, g => g.Sum(r => r.Amount));
                foreach (var payee in providerSplits.Keys.Union(s.Remitted.Keys))
                {
                    var ledger = s.Remitted.GetValueOrDefault(payee);
                    var provider = providerSplits.GetValueOrDefault(payee);
                    if (ledger != provider)
                        yield return F(ReconciliationKind.Mismatched, $"remittance:{payee}", ledger, provider, "a payee's split differs");
                }
                break;
            case LedgerResolution.Released or LedgerResolution.Debt when providerCaptured:
                yield return F(ReconciliationKind.Extra, "capture", 0, p.Captured, $"captured at the provider, the ledger says {s.Resolution}");
                break;
            case LedgerResolution.Released or LedgerResolution.Debt when !providerReleased:
                yield return F(ReconciliationKind.Missing, "release", s.Held, 0, $"released in the ledger, still {p.Status} at the provider");
                break;
        }
    }
}

internal enum LedgerResolution { Open, Captured, Released, Debt }

/// <summary>What the ledger says about one session's money.</summary>
internal sealed record LedgerSession(
    string SessionId, string Provider, string? AuthorizationId, long Held, long Captured, string? PaymentId, long Refunded,
    long Debt, bool Released, IReadOnlyDictionary<string, long> Remitted)
{
    public LedgerResolution Resolution => Debt > 0 ? LedgerResolution.Debt : Captured > 0 ? LedgerResolution.Captured : Released ? LedgerResolution.Released : LedgerResolution.Open;

    public static LedgerSession From(IGrouping<string, LedgerLineRow> g)
    {
        var id = g.Key;
        // The credit line of the Hold (or a deposit provider's Deposit) names the wallet, and through it the gateway entry.
        var hold = g.FirstOrDefault(r => r.Kind is JournalKind.Hold or JournalKind.Deposit && r.Amount < 0);
        var provider = hold?.Account.StartsWith("wallet:", StringComparison.Ordinal) == true ? hold.Account.Split(':')[1] : "sandbox";
        long Sum(JournalKind kind, string account, int sign) => g.Where(r => r.Kind == kind && r.Account == account).Sum(r => r.Amount * sign);
        // The provider's record lists the splits it remitted at capture (payables, which it did not pay, are ours alone);
        // refund reversals are compared as the refunded total.
        var remitted = g.Where(r => r.Kind == JournalKind.Remit && r.Account.StartsWith("payee:", StringComparison.Ordinal))
            .GroupBy(r => r.Account["payee:".Length..]).ToDictionary(x => x.Key, x => x.Sum(r => r.Amount));
        return new LedgerSession(id, provider, hold?.Reference,
            Held: Sum(JournalKind.Hold, Accounts.Hold(id), 1) + Sum(JournalKind.Deposit, Accounts.Hold(id), 1) + Sum(JournalKind.HoldIncrement, Accounts.Hold(id), 1),
            Captured: Sum(JournalKind.Capture, Accounts.Clearing(id), 1),
            PaymentId: g.FirstOrDefault(r => r.Kind == JournalKind.Capture)?.Reference,
            Refunded: -Sum(JournalKind.Refund, Accounts.Clearing(id), 1),
            Debt: Sum(JournalKind.Debt, Accounts.Debt(id), 1),
            Released: g.Any(r => r.Kind is JournalKind.Void or JournalKind.Expire),
            Remitted: remitted);
    }
}
