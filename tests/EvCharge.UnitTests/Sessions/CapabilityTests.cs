using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Sessions;
using static EvCharge.UnitTests.Sessions.SessionHarness;

namespace EvCharge.UnitTests.Sessions;

/// <summary>
/// Issue 16: what each provider capability changes in the session. Deposit providers (Toss Payments, KakaoPay) charge
/// and cancel the difference; payees are paid at capture, by payout, or from the ledger; long charges raise the hold or
/// roll over to a new one. One transition at a time against the provider model.
/// </summary>
public sealed class CapabilityTests
{
    private static readonly StopReport Stop11Kwh = new(12_000, T0.AddMinutes(30), "EVDisconnected", []); // 11 kWh from 1,000 Wh: 3,300 KRW

    private static SessionHarness Charging(Action<ProviderModel> provider, long hold = 30_000, string? billingToken = null, long chargeLimit = 0)
    {
        var h = new SessionHarness();
        provider(h.Provider);
        h.Authorize(Start(hold, billingToken: billingToken, chargeLimit: chargeLimit));
        h.Run(new StartCharging(7, 1_000, T0));
        return h;
    }

    /// <summary>A meter value <paramref name="minutes"/> after the start with the register at <paramref name="wh"/>.</summary>
    private static SessionDecision Meter(SessionHarness h, int minutes, long wh)
    {
        h.Now = T0.AddMinutes(minutes);
        return h.Run(new AddMeterSamples([new MeterSample(h.Now, wh)]));
    }

    [Fact]
    public void A_deposit_provider_charges_the_deposit_and_cancels_the_difference_and_the_ledger_says_so()
    {
        var h = Charging(p => p.Funds = FundsModel.ApproveThenPartialCancel);
        Assert.Equal(30_000, h.Posted(JournalKind.Deposit));
        Assert.False(h.HasJournal(JournalKind.Hold));
        Assert.Equal(30_000, h.Provider.Holds.Values.Single().Charged); // the money moved at authorization

        h.Run(new StopCharging(Stop11Kwh));
        Assert.Equal(SessionState.Settled, h.State.State);
        var capture = Assert.IsType<CaptureCall>(h.Calls.Last()); // the same port call: the adapter cancels the difference
        Assert.Equal(($"{Id}:capture", 3_300L), (capture.IdempotencyKey, capture.Request.Amount));
        Assert.Equal(30_000 - 3_300, h.Posted(JournalKind.PartialCancel));
        Assert.False(h.HasJournal(JournalKind.Release));
        Assert.Equal(3_300, h.Provider.Holds.Values.Single().Charged);
        var payment = Assert.Single(SessionProjection.View(Id, h.State).Payments);
        Assert.Equal(new SessionPayment(Id, "auth_1", "deposit", 30_000, 3_300, 26_700, "pay_auth_1", "captured"), payment);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_deposit_with_nothing_billable_is_cancelled_in_full_by_a_void()
    {
        var h = Charging(p => p.Funds = FundsModel.ApproveThenPartialCancel);
        h.Run(new StopCharging(new StopReport(1_000, T0.AddMinutes(1), null, []))); // no energy: a zero fee
        Assert.Equal(SessionState.Voided, h.State.State);
        Assert.IsType<VoidCall>(h.Calls.Last());
        Assert.Equal(30_000, h.Posted(JournalKind.Void));
        Assert.Equal(0, h.Provider.Holds.Values.Single().Charged);
        Assert.Equal("voided", Assert.Single(SessionProjection.View(Id, h.State).Payments).Status);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_provider_that_cannot_pay_payees_leaves_every_part_owed_from_the_ledger_and_a_refund_comes_off_it()
    {
        var h = Charging(p => (p.Funds, p.Payees) = (FundsModel.ApproveThenPartialCancel, PayeeSettlement.OwnLedger));
        h.Run(new StopCharging(Stop11Kwh));
        Assert.False(h.HasJournal(JournalKind.Remit));
        Assert.Equal(3_300, h.Posted(JournalKind.Payable));
        Assert.Equal(h.State.Splits, h.State.Owed);
        var payable = h.Ledger.Values.Single(j => j.Key == $"{Id}:payable:cpo-1-settlement");
        Assert.Contains(payable.Lines, l => l.Account == Accounts.Payable("cpo-1-settlement") && l.Amount == 2_970);

        h.Run(new RequestRefund(1_000, "k1", "meter fault"));
        var reversals = h.Ledger.Values.Where(j => j.Kind == JournalKind.RefundReversal).ToList();
        Assert.Equal(1_000, reversals.Sum(j => j.Total));
        Assert.All(reversals, j => Assert.Contains(j.Lines, l => l.Account.StartsWith("payable:", StringComparison.Ordinal) && l.Amount < 0));
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void Parts_missing_from_the_remittances_are_owed_and_the_rest_remitted()
    {
        // Stripe without a connected account for this CPO: the CPO's part stays in the platform balance.
        var h = Charging(p => p.Unpayable.Add("cpo-1-settlement"));
        h.Run(new StopCharging(Stop11Kwh));
        Assert.Equal(2_970, h.Posted(JournalKind.Payable));
        Assert.Equal(330, h.Posted(JournalKind.Remit));
        Assert.Equal("cpo-1-settlement", Assert.Single(h.State.Owed).PayeeAccount);

        h.Run(new RequestRefund(1_000, "k1", null));
        var cpo = h.Ledger.Values.Single(j => j.Key == $"{Id}:refund:r1:cpo-1-settlement");
        var platform = h.Ledger.Values.Single(j => j.Key == $"{Id}:refund:r1:platform-operator");
        Assert.Contains(cpo.Lines, l => l.Account == Accounts.Payable("cpo-1-settlement")); // owed: comes off what is owed
        Assert.Contains(platform.Lines, l => l.Account == Accounts.Payee("platform-operator")); // remitted: reversed by the provider
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void After_a_payout_that_cannot_be_clawed_back_a_refund_is_settled_with_the_CPO_from_the_ledger()
    {
        var h = Charging(p => (p.Funds, p.Payees) = (FundsModel.ApproveThenPartialCancel, PayeeSettlement.ProviderPayout));
        h.Run(new StopCharging(Stop11Kwh));
        Assert.Equal(3_300, h.Posted(JournalKind.Remit)); // Toss paid the CPO out and kept the platform's part
        h.Run(new RequestRefund(3_300, "all", null));
        var cpo = h.Ledger.Values.Single(j => j.Key == $"{Id}:refund:r1:cpo-1-settlement");
        Assert.Contains(cpo.Lines, l => l.Account == Accounts.Payable("cpo-1-settlement") && l.Amount == -2_970); // the CPO now owes it
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_long_charge_raises_its_hold_where_the_provider_can_instead_of_stopping()
    {
        var h = Charging(p => p.Incremental = true, hold: 3_000);
        var near = Meter(h, 20, 10_700); // 9.7 kWh = 2,910 KRW ≥ 95 % of 3,000
        Assert.False(near.Progress!.HoldReached); // the charger is not stopped
        Assert.Null(h.State.Extension);
        var increment = Assert.IsType<IncrementCall>(h.Calls.Last());
        Assert.Equal(($"{Id}:increment:1", 6_000L), (increment.IdempotencyKey, increment.Request.NewAmount));
        Assert.Equal(6_000, h.State.Authorized);
        Assert.Equal(3_000, h.Posted(JournalKind.HoldIncrement));

        var again = Meter(h, 40, 20_500); // 19.5 kWh = 5,850 KRW: the next increment
        Assert.False(again.Progress!.HoldReached);
        Assert.Equal(($"{Id}:increment:2", 9_000L), (((IncrementCall)h.Calls.Last()).IdempotencyKey, h.State.Authorized));

        h.Run(new StopCharging(new StopReport(24_000, T0.AddMinutes(50), null, []))); // 23 kWh = 6,900
        Assert.Equal(SessionState.Settled, h.State.State);
        Assert.Equal(6_900, h.State.Captured);
        Assert.Equal(9_000 - 6_900, h.Posted(JournalKind.Release));
        Assert.Equal(new SessionPayment(Id, "auth_1", "hold", 9_000, 6_900, 2_100, "pay_auth_1", "captured"), Assert.Single(SessionProjection.View(Id, h.State).Payments));
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_refused_increment_with_a_one_time_code_stops_the_charge_at_the_hold()
    {
        var h = Charging(p => (p.Incremental, p.RefuseIncrements) = (true, true), hold: 3_000);
        var near = Meter(h, 20, 10_700);
        Assert.False(near.Progress!.HoldReached); // the increment was tried first...
        Assert.True(h.State.RemoteStopRequested); // ...and refused: the charger is told to stop, as without increments
        Assert.Equal("hold_reached", h.Decisions.Last().RemoteStopReason);
        Assert.Equal(3_000, h.State.Authorized);
        Assert.False(h.HasJournal(JournalKind.HoldIncrement));
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(22), null, [])));
        Assert.Equal(3_000, h.State.Captured);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_refused_increment_with_a_saved_credential_rolls_over_to_a_new_authorization()
    {
        var h = Charging(p => (p.Incremental, p.RefuseIncrements) = (true, true), hold: 3_000, billingToken: "cus_1:pm_1");
        var near = Meter(h, 20, 10_700); // 2,910 KRW on the first hold
        Assert.False(near.Progress!.HoldReached);
        Assert.False(h.State.RemoteStopRequested);
        var calls = h.Calls.Skip(1).ToList(); // after the first authorize
        Assert.Equal($"{Id}:increment:1", Assert.IsType<IncrementCall>(calls[0]).IdempotencyKey);
        var rollover = Assert.IsType<AuthorizeCall>(calls[1]);
        Assert.Equal(($"{Id}:authorize:1", $"{Id}-r1", "cus_1:pm_1", 3_000L),
            (rollover.IdempotencyKey, rollover.Request.OrderId, rollover.Request.BillingToken, rollover.Request.Amount));
        Assert.False(rollover.ClaimWallet);
        var closing = Assert.IsType<CaptureCall>(calls[2]); // the previous authorization captured once the new one stands
        Assert.Equal(($"{Id}:capture:1", "auth_1", 2_910L), (closing.IdempotencyKey, closing.Request.AuthorizationId, closing.Request.Amount));
        Assert.Equal(("auth_2", 1), (h.State.AuthorizationId, h.State.PaymentNumber));
        Assert.Equal(2_910, h.State.Captured);

        h.Run(new StopCharging(new StopReport(15_000, T0.AddMinutes(30), null, []))); // 14 kWh = 4,200 in all
        Assert.Equal(SessionState.Settled, h.State.State);
        var final = Assert.IsType<CaptureCall>(h.Calls.Last());
        Assert.Equal(($"{Id}:capture", "auth_2", 1_290L), (final.IdempotencyKey, final.Request.AuthorizationId, final.Request.Amount));
        Assert.Equal(4_200, h.State.Captured);
        var view = SessionProjection.View(Id, h.State);
        Assert.Equal([("auth_1", $"{Id}", 2_910L, "captured"), ("auth_2", $"{Id}-r1", 1_290L, "captured")],
            view.Payments.Select(p => (p.AuthorizationId, p.OrderId, p.Captured, p.Status)).ToList());
        Assert.Equal(new ReceiptLines(4_200, 3_818, 382), view.Receipt); // one receipt for the whole fee
        Assert.Equal(4_200, view.Splits.Sum(p => p.Amount));
        // Each authorization is its own ledger scope: booked once, resolved once.
        Assert.Equal([Id, $"{Id}-r1"], h.Ledger.Values.Where(j => j.Kind == JournalKind.Capture).Select(j => j.SessionId).Order().ToList());
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_deposit_provider_with_a_saved_credential_rolls_over_a_long_charge()
    {
        var h = Charging(p => (p.Funds, p.Payees) = (FundsModel.ApproveThenPartialCancel, PayeeSettlement.OwnLedger), hold: 3_000, billingToken: "user-1:SID1");
        Meter(h, 20, 10_700);
        Assert.Equal(2, h.Provider.Holds.Count);
        Assert.Equal(2, h.Ledger.Values.Count(j => j.Kind == JournalKind.Deposit));
        Assert.Equal(90, h.Posted(JournalKind.PartialCancel)); // the first deposit: 2,910 kept, 90 cancelled
        h.Run(new StopCharging(new StopReport(12_000, T0.AddMinutes(25), null, []))); // 11 kWh = 3,300
        Assert.Equal(3_300, h.State.Captured);
        Assert.Equal(3_300, h.Provider.Holds.Values.Sum(x => x.Charged)); // what the card was charged, net of cancels
        Assert.All(SessionProjection.View(Id, h.State).Payments, p => Assert.Equal("deposit", p.Funds));
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_declined_rollover_leaves_the_charge_on_its_hold_and_stops_the_charger()
    {
        var h = Charging(_ => { }, hold: 3_000, billingToken: "bk_1");
        h.Provider.Decline = true;
        var near = Meter(h, 20, 10_700);
        Assert.False(near.Progress!.HoldReached);
        Assert.Equal("hold_reached", h.Decisions.Last().RemoteStopReason); // declined: stopped as without a saved credential
        Assert.Single(h.Provider.Holds);
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(21), null, [])));
        Assert.Equal((SessionState.Settled, 3_000L), (h.State.State, h.State.Captured));
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_rollover_whose_answer_was_lost_stops_the_charger_and_is_resolved_before_settling()
    {
        var h = Charging(_ => { }, hold: 3_000, billingToken: "bk_1");
        h.Faults.Enqueue(Fault.AnswerLost); // the new hold is placed, its answer lost
        Meter(h, 20, 10_700);
        Assert.Equal("hold_reached", h.Decisions.Last().RemoteStopReason); // not known to stand: the charge must not run on
        Assert.NotNull(h.State.Extension);
        Assert.NotNull(SessionProjection.DueAt(h.State, h.Now, Rules));

        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(21), null, [])));
        // Resolved under the same key (found), booked, the first authorization captured, the rest settled on the second.
        Assert.Equal(SessionState.Settled, h.State.State);
        Assert.Contains(h.Calls, c => c is ResolveAuthorizeCall { IdempotencyKey: $"{Id}:authorize:1" });
        Assert.Equal(1, h.Provider.Executions("authorize") - 1);
        Assert.Equal(3_000, h.State.Captured);
        Assert.Equal(2_910, h.Provider.Holds["auth_1"].Captured);
        Assert.Equal(90, h.Provider.Holds["auth_2"].Captured);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_rollover_that_stays_unknown_needs_attention_once_stopped_and_is_never_authorized_anew()
    {
        var h = Charging(p => (p.Funds, p.CannotResolveSaved) = (FundsModel.ApproveThenPartialCancel, true), hold: 3_000, billingToken: "user-1:SID1");
        h.Faults.Enqueue(Fault.AnswerLost);
        Meter(h, 20, 10_700);
        Assert.Equal("hold_reached", h.Decisions.Last().RemoteStopReason);
        h.Run(new StopCharging(new StopReport(11_000, T0.AddMinutes(21), null, [])));
        Assert.Equal(SessionState.NeedsAttention, h.State.State);
        Assert.StartsWith("rollover_authorization_unknown", h.State.AttentionReason);
        h.Now += Rules.WatchdogPeriod * SessionRules.AttentionPaceFactor;
        h.Sweep(force: true);
        Assert.Equal(2, h.Calls.OfType<AuthorizeCall>().Count()); // the first, and the rollover sent once
        Assert.Equal(SessionState.NeedsAttention, h.State.State);
    }

    [Fact]
    public void A_hold_about_to_expire_rolls_over_with_a_saved_credential_instead_of_an_early_capture()
    {
        var h = new SessionHarness();
        h.Provider.HoldLifetime = TimeSpan.FromHours(13);
        h.Authorize(Start(billingToken: "bk_1"));
        h.Run(new StartCharging(3, 0, T0));
        Meter(h, 30, 7_000);
        h.Now = T0.AddHours(1); // 12 hours before the hold expires
        h.Sweep();
        Assert.Equal(SessionState.Charging, h.State.State); // the charge goes on
        Assert.Null(h.Decisions.FirstOrDefault(d => d.RemoteStopReason is not null));
        Assert.Equal(2_100, h.Provider.Holds["auth_1"].Captured); // 7 kWh captured on the expiring hold
        Assert.Equal(T0.AddHours(14), h.State.HoldExpiresAt); // the new one's own expiry
        h.Now = T0.AddHours(2);
        h.Run(new StopCharging(new StopReport(10_000, h.Now, null, [])));
        Assert.Equal((SessionState.Settled, 3_000L), (h.State.State, h.State.Captured));
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void Extensions_stop_at_the_bindings_per_charge_limit()
    {
        var h = Charging(p => p.Incremental = true, hold: 3_000, chargeLimit: 4_500);
        Meter(h, 20, 10_700);
        Assert.Equal(4_500, h.State.Authorized); // raised only up to the limit
        var stop = Meter(h, 30, 15_500); // 14.5 kWh = 4,350 ≥ 95 % of 4,500: no room left
        Assert.True(stop.Progress!.HoldReached);
        Assert.Single(h.Calls.OfType<IncrementCall>());
    }

    [Fact]
    public void A_refund_of_a_rolled_over_charge_goes_back_through_one_payment()
    {
        var h = Charging(_ => { }, hold: 3_000, billingToken: "bk_1");
        Meter(h, 20, 10_700);
        h.Run(new StopCharging(new StopReport(15_000, T0.AddMinutes(30), null, []))); // 2,910 + 1,290
        Assert.Equal("refund_exceeds_single_payment", h.Run(new RequestRefund(3_000, "big", null)).Refund!.Error);
        h.Run(new RequestRefund(1_000, "k1", null)); // fits the latest payment
        var refund = Assert.IsType<RefundCall>(h.Calls.Last());
        Assert.Equal("pay_auth_2", refund.Request.PaymentId);
        h.Run(new RequestRefund(2_000, "k2", null)); // only the first payment has room for it
        Assert.Equal("pay_auth_1", ((RefundCall)h.Calls.Last()).Request.PaymentId);
        Assert.Equal(3_000, h.State.Refunded);
        Assert.Equal([$"{Id}-r1", Id], h.Ledger.Values.Where(j => j.Kind == JournalKind.Refund).Select(j => j.SessionId).ToList());
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void A_lost_refund_of_an_earlier_payment_is_sent_again_when_the_last_authorization_was_voided()
    {
        var h = Charging(_ => { }, hold: 3_000, billingToken: "bk_1");
        Meter(h, 20, 10_700); // the first authorization captured at 2,910, a second one stands
        h.Run(new StopCharging(new StopReport(10_700, T0.AddMinutes(21), null, []))); // nothing more: the second is voided
        Assert.Equal((SessionState.Settled, 2_910L, null), (h.State.State, h.State.Captured, h.State.PaymentId));
        h.Faults.Enqueue(Fault.AnswerLost); // the provider refunds, the answer is lost
        h.Run(new RequestRefund(500, "k1", null));
        Assert.Equal("provider_unavailable_retrying", h.Decisions.Last().Refund!.Error);
        Assert.NotNull(SessionProjection.DueAt(h.State, h.Now, Rules));

        h.Now += Rules.WatchdogPeriod * 10;
        h.Sweep();
        var refunds = h.Calls.OfType<RefundCall>().ToList();
        Assert.Equal(2, refunds.Count); // sent again under the same key: the provider replays its answer
        Assert.Equal(("pay_auth_1", $"{Id}:refund:r1"), (refunds[1].Request.PaymentId, refunds[1].IdempotencyKey));
        Assert.True(h.State.Refunds.Single().Done);
        Assert.Equal((500L, 500L), (h.Provider.Holds["auth_1"].Refunded, h.Posted(JournalKind.Refund)));
        Assert.Null(SessionProjection.DueAt(h.State, h.Now, Rules));
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void While_the_previous_authorization_is_still_being_captured_the_charge_stops_at_the_new_hold()
    {
        var h = Charging(_ => { }, hold: 3_000, billingToken: "bk_1");
        h.Faults.Enqueue(Fault.None);       // the rollover's authorization stands
        h.Faults.Enqueue(Fault.Unanswered); // the capture of the first gets no answer
        Assert.False(Meter(h, 20, 10_700).Progress!.HoldReached); // the new hold stands: no reason to stop
        Assert.Equal(HoldExtensionKind.ClosePrevious, h.State.Extension!.Kind);
        Assert.False(Meter(h, 30, 18_000).Progress!.HoldReached); // 5,100 less the 2,910 being captured: within the new hold
        Assert.True(Meter(h, 40, 21_000).Progress!.HoldReached);  // 6,000 − 2,910 ≥ 95 % of 3,000: no further extension
        h.Run(new StopCharging(new StopReport(21_000, T0.AddMinutes(41), null, [])));
        Assert.Equal((SessionState.Settled, 5_910L), (h.State.State, h.State.Captured)); // 2,910 + the new hold's 3,000
        Assert.Equal("fee_exceeded_hold_by_90", h.State.Reason);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void An_unanswered_increment_stops_the_charger_and_is_sent_again_under_its_key_before_the_capture()
    {
        var h = Charging(p => p.Incremental = true, hold: 3_000);
        h.Faults.Enqueue(Fault.AnswerLost); // raised at the provider, the answer lost
        Meter(h, 20, 10_700);
        Assert.Equal("hold_reached", h.Decisions.Last().RemoteStopReason);
        Assert.Equal(3_000, h.State.Authorized);
        h.Run(new StopCharging(new StopReport(12_000, T0.AddMinutes(22), null, []))); // 3,300 > the old hold
        Assert.Equal(2, h.Calls.OfType<IncrementCall>().Count(c => c.IdempotencyKey == $"{Id}:increment:1"));
        Assert.Equal((6_000L, 3_300L), (h.State.Authorized, h.State.Captured)); // the raise was booked before the capture
        h.AssertMoneyInvariants();
    }
}
