using CsCheck;
using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Sessions;
using static EvCharge.UnitTests.Sessions.SessionHarness;

namespace EvCharge.UnitTests.Sessions;

/// <summary>The session's decisions, one transition at a time, with no cluster and no database.</summary>
public sealed class SessionMachineTests
{
    private static SessionHarness Charging(long hold = 30_000, Tariff? tariff = null)
    {
        var h = new SessionHarness();
        h.Run(new AuthorizeSession(Start(hold, tariff)));
        h.Run(new StartCharging(7, 1_000, T0));
        return h;
    }

    [Fact]
    public void Authorize_writes_the_intent_before_the_call_and_books_the_hold_from_the_answer()
    {
        var h = new SessionHarness();
        var first = SessionMachine.Decide(Id, h.State, new AuthorizeSession(Start()), T0, Rules);
        Assert.Equal(SessionState.Authorizing, first.Next.State);
        var call = Assert.IsType<AuthorizeCall>(first.Call);
        Assert.Equal($"{Id}:authorize", call.IdempotencyKey);
        Assert.Equal(30_000, call.Request.Amount);
        Assert.Empty(first.Journals); // nothing has moved yet

        h.Run(new AuthorizeSession(Start()));
        Assert.Equal(SessionState.Authorized, h.State.State);
        Assert.Equal("kakaopay:w1", h.State.WalletKey);
        Assert.Equal(30_000, h.Posted(JournalKind.Hold));
        Assert.True(SessionProjection.IsLive(h.State));
        Assert.True(SessionProjection.AuthorizationAnswer(h.State).Accepted);
    }

    [Fact]
    public void A_replayed_authorize_gets_the_first_answer_and_calls_nothing()
    {
        var h = new SessionHarness();
        h.Run(new AuthorizeSession(Start()));
        var again = h.Run(new AuthorizeSession(Start(hold: 99_000)));
        Assert.Null(again.Call);
        Assert.Same(h.State, again.Next);
        Assert.Equal(1, h.Provider.Executions("authorize"));
    }

    [Fact]
    public void A_decline_rejects_with_the_providers_code_and_leaves_no_hold()
    {
        var h = new SessionHarness();
        h.Provider.Decline = true;
        h.Run(new AuthorizeSession(Start()));
        Assert.Equal(SessionState.Rejected, h.State.State);
        Assert.Equal("insufficient_funds", h.State.Reason);
        Assert.Empty(h.Ledger);
        Assert.False(SessionProjection.AuthorizationAnswer(h.State).Accepted);
    }

    [Fact]
    public void A_wallet_with_an_open_session_gets_its_fresh_hold_voided_at_once()
    {
        var h = new SessionHarness { WalletBusy = true };
        h.Run(new AuthorizeSession(Start()));
        Assert.Equal(SessionState.Voided, h.State.State);
        Assert.Equal("wallet_has_open_session", h.State.Reason);
        Assert.Equal(h.Posted(JournalKind.Hold), h.Posted(JournalKind.Void));
        Assert.Equal(ProviderAuthorizationStatus.Voided, h.Provider.Holds.Values.Single().Status);
        Assert.False(SessionProjection.AuthorizationAnswer(h.State).Accepted);
    }

    [Fact]
    public void An_approval_after_the_chargers_answer_budget_is_voided_at_once()
    {
        var h = new SessionHarness();
        var intent = SessionMachine.Decide(Id, h.State, new AuthorizeSession(Start()), T0, Rules);
        var late = new AuthorizeAnswered(new AuthorizeOutcome(true, "auth_9", "w1", 30_000, null, null, null), Claim: null, Late: true);
        var d = SessionMachine.Decide(Id, intent.Next, late, T0 + TimeSpan.FromSeconds(40), Rules);
        Assert.Equal(SessionState.Voiding, d.Next.State);
        Assert.Equal("authorization_late", d.Next.Reason);
        Assert.Equal(JournalKind.Hold, Assert.Single(d.Journals).Kind);
        Assert.Equal($"{Id}:void", Assert.IsType<VoidCall>(d.Call).IdempotencyKey);
        Assert.False(SessionProjection.IsLive(d.Next)); // the wallet is not held for a refused charge
    }

    [Fact]
    public void An_unanswered_authorize_is_refused_and_resolved_by_order_id_later()
    {
        var h = new SessionHarness();
        h.Faults.Enqueue(Fault.AnswerLost); // the provider placed the hold, the answer never came
        h.Run(new AuthorizeSession(Start()));
        Assert.Equal(SessionState.Voiding, h.State.State);
        Assert.Null(h.State.AuthorizationId);
        Assert.False(SessionProjection.AuthorizationAnswer(h.State).Accepted);
        Assert.NotNull(SessionProjection.DueAt(h.State, h.Now, Rules)); // the sweeper will look

        h.Now += Rules.WatchdogPeriod;
        h.Sweep();
        Assert.Equal(SessionState.Voided, h.State.State);
        Assert.Equal(ProviderAuthorizationStatus.Voided, h.Provider.Holds.Values.Single().Status);
        Assert.Equal(h.Posted(JournalKind.Hold), h.Posted(JournalKind.Void));
    }

    [Fact]
    public void An_unanswered_authorize_that_left_nothing_is_sent_again_under_the_same_key_and_an_approval_voided()
    {
        var h = new SessionHarness();
        h.Faults.Enqueue(Fault.Unanswered); // never reached the provider
        h.Run(new AuthorizeSession(Start()));
        Assert.Equal(SessionState.Voiding, h.State.State);
        h.Now += Rules.WatchdogPeriod;
        h.Sweep();
        // Resolve said "not found"; the same request under the same key settles it either way (a copy still travelling
        // would get the first answer), and since the charger was refused, the approval is voided at once.
        Assert.Equal(SessionState.Voided, h.State.State);
        Assert.Equal("provider_unavailable", h.State.Reason);
        var authorizes = h.Calls.OfType<AuthorizeCall>().ToList();
        Assert.Equal(2, authorizes.Count);
        Assert.All(authorizes, c => Assert.Equal($"{Id}:authorize", c.IdempotencyKey));
        Assert.False(authorizes[1].ClaimWallet); // a re-send never claims the wallet of a refused charge
        Assert.Equal(ProviderAuthorizationStatus.Voided, h.Provider.Holds.Values.Single().Status);
        Assert.Equal(h.Posted(JournalKind.Hold), h.Posted(JournalKind.Void));
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_re_sent_authorize_that_is_declined_rejects_with_nothing_booked()
    {
        var h = new SessionHarness();
        h.Faults.Enqueue(Fault.Unanswered);
        h.Run(new AuthorizeSession(Start()));
        h.Provider.Decline = true;
        h.Sweep();
        Assert.Equal(SessionState.Rejected, h.State.State);
        Assert.Empty(h.Ledger);
    }

    [Fact]
    public void A_saved_credential_payment_whose_answer_stays_unknown_needs_attention_and_is_never_sent_again()
    {
        var h = new SessionHarness();
        h.Provider.CannotResolveSaved = true; // KakaoPay: a SID payment cannot be looked up by our order id
        h.Faults.Enqueue(Fault.AnswerLost);
        h.Authorize(Start(billingToken: "user-1:SID1"));
        Assert.Equal(SessionState.Voiding, h.State.State);

        h.Sweep();
        Assert.Equal(SessionState.NeedsAttention, h.State.State);
        Assert.Equal(SessionState.Voiding, h.State.AttentionStep);
        Assert.StartsWith("authorization_unknown: a saved-credential payment was sent", h.State.AttentionReason);
        Assert.Contains(h.Decisions, d => d.AttentionRaised == h.State.AttentionReason); // logged for the operator
        for (var i = 0; i < 3; i++)
        {
            h.Now += Rules.WatchdogPeriod * SessionRules.AttentionPaceFactor;
            h.Sweep(force: i == 2);
        }
        // The watchdog only asks; it never authorizes again, under this key or another.
        Assert.Single(h.Calls.OfType<AuthorizeCall>());
        Assert.Equal(4, h.Calls.OfType<ResolveAuthorizeCall>().Count());
        Assert.All(h.Calls.OfType<ResolveAuthorizeCall>(), c => Assert.Equal($"{Id}:authorize", c.IdempotencyKey));
        Assert.Equal(SessionState.NeedsAttention, h.State.State);
    }

    [Fact]
    public void Start_is_accepted_once_and_only_from_authorized()
    {
        var h = Charging();
        Assert.Equal(SessionState.Charging, h.State.State);
        Assert.Equal(7, h.State.TransactionId);
        var again = h.Run(new StartCharging(7, 1_000, T0));
        Assert.Same(h.State, again.Next);

        var voided = new SessionHarness { WalletBusy = true };
        voided.Run(new AuthorizeSession(Start()));
        voided.Run(new StartCharging(8, 0, T0));
        Assert.Equal(SessionState.Voided, voided.State.State);
    }

    [Fact]
    public void Meter_values_are_merged_once_and_the_running_cost_stops_the_charge_near_the_hold()
    {
        var h = Charging(hold: 3_000);
        var d = h.Run(new AddMeterSamples([new MeterSample(T0.AddMinutes(10), 5_000)]));
        Assert.Equal(4_000, d.Progress!.EnergyWh);
        Assert.Equal(1_200, d.Progress.RunningCost);
        Assert.False(d.Progress.HoldReached);
        Assert.Single(d.NewSamples);

        var duplicate = h.Run(new AddMeterSamples([new MeterSample(T0.AddMinutes(10), 5_000)]));
        Assert.Empty(duplicate.NewSamples);
        Assert.Same(h.State, duplicate.Next);

        var near = h.Run(new AddMeterSamples([new MeterSample(T0.AddMinutes(20), 10_700)])); // 9.7 kWh = 2,910 KRW ≥ 95 % of 3,000
        Assert.True(near.Progress!.HoldReached);
        Assert.True(h.State.RemoteStopRequested);
        Assert.False(h.Run(new AddMeterSamples([new MeterSample(T0.AddMinutes(21), 10_800)])).Progress!.HoldReached); // asked once
    }

    [Fact]
    public void Stop_writes_the_settlement_plan_as_one_step_and_the_capture_settles_with_splits_and_receipt()
    {
        var h = Charging();
        var stop = SessionMachine.Decide(Id, h.State, new StopCharging(new StopReport(13_345, T0.AddMinutes(40), "EVDisconnected", [])), T0.AddMinutes(40), Rules);
        Assert.Equal(SessionState.Settling, stop.Next.State);
        Assert.Equal(3_704, stop.Next.Fee); // 12,345 Wh x 300 KRW/kWh, rounded once
        Assert.Equal(3_704, stop.Next.PlannedCapture);
        Assert.Equal(3_704, stop.Next.Splits.Sum(s => s.Amount));
        Assert.Equal(337, stop.Next.Receipt!.Vat);
        var capture = Assert.IsType<CaptureCall>(stop.Call);
        Assert.Equal($"{Id}:capture", capture.IdempotencyKey);
        Assert.False(SessionProjection.IsLive(stop.Next)); // the wallet is free once charging stops

        h.Run(new StopCharging(new StopReport(13_345, T0.AddMinutes(40), "EVDisconnected", [])));
        Assert.Equal(SessionState.Settled, h.State.State);
        Assert.Equal(3_704, h.State.Captured);
        Assert.Equal(30_000 - 3_704, h.Posted(JournalKind.Release));
        h.AssertMoneyInvariants();
        Assert.Null(SessionProjection.DueAt(h.State, h.Now, Rules));
    }

    [Fact]
    public void A_repeated_stop_charges_nothing_twice()
    {
        var h = Charging();
        h.Run(new StopCharging(new StopReport(13_345, T0.AddMinutes(40), null, [])));
        var again = h.Run(new StopCharging(new StopReport(20_000, T0.AddMinutes(50), null, [])));
        Assert.Null(again.Call);
        Assert.Empty(again.Journals);
        Assert.Equal(1, h.Provider.Executions("capture"));
    }

    [Fact]
    public void A_charge_below_the_minimum_voids_its_hold()
    {
        var h = Charging(tariff: Tariff.Flat("std", 300) with { MinimumBillableWh = 500 });
        h.Run(new StopCharging(new StopReport(1_200, T0.AddMinutes(2), null, [])));
        Assert.Equal(SessionState.Voided, h.State.State);
        Assert.Equal("below_minimum", h.State.Reason);
        Assert.Equal(0, h.State.Fee);
        Assert.True(h.Decisions.Last().ChargerSessionEnded);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void The_servers_fee_is_charged_when_the_charger_reports_another()
    {
        var h = Charging();
        h.Run(new ReportChargerFee(9_999));
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(30), null, [])));
        Assert.Equal(3_000, h.State.Captured);
        Assert.True(SessionProjection.View(Id, h.State).FeeMismatch);
    }

    [Fact]
    public void A_fee_above_the_hold_is_captured_up_to_the_hold_and_the_excess_named()
    {
        var h = Charging(hold: 2_000);
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(30), null, [])));
        Assert.Equal(2_000, h.State.Captured);
        Assert.Equal("fee_exceeded_hold_by_1000", h.State.Reason);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void An_unanswered_capture_backs_off_then_needs_attention_and_the_same_key_settles_it_later()
    {
        var h = Charging();
        for (var i = 0; i < Rules.MaxSettlementAttempts; i++) h.Faults.Enqueue(Fault.Unanswered);
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(30), null, [])));
        Assert.Equal(1, h.State.Attempts);
        Assert.Equal(h.Now + Rules.Backoff(1), h.State.NextAttemptAt);
        Assert.Same(h.State, h.Sweep().Next); // not due yet: the back-off holds
        for (var i = 1; i < Rules.MaxSettlementAttempts; i++)
        {
            h.Now = h.State.NextAttemptAt!.Value;
            h.Sweep();
        }
        Assert.Equal(SessionState.NeedsAttention, h.State.State);
        Assert.Equal(SessionState.Settling, h.State.AttentionStep);
        Assert.Contains("capture_unavailable", h.State.AttentionReason);
        Assert.Equal(0, h.Provider.Executions("capture"));

        h.Sweep(force: true); // an operator's Resume
        Assert.Equal(SessionState.Settled, h.State.State);
        Assert.Null(h.State.AttentionReason);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_lost_capture_answer_is_replayed_by_the_key_and_booked_once()
    {
        var h = Charging();
        h.Faults.Enqueue(Fault.AnswerLost);
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(30), null, [])));
        Assert.Equal(SessionState.Settling, h.State.State);
        h.Now = h.State.NextAttemptAt!.Value;
        h.Sweep();
        Assert.Equal(SessionState.Settled, h.State.State);
        Assert.Equal(1, h.Provider.Executions("capture"));
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_capture_refused_because_the_hold_expired_becomes_a_debt()
    {
        var h = Charging();
        h.Provider.Holds.Values.Single().Status = ProviderAuthorizationStatus.Expired;
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(30), null, [])));
        Assert.Equal(SessionState.Debt, h.State.State);
        Assert.Equal(3_000, h.State.Debt);
        Assert.Equal(h.Posted(JournalKind.Hold), h.Posted(JournalKind.Expire));
        Assert.Equal(3_000, h.Posted(JournalKind.Debt));
    }

    [Fact]
    public void The_start_timeout_voids_an_unused_hold_and_tells_the_charger()
    {
        var h = new SessionHarness();
        h.Run(new AuthorizeSession(Start()));
        Assert.Equal(T0 + Rules.StartTimeout, SessionProjection.DueAt(h.State, h.Now, Rules));
        h.Now += Rules.StartTimeout;
        h.Sweep();
        Assert.Equal(SessionState.Voided, h.State.State);
        Assert.Equal("start_timeout", h.State.Reason);
        Assert.True(h.Decisions.Last(d => d.Journals.Count > 0).ChargerSessionEnded);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_lost_stop_is_closed_from_the_last_meter_value()
    {
        var h = Charging();
        h.Run(new AddMeterSamples([new MeterSample(T0.AddMinutes(15), 6_000)]));
        h.Now += Rules.StopTimeout;
        h.Sweep();
        Assert.Equal(SessionState.Settled, h.State.State);
        Assert.Equal("stop_timeout", h.State.StopReason);
        Assert.Equal(1_500, h.State.Captured); // 5 kWh x 300
    }

    [Fact]
    public void A_hold_about_to_expire_is_captured_now_and_the_charger_asked_to_stop()
    {
        var h = new SessionHarness();
        var intent = SessionMachine.Decide(Id, h.State, new AuthorizeSession(Start()), T0, Rules).Next;
        var held = SessionMachine.Decide(Id, intent, new AuthorizeAnswered(new AuthorizeOutcome(true, "auth_1", "w1", 30_000, T0.AddHours(13), null, null), new HoldClaim(true, Id, null), false), T0, Rules).Next;
        var started = SessionMachine.Decide(Id, held, new StartCharging(3, 0, T0), T0, Rules).Next;
        var charging = SessionMachine.Decide(Id, started, new AddMeterSamples([new MeterSample(T0.AddMinutes(30), 7_000)]), T0.AddMinutes(30), Rules).Next;
        Assert.Equal(T0.AddHours(1), SessionProjection.DueAt(charging, T0.AddMinutes(30), Rules)); // the hold's refresh point comes before the stop timeout
        var close = SessionMachine.Decide(Id, charging, new Tick(false), T0.AddHours(1), Rules);
        Assert.Equal(SessionState.Settling, close.Next.State);
        Assert.Equal("hold_expiring", close.RemoteStopReason);
        Assert.Equal(2_100, Assert.IsType<CaptureCall>(close.Call).Request.Amount); // 7 kWh at the last meter value
        Assert.True(close.ChargerSessionEnded);
    }

    [Fact]
    public void Refunds_reverse_the_splits_are_idempotent_by_key_and_never_exceed_the_capture()
    {
        var h = Charging();
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(30), null, [])));
        var refund = h.Run(new RequestRefund(1_000, "k1", "meter fault"));
        Assert.Null(refund.Refund); // the intent; the answer comes with the provider's
        Assert.True(h.Decisions.Last().Refund!.Succeeded);
        Assert.Equal(1_000, h.State.Refunded);
        Assert.Equal(1_000, h.Posted(JournalKind.RefundReversal));

        var replay = h.Run(new RequestRefund(1_000, "k1", "meter fault"));
        Assert.True(replay.Refund!.Succeeded);
        Assert.Equal(1, h.Provider.Executions("refund"));
        Assert.Equal("idempotency_key_reuse", h.Run(new RequestRefund(500, "k1", null)).Refund!.Error);
        Assert.Equal("refund_exceeds_captured", h.Run(new RequestRefund(2_001, "k2", null)).Refund!.Error);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void An_unanswered_refund_stays_pending_and_the_sweeper_finishes_it_with_the_same_key()
    {
        var h = Charging();
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(30), null, [])));
        h.Faults.Enqueue(Fault.AnswerLost);
        h.Run(new RequestRefund(1_000, "k1", null));
        Assert.Equal("provider_unavailable_retrying", h.Decisions.Last().Refund!.Error);
        Assert.NotNull(SessionProjection.DueAt(h.State, h.Now, Rules));
        h.Now = h.State.NextAttemptAt!.Value;
        h.Sweep();
        Assert.True(h.State.Refunds.Single().Done);
        Assert.Equal(1, h.Provider.Executions("refund"));
        Assert.Null(SessionProjection.DueAt(h.State, h.Now, Rules));
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_void_refused_for_an_unexpected_reason_needs_attention_and_posts_nothing()
    {
        var h = new SessionHarness();
        h.Run(new AuthorizeSession(Start()));
        h.Provider.Holds.Values.Single().Status = ProviderAuthorizationStatus.Captured; // someone else captured it
        h.Run(new CancelSession("driver_cancelled"));
        Assert.Equal(SessionState.NeedsAttention, h.State.State);
        Assert.Equal(SessionState.Voiding, h.State.AttentionStep);
        Assert.False(h.HasJournal(JournalKind.Void));
        Assert.NotNull(h.Decisions.Last().AttentionRaised);
    }

    [Fact]
    public void A_missing_provider_rejects_an_authorize_and_flags_a_capture()
    {
        var intent = SessionMachine.Decide(Id, new(), new AuthorizeSession(Start()), T0, Rules).Next;
        Assert.Equal(SessionState.Rejected, SessionMachine.Decide(Id, intent, new ProviderMissing(ProviderCallKind.Authorize), T0, Rules).Next.State);
        var h = Charging();
        h.Faults.Enqueue(Fault.Unanswered);
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(30), null, [])));
        var flagged = SessionMachine.Decide(Id, h.State, new ProviderMissing(ProviderCallKind.Capture), T0, Rules);
        Assert.Equal(SessionState.NeedsAttention, flagged.Next.State);
        Assert.Equal("unknown_provider", flagged.Next.AttentionReason);
    }

    /// <summary>
    /// Random charger, operator and sweeper commands with random provider faults (calls lost before or after they run),
    /// replays and clock jumps, against a provider with random capabilities (hold or deposit, incremental authorization
    /// granted or refused, payees paid at capture, in part, by payout or not at all, a KakaoPay-like provider that cannot
    /// resolve a lost saved-credential payment, hold lifetimes) and a one-time code or a saved credential; then a
    /// fault-free provider and the sweeper until the session rests. Whatever happened, per authorization: captured ≤
    /// authorized, each hold or deposit resolves once, splits (remitted or owed) sum to the capture, refunds ≤ capture, one
    /// capture at the provider, ledger and provider agree, and no hold is left open at the provider. Every authorize is
    /// sent under a key derived from the session with one body per key; a session rests in NeedsAttention only when the
    /// provider cannot tell what a lost saved-credential payment did.
    /// </summary>
    [Fact]
    public void Any_sequence_of_commands_faults_and_replays_keeps_the_money_invariants()
    {
        var step = Gen.Frequency(
            (3, Gen.Const(0)), // meter value
            (1, Gen.Const(1)), // stop
            (1, Gen.Const(2)), // repeat the last command
            (1, Gen.Const(3)), // sweep
            (1, Gen.Const(4)), // forced resume
            (1, Gen.Const(5)), // charger fee
            (1, Gen.Const(6)), // cancel
            (1, Gen.Const(7)), // refund
            (1, Gen.Const(8)));// start (again)
        var provider = Gen.Select(
            Gen.Bool, Gen.Int[0, 2], Gen.Int[0, 3], Gen.Bool, Gen.Int[0, 2], Gen.Bool,
            (deposit, incremental, payees, cannotResolve, lifetime, saved) => (deposit, incremental, payees, cannotResolve, lifetime, saved));
        var gen = Gen.Select(
            step.Array[1, 25],
            Gen.Int[0, 2].Array[30], // fault per provider call: none, unanswered, answer lost
            Gen.Int[0, 400].Array[25], // minutes between commands
            Gen.Bool, Gen.Bool, Gen.Long[1_000, 20_000], provider); // small holds: long charges (increments, rollovers) are common
        gen.Sample((steps, faults, gaps, declined, walletBusy, hold, p) =>
        {
            var h = new SessionHarness { WalletBusy = walletBusy };
            h.Provider.Decline = declined;
            h.Provider.Funds = p.deposit ? FundsModel.ApproveThenPartialCancel : FundsModel.Hold;
            (h.Provider.Incremental, h.Provider.RefuseIncrements) = (p.incremental > 0, p.incremental == 2);
            h.Provider.Payees = p.payees switch { 0 => PayeeSettlement.AtCapture, 1 => PayeeSettlement.ProviderPayout, _ => PayeeSettlement.OwnLedger };
            if (p.payees == 3) (h.Provider.Payees, _) = (PayeeSettlement.AtCapture, h.Provider.Unpayable.Add("cpo-1-settlement"));
            h.Provider.CannotResolveSaved = p.cannotResolve;
            h.Provider.HoldLifetime = p.lifetime switch { 0 => null, 1 => TimeSpan.FromHours(13), _ => TimeSpan.FromDays(7) };
            foreach (var f in faults) h.Faults.Enqueue((Fault)f);
            SessionCommand last = new AuthorizeSession(Start(hold, billingToken: p.saved ? "bk_1" : null), h.Route);
            h.Run(last);
            var wh = 1_000L;
            for (var i = 0; i < steps.Length; i++)
            {
                h.Now += TimeSpan.FromMinutes(gaps[i]);
                wh += gaps[i] * 20;
                SessionCommand command = steps[i] switch
                {
                    0 => new AddMeterSamples([new MeterSample(h.Now, wh)]),
                    1 => new StopCharging(new StopReport(wh, h.Now, null, [])),
                    2 => last,
                    3 => new Tick(false),
                    4 => new Tick(true),
                    5 => new ReportChargerFee(wh / 3),
                    6 => new CancelSession("driver_cancelled"),
                    7 => new RequestRefund(500, $"k{i % 3}", null),
                    _ => new StartCharging(7, 1_000, h.Now),
                };
                if (command is Tick t) h.Sweep(t.Force); else h.Run(command);
                last = command;
            }

            // Rest: the charger stops if it never did, the provider answers, the sweeper runs until nothing is due.
            h.Faults.Clear();
            h.Now += TimeSpan.FromMinutes(1);
            h.Run(new StopCharging(new StopReport(wh, h.Now, null, [])));
            for (var i = 0; i < 12 && !(h.State.IsTerminal && h.State.Refunds.All(r => r.Done)); i++)
            {
                h.Now += Rules.StartTimeout + Rules.WatchdogPeriod * SessionRules.AttentionPaceFactor;
                h.Sweep(force: true);
            }

            var unknown = h.State.State == SessionState.NeedsAttention && h.State.AttentionReason?.Contains("unknown") == true;
            Assert.True(h.State.IsTerminal || unknown && p.cannotResolve && p.saved, $"not at rest: {h.State.State} ({h.State.AttentionReason ?? h.State.Reason})");
            h.AssertMoneyInvariants();
            if (!unknown) Assert.DoesNotContain(h.Provider.Holds.Values, x => x.Status == ProviderAuthorizationStatus.Authorized);
            Assert.All(h.Calls.OfType<AuthorizeCall>().GroupBy(c => c.IdempotencyKey), g =>
            {
                Assert.Matches($"^{Id}:authorize(:[0-9]+)?$", g.Key);
                Assert.Single(g.Select(c => c.Request).Distinct()); // one body per key: a re-send is the same request
            });
            var booked = h.Ledger.Values.Where(j => j.Kind is JournalKind.Hold or JournalKind.Deposit).ToList();
            foreach (var scope in booked)
            {
                var resolutions = h.Ledger.Values.Count(j => j.SessionId == scope.SessionId && j.Kind is JournalKind.Capture or JournalKind.Void or JournalKind.Expire);
                // At rest every hold or deposit is resolved exactly once; one waiting on a person (unknown) may still be open.
                if (unknown && scope.SessionId == EvCharge.Domain.Journals.Scope(Id, h.State.PaymentNumber)) Assert.InRange(resolutions, 0, 1);
                else Assert.Equal(1, resolutions);
            }
        }, iter: 2_000);
    }
}
