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
/// answer is the same request. What the provider can do (<see cref="PaymentRoute"/>: hold or deposit, incremental
/// authorization, who pays the payees) is fixed at creation and decides the journals and the long-charge path
/// (SessionMachine.Extensions.cs).
/// <code>
/// Created ─► Authorizing ─► Authorized ─► Charging ─► Settling ─► Settled
///               │  │            │  │       │ ▲  │  │          │  └► Debt
///               │  │            │  │ extend│ │  │  └► Voiding (below minimum)
///               │  │            │  │ (raise│ │  └► Stopped (an extension in flight is finished first)
///               │  │            │  │ or roll over the hold)
///               │  └► Rejected  │  └► Voiding ◄┘
///               └──► Voiding ───┴────► Voided       (an authorize without answer: resolved, then voided)
/// any provider step (Authorizing, Voiding, Stopped, Settling) ──(retry limit)──► NeedsAttention(step) ──► same step again
/// </code>
/// </summary>
public static partial class SessionMachine
{
    public static SessionDecision Decide(string sessionId, SessionRecord s, SessionCommand command, DateTimeOffset now, SessionRules rules)
    {
        // While a hold extension is in flight, every provider answer is its own (the session makes one call at a time).
        if (s.Extension is not null && IsProviderAnswer(command)) return ExtensionAnswered(sessionId, s, command, now, rules);
        return command switch
        {
            AuthorizeSession c => Authorize(sessionId, s, c, now),
            AuthorizeAnswered c => AuthorizeAnswered(sessionId, s, c, now),
            AuthorizeResolved c => AuthorizeResolved(sessionId, s, c.Resolution, now, rules),
            StartCharging c => Start(s, c, now),
            AddMeterSamples c => AddMeterSamples(sessionId, s, c, now, rules),
            StopCharging c => Stop(sessionId, s, c, now),
            ReportChargerFee c => s.ChargerFee == c.Fee ? Same(s) : new(s with { ChargerFee = c.Fee }),
            CancelSession c => s.Step is SessionState.Authorized or SessionState.Voiding && s.AuthorizationId is not null
                ? StartVoid(sessionId, s, c.Reason)
                : Same(s),
            RequestRefund c => Refund(sessionId, s, c),
            Tick c => Tick(sessionId, s, c.Force, now, rules),
            TickRefunds c => TickRefunds(sessionId, s, c.Force, now, rules),
            CaptureAnswered c => c.Outcome.Succeeded
                ? RecordCapture(sessionId, s, c.Outcome.PaymentId!, c.Outcome.Captured, c.Outcome.Remittances, now, rules)
                : new(s) { Call = new CaptureLookupCall(Provider(s), s.AuthorizationId!, c.Outcome.ErrorCode) },
            CaptureLookedUp c => CaptureLookedUp(sessionId, s, c, now, rules),
            VoidAnswered c => VoidAnswered(sessionId, s, c.Outcome, now, rules),
            IncrementAnswered => Same(s), // no increment pending: a stale answer changes nothing
            RefundAnswered c => RefundAnswered(sessionId, s, c),
            ProviderUnanswered c => Unanswered(s, c, now, rules),
            ProviderMissing c => Missing(s, c, now, rules),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not a session command"),
        };
    }

    private static bool IsProviderAnswer(SessionCommand c) => c is Sessions.AuthorizeAnswered or Sessions.AuthorizeResolved or IncrementAnswered
        or CaptureAnswered or Sessions.CaptureLookedUp or Sessions.VoidAnswered
        or ProviderUnanswered { Call: not ProviderCallKind.Refund } or ProviderMissing { Call: not ProviderCallKind.Refund };

    private static SessionDecision Same(SessionRecord s) => new(s);

    /// <summary>The gateway entry every call of the session goes to (sessions stored before routes: the wallet's provider).</summary>
    private static string Provider(SessionRecord s) => s.Route?.Gateway ?? s.Start!.Payment.Provider;

    /// <summary>Deposit providers charge at authorization and cancel the unused part; the ledger says so (docs/payments.md).</summary>
    private static bool Deposits(SessionRecord s) => s.Route?.Funds == FundsModel.ApproveThenPartialCancel;

    /// <summary>The ledger scope of the current authorization (docs/payments.md, "Long charges").</summary>
    private static string Scope(string sessionId, SessionRecord s) => Journals.Scope(sessionId, s.PaymentNumber);

    private static Journal Booked(SessionRecord s, string scope, string walletKey, long amount, string authorizationId) =>
        Deposits(s) ? Journals.Deposit(scope, walletKey, amount, authorizationId) : Journals.Hold(scope, walletKey, amount, authorizationId);

    /// <summary>What earlier authorizations of a rolled-over charge captured.</summary>
    private static long CapturedBefore(SessionRecord s) => s.Earlier.Sum(p => p.Captured);

    // ---- authorization (design §1 steps 2-4) ----

    private static SessionDecision Authorize(string sessionId, SessionRecord s, AuthorizeSession c, DateTimeOffset now)
    {
        if (s.State != SessionState.Created) return Same(s); // a replayed request gets the first answer
        var next = s with { State = SessionState.Authorizing, Start = c.Start, Route = c.Route, CreatedAt = now, LastActivity = now, Attempts = 0 };
        return new(next) { Call = FirstAuthorization(sessionId, next, claimWallet: true) };
    }

    /// <summary>The session's own authorization: always this request under this key, so a re-send is the same request.</summary>
    private static AuthorizeRequest FirstRequest(string sessionId, SessionRecord s)
    {
        var start = s.Start!;
        return new AuthorizeRequest(start.Payment.Provider, start.Payment.PaymentCode, start.BillingToken, start.HoldAmount, sessionId, start.ChargerId);
    }

    private static AuthorizeCall FirstAuthorization(string sessionId, SessionRecord s, bool claimWallet) =>
        new(Provider(s), FirstRequest(sessionId, s), $"{sessionId}:authorize") { ClaimWallet = claimWallet };

    /// <summary>The charger was refused while the first authorize had no answer: what it left is being found out.</summary>
    private static bool Resolving(SessionRecord s) => s.Step == SessionState.Voiding && s.AuthorizationId is null && s.Start is not null;

    private static SessionDecision AuthorizeAnswered(string sessionId, SessionRecord s, AuthorizeAnswered c, DateTimeOffset now)
    {
        var outcome = c.Outcome;
        if (Resolving(s))
        {
            // The answer to a re-send under the same key (see AuthorizeResolved): an approval is voided at once.
            if (!outcome.Approved) return new(Resolved(s with { State = SessionState.Rejected, Reason = s.Reason ?? outcome.DeclineCode ?? "declined" }));
            return VoidFound(sessionId, s, outcome.AuthorizationId!, outcome.WalletRef!, outcome.Amount, outcome.ExpiresAt);
        }
        if (s.State != SessionState.Authorizing) return Same(s);
        if (!outcome.Approved) return new(s with { Reason = outcome.DeclineCode ?? "declined", State = SessionState.Rejected });

        var walletKey = $"{Provider(s)}:{outcome.WalletRef}";
        var held = s with
        {
            WalletKey = walletKey, AuthorizationId = outcome.AuthorizationId, Authorized = outcome.Amount,
            HoldExpiresAt = outcome.ExpiresAt, AuthorizedAt = now, LastActivity = now,
        };
        var hold = Booked(s, sessionId, walletKey, outcome.Amount, outcome.AuthorizationId!);
        // The charger was told "rejected" (its answer budget ran out) or the wallet already has an open session:
        // the fresh hold is booked and voided at once, so no hold outlives a refusal.
        var refusal = c.Late ? "authorization_late" : c.Claim is { Granted: false } claim ? claim.Reason ?? "wallet_busy" : null;
        if (refusal is not null)
            return StartVoid(sessionId, held, refusal) with { Journals = [hold] };
        return new(held with { State = SessionState.Authorized }) { Journals = [hold] };
    }

    /// <summary>
    /// The first authorize got no answer (or the silo died during it) and the charger was told "rejected": the adapter
    /// finds out what the same request under the same key left (<see cref="IPaymentGateway.ResolveAuthorizeAsync"/>).
    /// Found: booked and voided. NotFound: the same request is sent again under the same key, which settles it either way
    /// (a copy still travelling gets the first answer), and an approval is voided. Unknown (KakaoPay cannot look up a
    /// saved-credential payment): NeedsAttention with the adapter's reason; the watchdog asks again, never authorizes anew.
    /// </summary>
    private static SessionDecision AuthorizeResolved(string sessionId, SessionRecord s, AuthorizeResolution r, DateTimeOffset now, SessionRules rules)
    {
        if (!Resolving(s)) return Same(s);
        switch (r.State)
        {
            case ResolutionState.NotFound:
                return new(s) { Call = FirstAuthorization(sessionId, s, claimWallet: false) };
            case ResolutionState.Unknown:
                return Attention(s, SessionState.Voiding, $"authorization_unknown: {r.Detail ?? "the provider cannot tell"}", now, rules);
        }
        var found = r.Authorization!;
        return found.Status switch
        {
            ProviderAuthorizationStatus.Authorized => VoidFound(sessionId, s, found.AuthorizationId, found.WalletRef, found.Amount, found.ExpiresAt),
            ProviderAuthorizationStatus.Voided or ProviderAuthorizationStatus.Expired =>
                new(Resolved(s with { Reason = s.Reason ?? "authorization_interrupted", State = SessionState.Rejected })),
            // Captured under our order id although we never asked to capture: impossible unless another system did.
            _ => Attention(s, SessionState.Voiding, $"authorization_{found.Status}_unexpected", now, rules),
        };
    }

    private static SessionRecord Resolved(SessionRecord s) => s with { AttentionStep = null, AttentionReason = null, NextAttemptAt = null, Attempts = 0 };

    private static SessionDecision VoidFound(string sessionId, SessionRecord s, string authorizationId, string walletRef, long amount, DateTimeOffset? expires)
    {
        var walletKey = $"{Provider(s)}:{walletRef}";
        var held = Resolved(s with { WalletKey = walletKey, AuthorizationId = authorizationId, Authorized = amount, HoldExpiresAt = expires, State = SessionState.Voiding });
        return StartVoid(sessionId, held, held.Reason ?? "authorization_interrupted") with { Journals = [Booked(s, sessionId, walletKey, amount, authorizationId)] };
    }

    private static SessionDecision Start(SessionRecord s, StartCharging c, DateTimeOffset now)
    {
        if (s.State != SessionState.Authorized) return Same(s);
        return new(s with { State = SessionState.Charging, TransactionId = c.TransactionId, MeterStartWh = c.MeterStartWh, StartedAt = c.Timestamp, LastActivity = now });
    }

    // ---- charging (step 5) ----

    private static SessionDecision AddMeterSamples(string sessionId, SessionRecord s, AddMeterSamples c, DateTimeOffset now, SessionRules rules)
    {
        if (s.State != SessionState.Charging || s.Start is null) return Same(s) with { Progress = Progress(s, false) };
        var fresh = Fresh(s.Samples, c.Samples);
        if (fresh.Count == 0) return Same(s) with { Progress = Progress(s, false) }; // a duplicate delivery changes nothing

        var merged = Merge(s.Samples, fresh);
        var running = FeeCalculator.RunningCost(s.Start.Tariff, s.MeterStartWh, s.StartedAt ?? now, merged);
        var next = s with { Samples = merged, LastActivity = now };
        var progress = new MeterProgress(Energy(next), running, false);
        // What the current authorization covers is the running cost less what earlier ones (a rolled-over charge) took or
        // are being captured for.
        var covered = CapturedBefore(s) + (s.Extension?.Previous?.Planned ?? 0);
        var reached = !s.RemoteStopRequested && HoldPolicy.ShouldStop(running - covered, s.Authorized, rules.HoldStopMarginBasisPoints);
        if (!reached) return new(next) { NewSamples = fresh, Progress = progress };
        // Raise the hold or roll over to a new one where the provider and the credential allow it; otherwise stop (design §6).
        // An extension on its way is awaited; one stuck without an answer, or a rollover still closing the previous
        // authorization, cannot extend again: the charge stops at what stands.
        if (s.Extension is { Unanswered: false, Kind: not HoldExtensionKind.ClosePrevious }) return new(next) { NewSamples = fresh, Progress = progress };
        if (s.Extension is null && Extend(sessionId, next, HoldReached, running, rules) is { } extend) return extend with { NewSamples = fresh, Progress = progress };
        return new(next with { RemoteStopRequested = true }) { NewSamples = fresh, Progress = progress with { HoldReached = true } };
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
            RemoteStopReason = reason == ExpiryTrigger && s.TransactionId is not null ? reason : null,
        };
    }

    // ---- settlement (steps 6-7) ----

    /// <summary>
    /// Stopped: computes the fee and the plan (capture within the hold, splits, receipt) once and writes it as the
    /// Settling intent, or voids the hold when nothing is billable. Settling: sends exactly that plan under the fixed
    /// capture key, so a retry is the same request and the provider replays its first answer. A hold extension still in
    /// flight is finished first: what the provider holds decides the plan. After a rollover, the plan is for the current
    /// authorization: the fee less what the earlier ones captured.
    /// </summary>
    private static SessionDecision Settle(string sessionId, SessionRecord s, DateTimeOffset now)
    {
        if (s.Extension is not null) return new(s) { Call = ExtensionCall(sessionId, s) };
        if (s.Step == SessionState.Stopped)
        {
            var start = s.Start!;
            var breakdown = FeeCalculator.Compute(start.Tariff, s.MeterStartWh, s.StartedAt ?? s.CreatedAt, s.Samples, s.MeterStopWh ?? s.MeterStartWh, s.StoppedAt ?? now);
            var before = CapturedBefore(s);
            if (before == 0 && (breakdown.BelowMinimum || breakdown.Fee == 0))
                return StartVoid(sessionId, s with { Fee = 0 }, "below_minimum");
            var due = Math.Max(0, breakdown.Fee - before);
            if (due == 0) // the earlier authorizations took it all: the current one is released, the session is settled
                return StartVoid(sessionId, s with { Fee = breakdown.Fee, PlannedCapture = 0 }, NothingDue);
            var (planned, _) = HoldPolicy.CaptureWithin(due, s.Authorized);
            s = Resolved(s) with
            {
                State = SessionState.Settling, Fee = breakdown.Fee, PlannedCapture = planned,
                Splits = SplitCalculator.Split(planned, CommissionNow(s), start.CpoPayeeAccount, start.PlatformPayeeAccount),
                Receipt = Vat.Receipt(planned),
            };
        }
        return new(s) { Call = CaptureFor(sessionId, s, now) };
    }

    /// <summary>The current authorization is voided because earlier ones captured the whole fee; the session ends Settled.</summary>
    private const string NothingDue = "nothing_left_due";

    /// <summary>The commission's fixed part is taken once per session: from the first authorization that captures.</summary>
    private static Commission CommissionNow(SessionRecord s) =>
        s.Earlier.Any(p => p.Captured > 0) ? s.Start!.Commission with { FixedPerSession = 0 } : s.Start!.Commission;

    private static CaptureCall CaptureFor(string sessionId, SessionRecord s, DateTimeOffset now)
    {
        var start = s.Start!;
        var receipt = s.Receipt!;
        // What FeeCalculator billed, less the stretch earlier authorizations of a rolled-over charge paid for.
        var energy = Math.Max(0, (s.MeterStopWh ?? s.MeterStartWh) - s.MeterStartWh - s.Earlier.Sum(p => p.EnergyWh));
        var from = s.Earlier.Count > 0 ? s.Earlier[^1].To : s.StartedAt ?? s.CreatedAt;
        var details = new ReceiptDetails(start.ChargerId, start.ConnectorId, sessionId, energy, from, s.StoppedAt ?? now,
            receipt.Total, receipt.SupplyValue, receipt.Vat);
        return new CaptureCall(Provider(s), new CaptureRequest(s.AuthorizationId!, s.PlannedCapture, s.Splits, details), $"{sessionId}:capture");
    }

    private static SessionDecision RecordCapture(
        string sessionId, SessionRecord s, string paymentId, long captured, IReadOnlyList<Remittance> remittances, DateTimeOffset now, SessionRules rules)
    {
        if (captured != s.PlannedCapture) return Attention(s, SessionState.Settling, $"captured_{captured}_planned_{s.PlannedCapture}", now, rules);
        // Capture, release of the rest and every remittance are one step: no reader (the invariant check,
        // reconciliation) ever sees a capture whose splits are not yet remitted.
        var (journals, owed) = CaptureJournals(s, Scope(sessionId, s), s.Authorized, captured, paymentId, s.Splits, remittances);
        // Capture never exceeds the hold (design §6). What the charger delivered past it, in the moments between the
        // hold being reached and RemoteStopTransaction taking effect, is written off, visible as the reason.
        var before = CapturedBefore(s);
        var excess = (s.Fee ?? before + captured) - before - captured;
        return new(Resolved(s) with
        {
            State = SessionState.Settled, Captured = before + captured, PaymentId = paymentId, Owed = owed,
            Reason = excess > 0 ? $"fee_exceeded_hold_by_{excess}" : s.Reason,
        }) { Journals = journals };
    }

    /// <summary>
    /// The journals of one capture: the capture, the rest released (a hold) or cancelled (a deposit), and per payee a
    /// Remit for what the provider reports it paid (<see cref="CaptureOutcome.Remittances"/>) and a Payable for the rest,
    /// owed from EvCharge's own settlement (all of it when the provider cannot pay payees at all).
    /// </summary>
    private static (List<Journal> Journals, IReadOnlyList<SplitPart> Owed) CaptureJournals(
        SessionRecord s, string scope, long authorized, long captured, string paymentId, IReadOnlyList<SplitPart> splits, IReadOnlyList<Remittance> remittances)
    {
        var journals = new List<Journal> { Journals.Capture(scope, captured, paymentId) };
        if (authorized - captured > 0)
            journals.Add(Deposits(s) ? Journals.PartialCancel(scope, s.WalletKey!, authorized - captured) : Journals.Release(scope, s.WalletKey!, authorized - captured));
        var owed = new List<SplitPart>();
        var paysPayees = (s.Route?.Payees ?? PayeeSettlement.AtCapture) != PayeeSettlement.OwnLedger;
        foreach (var part in splits.Where(p => p.Amount > 0))
        {
            var paid = paysPayees ? Math.Min(part.Amount, remittances.Where(r => r.PayeeAccount == part.PayeeAccount).Sum(r => r.Amount)) : 0;
            if (paid > 0) journals.Add(Journals.Remit(scope, part with { Amount = paid }, paymentId));
            if (part.Amount - paid > 0)
            {
                var due = part with { Amount = part.Amount - paid };
                journals.Add(Journals.Payable(scope, due, paymentId));
                owed.Add(due);
            }
        }
        return (journals, owed);
    }

    /// <summary>A definite capture refusal: what became of the hold decides, not a guess.</summary>
    private static SessionDecision CaptureLookedUp(string sessionId, SessionRecord s, CaptureLookedUp c, DateTimeOffset now, SessionRules rules)
    {
        var found = c.Found;
        var scope = Scope(sessionId, s);
        switch (found?.Status)
        {
            case ProviderAuthorizationStatus.Captured or ProviderAuthorizationStatus.PartiallyRefunded or ProviderAuthorizationStatus.Refunded
                when found.PaymentId is not null && found.Captured == s.PlannedCapture:
                return RecordCapture(sessionId, s, found.PaymentId, found.Captured, found.Remittances, now, rules); // it did happen: book what the provider holds
            case ProviderAuthorizationStatus.Expired:
                return RecordDebt(sessionId, s, Journals.Expire(scope, s.WalletKey!, s.Authorized), c.RefusalCode ?? "authorization_expired");
            case ProviderAuthorizationStatus.Voided:
                return RecordDebt(sessionId, s, Journals.Void(scope, s.WalletKey!, s.Authorized, c.RefusalCode), c.RefusalCode ?? "authorization_voided");
            default:
                // Still authorized (the request itself was refused) or captured differently: a person must look.
                return Attention(s, SessionState.Settling, $"capture_refused_{c.RefusalCode}_provider_{found?.Status.ToString() ?? "unknown"}", now, rules);
        }
    }

    /// <summary>The hold is gone at the provider (expired or voided) and energy was delivered: the driver owes it.</summary>
    private static SessionDecision RecordDebt(string sessionId, SessionRecord s, Journal resolution, string reason) =>
        new(Resolved(s) with { State = SessionState.Debt, Debt = s.PlannedCapture, Reason = reason })
        {
            Journals = [resolution, Journals.Debt(Scope(sessionId, s), s.WalletKey!, s.PlannedCapture, reason)],
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
        if (s.AuthorizationId is null || s.WalletKey is null) return Same(s); // nothing of ours to void: a stale answer
        Journal journal;
        var scope = Scope(sessionId, s);
        if (outcome.Succeeded) journal = Journals.Void(scope, s.WalletKey, s.Authorized, s.Reason ?? "void");
        else if (outcome.ErrorCode == "authorization_expired") journal = Journals.Expire(scope, s.WalletKey, s.Authorized); // already released
        else
            // Anything else (already_captured, unknown authorization) means our picture differs from the provider's:
            // nothing is posted, the session waits visibly, and reconciliation shows the difference.
            return Attention(s, SessionState.Voiding, $"void_refused_{outcome.ErrorCode}", now, rules);
        // Voided because earlier authorizations of a rolled-over charge captured the whole fee: the charge is paid.
        var paid = s.Reason == NothingDue && CapturedBefore(s) > 0;
        return new(Resolved(s) with { State = paid ? SessionState.Settled : SessionState.Voided, Captured = CapturedBefore(s) })
        {
            Journals = [journal],
            ChargerSessionEnded = s.Reason is "start_timeout" or "below_minimum" or ExpiryTrigger,
        };
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
        var payments = CapturedPayments(s);
        if (s.State != SessionState.Settled || payments.Count == 0)
            return Same(s) with { Refund = new RefundOutcome(false, null, c.Amount, [], "session_not_settled") };
        if (c.Amount <= 0 || c.Amount > s.Captured - s.Refunds.Sum(r => r.Amount))
            return Same(s) with { Refund = new RefundOutcome(false, null, c.Amount, [], "refund_exceeds_captured") };
        // A refund goes back through one payment: the latest that can take it (a rolled-over charge has several).
        var target = payments.FirstOrDefault(p => p.Captured - s.Refunds.Where(r => PaymentOf(s, r) == p.Number).Sum(r => r.Amount) >= c.Amount);
        if (target is null)
            return Same(s) with { Refund = new RefundOutcome(false, null, c.Amount, [], "refund_exceeds_single_payment") };

        var earlier = s.Refunds.Where(r => PaymentOf(s, r) == target.Number).SelectMany(r => r.Reversals).ToList();
        var reversals = SplitCalculator.Reverse(c.Amount, target.Splits, earlier);
        // Refund ids are never reused, even after a refused refund is dropped: the id is part of the provider key.
        var number = Math.Max(s.NextRefundNumber, s.Refunds.Count) + 1;
        var refund = new RefundRecord($"r{number}", c.IdempotencyKey, c.Amount, reversals, false, null, c.Reason, target.Number);
        var next = s with { Refunds = [.. s.Refunds, refund], NextRefundNumber = number };
        return new(next) { Call = RefundFor(sessionId, next, refund) };
    }

    /// <summary>A captured authorization of the session: the current one, then earlier ones of a rolled-over charge, latest first.</summary>
    private sealed record CapturedPayment(int Number, string PaymentId, long Captured, IReadOnlyList<SplitPart> Splits, IReadOnlyList<SplitPart> Owed);

    private static List<CapturedPayment> CapturedPayments(SessionRecord s)
    {
        var list = new List<CapturedPayment>();
        if (s.PaymentId is not null && s.State == SessionState.Settled)
            list.Add(new(s.PaymentNumber, s.PaymentId, s.Captured - CapturedBefore(s), s.Splits, s.Owed));
        list.AddRange(s.Earlier.Where(p => p.PaymentId is not null && p.Captured > 0).Reverse()
            .Select(p => new CapturedPayment(p.Number, p.PaymentId!, p.Captured, p.Splits, p.Owed)));
        return list;
    }

    private static int PaymentOf(SessionRecord s, RefundRecord r) => r.Payment ?? s.PaymentNumber;

    private static CapturedPayment PaymentFor(SessionRecord s, RefundRecord r) =>
        CapturedPayments(s).FirstOrDefault(p => p.Number == PaymentOf(s, r))
        ?? new CapturedPayment(s.PaymentNumber, s.PaymentId!, s.Captured, s.Splits, s.Owed);

    private static RefundCall RefundFor(string sessionId, SessionRecord s, RefundRecord refund) =>
        new(Provider(s), refund.RefundId,
            new RefundRequest(PaymentFor(s, refund).PaymentId, refund.Amount, refund.Reversals.Select(r => new Remittance(r.PayeeAccount, r.Amount)).ToList(), refund.Reason),
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
        var payment = PaymentFor(s, refund);
        var scope = Journals.Scope(sessionId, payment.Number);
        return new(s with { Refunds = s.Refunds.Select(r => r.RefundId == refund.RefundId ? done : r).ToList(), Attempts = 0, NextAttemptAt = null, AttentionReason = null })
        {
            Journals = [Journals.Refund(scope, refund.RefundId, s.WalletKey!, refund.Amount),
                .. refund.Reversals.Where(p => p.Amount > 0).Select(part => FromPayable(s, payment, part)
                    ? Journals.RefundFromPayable(scope, refund.RefundId, part)
                    : Journals.RefundReversal(scope, refund.RefundId, part))],
            Refund = RefundDone(done),
        };
    }

    /// <summary>
    /// Whether a payee's share of a refund comes off what it is owed rather than what it was paid: its part was never paid
    /// out (a payable), or was paid out by the provider for good (Toss payouts cannot be clawed back, so the CPO settles
    /// with the platform from the ledger). Parts paid at capture are reversed by the provider with the refund.
    /// </summary>
    private static bool FromPayable(SessionRecord s, CapturedPayment payment, SplitPart part) =>
        payment.Owed.Any(o => o.PayeeAccount == part.PayeeAccount)
        || s.Route?.Payees == PayeeSettlement.ProviderPayout && part.Role == PayeeRole.Cpo;

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
        if (s.Extension is not null && s.Step is SessionState.Charging or SessionState.Stopped or SessionState.Settling)
            // A charger gone quiet is closed at its last meter value as always; the extension is finished before settling.
            return s.State == SessionState.Charging && now - s.LastActivity >= rules.StopTimeout
                ? CloseAtLastMeterValue(sessionId, s, "stop_timeout", now)
                : new(s) { Call = ExtensionCall(sessionId, s) };
        return s.Step switch
        {
            // The silo died during the first authorize: the charger never got its answer, so whatever was authorized is voided.
            SessionState.Authorizing => new(s with { State = SessionState.Voiding, Reason = s.Reason ?? "authorization_interrupted" })
            {
                Call = new ResolveAuthorizeCall(Provider(s), FirstRequest(sessionId, s), $"{sessionId}:authorize"),
            },
            SessionState.Voiding when s.AuthorizationId is null => new(s) { Call = new ResolveAuthorizeCall(Provider(s), FirstRequest(sessionId, s), $"{sessionId}:authorize") },
            SessionState.Voiding => StartVoid(sessionId, s, s.Reason ?? "void"),
            SessionState.Authorized when HoldExpiring(s, now, rules) => StartVoid(sessionId, s, ExpiryTrigger),
            SessionState.Authorized when now - (s.AuthorizedAt ?? s.CreatedAt) >= SessionDeadlines.StartTimeout(s, rules) => StartVoid(sessionId, s, "start_timeout"),
            // A saved credential can roll the charge over to a new authorization before this one expires; a one-time code cannot.
            SessionState.Charging when HoldExpiring(s, now, rules) =>
                Extend(sessionId, s, ExpiryTrigger, RunningCost(s), rules) ?? CloseAtLastMeterValue(sessionId, s, ExpiryTrigger, now),
            SessionState.Charging when now - s.LastActivity >= rules.StopTimeout => CloseAtLastMeterValue(sessionId, s, "stop_timeout", now),
            SessionState.Stopped or SessionState.Settling => Settle(sessionId, s, now),
            _ => Same(s),
        };
    }

    private static SessionDecision TickRefunds(string sessionId, SessionRecord s, bool force, DateTimeOffset now, SessionRules rules)
    {
        var pending = s.Refunds.FirstOrDefault(r => !r.Done);
        // The refund's own payment, which for a rolled-over charge may be an earlier one while the last was voided.
        if (pending is null || !CapturedPayments(s).Any(p => p.Number == PaymentOf(s, pending))) return Same(s);
        var due = force || s.NextAttemptAt is not { } next || now >= next;
        return due ? new(s) { Call = RefundFor(sessionId, s, pending) } : Same(s);
    }

    private static SessionDecision Unanswered(SessionRecord s, ProviderUnanswered c, DateTimeOffset now, SessionRules rules) => c.Call switch
    {
        // We cannot know whether a hold exists. The charger is told "rejected" now; the sweeper resolves what the
        // request left at the provider and voids it, so no hold is left behind.
        ProviderCallKind.Authorize when s.State == SessionState.Authorizing =>
            new(s with { State = SessionState.Voiding, Reason = "provider_unavailable", LastActivity = now }),
        ProviderCallKind.Authorize or ProviderCallKind.ResolveAuthorize => Failed(s, s.Step, "authorization_unresolved", now, rules),
        ProviderCallKind.Capture => Failed(s, SessionState.Settling, "capture_unavailable", now, rules),
        ProviderCallKind.CaptureLookup => Failed(s, SessionState.Settling, $"capture_refused_{c.RefusalCode}_unconfirmed", now, rules),
        ProviderCallKind.Void => Failed(s, SessionState.Voiding, "void_unavailable", now, rules),
        ProviderCallKind.Increment => Same(s), // no increment pending: nothing waits on it
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
        ProviderCallKind.ResolveAuthorize => new(s with { State = SessionState.Rejected, Reason = s.Reason ?? "unknown_provider" }),
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
