using System.Diagnostics;
using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Sessions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvCharge.Grains;

/// <summary>
/// One charge from authorization to settlement. Before every provider call the session persists what it is
/// about to do (its state names the step), and the call carries an idempotency key derived from the session,
/// so after a crash or an unanswered call <see cref="Resume"/> repeats the same call and gets the first answer.
/// A durable watchdog reminder drives timeouts and retries until the session reaches an end state.
/// </summary>
internal sealed class ChargingSessionGrain(
    [PersistentState("session", "evcharge")] IPersistentState<SessionRecord> state,
    IPaymentGatewayRegistry gateways,
    ILedger ledger,
    IOptions<EvChargeOptions> options,
    TimeProvider clock,
    ILogger<ChargingSessionGrain> logger,
    IEnumerable<ISessionIndex> indexes) : Grain, IChargingSessionGrain, IRemindable
{
    private const string Watchdog = "watchdog";
    private readonly EvChargeOptions _options = options.Value;
    private IGrainTimer? _settleTimer;

    private SessionRecord S => state.State;
    private string SessionId => this.GetPrimaryKeyString();
    private DateTimeOffset Now => clock.GetUtcNow();

    async Task<SessionAuthorization> IChargingSessionGrain.Authorize(SessionStart start)
    {
        if (S.State != SessionState.Created) return AuthorizationAnswer(); // a replayed request gets the first answer

        // The watchdog first: if this silo dies after the intent is saved, the reminder resolves the authorization.
        // (A reminder left on a session that never saved its intent stops itself, see Drive.)
        await EnsureWatchdog();
        await Save(S with { State = SessionState.Authorizing, Start = start, CreatedAt = Now, LastActivity = Now, Attempts = 0 });

        if (!gateways.TryGet(start.Payment.Provider, out var gateway))
            return await Reject("unknown_provider");

        using var activity = EvChargeTelemetry.Source.StartActivity("session.authorize");
        activity?.SetTag("evcharge.session", SessionId);
        activity?.SetTag("evcharge.provider", start.Payment.Provider);
        var started = Stopwatch.GetTimestamp();
        AuthorizeOutcome outcome;
        try
        {
            outcome = await gateway.AuthorizeAsync(
                new AuthorizeRequest(start.Payment.Provider, start.Payment.PaymentCode, start.BillingToken, start.HoldAmount, SessionId, start.ChargerId),
                $"{SessionId}:authorize");
        }
        catch (PaymentProviderUnavailableException ex)
        {
            // We cannot know whether a hold exists. Tell the charger "rejected" now; the watchdog asks the
            // provider by order id and voids anything it finds, so no hold is left behind.
            logger.LogWarning(ex, "Authorization for session {Session} has no answer; resolving by order id", SessionId);
            await Save(S with { State = SessionState.Voiding, Reason = "provider_unavailable", LastActivity = Now });
            return AuthorizationAnswer();
        }
        finally
        {
            EvChargeTelemetry.AuthorizationLatency.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                new KeyValuePair<string, object?>("provider", start.Payment.Provider));
        }

        if (!outcome.Approved)
            return await Reject(outcome.DeclineCode ?? "declined");

        var walletKey = $"{start.Payment.Provider}:{outcome.WalletRef}";
        var held = S with { WalletKey = walletKey, AuthorizationId = outcome.AuthorizationId, Authorized = outcome.Amount, HoldExpiresAt = outcome.ExpiresAt, AuthorizedAt = Now };
        // No write of its own for the provider's answer: the ledger post is keyed and the wallet claim is per session,
        // so a crash before the save below leaves "Authorizing" on disk and the watchdog finds the hold by order id,
        // books it under the same key and voids it (ResolveUnansweredAuthorization). One durable write fewer per charge.
        await ledger.PostAsync(Journals.Hold(SessionId, walletKey, outcome.Amount, outcome.AuthorizationId!));

        var claim = await GrainFactory.GetGrain<ISocialPaymentAccountGrain>(walletKey).TryClaimHold(SessionId);
        if (!claim.Granted)
        {
            // One active hold per wallet: the second charger is refused and its fresh hold voided at once.
            state.State = held; // written with the Voiding intent
            await VoidHold(claim.Reason ?? "wallet_busy", releaseWallet: false);
            return AuthorizationAnswer();
        }

        await Save(held with { State = SessionState.Authorized });
        return AuthorizationAnswer();
    }

    async Task<bool> IChargingSessionGrain.Start(int transactionId, long meterStartWh, DateTimeOffset timestamp)
    {
        if (S.State == SessionState.Charging && S.TransactionId == transactionId) return true;
        if (S.State != SessionState.Authorized) return false;
        await Save(S with { State = SessionState.Charging, TransactionId = transactionId, MeterStartWh = meterStartWh, StartedAt = timestamp, LastActivity = Now });
        return true;
    }

    async Task<MeterProgress> IChargingSessionGrain.AddMeterValues(IReadOnlyList<MeterSample> samples)
    {
        if (S.State != SessionState.Charging || S.Start is null) return Progress(false);
        var known = S.Samples.Select(s => s.Timestamp).ToHashSet();
        var fresh = samples.Where(s => known.Add(s.Timestamp)).ToList();
        if (fresh.Count == 0) return Progress(false); // a duplicate delivery changes nothing

        var merged = S.Samples.Concat(fresh).OrderBy(s => s.Timestamp).ToList();
        var running = FeeCalculator.RunningCost(S.Start.Tariff, S.MeterStartWh, S.StartedAt ?? Now, merged);
        var reached = !S.RemoteStopRequested && HoldPolicy.ShouldStop(running, S.Authorized, _options.HoldStopMarginBasisPoints);
        await Save(S with { Samples = merged, LastActivity = Now, RemoteStopRequested = S.RemoteStopRequested || reached });
        return Progress(reached);
    }

    async Task<SessionView> IChargingSessionGrain.Stop(StopReport report)
    {
        // A repeated or late StopTransaction is confirmed again and charges nothing twice.
        if (S.State != SessionState.Charging) return View();

        var known = S.Samples.Select(s => s.Timestamp).ToHashSet();
        var merged = S.Samples.Concat(report.TransactionData.Where(s => known.Add(s.Timestamp))).OrderBy(s => s.Timestamp).ToList();
        var stopped = S with
        {
            State = SessionState.Stopped, MeterStopWh = Math.Max(report.MeterStopWh, S.MeterStartWh), StoppedAt = report.Timestamp,
            StopReason = report.Reason, Samples = merged, LastActivity = Now,
        };
        // Everything the settlement plan needs is known now, so the stop is saved as the Settling intent itself:
        // one durable write (and one index update) instead of "Stopped" followed at once by "Settling".
        await Save(PlanSettlement(stopped) ?? stopped);
        // The wallet's "one open session" ends when charging ends, not when the provider answers the capture:
        // a driver who got the receipt may start the next charge at once. The hold itself still resolves exactly once.
        if (S.WalletKey is { } wallet) await GrainFactory.GetGrain<ISocialPaymentAccountGrain>(wallet).ReleaseHold(SessionId);
        ScheduleSettlement();
        return View();
    }

    async Task IChargingSessionGrain.ReportChargerFee(long fee)
    {
        if (S.ChargerFee == fee) return;
        await Save(S with { ChargerFee = fee });
    }

    async Task<SessionView> IChargingSessionGrain.Cancel(string reason)
    {
        if (S.Step is SessionState.Authorized or SessionState.Voiding && S.AuthorizationId is not null)
            await VoidHold(reason, releaseWallet: true);
        return View();
    }

    async Task<RefundOutcome> IChargingSessionGrain.Refund(long amount, string idempotencyKey, string? reason)
    {
        var existing = S.Refunds.FirstOrDefault(r => r.IdempotencyKey == idempotencyKey);
        if (existing is not null)
        {
            if (existing.Amount != amount)
                return new RefundOutcome(false, existing.RefundId, amount, [], "idempotency_key_reuse");
            return existing.Done ? RefundAnswer(existing) : await CompleteRefund(existing);
        }
        if (S.State != SessionState.Settled || S.PaymentId is null)
            return new RefundOutcome(false, null, amount, [], "session_not_settled");
        if (amount <= 0 || amount > S.Captured - S.Refunds.Sum(r => r.Amount))
            return new RefundOutcome(false, null, amount, [], "refund_exceeds_captured");

        var reversals = SplitCalculator.Reverse(amount, S.Splits, S.Refunds.SelectMany(r => r.Reversals).ToList());
        var number = Math.Max(S.NextRefundNumber, S.Refunds.Count) + 1;
        var refund = new RefundRecord($"r{number}", idempotencyKey, amount, reversals, false, null, reason);
        // The watchdog before the intent: a crash during the provider call leaves a pending refund that it finishes.
        await EnsureWatchdog();
        await Save(S with { Refunds = [.. S.Refunds, refund], NextRefundNumber = number }); // intent first, then the provider call
        return await CompleteRefund(refund);
    }

    async Task<SessionView> IChargingSessionGrain.Resume()
    {
        await Drive(force: true);
        return View();
    }

    Task<SessionView> IChargingSessionGrain.GetView() => Task.FromResult(View());

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == Watchdog) await Drive(force: false);
    }

    /// <summary>The provider's hold is close enough to its expiry that it must be captured (or released) now.</summary>
    private bool HoldExpiring => S.AuthorizationId is not null && S.HoldExpiresAt is { } expires && Now >= expires - _options.HoldRefreshBefore;

    /// <summary>
    /// Moves the session on from wherever it stands: timeouts, retries, finishing interrupted steps. The watchdog
    /// honours the back-off (<see cref="SessionRecord.NextAttemptAt"/>) unless the hold is about to expire; an explicit
    /// <c>Resume</c> does not wait.
    /// </summary>
    private async Task Drive(bool force)
    {
        if (S.State == SessionState.Created)
        {
            await StopWatchdog(); // a reminder registered by an Authorize that died before saving its intent
            return;
        }
        var due = force || S.NextAttemptAt is not { } next || Now >= next || HoldExpiring;
        if (due)
        {
            switch (S.Step)
            {
                case SessionState.Authorizing:
                case SessionState.Voiding when S.AuthorizationId is null:
                    await ResolveUnansweredAuthorization();
                    break;
                case SessionState.Voiding:
                    await VoidHold(S.Reason ?? "void", releaseWallet: true);
                    break;
                case SessionState.Authorized when HoldExpiring:
                    await VoidHold("hold_expiring", releaseWallet: true);
                    break;
                case SessionState.Authorized when Now - (S.AuthorizedAt ?? S.CreatedAt) >= _options.StartTimeout:
                    await VoidHold("start_timeout", releaseWallet: true);
                    break;
                case SessionState.Charging when HoldExpiring:
                    await CloseBeforeHoldExpires();
                    break;
                case SessionState.Charging when Now - S.LastActivity >= _options.StopTimeout:
                    await CloseLostStop();
                    break;
                case SessionState.Stopped or SessionState.Settling:
                    await Settle();
                    break;
            }
            foreach (var pending in S.Refunds.Where(r => !r.Done).ToList())
                await CompleteRefund(pending);
        }
        if (S.IsTerminal && S.Refunds.All(r => r.Done)) await StopWatchdog();
    }

    /// <summary>No StopTransaction arrived: close from the last meter value and charge that.</summary>
    private async Task CloseLostStop()
    {
        var last = S.Samples.Count > 0 ? S.Samples.MaxBy(s => s.Timestamp)! : new MeterSample(S.StartedAt ?? S.LastActivity, S.MeterStartWh);
        logger.LogWarning("Session {Session} had no stop for {Timeout}; closing at {Wh} Wh", SessionId, _options.StopTimeout, last.EnergyWh);
        await Save(S with { State = SessionState.Stopped, MeterStopWh = Math.Max(last.EnergyWh, S.MeterStartWh), StoppedAt = last.Timestamp, StopReason = "stop_timeout" });
        await Settle();
        if (S.Start is not null)
            GrainFactory.GetGrain<IChargerGrain>(S.Start.ChargerId).SessionEnded(SessionId, S.TransactionId).Ignore();
    }

    /// <summary>
    /// The provider will soon let the hold expire while the car is still charging. A hold for a one-time payment code
    /// cannot be renewed, and the ledger places one hold per session, so the session is closed at its last meter value
    /// and captured while the hold still stands; the charger is asked to stop (fire-and-forget: the charger may be
    /// waiting on this very session). A later StopTransaction is confirmed and charges nothing twice.
    /// </summary>
    private async Task CloseBeforeHoldExpires()
    {
        var last = S.Samples.Count > 0 ? S.Samples.MaxBy(s => s.Timestamp)! : new MeterSample(S.StartedAt ?? S.LastActivity, S.MeterStartWh);
        logger.LogWarning("Session {Session}: hold {Authorization} expires at {Expires}; capturing at {Wh} Wh now", SessionId, S.AuthorizationId, S.HoldExpiresAt, last.EnergyWh);
        await Save(S with { State = SessionState.Stopped, MeterStopWh = Math.Max(last.EnergyWh, S.MeterStartWh), StoppedAt = last.Timestamp, StopReason = "hold_expiring" });
        if (S.Start is not null && S.TransactionId is { } tx)
            GrainFactory.GetGrain<IChargerGrain>(S.Start.ChargerId).RemoteStop(tx, "hold_expiring").Ignore();
        await Settle();
        if (S.Start is not null)
            GrainFactory.GetGrain<IChargerGrain>(S.Start.ChargerId).SessionEnded(SessionId, S.TransactionId).Ignore();
    }

    private void ScheduleSettlement()
    {
        // Settle after answering the charger: its StopTransaction.conf must not wait on the wallet provider.
        // A timer starts a fresh trace, so the settlement span is parented on the stop's span: one charge, one trace.
        var stopTrace = Activity.Current?.Context;
        _settleTimer?.Dispose();
        _settleTimer = this.RegisterGrainTimer(async ct =>
        {
            _settleTimer?.Dispose();
            _settleTimer = null;
            using var settle = stopTrace is { } parent ? EvChargeTelemetry.Source.StartActivity("session.settle", ActivityKind.Internal, parent) : null;
            settle?.SetTag("evcharge.session", SessionId);
            await Settle();
        }, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
    }

    /// <summary>
    /// Stopped: computes the fee and the plan (capture, splits, receipt) once and persists it as the Settling intent.
    /// Settling: sends exactly that plan under the fixed capture key, so a retry after a lost answer or a crash is the
    /// same request and the provider replays its first answer.
    /// </summary>
    private async Task Settle()
    {
        if (S.Step is not (SessionState.Stopped or SessionState.Settling) || S.Start is null) return;
        var start = S.Start;
        var breakdown = FeeCalculator.Compute(start.Tariff, S.MeterStartWh, S.StartedAt ?? S.CreatedAt, S.Samples, S.MeterStopWh ?? S.MeterStartWh, S.StoppedAt ?? Now);
        if (S.State == SessionState.Stopped)
        {
            if (PlanSettlement(S) is not { } plan)
            {
                await Save(S with { Fee = 0 });
                await VoidHold("below_minimum", releaseWallet: true);
                return;
            }
            await Save(plan);
        }

        if (!gateways.TryGet(start.Payment.Provider, out var gateway))
        {
            await Attention(SessionState.Settling, "unknown_provider");
            return;
        }
        var capture = S.PlannedCapture;
        var receipt = S.Receipt!;
        using var activity = EvChargeTelemetry.Source.StartActivity("session.capture");
        activity?.SetTag("evcharge.session", SessionId);
        CaptureOutcome outcome;
        try
        {
            outcome = await gateway.CaptureAsync(
                new CaptureRequest(S.AuthorizationId!, capture, S.Splits,
                    new ReceiptDetails(start.ChargerId, start.ConnectorId, SessionId, breakdown.EnergyWh, S.StartedAt ?? S.CreatedAt, S.StoppedAt ?? Now, receipt.Total, receipt.SupplyValue, receipt.Vat)),
                $"{SessionId}:capture");
        }
        catch (PaymentProviderUnavailableException ex)
        {
            EvChargeTelemetry.CaptureFailures.Add(1, new KeyValuePair<string, object?>("kind", "unavailable"));
            logger.LogWarning(ex, "Capture for session {Session} unanswered (attempt {Attempt}); will retry with the same key", SessionId, S.Attempts + 1);
            await Failed(SessionState.Settling, "capture_unavailable");
            return;
        }

        if (outcome.Succeeded)
        {
            await RecordCapture(outcome.PaymentId!, outcome.Captured);
            return;
        }
        // A definite refusal. Do not guess what it means for the money: ask the provider what became of the hold.
        EvChargeTelemetry.CaptureFailures.Add(1, new KeyValuePair<string, object?>("kind", "definite"));
        ProviderAuthorization? found;
        try
        {
            found = await gateway.GetAsync(S.AuthorizationId!);
        }
        catch (PaymentProviderUnavailableException)
        {
            await Failed(SessionState.Settling, $"capture_refused_{outcome.ErrorCode}_unconfirmed");
            return;
        }
        switch (found?.Status)
        {
            case ProviderAuthorizationStatus.Captured or ProviderAuthorizationStatus.PartiallyRefunded or ProviderAuthorizationStatus.Refunded
                when found.PaymentId is not null && found.Captured == capture:
                await RecordCapture(found.PaymentId, found.Captured); // it did happen (e.g. a replay refused): book what the provider holds
                break;
            case ProviderAuthorizationStatus.Expired:
                await RecordDebt(Journals.Expire(SessionId, S.WalletKey!, S.Authorized), outcome.ErrorCode ?? "authorization_expired");
                break;
            case ProviderAuthorizationStatus.Voided:
                await RecordDebt(Journals.Void(SessionId, S.WalletKey!, S.Authorized, outcome.ErrorCode), outcome.ErrorCode ?? "authorization_voided");
                break;
            default:
                // Still authorized (the request itself was refused) or captured differently: a person must look.
                await Attention(SessionState.Settling, $"capture_refused_{outcome.ErrorCode}_provider_{found?.Status.ToString() ?? "unknown"}");
                break;
        }
    }

    /// <summary>
    /// The Settling intent for a stopped session: fee, capture within the hold, splits and receipt, computed once and
    /// persisted before the capture is sent. Null when nothing is to be captured (below the minimum or free).
    /// </summary>
    private SessionRecord? PlanSettlement(SessionRecord stopped)
    {
        var start = stopped.Start!;
        var breakdown = FeeCalculator.Compute(start.Tariff, stopped.MeterStartWh, stopped.StartedAt ?? stopped.CreatedAt, stopped.Samples,
            stopped.MeterStopWh ?? stopped.MeterStartWh, stopped.StoppedAt ?? Now);
        if (breakdown.BelowMinimum || breakdown.Fee == 0) return null;
        var (planned, _) = HoldPolicy.CaptureWithin(breakdown.Fee, stopped.Authorized);
        if (stopped.ChargerFee is { } reported && reported != breakdown.Fee)
            logger.LogWarning("Session {Session}: charger reported fee {Charger} KRW, server computed {Server} KRW; charging the server's", SessionId, reported, breakdown.Fee);
        return stopped with
        {
            State = SessionState.Settling, Fee = breakdown.Fee, PlannedCapture = planned, Attempts = 0, NextAttemptAt = null,
            Splits = SplitCalculator.Split(planned, start.Commission, start.CpoPayeeAccount, start.PlatformPayeeAccount),
            Receipt = Vat.Receipt(planned),
        };
    }

    private async Task RecordCapture(string paymentId, long captured)
    {
        if (captured != S.PlannedCapture)
        {
            await Attention(SessionState.Settling, $"captured_{captured}_planned_{S.PlannedCapture}");
            return;
        }
        // Capture, release of the rest and every remittance land in one transaction: no reader (the invariant check,
        // reconciliation) ever sees a capture whose splits are not yet remitted.
        var settlement = new List<Journal> { Journals.Capture(SessionId, captured, paymentId) };
        if (S.Authorized - captured > 0)
            settlement.Add(Journals.Release(SessionId, S.WalletKey!, S.Authorized - captured));
        settlement.AddRange(S.Splits.Where(p => p.Amount > 0).Select(part => Journals.Remit(SessionId, part, paymentId)));
        await ledger.PostAllAsync(settlement);

        var wallet = GrainFactory.GetGrain<ISocialPaymentAccountGrain>(S.WalletKey!);
        await wallet.ReleaseHold(SessionId);
        await wallet.RecordReceipt(SessionId, captured);
        EvChargeTelemetry.CapturedWon.Add(captured);
        // Capture never exceeds the hold (design §6). What the charger delivered past it, in the moments between the
        // hold being reached and RemoteStopTransaction taking effect, is written off, visible as the reason.
        var excess = (S.Fee ?? captured) - captured;
        await Save(S with
        {
            State = SessionState.Settled, Captured = captured, PaymentId = paymentId, AttentionStep = null, AttentionReason = null, NextAttemptAt = null,
            Reason = excess > 0 ? $"fee_exceeded_hold_by_{excess}" : S.Reason,
        });
        if (S.Refunds.All(r => r.Done)) await StopWatchdog();
    }

    /// <summary>The hold is gone at the provider (expired or voided) and energy was delivered: the driver owes it.</summary>
    private async Task RecordDebt(Journal resolution, string reason)
    {
        await ledger.PostAsync(resolution);
        await ledger.PostAsync(Journals.Debt(SessionId, S.WalletKey!, S.PlannedCapture, reason));
        await GrainFactory.GetGrain<ISocialPaymentAccountGrain>(S.WalletKey!).ReleaseHold(SessionId);
        logger.LogError("Session {Session}: capture of {Amount} KRW refused ({Reason}); recorded as debt", SessionId, S.PlannedCapture, reason);
        await Save(S with { State = SessionState.Debt, Debt = S.PlannedCapture, Reason = reason, AttentionStep = null, AttentionReason = null, NextAttemptAt = null });
        await StopWatchdog();
    }

    /// <summary>Voids the session's hold at the provider and records it. Idempotent: the void key is fixed.</summary>
    private async Task VoidHold(string reason, bool releaseWallet)
    {
        if (S.Step != SessionState.Voiding)
            await Save(S with { State = SessionState.Voiding, Reason = reason, Attempts = 0, NextAttemptAt = null });
        if (S.AuthorizationId is null || !gateways.TryGet(S.Start!.Payment.Provider, out var gateway))
        {
            await Finish(SessionState.Voided);
            return;
        }

        VoidOutcome outcome;
        try
        {
            outcome = await gateway.VoidAsync(S.AuthorizationId, $"{SessionId}:void");
        }
        catch (PaymentProviderUnavailableException ex)
        {
            logger.LogWarning(ex, "Void for session {Session} unanswered; the watchdog retries with the same key", SessionId);
            await Failed(SessionState.Voiding, "void_unavailable");
            return;
        }

        Journal journal;
        if (outcome.Succeeded)
            journal = Journals.Void(SessionId, S.WalletKey!, S.Authorized, S.Reason ?? reason);
        else if (outcome.ErrorCode == "authorization_expired")
            journal = Journals.Expire(SessionId, S.WalletKey!, S.Authorized); // the provider already released it
        else
        {
            // Anything else (already_captured, unknown authorization) means our picture differs from the provider's:
            // nothing is posted, the session waits visibly, and reconciliation shows the difference.
            await Attention(SessionState.Voiding, $"void_refused_{outcome.ErrorCode}");
            return;
        }
        await ledger.PostAsync(journal);
        if (releaseWallet) await GrainFactory.GetGrain<ISocialPaymentAccountGrain>(S.WalletKey!).ReleaseHold(SessionId);
        await Save(S with { AttentionStep = null, AttentionReason = null, NextAttemptAt = null });
        await Finish(SessionState.Voided);
        if (S.Start is not null && S.Reason is "start_timeout" or "below_minimum" or "hold_expiring")
            GrainFactory.GetGrain<IChargerGrain>(S.Start.ChargerId).SessionEnded(SessionId, S.TransactionId).Ignore();
    }

    /// <summary>
    /// The authorize call got no answer (or the silo died during it): ask the provider by our order id and void whatever
    /// hold exists. A request still travelling could land after an empty answer, so "no hold" is only concluded once
    /// the start timeout has passed since the call; until then the watchdog asks again.
    /// </summary>
    private async Task ResolveUnansweredAuthorization()
    {
        if (S.Start is null || !gateways.TryGet(S.Start.Payment.Provider, out var gateway))
        {
            await Finish(SessionState.Rejected);
            return;
        }
        ProviderAuthorization? found;
        try
        {
            found = await gateway.FindByOrderAsync(SessionId);
        }
        catch (PaymentProviderUnavailableException)
        {
            await Failed(S.Step, "authorization_unresolved");
            return;
        }
        if (found is null || found.Status is not ProviderAuthorizationStatus.Authorized)
        {
            if (found is null && Now - S.LastActivity < _options.StartTimeout) return; // ask again on the next tick
            if (found is { Status: not (ProviderAuthorizationStatus.Voided or ProviderAuthorizationStatus.Expired) })
            {
                // Captured under our order id although we never asked to capture: impossible unless another system did.
                await Attention(S.Step, $"authorization_{found.Status}_unexpected");
                return;
            }
            await Save(S with { Reason = S.Reason ?? "authorization_interrupted", AttentionStep = null, AttentionReason = null });
            await Finish(SessionState.Rejected);
            return;
        }
        var walletKey = $"{S.Start.Payment.Provider}:{found.WalletRef}";
        await Save(S with { WalletKey = walletKey, AuthorizationId = found.AuthorizationId, Authorized = found.Amount });
        await ledger.PostAsync(Journals.Hold(SessionId, walletKey, found.Amount, found.AuthorizationId));
        await VoidHold(S.Reason ?? "authorization_interrupted", releaseWallet: true);
    }

    private async Task<RefundOutcome> CompleteRefund(RefundRecord refund)
    {
        if (!gateways.TryGet(S.Start!.Payment.Provider, out var gateway))
            return new RefundOutcome(false, refund.RefundId, refund.Amount, refund.Reversals, "unknown_provider");
        RefundResult result;
        try
        {
            result = await gateway.RefundAsync(
                new RefundRequest(S.PaymentId!, refund.Amount, refund.Reversals.Select(r => new Remittance(r.PayeeAccount, r.Amount)).ToList(), refund.Reason),
                $"{SessionId}:refund:{refund.RefundId}");
        }
        catch (PaymentProviderUnavailableException)
        {
            // The refund may or may not have happened: the intent stays, the watchdog repeats it with the same key.
            var attempts = S.Attempts + 1;
            await EnsureWatchdog();
            await Save(S with
            {
                Attempts = attempts, NextAttemptAt = Now + Backoff(attempts),
                AttentionReason = attempts >= _options.MaxSettlementAttempts ? $"refund_{refund.RefundId}_unavailable after {attempts} attempts" : S.AttentionReason,
            });
            return new RefundOutcome(false, refund.RefundId, refund.Amount, refund.Reversals, "provider_unavailable_retrying");
        }
        if (!result.Succeeded)
        {
            await Save(S with { Refunds = S.Refunds.Where(r => r.RefundId != refund.RefundId).ToList(), Attempts = 0, NextAttemptAt = null, AttentionReason = null });
            return new RefundOutcome(false, refund.RefundId, refund.Amount, refund.Reversals, result.ErrorCode ?? "refund_failed");
        }
        await ledger.PostAllAsync([Journals.Refund(SessionId, refund.RefundId, S.WalletKey!, refund.Amount),
            .. refund.Reversals.Where(p => p.Amount > 0).Select(part => Journals.RefundReversal(SessionId, refund.RefundId, part))]);
        var done = refund with { Done = true, ProviderRefundId = result.RefundId };
        await Save(S with { Refunds = S.Refunds.Select(r => r.RefundId == refund.RefundId ? done : r).ToList(), Attempts = 0, NextAttemptAt = null, AttentionReason = null });
        if (S.IsTerminal && S.Refunds.All(r => r.Done)) await StopWatchdog();
        return RefundAnswer(done);
    }

    /// <summary>
    /// A provider step got no answer: count it and back off (watchdog period × 1, 2, 4, 8). After
    /// <see cref="EvChargeOptions.MaxSettlementAttempts"/> the session shows NeedsAttention with the reason, and the
    /// watchdog keeps retrying the same step with the same key at the slow pace.
    /// </summary>
    private async Task Failed(SessionState step, string reason)
    {
        var attempts = S.Attempts + 1;
        if (attempts >= _options.MaxSettlementAttempts)
        {
            await Attention(step, $"{reason} after {attempts} attempts", attempts);
            return;
        }
        await Save(S with { Attempts = attempts, NextAttemptAt = Now + Backoff(attempts) });
    }

    private async Task Attention(SessionState step, string reason, int? attempts = null)
    {
        if (S.State != SessionState.NeedsAttention)
            logger.LogError("Session {Session} needs attention in {Step}: {Reason}", SessionId, step, reason);
        var tries = attempts ?? Math.Max(S.Attempts + 1, _options.MaxSettlementAttempts);
        await Save(S with
        {
            State = SessionState.NeedsAttention, AttentionStep = step, AttentionReason = reason, Attempts = tries,
            NextAttemptAt = Now + Backoff(tries),
        });
        await EnsureWatchdog();
    }

    private TimeSpan Backoff(int attempts) =>
        attempts >= _options.MaxSettlementAttempts
            ? _options.WatchdogPeriod * AttentionPaceFactor
            : _options.WatchdogPeriod * Math.Min(1 << Math.Max(0, attempts - 1), 8);

    /// <summary>Sessions needing attention are retried this many watchdog periods apart.</summary>
    private const int AttentionPaceFactor = 16;

    private async Task<SessionAuthorization> Reject(string reason)
    {
        await Save(S with { Reason = reason });
        await Finish(SessionState.Rejected);
        return AuthorizationAnswer();
    }

    private async Task Finish(SessionState end)
    {
        await Save(S with { State = end });
        if (S.Refunds.All(r => r.Done)) await StopWatchdog();
    }

    private async Task Save(SessionRecord next)
    {
        var changed = next.State != state.State.State;
        if (changed)
            EvChargeTelemetry.SessionTransitions.Add(1, new KeyValuePair<string, object?>("state", next.State.ToString()));
        state.State = next;
        await state.WriteStateAsync();
        if (changed || next.Refunds.Count != 0) await Project();
    }

    /// <summary>Keeps the operators' session index in step; a failure there must not fail the charge.</summary>
    private async Task Project()
    {
        foreach (var index in indexes)
        {
            try
            {
                var v = View();
                await index.UpsertAsync(new SessionSummary(v.SessionId, v.State, v.ChargerId, v.ConnectorId, v.CpoId, v.WalletKey, v.HoldAmount,
                    v.EnergyWh, v.Fee, v.Captured, v.Refunded, v.DebtAmount, v.Seamless, v.FeeMismatch, v.Reason, v.CreatedAt, v.StartedAt, v.StoppedAt, Now));
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Session index update for {Session} failed; the next state change repairs it", SessionId);
            }
        }
    }

    private async Task EnsureWatchdog() =>
        await this.RegisterOrUpdateReminder(Watchdog, _options.WatchdogPeriod, _options.WatchdogPeriod);

    private async Task StopWatchdog()
    {
        var reminder = await this.GetReminder(Watchdog);
        if (reminder is not null) await this.UnregisterReminder(reminder);
    }

    private SessionAuthorization AuthorizationAnswer() => S.State switch
    {
        SessionState.Authorized or SessionState.Charging or SessionState.Stopped or SessionState.Settling or SessionState.Settled
            => new SessionAuthorization(true, null, S.WalletKey),
        _ => new SessionAuthorization(false, S.Reason ?? "rejected", S.WalletKey),
    };

    private MeterProgress Progress(bool holdReached)
    {
        var energy = S.Samples.Count == 0 ? 0 : Math.Max(0, S.Samples.Max(s => s.EnergyWh) - S.MeterStartWh);
        var running = S.Start is null || S.Samples.Count == 0 ? 0 : FeeCalculator.RunningCost(S.Start.Tariff, S.MeterStartWh, S.StartedAt ?? S.CreatedAt, S.Samples);
        return new MeterProgress(energy, running, holdReached);
    }

    private static RefundOutcome RefundAnswer(RefundRecord r) => new(true, r.RefundId, r.Amount, r.Reversals, null);

    private SessionView View()
    {
        var energy = S.MeterStopWh is { } stop ? Math.Max(0, stop - S.MeterStartWh)
            : S.Samples.Count == 0 ? 0 : Math.Max(0, S.Samples.Max(s => s.EnergyWh) - S.MeterStartWh);
        return new SessionView(
            SessionId, S.State, S.Start?.ChargerId, S.Start?.ConnectorId ?? 0, S.Start?.CpoId, S.TransactionId, S.WalletKey,
            S.AuthorizationId, S.Authorized, energy, S.Fee, S.ChargerFee,
            S.ChargerFee is { } c && S.Fee is { } f && c != f,
            S.Captured, S.Splits, S.State == SessionState.Settled ? S.Receipt : null, S.Samples, S.StartedAt, S.StoppedAt, S.AttentionReason ?? S.Reason,
            S.PaymentId, S.Start?.Payment.VehicleId is not null, S.Refunded, S.Debt, S.CreatedAt)
        { MeterStartWh = S.StartedAt is null ? null : S.MeterStartWh };
    }
}
