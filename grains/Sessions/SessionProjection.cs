using System.Security.Cryptography;
using System.Text;
using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Grains;
using EvCharge.Payments;

namespace EvCharge.Sessions;

/// <summary>
/// The row a session's every durable step writes next to its state: the columns operators filter on (the session
/// list is read straight from these rows, so there is no separate projection to keep in step), and what the cluster
/// derives from sessions instead of writing it elsewhere: whether the session is live on its charger and wallet (the
/// charger's connector map and the wallet's one-open-session rule are rebuilt from live rows, with a unique index on
/// live wallets as the backstop), its transaction id, and when the sweeper must look at it next.
/// </summary>
public sealed record SessionHead(
    string SessionId, long Version, SessionState State, string? ChargerId, int ConnectorId, string? CpoId, string? WalletKey,
    long HoldAmount, long EnergyWh, long? Fee, long Captured, long Refunded, long Debt, bool Seamless, bool FeeMismatch,
    string? Reason, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? StoppedAt, DateTimeOffset UpdatedAt,
    bool Live, int? TransactionId, string? Presentation, DateTimeOffset? DueAt, int Bucket)
{
    public SessionSummary ToSummary() => new(SessionId, State, ChargerId, ConnectorId, CpoId, WalletKey, HoldAmount, EnergyWh, Fee, Captured,
        Refunded, Debt, Seamless, FeeMismatch, Reason, CreatedAt, StartedAt, StoppedAt, UpdatedAt);
}

public static class SessionProjection
{
    /// <summary>Sweeper shards: a session's bucket is fixed at creation; N sweepers each take the buckets ≡ k (mod N).</summary>
    public const int Buckets = 64;

    /// <summary>Live: the session holds its connector and its wallet (authorized, or charging).</summary>
    public static bool IsLive(SessionRecord s) => s.State is SessionState.Authorized or SessionState.Charging && s.WalletKey is not null;

    /// <param name="stored">The row this step replaces (state and due time), or null for a session's first step.</param>
    public static SessionHead Head(string sessionId, long version, SessionRecord s, DateTimeOffset now, SessionRules rules,
        (SessionState State, DateTimeOffset? DueAt)? stored = null) => new(
        sessionId, version, s.State, s.Start?.ChargerId, s.Start?.ConnectorId ?? 0, s.Start?.CpoId, s.WalletKey, s.Authorized,
        SessionMachine.Energy(s), s.Fee, s.Captured, s.Refunded, s.Debt, s.Start?.Payment.VehicleId is not null, FeeMismatch(s),
        s.AttentionReason ?? s.Reason, s.CreatedAt, s.StartedAt, s.StoppedAt, now,
        IsLive(s), s.TransactionId, s.Start is { } start ? PresentationOf(start.Payment) : null, StableDueAt(s, now, rules, stored), BucketOf(sessionId));

    /// <summary>
    /// The due time written with a step. Within one state it stays at the stored value while that is still ahead and no
    /// later than the exact one (a charging session's meter values move its stop timeout, not its due time): the row's
    /// indexed columns then do not change, so PostgreSQL updates it in place (a HOT update, no index writes). The sweeper
    /// may tick such a session early; it finds nothing due and writes the exact time.
    /// </summary>
    public static DateTimeOffset? StableDueAt(SessionRecord s, DateTimeOffset now, SessionRules rules, (SessionState State, DateTimeOffset? DueAt)? stored)
    {
        var exact = DueAt(s, now, rules);
        return stored is { } previous && previous.State == s.State && previous.DueAt is { } kept && exact is { } due && kept > now && kept <= due
            ? kept
            : exact;
    }

    /// <summary>
    /// When the sweeper must look at the session next: a start or stop timeout, a hold nearing expiry, or a provider step
    /// that is in flight (its grain normally finishes it at once; this is for a silo that died) or backing off. Null once
    /// nothing can happen without a new request.
    /// </summary>
    public static DateTimeOffset? DueAt(SessionRecord s, DateTimeOffset now, SessionRules rules)
    {
        DateTimeOffset? due = s.Step switch
        {
            SessionState.Created or SessionState.Rejected => null,
            SessionState.Authorizing => s.LastActivity + rules.AuthorizeBudget + rules.WatchdogPeriod,
            SessionState.Authorized => (s.AuthorizedAt ?? s.CreatedAt) + SessionDeadlines.StartTimeout(s, rules),
            // A hold extension in flight or backing off is looked at when due; a quiet charger at the stop timeout either way.
            SessionState.Charging when s.Extension is not null => Earliest(s.NextAttemptAt ?? now + rules.WatchdogPeriod, s.LastActivity + rules.StopTimeout),
            SessionState.Charging => s.LastActivity + rules.StopTimeout,
            SessionState.Stopped or SessionState.Settling or SessionState.Voiding => s.NextAttemptAt ?? now + rules.WatchdogPeriod,
            _ => s.Refunds.Any(r => !r.Done) ? s.NextAttemptAt ?? now + rules.WatchdogPeriod : null,
        };
        if (due is null || s.IsTerminal || s.HoldExpiresAt is not { } expires || s.AuthorizationId is null) return due;
        var refresh = expires - rules.HoldRefreshBefore; // the back-off never delays a hold about to expire
        return refresh < due ? refresh : due;
    }

    private static DateTimeOffset Earliest(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>
    /// The session as operators see it. A charge that rolled over to new authorizations shows its totals (captured, the
    /// splits summed per payee, one receipt for the whole fee) and every authorization in <see cref="SessionView.Payments"/>.
    /// </summary>
    public static SessionView View(string sessionId, SessionRecord s) => new(
        sessionId, s.State, s.Start?.ChargerId, s.Start?.ConnectorId ?? 0, s.Start?.CpoId, s.TransactionId, s.WalletKey,
        s.AuthorizationId, s.Authorized, SessionMachine.Energy(s), s.Fee, s.ChargerFee, FeeMismatch(s),
        s.Captured, Splits(s), s.State == SessionState.Settled ? s.Earlier.Count == 0 ? s.Receipt : Vat.Receipt(s.Captured) : null,
        s.Samples, s.StartedAt, s.StoppedAt, s.AttentionReason ?? s.Reason,
        s.PaymentId ?? s.Earlier.LastOrDefault(p => p.PaymentId is not null)?.PaymentId, s.Start?.Payment.VehicleId is not null, s.Refunded, s.Debt, s.CreatedAt)
    {
        MeterStartWh = s.StartedAt is null ? null : s.MeterStartWh,
        Tariff = s.Start?.Tariff,
        Payments = Payments(sessionId, s),
    };

    private static IReadOnlyList<SplitPart> Splits(SessionRecord s)
    {
        if (s.Earlier.Count == 0) return s.Splits;
        var current = s.State == SessionState.Settled ? s.Splits : [];
        return s.Earlier.Where(p => p.Captured > 0).SelectMany(p => p.Splits).Concat(current)
            .GroupBy(p => (p.PayeeAccount, p.Role)).Select(g => new SplitPart(g.Key.PayeeAccount, g.Key.Role, g.Sum(p => p.Amount))).ToList();
    }

    /// <summary>What moved per authorization: held and captured/released, or charged as a deposit and partly cancelled.</summary>
    public static IReadOnlyList<SessionPayment> Payments(string sessionId, SessionRecord s)
    {
        var funds = s.Route?.Funds == FundsModel.ApproveThenPartialCancel ? "deposit" : "hold";
        var list = s.Earlier.Select(p => new SessionPayment(Domain.Journals.Scope(sessionId, p.Number), p.AuthorizationId, funds, p.Authorized,
            p.Captured, p.Authorized - p.Captured, p.PaymentId, p.Status == "closing" ? "open" : p.Status)).ToList();
        if (s.AuthorizationId is null) return list;
        var captured = s.State == SessionState.Settled ? s.Captured - s.Earlier.Sum(p => p.Captured) : 0;
        var status = s.State switch
        {
            SessionState.Settled when captured > 0 => "captured",
            SessionState.Settled or SessionState.Voided => "voided",
            SessionState.Debt => "debt",
            _ => "open",
        };
        var released = status == "open" ? 0 : s.Authorized - captured;
        list.Add(new SessionPayment(Domain.Journals.Scope(sessionId, s.PaymentNumber), s.AuthorizationId, funds, s.Authorized, captured, released,
            s.PaymentId, status));
        // An earlier part still being closed is shown open until its capture is booked.
        if (s.Extension?.Previous is { } closing)
            list.Insert(list.Count - 1, new SessionPayment(Domain.Journals.Scope(sessionId, closing.Number), closing.AuthorizationId, funds, closing.Authorized, 0, 0, null, "open"));
        return list;
    }

    public static SessionAuthorization AuthorizationAnswer(SessionRecord s) => s.State switch
    {
        SessionState.Authorized or SessionState.Charging or SessionState.Stopped or SessionState.Settling or SessionState.Settled
            => new SessionAuthorization(true, null, s.WalletKey),
        _ => new SessionAuthorization(false, s.Reason ?? "rejected", s.WalletKey),
    };

    private static bool FeeMismatch(SessionRecord s) => s.ChargerFee is { } c && s.Fee is { } f && c != f;

    /// <summary>
    /// How a charger recognises the DataTransfer it retried: the payment code is never kept in clear, a vehicle by id
    /// (seamless charging releases the binding by it).
    /// </summary>
    public static string PresentationOf(PaymentPresentation p) => p.VehicleId is { } v
        ? $"vid:{v}"
        : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{p.Provider}|{p.PaymentCode}")))[..24];

    public static int BucketOf(string sessionId)
    {
        var hash = 2166136261u; // FNV-1a: stable across processes, unlike string.GetHashCode
        foreach (var ch in sessionId) hash = (hash ^ ch) * 16777619u;
        return (int)(hash % Buckets);
    }
}
