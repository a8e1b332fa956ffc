using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Grains;
using EvCharge.Ledger;
using EvCharge.Payments;

namespace EvCharge.Sessions;

/// <summary>
/// Long charges (docs/payments.md, "Long charges"). When the running cost nears what the current authorization covers,
/// a provider with incremental authorization raises the hold (<c>{session}:increment:{n}</c>, a new total, so a replay
/// cannot raise twice). Otherwise, or when the raise is refused, a session paid with a saved credential rolls over:
/// it authorizes again (order <c>{session}-r{n}</c>, key <c>{session}:authorize:{n}</c>) and, once the new authorization
/// stands, captures what is due on the previous one (<c>{session}:capture:{n}</c>; a void when nothing is). A hold about to
/// expire rolls over the same way. The new authorization is placed first so that a refusal leaves the charge covered by
/// the old one, which then ends as before: the charger is stopped. A one-time payment code cannot pay twice, so those
/// charges stop at the hold as they always did. Each authorization is its own ledger scope (<see cref="Journals.Scope"/>),
/// so every hold or deposit is resolved exactly once.
/// </summary>
public static partial class SessionMachine
{
    private const string HoldReached = "hold_reached";
    private const string ExpiryTrigger = "hold_expiring";

    /// <summary>The most the whole charge may authorize: the binding's per-charge limit where set, and the platform's bound.</summary>
    private static long Cap(SessionStart start, SessionRules rules) =>
        start.ChargeLimit > 0 ? Math.Min(start.ChargeLimit, rules.MaxSessionAmount) : rules.MaxSessionAmount;

    private static long RunningCost(SessionRecord s) =>
        s.Start is null || s.Samples.Count == 0 ? 0 : FeeCalculator.RunningCost(s.Start.Tariff, s.MeterStartWh, s.StartedAt ?? s.CreatedAt, s.Samples);

    /// <summary>An increment where the provider offers it and the trigger is the cost, else a rollover; null when neither can be.</summary>
    private static SessionDecision? Extend(string sessionId, SessionRecord s, string trigger, long running, SessionRules rules)
    {
        if (s.Route is not { } route || s.AuthorizationId is null || s.Start is not { } start) return null;
        var room = Cap(start, rules) - CapturedBefore(s) - s.Authorized;
        // An increment raises the amount, not the hold's lifetime: an expiring hold rolls over instead.
        if (trigger == HoldReached && route.IncrementalAuthorization && room > 0)
        {
            var x = new HoldExtension(HoldExtensionKind.Increment, s.Increments + 1, s.Authorized + Math.Min(start.HoldAmount, room), trigger);
            var next = s with { Extension = x, Increments = x.Number, Attempts = 0, NextAttemptAt = null };
            return new(next) { Call = ExtensionCall(sessionId, next) };
        }
        return Reauthorize(sessionId, s, trigger, running, rules);
    }

    private static SessionDecision? Reauthorize(string sessionId, SessionRecord s, string trigger, long running, SessionRules rules)
    {
        if (s.Route is null || s.AuthorizationId is null || s.Start is not { BillingToken: not null } start) return null; // a one-time code pays once
        var before = CapturedBefore(s);
        var due = Math.Clamp(running - before, 0, s.Authorized);
        var amount = Math.Min(start.HoldAmount, Cap(start, rules) - before - due);
        if (amount <= 0) return null;
        var x = new HoldExtension(HoldExtensionKind.Reauthorize, s.Rollovers + 1, amount, trigger);
        var next = s with { Extension = x, Rollovers = x.Number, Attempts = 0, NextAttemptAt = null };
        return new(next) { Call = ExtensionCall(sessionId, next) };
    }

    /// <summary>The extension's call: always the same request under the same key, whichever attempt this is.</summary>
    private static ProviderCall ExtensionCall(string sessionId, SessionRecord s)
    {
        var x = s.Extension!;
        var start = s.Start!;
        switch (x.Kind)
        {
            case HoldExtensionKind.Increment:
                return new IncrementCall(Provider(s), new IncrementRequest(s.AuthorizationId!, x.Amount), $"{sessionId}:increment:{x.Number}");
            case HoldExtensionKind.Reauthorize:
                var request = new AuthorizeRequest(start.Payment.Provider, null, start.BillingToken, x.Amount, Journals.Scope(sessionId, x.Number), start.ChargerId);
                var key = $"{sessionId}:authorize:{x.Number}";
                // After a lost answer the adapter resolves what the request left; it never authorizes under another key.
                return x.Unanswered ? new ResolveAuthorizeCall(Provider(s), request, key) : new AuthorizeCall(Provider(s), request, key) { ClaimWallet = false };
            default:
                var p = x.Previous!;
                if (p.Planned == 0) return new VoidCall(Provider(s), p.AuthorizationId, $"{sessionId}:void:{x.Number}");
                var details = new ReceiptDetails(start.ChargerId, start.ConnectorId, sessionId, p.EnergyWh, p.From, p.To, p.Receipt.Total, p.Receipt.SupplyValue, p.Receipt.Vat);
                return new CaptureCall(Provider(s), new CaptureRequest(p.AuthorizationId, p.Planned, p.Splits, details), $"{sessionId}:capture:{x.Number}");
        }
    }

    private static SessionDecision ExtensionAnswered(string sessionId, SessionRecord s, SessionCommand command, DateTimeOffset now, SessionRules rules)
    {
        var x = s.Extension!;
        if (command is ProviderUnanswered) return ExtensionStuck(sessionId, s, $"{Label(x)}_unavailable", attentionNow: false, now, rules);
        if (command is ProviderMissing) return ExtensionStuck(sessionId, s, "unknown_provider", attentionNow: true, now, rules);
        return x.Kind switch
        {
            HoldExtensionKind.Increment => command is IncrementAnswered a ? Incremented(sessionId, s, x, a.Outcome, now, rules) : Same(s),
            HoldExtensionKind.Reauthorize => command switch
            {
                AuthorizeAnswered { Outcome.Approved: true } a => RolledOver(sessionId, s, x, a.Outcome.AuthorizationId!, a.Outcome.Amount, a.Outcome.ExpiresAt),
                AuthorizeAnswered a => NotExtended(sessionId, s, now, rules, tryRollover: false),
                AuthorizeResolved r => RolloverResolved(sessionId, s, x, r.Resolution, now, rules),
                _ => Same(s),
            },
            _ => ClosePreviousAnswered(sessionId, s, x, command, now, rules),
        };
    }

    private static string Label(HoldExtension x) => x.Kind switch
    {
        HoldExtensionKind.Increment => "increment",
        HoldExtensionKind.Reauthorize => "rollover_authorization",
        _ => "rollover_capture",
    };

    private static SessionDecision Incremented(string sessionId, SessionRecord s, HoldExtension x, IncrementOutcome outcome, DateTimeOffset now, SessionRules rules)
    {
        if (!outcome.Succeeded) return NotExtended(sessionId, s, now, rules, tryRollover: true); // the hold stays as it was
        var raised = outcome.Amount - s.Authorized;
        var next = Extended(s) with { Authorized = Math.Max(s.Authorized, outcome.Amount), HoldExpiresAt = outcome.ExpiresAt ?? s.HoldExpiresAt };
        var decision = Continue(sessionId, next, now);
        return raised <= 0 ? decision
            : decision with { Journals = [Journals.HoldIncrement(Scope(sessionId, s), x.Number, s.WalletKey!, raised, s.AuthorizationId!), .. decision.Journals] };
    }

    /// <summary>The hold could not be extended (refused, declined, or the provider never had it): the charge ends on what stands.</summary>
    private static SessionDecision NotExtended(string sessionId, SessionRecord s, DateTimeOffset now, SessionRules rules, bool tryRollover)
    {
        var trigger = s.Extension!.Trigger;
        var next = Extended(s);
        if (next.State != SessionState.Charging) return Continue(sessionId, next, now);
        if (tryRollover && !next.RemoteStopRequested && Reauthorize(sessionId, next, trigger, RunningCost(next), rules) is { } rollover) return rollover;
        if (trigger == ExpiryTrigger) return CloseAtLastMeterValue(sessionId, next, ExpiryTrigger, now);
        return new(next with { RemoteStopRequested = true }) { RemoteStopReason = next.RemoteStopRequested ? null : HoldReached };
    }

    private static SessionDecision RolloverResolved(string sessionId, SessionRecord s, HoldExtension x, AuthorizeResolution r, DateTimeOffset now, SessionRules rules)
    {
        switch (r.State)
        {
            case ResolutionState.NotFound:
                // Nothing under our key: sending the same request again under it settles the question either way.
                var resend = s with { Extension = x with { Unanswered = false } };
                return new(resend) { Call = ExtensionCall(sessionId, resend) };
            case ResolutionState.Unknown:
                // KakaoPay cannot look up a saved-credential payment: a second charge may exist. Never authorize anew; a person looks.
                return ExtensionStuck(sessionId, s, $"rollover_authorization_unknown: {r.Detail ?? "the provider cannot tell"}", attentionNow: true, now, rules);
        }
        var found = r.Authorization!;
        return found.Status switch
        {
            ProviderAuthorizationStatus.Authorized => RolledOver(sessionId, s, x, found.AuthorizationId, found.Amount, found.ExpiresAt),
            ProviderAuthorizationStatus.Voided or ProviderAuthorizationStatus.Expired => NotExtended(sessionId, s, now, rules, tryRollover: false),
            _ => ExtensionStuck(sessionId, s, $"rollover_authorization_{found.Status}_unexpected", attentionNow: true, now, rules),
        };
    }

    /// <summary>
    /// The new authorization stands: it is booked in its own scope and becomes the current one; what the running cost has
    /// reached on the previous one (up to its hold) is its capture plan, sent next. The rest of the charge is the new one's.
    /// </summary>
    private static SessionDecision RolledOver(string sessionId, SessionRecord s, HoldExtension x, string authorizationId, long amount, DateTimeOffset? expires)
    {
        var start = s.Start!;
        var before = CapturedBefore(s);
        var due = Math.Clamp(RunningCost(s) - before, 0, s.Authorized);
        var last = s.Samples.Count > 0 ? s.Samples.MaxBy(m => m.Timestamp)! : null;
        var from = s.Earlier.Count > 0 ? s.Earlier[^1].To : s.StartedAt ?? s.CreatedAt;
        var energy = Math.Max(0, Energy(s with { MeterStopWh = null }) - s.Earlier.Sum(p => p.EnergyWh));
        var previous = new PaymentPart(s.PaymentNumber, s.AuthorizationId!, s.Authorized, due,
            SplitCalculator.Split(due, CommissionNow(s), start.CpoPayeeAccount, start.PlatformPayeeAccount), Vat.Receipt(due),
            energy, from, last?.Timestamp ?? from, 0, null, [], "closing");
        var next = s with
        {
            AuthorizationId = authorizationId, Authorized = amount, HoldExpiresAt = expires, PaymentNumber = x.Number,
            Extension = x with { Kind = HoldExtensionKind.ClosePrevious, Unanswered = false, Previous = previous },
            Attempts = 0, NextAttemptAt = null,
        };
        return new(next) { Journals = [Booked(s, Journals.Scope(sessionId, x.Number), s.WalletKey!, amount, authorizationId)], Call = ExtensionCall(sessionId, next) };
    }

    private static SessionDecision ClosePreviousAnswered(string sessionId, SessionRecord s, HoldExtension x, SessionCommand command, DateTimeOffset now, SessionRules rules)
    {
        var p = x.Previous!;
        var scope = Journals.Scope(sessionId, p.Number);
        switch (command)
        {
            case CaptureAnswered { Outcome.Succeeded: true } c when c.Outcome.Captured == p.Planned:
                return PreviousCaptured(sessionId, s, p, c.Outcome.PaymentId!, c.Outcome.Captured, c.Outcome.Remittances, now);
            case CaptureAnswered { Outcome.Succeeded: true } c:
                return ExtensionStuck(sessionId, s, $"rollover_captured_{c.Outcome.Captured}_planned_{p.Planned}", attentionNow: true, now, rules);
            case CaptureAnswered c:
                return new(s) { Call = new CaptureLookupCall(Provider(s), p.AuthorizationId, c.Outcome.ErrorCode) };
            case CaptureLookedUp l:
                var found = l.Found;
                switch (found?.Status)
                {
                    case ProviderAuthorizationStatus.Captured or ProviderAuthorizationStatus.PartiallyRefunded or ProviderAuthorizationStatus.Refunded
                        when found.PaymentId is not null && found.Captured == p.Planned:
                        return PreviousCaptured(sessionId, s, p, found.PaymentId, found.Captured, found.Remittances, now);
                    // The previous authorization is gone: what was due on it is captured from the current one at the end.
                    case ProviderAuthorizationStatus.Expired:
                        return PreviousReleased(sessionId, s, p, Journals.Expire(scope, s.WalletKey!, p.Authorized), "expired", now);
                    case ProviderAuthorizationStatus.Voided:
                        return PreviousReleased(sessionId, s, p, Journals.Void(scope, s.WalletKey!, p.Authorized, l.RefusalCode), "voided", now);
                    default:
                        return ExtensionStuck(sessionId, s, $"rollover_capture_refused_{l.RefusalCode}_provider_{found?.Status.ToString() ?? "unknown"}", attentionNow: true, now, rules);
                }
            case VoidAnswered { Outcome.Succeeded: true }:
                return PreviousReleased(sessionId, s, p, Journals.Void(scope, s.WalletKey!, p.Authorized, "rolled_over"), "voided", now);
            case VoidAnswered { Outcome.ErrorCode: "authorization_expired" }:
                return PreviousReleased(sessionId, s, p, Journals.Expire(scope, s.WalletKey!, p.Authorized), "expired", now);
            case VoidAnswered v:
                return ExtensionStuck(sessionId, s, $"rollover_void_refused_{v.Outcome.ErrorCode}", attentionNow: true, now, rules);
            default:
                return Same(s);
        }
    }

    private static SessionDecision PreviousCaptured(
        string sessionId, SessionRecord s, PaymentPart p, string paymentId, long captured, IReadOnlyList<Remittance> remittances, DateTimeOffset now)
    {
        var (journals, owed) = CaptureJournals(s, Journals.Scope(sessionId, p.Number), p.Authorized, captured, paymentId, p.Splits, remittances);
        var closed = p with { Captured = captured, PaymentId = paymentId, Owed = owed, Status = "captured" };
        var next = Extended(s) with { Earlier = [.. s.Earlier, closed], Captured = CapturedBefore(s) + captured };
        var decision = Continue(sessionId, next, now);
        return decision with { Journals = [.. journals, .. decision.Journals] };
    }

    private static SessionDecision PreviousReleased(string sessionId, SessionRecord s, PaymentPart p, Journal resolution, string status, DateTimeOffset now)
    {
        var next = Extended(s) with { Earlier = [.. s.Earlier, p with { Status = status }] };
        var decision = Continue(sessionId, next, now);
        return decision with { Journals = [resolution, .. decision.Journals] };
    }

    /// <summary>The extension is over: counters of its retries reset, a reason it raised while charging cleared.</summary>
    private static SessionRecord Extended(SessionRecord s) => s with
    {
        Extension = null, Attempts = 0, NextAttemptAt = null,
        AttentionReason = s.State == SessionState.Charging ? null : s.AttentionReason,
    };

    /// <summary>After an extension: a stopped charge goes on to its settlement, a running one keeps charging.</summary>
    private static SessionDecision Continue(string sessionId, SessionRecord s, DateTimeOffset now) =>
        s.Step is SessionState.Stopped or SessionState.Settling ? Settle(sessionId, s, now) : new(s);

    /// <summary>
    /// The extension's call got no usable answer. While charging, a raise or a new authorization that is not known to
    /// stand must not let the cost run on: the charger is asked to stop, and the extension is finished (resent under its
    /// key, or resolved) before the settlement. Closing the previous authorization needs no stop: the new one stands.
    /// Retries back off; past the limit, or at once when a person must look, the reason is shown (NeedsAttention once stopped).
    /// </summary>
    private static SessionDecision ExtensionStuck(string sessionId, SessionRecord s, string reason, bool attentionNow, DateTimeOffset now, SessionRules rules)
    {
        var x = s.Extension! with { Unanswered = true };
        var attempts = attentionNow ? Math.Max(s.Attempts + 1, rules.MaxSettlementAttempts) : s.Attempts + 1;
        var stuck = attempts >= rules.MaxSettlementAttempts;
        var shown = stuck ? attentionNow ? reason : $"{reason} after {attempts} attempts" : null;
        if (s.State == SessionState.Charging)
        {
            var stop = x.Kind != HoldExtensionKind.ClosePrevious && !s.RemoteStopRequested;
            var next = s with
            {
                Extension = x, Attempts = attempts, NextAttemptAt = now + rules.Backoff(attempts),
                RemoteStopRequested = s.RemoteStopRequested || stop, AttentionReason = shown ?? s.AttentionReason,
            };
            return new(next) { RemoteStopReason = stop ? x.Trigger : null, AttentionRaised = shown is not null && s.AttentionReason is null ? shown : null };
        }
        if (stuck) return Attention(s with { Extension = x }, SessionState.Stopped, shown!, now, rules, attempts);
        return new(s with { Extension = x, Attempts = attempts, NextAttemptAt = now + rules.Backoff(attempts) });
    }
}
