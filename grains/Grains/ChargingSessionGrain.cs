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

        await Save(S with { State = SessionState.Authorizing, Start = start, CreatedAt = Now, LastActivity = Now });
        await EnsureWatchdog();

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
            await Save(S with { State = SessionState.Voiding, Reason = "provider_unavailable" });
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
        await Save(S with { WalletKey = walletKey, AuthorizationId = outcome.AuthorizationId, Authorized = outcome.Amount, HoldExpiresAt = outcome.ExpiresAt, AuthorizedAt = Now });
        await ledger.PostAsync(Journals.Hold(SessionId, walletKey, outcome.Amount, outcome.AuthorizationId!));

        var claim = await GrainFactory.GetGrain<ISocialPaymentAccountGrain>(walletKey).TryClaimHold(SessionId);
        if (!claim.Granted)
        {
            // One active hold per wallet: the second charger is refused and its fresh hold voided at once.
            await VoidHold(claim.Reason ?? "wallet_busy", releaseWallet: false);
            return AuthorizationAnswer();
        }

        await Save(S with { State = SessionState.Authorized });
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
        await Save(S with
        {
            State = SessionState.Stopped, MeterStopWh = Math.Max(report.MeterStopWh, S.MeterStartWh), StoppedAt = report.Timestamp,
            StopReason = report.Reason, Samples = merged, LastActivity = Now,
        });
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
        if (S.State is SessionState.Authorized or SessionState.Voiding)
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
        var refund = new RefundRecord($"r{S.Refunds.Count + 1}", idempotencyKey, amount, reversals, false, null, reason);
        await Save(S with { Refunds = [.. S.Refunds, refund] }); // intent first, then the provider call
        return await CompleteRefund(refund);
    }

    async Task<SessionView> IChargingSessionGrain.Resume()
    {
        await Drive();
        return View();
    }

    Task<SessionView> IChargingSessionGrain.GetView() => Task.FromResult(View());

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == Watchdog) await Drive();
    }

    /// <summary>Moves the session on from wherever it stands: timeouts, retries, finishing interrupted steps.</summary>
    private async Task Drive()
    {
        switch (S.State)
        {
            case SessionState.Authorizing:
            case SessionState.Voiding when S.AuthorizationId is null:
                await ResolveUnansweredAuthorization();
                break;
            case SessionState.Voiding:
                await VoidHold(S.Reason ?? "void", releaseWallet: true);
                break;
            case SessionState.Authorized when Now - (S.AuthorizedAt ?? S.CreatedAt) >= _options.StartTimeout:
                await VoidHold("start_timeout", releaseWallet: true);
                break;
            case SessionState.Charging when Now - S.LastActivity >= _options.StopTimeout:
                await CloseLostStop();
                break;
            case SessionState.Stopped or SessionState.Settling or SessionState.NeedsAttention:
                await Settle();
                break;
        }
        foreach (var pending in S.Refunds.Where(r => !r.Done).ToList())
            await CompleteRefund(pending);
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

    private void ScheduleSettlement()
    {
        // Settle after answering the charger: its StopTransaction.conf must not wait on the wallet provider.
        _settleTimer?.Dispose();
        _settleTimer = this.RegisterGrainTimer(async ct =>
        {
            _settleTimer?.Dispose();
            _settleTimer = null;
            await Settle();
        }, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
    }

    private async Task Settle()
    {
        if (S.State is not (SessionState.Stopped or SessionState.Settling or SessionState.NeedsAttention) || S.Start is null) return;
        var start = S.Start;
        var breakdown = FeeCalculator.Compute(start.Tariff, S.MeterStartWh, S.StartedAt ?? S.CreatedAt, S.Samples, S.MeterStopWh ?? S.MeterStartWh, S.StoppedAt ?? Now);
        if (breakdown.BelowMinimum || breakdown.Fee == 0)
        {
            await Save(S with { Fee = 0 });
            await VoidHold("below_minimum", releaseWallet: true);
            return;
        }

        var (capture, excess) = HoldPolicy.CaptureWithin(breakdown.Fee, S.Authorized);
        var splits = SplitCalculator.Split(capture, start.Commission, start.CpoPayeeAccount, start.PlatformPayeeAccount);
        var receipt = Vat.Receipt(capture);
        if (S.State == SessionState.Stopped)
        {
            if (S.ChargerFee is { } reported && reported != breakdown.Fee)
                logger.LogWarning("Session {Session}: charger reported fee {Charger} KRW, server computed {Server} KRW; charging the server's", SessionId, reported, breakdown.Fee);
            await Save(S with { State = SessionState.Settling, Fee = breakdown.Fee, PlannedCapture = capture, Splits = splits, Receipt = receipt });
        }

        if (!gateways.TryGet(start.Payment.Provider, out var gateway)) return;
        using var activity = EvChargeTelemetry.Source.StartActivity("session.capture");
        activity?.SetTag("evcharge.session", SessionId);
        CaptureOutcome outcome;
        try
        {
            outcome = await gateway.CaptureAsync(
                new CaptureRequest(S.AuthorizationId!, capture, splits,
                    new ReceiptDetails(start.ChargerId, start.ConnectorId, SessionId, breakdown.EnergyWh, S.StartedAt ?? S.CreatedAt, S.StoppedAt ?? Now, receipt.Total, receipt.SupplyValue, receipt.Vat)),
                $"{SessionId}:capture");
        }
        catch (PaymentProviderUnavailableException ex)
        {
            EvChargeTelemetry.CaptureFailures.Add(1, new KeyValuePair<string, object?>("kind", "unavailable"));
            var attempts = S.Attempts + 1;
            var next = attempts >= _options.MaxSettlementAttempts ? SessionState.NeedsAttention : SessionState.Settling;
            logger.LogWarning(ex, "Capture for session {Session} unanswered (attempt {Attempt}); will retry", SessionId, attempts);
            await Save(S with { State = next, Attempts = attempts, Reason = next == SessionState.NeedsAttention ? $"capture_unavailable after {attempts} attempts" : S.Reason });
            return; // the watchdog retries with the same idempotency key
        }

        if (!outcome.Succeeded)
        {
            // The provider definitely refused (hold expired or voided): energy was delivered, so it becomes a debt.
            EvChargeTelemetry.CaptureFailures.Add(1, new KeyValuePair<string, object?>("kind", "definite"));
            await ledger.PostAsync(Journals.Expire(SessionId, S.WalletKey!, S.Authorized));
            await ledger.PostAsync(Journals.Debt(SessionId, S.WalletKey!, breakdown.Fee, outcome.ErrorCode));
            await GrainFactory.GetGrain<ISocialPaymentAccountGrain>(S.WalletKey!).ReleaseHold(SessionId);
            await Save(S with { State = SessionState.Debt, Debt = breakdown.Fee, Reason = outcome.ErrorCode ?? "capture_failed" });
            await StopWatchdog();
            return;
        }

        await ledger.PostAsync(Journals.Capture(SessionId, outcome.Captured, outcome.PaymentId!));
        if (S.Authorized - outcome.Captured > 0)
            await ledger.PostAsync(Journals.Release(SessionId, S.WalletKey!, S.Authorized - outcome.Captured));
        foreach (var part in splits)
            await ledger.PostAsync(Journals.Remit(SessionId, part, outcome.PaymentId!));

        var wallet = GrainFactory.GetGrain<ISocialPaymentAccountGrain>(S.WalletKey!);
        await wallet.ReleaseHold(SessionId);
        await wallet.RecordReceipt(SessionId, outcome.Captured);
        EvChargeTelemetry.CapturedWon.Add(outcome.Captured);
        // Capture never exceeds the hold (design §6). What the charger delivered past it, in the moments between the
        // hold being reached and RemoteStopTransaction taking effect, is written off, visible as the reason.
        await Save(S with
        {
            State = SessionState.Settled, Captured = outcome.Captured, PaymentId = outcome.PaymentId,
            Reason = excess > 0 ? $"fee_exceeded_hold_by_{excess}" : S.State == SessionState.NeedsAttention ? null : S.Reason,
        });
        if (S.Refunds.All(r => r.Done)) await StopWatchdog();
    }

    /// <summary>Voids the session's hold at the provider and records it. Idempotent: the void key is fixed.</summary>
    private async Task VoidHold(string reason, bool releaseWallet)
    {
        if (S.State != SessionState.Voiding || S.Reason != reason)
            await Save(S with { State = SessionState.Voiding, Reason = reason });
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
            logger.LogWarning(ex, "Void for session {Session} unanswered; the watchdog retries", SessionId);
            await Save(S with { Attempts = S.Attempts + 1 });
            return;
        }

        // A hold the provider already let expire is resolved as expired rather than voided.
        var journal = outcome.Succeeded || outcome.ErrorCode != "authorization_expired"
            ? Journals.Void(SessionId, S.WalletKey!, S.Authorized, reason)
            : Journals.Expire(SessionId, S.WalletKey!, S.Authorized);
        await ledger.PostAsync(journal);
        if (releaseWallet) await GrainFactory.GetGrain<ISocialPaymentAccountGrain>(S.WalletKey!).ReleaseHold(SessionId);
        await Finish(SessionState.Voided);
        if (S.Start is not null && reason is "start_timeout" or "below_minimum")
            GrainFactory.GetGrain<IChargerGrain>(S.Start.ChargerId).SessionEnded(SessionId, S.TransactionId).Ignore();
    }

    /// <summary>The authorize call got no answer: ask the provider by our order id and void whatever hold exists.</summary>
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
            await Save(S with { Attempts = S.Attempts + 1 });
            return;
        }
        if (found is null || found.Status is not ProviderAuthorizationStatus.Authorized)
        {
            await Save(S with { Reason = S.Reason ?? "authorization_interrupted" });
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
            await EnsureWatchdog(); // the refund intent is saved; the watchdog finishes it
            return new RefundOutcome(false, refund.RefundId, refund.Amount, refund.Reversals, "provider_unavailable_retrying");
        }
        if (!result.Succeeded)
        {
            await Save(S with { Refunds = S.Refunds.Where(r => r.RefundId != refund.RefundId).ToList() });
            return new RefundOutcome(false, refund.RefundId, refund.Amount, refund.Reversals, result.ErrorCode ?? "refund_failed");
        }
        await ledger.PostAsync(Journals.Refund(SessionId, refund.RefundId, S.WalletKey!, refund.Amount));
        foreach (var part in refund.Reversals)
            await ledger.PostAsync(Journals.RefundReversal(SessionId, refund.RefundId, part));
        var done = refund with { Done = true, ProviderRefundId = result.RefundId };
        await Save(S with { Refunds = S.Refunds.Select(r => r.RefundId == refund.RefundId ? done : r).ToList() });
        return RefundAnswer(done);
    }

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
            S.Captured, S.Splits, S.State == SessionState.Settled ? S.Receipt : null, S.Samples, S.StartedAt, S.StoppedAt, S.Reason,
            S.PaymentId, S.Start?.Payment.VehicleId is not null, S.Refunded, S.Debt, S.CreatedAt);
    }
}
