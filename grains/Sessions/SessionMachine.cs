using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Grains;
using EvCharge.Ledger;
using EvCharge.Payments;

namespace EvCharge.Sessions;

/// <summary>
/// The charging session's decisions as one pure function: state + command + clock → <see cref="SessionDecision"/>.
/// No I/O happens here; the grain persists the decision as one durable step and then runs its provider call, whose
/// answer comes back as the next command. Every state that calls the provider is an intent written before the call
/// (docs/money-safety.md), and every call carries a key derived from the session, so a repeat after a crash or a lost
/// answer is the same request.
/// <code>
/// Created ─► Authorizing ─► Authorized ─► Charging ─► Settling ─► Settled
///               │  │            │  │          │  │          │  └► Debt
///               │  └► Rejected  │  └► Voiding ◄┘  └► Voiding (below minimum)
///               └──► Voiding ───┴────► Voided
/// any provider step (Authorizing, Voiding, Settling) ──(retry limit)──► NeedsAttention(step) ──► same step again
/// </code>
/// </summary>
public static class SessionMachine
{
    public static SessionDecision Decide(string sessionId, SessionRecord s, SessionCommand command, DateTimeOffset now, SessionRules rules) =>
        command switch
        {
            AuthorizeSession c => Authorize(sessionId, s, c, now),
            AuthorizeAnswered c => AuthorizeAnswered(sessionId, s, c, now),
            StartCharging c => Start(s, c, now),
            AddMeterSamples c => AddMeterSamples(s, c, now, rules),
            StopCharging c => Stop(sessionId, s, c, now),
            ReportChargerFee c => s.ChargerFee == c.Fee ? Same(s) : new(s with { ChargerFee = c.Fee }),
            CancelSession c => s.Step is SessionState.Authorized or SessionState.Voiding && s.AuthorizationId is not null
                ? StartVoid(sessionId, s, c.Reason)
                : Same(s),
            RequestRefund c => Refund(sessionId, s, c),
            Tick c => Tick(sessionId, s, c.Force, now, rules),
            TickRefunds c => TickRefunds(sessionId, s, c.Force, now, rules),
            CaptureAnswered c => c.Outcome.Succeeded
                ? RecordCapture(sessionId, s, c.Outcome.PaymentId!, c.Outcome.Captured, now, rules)
                : new(s) { Call = new CaptureLookupCall(Provider(s), s.AuthorizationId!, c.Outcome.ErrorCode) },
            CaptureLookedUp c => CaptureLookedUp(sessionId, s, c, now, rules),
            VoidAnswered c => VoidAnswered(sessionId, s, c.Outcome, now, rules),
            OrderLookedUp c => OrderLookedUp(sessionId, s, c.Found, now, rules),
            RefundAnswered c => RefundAnswered(sessionId, s, c),
            ProviderUnanswered c => Unanswered(s, c, now, rules),
            ProviderMissing c => Missing(s, c, now, rules),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not a session command"),
        };

    private static SessionDecision Same(SessionRecord s) => new(s);

    private static string Provider(SessionRecord s) => s.Start!.Payment.Provider;

    // ---- authorization (design §1 steps 2-4) ----

    private static SessionDecision Authorize(string sessionId, SessionRecord s, AuthorizeSession c, DateTimeOffset now)
    {
        if (s.State != SessionState.Created) return Same(s); // a replayed request gets the first answer
        var start = c.Start;
        var next = s with { State = SessionState.Authorizing, Start = start, CreatedAt = now, LastActivity = now, Attempts = 0 };
        var request = new AuthorizeRequest(start.Payment.Provider, start.Payment.PaymentCode, start.BillingToken, start.HoldAmount, sessionId, start.ChargerId);
        return new(next) { Call = new AuthorizeCall(start.Payment.Provider, request, $"{sessionId}:authorize") };
    }

    private static SessionDecision AuthorizeAnswered(string sessionId, SessionRecord s, AuthorizeAnswered c, DateTimeOffset now)
    {
        if (s.State != SessionState.Authorizing) return Same(s);
        var outcome = c.Outcome;
        if (!outcome.Approved) return new(s with { Reason = outcome.DeclineCode ?? "declined", State = SessionState.Rejected });

        var walletKey = $"{Provider(s)}:{outcome.WalletRef}";
        var held = s with
        {
            WalletKey = walletKey, AuthorizationId = outcome.AuthorizationId, Authorized = outcome.Amount,
            HoldExpiresAt = outcome.ExpiresAt, AuthorizedAt = now, LastActivity = now,
        };
        var hold = Journals.Hold(sessionId, walletKey, outcome.Amount, outcome.AuthorizationId!);
        // The charger was told "rejected" (its answer budget ran out) or the wallet already has an open session:
        // the fresh hold is booked and voided at once, so no hold outlives a refusal.
        var refusal = c.Late ? "authorization_late" : c.Claim is { Granted: false } claim ? claim.Reason ?? "wallet_busy" : null;
        if (refusal is not null)
            return StartVoid(sessionId, held, refusal) with { Journals = [hold] };
        return new(held with { State = SessionState.Authorized }) { Journals = [hold] };
    }

    private static SessionDecision Start(SessionRecord s, StartCharging c, DateTimeOffset now)
    {
        if (s.State != SessionState.Authorized) return Same(s);
        return new(s with { State = SessionState.Charging, TransactionId = c.TransactionId, MeterStartWh = c.MeterStartWh, StartedAt = c.Timestamp, LastActivity = now });
    }

    // ---- charging (step 5) ----

    private static SessionDecision AddMeterSamples(SessionRecord s, AddMeterSamples c, DateTimeOffset now, SessionRules rules)
    {
        if (s.State != SessionState.Charging || s.Start is null) return Same(s) with { Progress = Progress(s, false) };
        var fresh = Fresh(s.Samples, c.Samples);
        if (fresh.Count == 0) return Same(s) with { Progress = Progress(s, false) }; // a duplicate delivery changes nothing

        var merged = Merge(s.Samples, fresh);
        var running = FeeCalculator.RunningCost(s.Start.Tariff, s.MeterStartWh, s.StartedAt ?? now, merged);
        var reached = !s.RemoteStopRequested && HoldPolicy.ShouldStop(running, s.Authorized, rules.HoldStopMarginBasisPoints);
        var next = s with { Samples = merged, LastActivity = now, RemoteStopRequested = s.RemoteStopRequested || reached };
        return new(next) { NewSamples = fresh, Progress = new MeterProgress(Energy(next), running, reached) };
    }

    private static SessionDecision Stop(string sessionId, SessionRecord s, StopCharging c, DateTimeOffset now)
    {
        // A repeated or late StopTransaction is confirmed again and charges nothing twice.
        if (s.State != SessionState.Charging) return Same(s);
        var fresh = Fresh(s.Samples, c.Report.TransactionData);
        var stopped = s with
        {
            State = SessionState.Stopped, MeterStopWh = Math.Max(c.Report.MeterStopWh, s.MeterStartWh), StoppedAt = c.Report.Timestamp,
            StopReason = c.Report.Reason, Samples = Merge(s.Samples, fresh), LastActivity = now,
        };
        // Everything the settlement plan needs is known now, so the stop is written as the Settling intent itself.
        return Settle(sessionId, stopped, now) with { NewSamples = fresh };
    }

    /// <summary>
    /// No StopTransaction arrived (or the hold is about to expire): close at the last meter value and settle that.
    /// </summary>
    private static SessionDecision CloseAtLastMeterValue(string sessionId, SessionRecord s, string reason, DateTimeOffset now)
    {
        var last = s.Samples.Count > 0 ? s.Samples.MaxBy(x => x.Timestamp)! : new MeterSample(s.StartedAt ?? s.LastActivity, s.MeterStartWh);
        var stopped = s with { State = SessionState.Stopped, MeterStopWh = Math.Max(last.EnergyWh, s.MeterStartWh), StoppedAt = last.Timestamp, StopReason = reason };
        return Settle(sessionId, stopped, now) with
        {
            ChargerSessionEnded = true,
            // A hold that is about to expire cannot be renewed for a one-time payment code: the charge is captured while
            // the hold stands, and the charger is asked to stop. A later StopTransaction charges nothing twice.
            RemoteStopReason = reason == "hold_expiring" && s.TransactionId is not null ? reason : null,
        };
    }

    // ---- settlement (steps 6-7) ----

    /// <summary>
    /// Stopped: computes the fee and the plan (capture within the hold, splits, receipt) once and writes it as the
    /// Settling intent, or voids the hold when nothing is billable. Settling: sends exactly that plan under the fixed
    /// capture key, so a retry is the same request and the provider replays its first answer.
    /// </summary>
    private static SessionDecision Settle(string sessionId, SessionRecord s, DateTimeOffset now)
    {
        if (s.Start is null) return Same(s);
        if (s.State == SessionState.Stopped)
        {
            var start = s.Start;
            var breakdown = FeeCalculator.Compute(start.Tariff, s.MeterStartWh, s.StartedAt ?? s.CreatedAt, s.Samples, s.MeterStopWh ?? s.MeterStartWh, s.StoppedAt ?? now);
            if (breakdown.BelowMinimum || breakdown.Fee == 0)
                return StartVoid(sessionId, s with { Fee = 0 }, "below_minimum");
            var (planned, _) = HoldPolicy.CaptureWithin(breakdown.Fee, s.Authorized);
            var receipt = Vat.Receipt(planned);
            s = s with
            {
                State = SessionState.Settling, Fee = breakdown.Fee, PlannedCapture = planned, Attempts = 0, NextAttemptAt = null,
                Splits = SplitCalculator.Split(planned, start.Commission, start.CpoPayeeAccount, start.PlatformPayeeAccount),
                Receipt = receipt,
            };
        }
        return new(s) { Call = CaptureFor(sessionId, s, now) };
    }

    private static CaptureCall CaptureFor(string sessionId, SessionRecord s, DateTimeOffset now)
    {
        var start = s.Start!;
        var receipt = s.Receipt!;
        var energy = Math.Max(0, (s.MeterStopWh ?? s.MeterStartWh) - s.MeterStartWh); // what FeeCalculator billed
        var details = new ReceiptDetails(start.ChargerId, start.ConnectorId, sessionId, energy, s.StartedAt ?? s.CreatedAt, s.StoppedAt ?? now,
            receipt.Total, receipt.SupplyValue, receipt.Vat);
        return new CaptureCall(start.Payment.Provider, new CaptureRequest(s.AuthorizationId!, s.PlannedCapture, s.Splits, details), $"{sessionId}:capture");
    }

    private static SessionDecision RecordCapture(string sessionId, SessionRecord s, string paymentId, long captured, DateTimeOffset now, SessionRules rules)
    {
        if (captured != s.PlannedCapture) return Attention(s, SessionState.Settling, $"captured_{captured}_planned_{s.PlannedCapture}", now, rules);
        // Capture, release of the rest and every remittance are one step: no reader (the invariant check,
        // reconciliation) ever sees a capture whose splits are not yet remitted.
        var journals = new List<Journal> { Journals.Capture(sessionId, captured, paymentId) };
        if (s.Authorized - captured > 0) journals.Add(Journals.Release(sessionId, s.WalletKey!, s.Authorized - captured));
        journals.AddRange(s.Splits.Where(p => p.Amount > 0).Select(part => Journals.Remit(sessionId, part, paymentId)));
        // Capture never exceeds the hold (design §6). What the charger delivered past it, in the moments between the
        // hold being reached and RemoteStopTransaction taking effect, is written off, visible as the reason.
        var excess = (s.Fee ?? captured) - captured;
        return new(s with
        {
            State = SessionState.Settled, Captured = captured, PaymentId = paymentId, AttentionStep = null, AttentionReason = null,
            NextAttemptAt = null, Attempts = 0, Reason = excess > 0 ? $"fee_exceeded_hold_by_{excess}" : s.Reason,
        }) { Journals = journals };
    }

    /// <summary>A definite capture refusal: what became of the hold decides, not a guess.</summary>
    private static SessionDecision CaptureLookedUp(string sessionId, SessionRecord s, CaptureLookedUp c, DateTimeOffset now, SessionRules rules)
    {
        var found = c.Found;
        switch (found?.Status)
        {
            case ProviderAuthorizationStatus.Captured or ProviderAuthorizationStatus.PartiallyRefunded or ProviderAuthorizationStatus.Refunded
                when found.PaymentId is not null && found.Captured == s.PlannedCapture:
                return RecordCapture(sessionId, s, found.PaymentId, found.Captured, now, rules); // it did happen: book what the provider holds
            case ProviderAuthorizationStatus.Expired:
                return RecordDebt(sessionId, s, Journals.Expire(sessionId, s.WalletKey!, s.Authorized), c.RefusalCode ?? "authorization_expired");
            case ProviderAuthorizationStatus.Voided:
                return RecordDebt(sessionId, s, Journals.Void(sessionId, s.WalletKey!, s.Authorized, c.RefusalCode), c.RefusalCode ?? "authorization_voided");
            default:
                // Still authorized (the request itself was refused) or captured differently: a person must look.
                return Attention(s, SessionState.Settling, $"capture_refused_{c.RefusalCode}_provider_{found?.Status.ToString() ?? "unknown"}", now, rules);
        }
    }

    /// <summary>The hold is gone at the provider (expired or voided) and energy was delivered: the driver owes it.</summary>
    private static SessionDecision RecordDebt(string sessionId, SessionRecord s, Journal resolution, string reason) =>
        new(s with { State = SessionState.Debt, Debt = s.PlannedCapture, Reason = reason, AttentionStep = null, AttentionReason = null, NextAttemptAt = null })
        {
            Journals = [resolution, Journals.Debt(sessionId, s.WalletKey!, s.PlannedCapture, reason)],
        };

    // ---- voiding ----

    /// <summary>Writes the Voiding intent (keeping the first reason) and asks for the void under its fixed key.</summary>
    private static SessionDecision StartVoid(string sessionId, SessionRecord s, string reason)
    {
        var voiding = s.Step == SessionState.Voiding ? s : s with { State = SessionState.Voiding, Reason = reason, Attempts = 0, NextAttemptAt = null };
        if (voiding.AuthorizationId is null) return new(voiding with { State = SessionState.Voided });
        return new(voiding) { Call = new VoidCall(Provider(voiding), voiding.AuthorizationId, $"{sessionId}:void") };
    }

    private static SessionDecision VoidAnswered(string sessionId, SessionRecord s, VoidOutcome outcome, DateTimeOffset now, SessionRules rules)
    {
        Journal journal;
        if (outcome.Succeeded) journal = Journals.Void(sessionId, s.WalletKey!, s.Authorized, s.Reason ?? "void");
        else if (outcome.ErrorCode == "authorization_expired") journal = Journals.Expire(sessionId, s.WalletKey!, s.Authorized); // already released
        else
            // Anything else (already_captured, unknown authorization) means our picture differs from the provider's:
            // nothing is posted, the session waits visibly, and reconciliation shows the difference.
            return Attention(s, SessionState.Voiding, $"void_refused_{outcome.ErrorCode}", now, rules);
        return new(s with { State = SessionState.Voided, AttentionStep = null, AttentionReason = null, NextAttemptAt = null, Attempts = 0 })
        {
            Journals = [journal],
            ChargerSessionEnded = s.Reason is "start_timeout" or "below_minimum" or "hold_expiring",
        };
    }

    /// <summary>
    /// The authorize call got no answer (or the silo died during it): the provider is asked by our order id and whatever
    /// hold exists is voided. A request still travelling could land after an empty answer, so "no hold" is only
    /// concluded once the start timeout has passed since the call; until then the sweeper asks again.
    /// </summary>
    private static SessionDecision OrderLookedUp(string sessionId, SessionRecord s, ProviderAuthorization? found, DateTimeOffset now, SessionRules rules)
    {
        if (found is null || found.Status is not ProviderAuthorizationStatus.Authorized)
        {
            if (found is null && now - s.LastActivity < rules.StartTimeout) return Same(s); // ask again later
            if (found is { Status: not (ProviderAuthorizationStatus.Voided or ProviderAuthorizationStatus.Expired) })
                // Captured under our order id although we never asked to capture: impossible unless another system did.
                return Attention(s, s.Step, $"authorization_{found.Status}_unexpected", now, rules);
            return new(s with { Reason = s.Reason ?? "authorization_interrupted", AttentionStep = null, AttentionReason = null, State = SessionState.Rejected });
        }
        var walletKey = $"{Provider(s)}:{found.WalletRef}";
        var held = s with { WalletKey = walletKey, AuthorizationId = found.AuthorizationId, Authorized = found.Amount, State = SessionState.Voiding, AttentionStep = null, AttentionReason = null };
        return StartVoid(sessionId, held, held.Reason ?? "authorization_interrupted") with { Journals = [Journals.Hold(sessionId, walletKey, found.Amount, found.AuthorizationId)] };
    }

    // ---- refunds ----

    private static SessionDecision Refund(string sessionId, SessionRecord s, RequestRefund c)
    {
        var existing = s.Refunds.FirstOrDefault(r => r.IdempotencyKey == c.IdempotencyKey);
        if (existing is not null)
        {
            if (existing.Amount != c.Amount) return Same(s) with { Refund = new RefundOutcome(false, existing.RefundId, c.Amount, [], "idempotency_key_reuse") };
            return existing.Done ? Same(s) with { Refund = RefundDone(existing) } : new(s) { Call = RefundFor(sessionId, s, existing) };
        }
        if (s.State != SessionState.Settled || s.PaymentId is null)
            return Same(s) with { Refund = new RefundOutcome(false, null, c.Amount, [], "session_not_settled") };
        if (c.Amount <= 0 || c.Amount > s.Captured - s.Refunds.Sum(r => r.Amount))
            return Same(s) with { Refund = new RefundOutcome(false, null, c.Amount, [], "refund_exceeds_captured") };

        var reversals = SplitCalculator.Reverse(c.Amount, s.Splits, s.Refunds.SelectMany(r => r.Reversals).ToList());
        // Refund ids are never reused, even after a refused refund is dropped: the id is part of the provider key.
        var number = Math.Max(s.NextRefundNumber, s.Refunds.Count) + 1;
        var refund = new RefundRecord($"r{number}", c.IdempotencyKey, c.Amount, reversals, false, null, c.Reason);
        var next = s with { Refunds = [.. s.Refunds, refund], NextRefundNumber = number };
        return new(next) { Call = RefundFor(sessionId, next, refund) };
    }

    private static RefundCall RefundFor(string sessionId, SessionRecord s, RefundRecord refund) =>
        new(Provider(s), refund.RefundId,
            new RefundRequest(s.PaymentId!, refund.Amount, refund.Reversals.Select(r => new Remittance(r.PayeeAccount, r.Amount)).ToList(), refund.Reason),
            $"{sessionId}:refund:{refund.RefundId}");

    private static SessionDecision RefundAnswered(string sessionId, SessionRecord s, RefundAnswered c)
    {
        var refund = s.Refunds.FirstOrDefault(r => r.RefundId == c.RefundId);
        if (refund is null || refund.Done) return Same(s);
        if (!c.Result.Succeeded)
            return new(s with { Refunds = s.Refunds.Where(r => r.RefundId != c.RefundId).ToList(), Attempts = 0, NextAttemptAt = null, AttentionReason = null })
            {
                Refund = new RefundOutcome(false, refund.RefundId, refund.Amount, refund.Reversals, c.Result.ErrorCode ?? "refund_failed"),
            };
        var done = refund with { Done = true, ProviderRefundId = c.Result.RefundId };
        return new(s with { Refunds = s.Refunds.Select(r => r.RefundId == refund.RefundId ? done : r).ToList(), Attempts = 0, NextAttemptAt = null, AttentionReason = null })
        {
            Journals = [Journals.Refund(sessionId, refund.RefundId, s.WalletKey!, refund.Amount),
                .. refund.Reversals.Where(p => p.Amount > 0).Select(part => Journals.RefundReversal(sessionId, refund.RefundId, part))],
            Refund = RefundDone(done),
        };
    }

    private static RefundOutcome RefundDone(RefundRecord r) => new(true, r.RefundId, r.Amount, r.Reversals, null);

    private static RefundOutcome RefundFailed(SessionRecord s, string refundId, string error)
    {
        var r = s.Refunds.First(x => x.RefundId == refundId);
        return new(false, r.RefundId, r.Amount, r.Reversals, error);
    }

    // ---- the sweeper's look, and provider failures ----

    /// <summary>The provider will soon let the hold expire: it must be captured (or released) now, back-off or not.</summary>
    public static bool HoldExpiring(SessionRecord s, DateTimeOffset now, SessionRules rules) =>
        s.AuthorizationId is not null && s.HoldExpiresAt is { } expires && now >= expires - rules.HoldRefreshBefore;

    private static SessionDecision Tick(string sessionId, SessionRecord s, bool force, DateTimeOffset now, SessionRules rules)
    {
        if (s.State == SessionState.Created) return Same(s);
        var due = force || s.NextAttemptAt is not { } next || now >= next || HoldExpiring(s, now, rules);
        if (!due) return Same(s);
        return s.Step switch
        {
            SessionState.Authorizing => new(s) { Call = new OrderLookupCall(Provider(s), sessionId) },
            SessionState.Voiding when s.AuthorizationId is null => new(s) { Call = new OrderLookupCall(Provider(s), sessionId) },
            SessionState.Voiding => StartVoid(sessionId, s, s.Reason ?? "void"),
            SessionState.Authorized when HoldExpiring(s, now, rules) => StartVoid(sessionId, s, "hold_expiring"),
            SessionState.Authorized when now - (s.AuthorizedAt ?? s.CreatedAt) >= SessionDeadlines.StartTimeout(s, rules) => StartVoid(sessionId, s, "start_timeout"),
            SessionState.Charging when HoldExpiring(s, now, rules) => CloseAtLastMeterValue(sessionId, s, "hold_expiring", now),
            SessionState.Charging when now - s.LastActivity >= rules.StopTimeout => CloseAtLastMeterValue(sessionId, s, "stop_timeout", now),
            SessionState.Stopped or SessionState.Settling => Settle(sessionId, s, now),
            _ => Same(s),
        };
    }

    private static SessionDecision TickRefunds(string sessionId, SessionRecord s, bool force, DateTimeOffset now, SessionRules rules)
    {
        var pending = s.Refunds.FirstOrDefault(r => !r.Done);
        if (pending is null || s.PaymentId is null) return Same(s);
        var due = force || s.NextAttemptAt is not { } next || now >= next;
        return due ? new(s) { Call = RefundFor(sessionId, s, pending) } : Same(s);
    }

    private static SessionDecision Unanswered(SessionRecord s, ProviderUnanswered c, DateTimeOffset now, SessionRules rules) => c.Call switch
    {
        // We cannot know whether a hold exists. The charger is told "rejected" now; the sweeper asks the provider by
        // order id and voids anything it finds, so no hold is left behind.
        ProviderCallKind.Authorize => new(s with { State = SessionState.Voiding, Reason = "provider_unavailable", LastActivity = now }),
        ProviderCallKind.OrderLookup => Failed(s, s.Step, "authorization_unresolved", now, rules),
        ProviderCallKind.Capture => Failed(s, SessionState.Settling, "capture_unavailable", now, rules),
        ProviderCallKind.CaptureLookup => Failed(s, SessionState.Settling, $"capture_refused_{c.RefusalCode}_unconfirmed", now, rules),
        ProviderCallKind.Void => Failed(s, SessionState.Voiding, "void_unavailable", now, rules),
        // The refund may or may not have happened: the intent stays, the sweeper repeats it with the same key.
        _ => RefundUnanswered(s, c.RefundId!, now, rules),
    };

    private static SessionDecision RefundUnanswered(SessionRecord s, string refundId, DateTimeOffset now, SessionRules rules)
    {
        var attempts = s.Attempts + 1;
        return new(s with
        {
            Attempts = attempts, NextAttemptAt = now + rules.Backoff(attempts),
            AttentionReason = attempts >= rules.MaxSettlementAttempts ? $"refund_{refundId}_unavailable after {attempts} attempts" : s.AttentionReason,
        })
        {
            Refund = RefundFailed(s, refundId, "provider_unavailable_retrying"),
        };
    }

    private static SessionDecision Missing(SessionRecord s, ProviderMissing c, DateTimeOffset now, SessionRules rules) => c.Call switch
    {
        ProviderCallKind.Authorize => new(s with { Reason = "unknown_provider", State = SessionState.Rejected }),
        ProviderCallKind.OrderLookup => new(s with { State = SessionState.Rejected, Reason = s.Reason ?? "unknown_provider" }),
        ProviderCallKind.Void => new(s with { State = SessionState.Voided }),
        ProviderCallKind.Refund => Same(s) with { Refund = RefundFailed(s, c.RefundId!, "unknown_provider") },
        _ => Attention(s, SessionState.Settling, "unknown_provider", now, rules),
    };

    /// <summary>
    /// A provider step got no answer: count it and back off. After <see cref="SessionRules.MaxSettlementAttempts"/> the
    /// session shows NeedsAttention with the reason, and the sweeper keeps retrying the same step at the slow pace.
    /// </summary>
    private static SessionDecision Failed(SessionRecord s, SessionState step, string reason, DateTimeOffset now, SessionRules rules)
    {
        var attempts = s.Attempts + 1;
        if (attempts >= rules.MaxSettlementAttempts) return Attention(s, step, $"{reason} after {attempts} attempts", now, rules, attempts);
        return new(s with { Attempts = attempts, NextAttemptAt = now + rules.Backoff(attempts) });
    }

    private static SessionDecision Attention(SessionRecord s, SessionState step, string reason, DateTimeOffset now, SessionRules rules, int? attempts = null)
    {
        var tries = attempts ?? Math.Max(s.Attempts + 1, rules.MaxSettlementAttempts);
        return new(s with
        {
            State = SessionState.NeedsAttention, AttentionStep = step, AttentionReason = reason, Attempts = tries,
            NextAttemptAt = now + rules.Backoff(tries),
        }) { AttentionRaised = s.State == SessionState.NeedsAttention ? null : reason };
    }

    // ---- helpers on meter samples ----

    private static List<MeterSample> Fresh(IReadOnlyList<MeterSample> known, IReadOnlyList<MeterSample> incoming)
    {
        if (incoming.Count == 0) return [];
        var seen = new HashSet<DateTimeOffset>(known.Count + incoming.Count);
        foreach (var k in known) seen.Add(k.Timestamp);
        var fresh = new List<MeterSample>(incoming.Count);
        foreach (var sample in incoming)
            if (seen.Add(sample.Timestamp)) fresh.Add(sample);
        return fresh;
    }

    private static IReadOnlyList<MeterSample> Merge(IReadOnlyList<MeterSample> known, List<MeterSample> fresh)
    {
        if (fresh.Count == 0) return known;
        var merged = new List<MeterSample>(known.Count + fresh.Count);
        merged.AddRange(known);
        merged.AddRange(fresh);
        merged.Sort((a, b) => a.Timestamp.CompareTo(b.Timestamp));
        return merged;
    }

    /// <summary>Energy delivered so far: from the stop register once stopped, else from the highest meter value.</summary>
    public static long Energy(SessionRecord s) =>
        s.MeterStopWh is { } stop ? Math.Max(0, stop - s.MeterStartWh)
        : s.Samples.Count == 0 ? 0 : Math.Max(0, s.Samples.Max(x => x.EnergyWh) - s.MeterStartWh);

    private static MeterProgress Progress(SessionRecord s, bool holdReached)
    {
        var running = s.Start is null || s.Samples.Count == 0 ? 0 : FeeCalculator.RunningCost(s.Start.Tariff, s.MeterStartWh, s.StartedAt ?? s.CreatedAt, s.Samples);
        return new MeterProgress(Energy(s), running, holdReached);
    }
}
