using System.Text.Json;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ledger;
using EvCharge.Ocpp;
using EvCharge.Payments;
using Microsoft.Extensions.DependencyInjection;

namespace EvCharge.IntegrationTests.Core;

/// <summary>Issue 2: the eight-step flow in grains against the sandbox over real HTTP, ledger in SQLite.</summary>
public class CoreFlowTests(CoreCluster fx) : IClassFixture<CoreCluster>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 1, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Accepted_path_holds_charges_captures_splits_and_pushes_the_receipt()
    {
        var (cpoId, cpoPayee) = await fx.CreateCpoAsync("accepted");
        var charger = await fx.RegisterChargerAsync("CP-ACC-1", hold: 30_000, cpoId: cpoId);
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        await phone.ListenForReceiptsAsync();

        Assert.Equal(RegistrationStatus.Accepted, (await charger.Boot(new BootNotification("ACME", "DC100", "SN1", "1.0"))).Status);
        var auth = await charger.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));
        Assert.Equal(AuthorizationStatus.Accepted, auth.Status);
        Assert.InRange(auth.AuthorizationReference!.Length, 1, 20);
        Assert.Equal(30_000, auth.HoldAmount);
        Assert.Equal(70_000, (await phone.WalletAsync()).GetProperty("available").GetInt64()); // the hold is placed

        var start = await charger.StartTransaction(new StartTransaction(1, auth.AuthorizationReference, 1_000, T0, null));
        Assert.Equal(IdTagStatus.Accepted, start.IdTagInfo.Status);
        await charger.MeterValues(new MeterValues(1, start.TransactionId, [new MeterSample(T0.AddMinutes(10), 4_000), new MeterSample(T0.AddMinutes(20), 8_000)]));
        Assert.Equal(ConnectorStatus.Charging, (await charger.GetView()).Connectors[0].Status);

        // 12,345 Wh at 300 KRW/kWh = 3,703.5 -> 3,704 KRW; platform 10% = 370, CPO 3,334.
        await charger.ReportFee(new ChargerFeeReport(start.TransactionId, 3_704, 12_345));
        await charger.StopTransaction(new StopTransaction(start.TransactionId, auth.AuthorizationReference, 13_345, T0.AddMinutes(40), "Local", []));
        var session = await fx.WaitForSessionAsync(auth.SessionId!, SessionState.Settled);

        Assert.Equal(SessionState.Settled, session.State);
        Assert.Equal(3_704, session.Fee);
        Assert.Equal(3_704, session.Captured);
        Assert.False(session.FeeMismatch);
        Assert.Equal(3_334, session.Splits.Single(p => p.Role == PayeeRole.Cpo).Amount);
        Assert.Equal(370, session.Splits.Single(p => p.Role == PayeeRole.Platform).Amount);
        Assert.Equal(new ReceiptLines(3_704, 3_367, 337), session.Receipt);

        var receipt = await phone.NextReceiptAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(3_704, receipt.GetProperty("total").GetInt64());
        Assert.Equal(337, receipt.GetProperty("vat").GetInt64());
        Assert.Equal(3_367, receipt.GetProperty("supplyValue").GetInt64());
        Assert.Equal(12_345, receipt.GetProperty("energyWh").GetInt64());

        var wallet = await phone.WalletAsync();
        Assert.Equal(100_000 - 3_704, wallet.GetProperty("balance").GetInt64());
        Assert.Equal(wallet.GetProperty("balance").GetInt64(), wallet.GetProperty("available").GetInt64()); // the rest of the hold released
        Assert.Equal(3_334, fx.Sandbox.Store.Remittances(cpoPayee).Total);
        Assert.Equal(3_334, (await fx.Ledger.GetPayeeBalanceAsync(cpoPayee)).Net);

        var entries = await fx.Ledger.GetSessionEntriesAsync(auth.SessionId!);
        Assert.Equal(0, entries.Where(e => e.Account == Accounts.Hold(auth.SessionId!)).Sum(e => e.Amount));
        Assert.Equal(0, entries.Where(e => e.Account == Accounts.Clearing(auth.SessionId!)).Sum(e => e.Amount));
        var report = await fx.Ledger.CheckInvariantsAsync();
        Assert.True(report.Ok, string.Join("; ", report.Violations.Select(v => $"{v.Rule} {v.SessionId} {v.Detail}")));
        Assert.Equal(ConnectorStatus.Finishing, (await charger.GetView()).Connectors[0].Status);
    }

    [Theory]
    [InlineData("unknown")]
    [InlineData("used")]
    [InlineData("insufficient")]
    [InlineData("blocked")]
    public async Task Declined_payment_code_rejects_and_leaves_no_hold(string kind)
    {
        var charger = await fx.RegisterChargerAsync($"CP-DEC-{kind}", hold: 30_000);
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, kind == "insufficient" ? 10_000 : 100_000);
        var code = await phone.ShowPaymentCodeAsync();
        if (kind == "unknown") code = "999999999999999999";
        if (kind == "used")
        {
            var first = await charger.AuthorizePayment(2, new PaymentPresentation("kakaopay", code, null));
            Assert.Equal(AuthorizationStatus.Accepted, first.Status);
            await fx.Client.GetGrain<IChargingSessionGrain>(first.SessionId!).Cancel("test_cleanup");
        }
        if (kind == "blocked")
            (await new HttpClient { BaseAddress = fx.Sandbox.BaseAddress }.PostAsync($"/v1/wallets/{phone.WalletId}/block", null)).EnsureSuccessStatusCode();
        var before = (await phone.WalletAsync()).GetProperty("balance").GetInt64();

        var result = await charger.AuthorizePayment(1, new PaymentPresentation("kakaopay", code, null));

        Assert.Equal(AuthorizationStatus.Rejected, result.Status);
        var expected = kind switch { "unknown" => "unknown_code", "used" => "code_used", "insufficient" => "insufficient_funds", _ => "wallet_blocked" };
        Assert.Equal(expected, result.Reason);
        var connector = (await charger.GetView()).Connectors.Single(c => c.ConnectorId == 1);
        Assert.Null(connector.SessionId);
        Assert.Equal(ConnectorStatus.Available, connector.Status);
        var wallet = await phone.WalletAsync();
        Assert.Equal(0, wallet.GetProperty("held").GetInt64());
        Assert.Equal(before, wallet.GetProperty("balance").GetInt64());
        // The idTag a rejected charger might still try is refused.
        Assert.Equal(IdTagStatus.Invalid, (await charger.Authorize("EVNOTISSUED")).Status);
    }

    [Fact]
    public async Task Second_charger_is_refused_while_the_wallet_has_an_open_session_and_its_hold_is_voided()
    {
        var a = await fx.RegisterChargerAsync("CP-ONE-A");
        var b = await fx.RegisterChargerAsync("CP-ONE-B");
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 200_000);
        var first = await a.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));
        var second = await b.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));

        Assert.Equal(AuthorizationStatus.Accepted, first.Status);
        Assert.Equal(AuthorizationStatus.Rejected, second.Status);
        Assert.Equal("wallet_has_open_session", second.Reason);
        Assert.Equal(30_000, (await phone.WalletAsync()).GetProperty("held").GetInt64()); // only the first hold remains
        var secondSession = await fx.Client.GetGrain<IChargingSessionGrain>(second.SessionId ?? "none").GetView();
        await fx.Client.GetGrain<IChargingSessionGrain>(first.SessionId!).Cancel("test_cleanup");
        Assert.Equal(0, (await phone.WalletAsync()).GetProperty("held").GetInt64());
    }

    [Fact]
    public async Task A_wallet_grain_that_forgot_its_claim_is_overruled_by_the_live_session_rows()
    {
        var a = await fx.RegisterChargerAsync("CP-FORGET-A");
        var b = await fx.RegisterChargerAsync("CP-FORGET-B");
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 200_000);
        var first = await a.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));
        Assert.Equal(AuthorizationStatus.Accepted, first.Status);
        // Every idle activation goes (the wallet grain with the claim it granted in memory), as after a long charge.
        await fx.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

        var second = await b.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));
        Assert.Equal(AuthorizationStatus.Rejected, second.Status);
        Assert.Equal("wallet_has_open_session", second.Reason); // the unique index on live wallets decided
        var secondHold = fx.Sandbox.Store.FindAuthorizations(null, null).Single(x => x.MerchantReference == "CP-FORGET-B");
        var refused = await fx.WaitForSessionAsync(secondHold.OrderId, SessionState.Voided);
        Assert.Equal(SessionState.Voided, refused.State);
        Assert.Equal("wallet_has_open_session", refused.Reason);
        Assert.Equal(30_000, (await phone.WalletAsync()).GetProperty("held").GetInt64()); // the second hold is gone again
        Assert.Equal(SessionState.Authorized, (await fx.Client.GetGrain<IChargingSessionGrain>(first.SessionId!).GetView()).State);
        await fx.Client.GetGrain<IChargingSessionGrain>(first.SessionId!).Cancel("test_cleanup");
    }

    [Fact]
    public async Task Charger_reported_fee_that_differs_is_recorded_and_the_servers_fee_is_charged()
    {
        var charger = await fx.RegisterChargerAsync("CP-MISMATCH");
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        var auth = await charger.AuthorizePayment(1, new PaymentPresentation("naverpay", await phone.ShowPaymentCodeAsync(), null));
        var start = await charger.StartTransaction(new StartTransaction(1, auth.AuthorizationReference!, 0, T0, null));
        await charger.StopTransaction(new StopTransaction(start.TransactionId, null, 10_000, T0.AddMinutes(30), null, []));
        await charger.ReportFee(new ChargerFeeReport(start.TransactionId, 3_500, 10_000)); // the charger thinks 350/kWh

        var session = await fx.WaitForSessionAsync(auth.SessionId!, SessionState.Settled);
        Assert.Equal(3_000, session.Fee);
        Assert.Equal(3_000, session.Captured);
        Assert.Equal(3_500, session.ChargerReportedFee);
        Assert.True(session.FeeMismatch);
        Assert.Equal(100_000 - 3_000, (await phone.WalletAsync()).GetProperty("balance").GetInt64());
    }

    [Fact]
    public async Task Replaying_every_payment_call_with_its_idempotency_key_changes_nothing()
    {
        var (cpoId, cpoPayee) = await fx.CreateCpoAsync("replay");
        var charger = await fx.RegisterChargerAsync("CP-REPLAY", cpoId: cpoId);
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        var code = await phone.ShowPaymentCodeAsync();
        var auth = await charger.AuthorizePayment(1, new PaymentPresentation("kakaopay", code, null));
        var sid = auth.SessionId!;
        var start = await charger.StartTransaction(new StartTransaction(1, sid, 500, T0, null));
        await charger.StopTransaction(new StopTransaction(start.TransactionId, sid, 7_500, T0.AddMinutes(25), null, []));
        var settled = await fx.WaitForSessionAsync(sid, SessionState.Settled);
        Assert.Equal(SessionState.Settled, settled.State);

        var gateway = fx.Cluster.Silos[0].ServiceProvider.GetRequiredService<IPaymentGateway>();
        var walletBefore = (await phone.WalletAsync()).GetProperty("balance").GetInt64();
        var entriesBefore = (await fx.Ledger.GetSessionEntriesAsync(sid)).Count;

        var replayAuth = await gateway.AuthorizeAsync(new AuthorizeRequest("kakaopay", code, null, 30_000, sid, "CP-REPLAY"), $"{sid}:authorize");
        Assert.True(replayAuth.Approved);
        Assert.Equal(settled.AuthorizationId, replayAuth.AuthorizationId); // the first answer, not a second hold

        var receipt = settled.Receipt!;
        var replayCapture = await gateway.CaptureAsync(new CaptureRequest(settled.AuthorizationId!, settled.Captured, settled.Splits,
            new ReceiptDetails("CP-REPLAY", 1, sid, settled.EnergyWh, settled.StartedAt!.Value, settled.StoppedAt!.Value, receipt.Total, receipt.SupplyValue, receipt.Vat)), $"{sid}:capture");
        Assert.True(replayCapture.Succeeded);
        Assert.Equal(settled.PaymentId, replayCapture.PaymentId);

        // The same key with a different body is refused, not executed.
        var misuse = await gateway.AuthorizeAsync(new AuthorizeRequest("kakaopay", code, null, 45_000, sid, "CP-REPLAY"), $"{sid}:authorize");
        Assert.False(misuse.Approved);
        Assert.Equal("idempotency_key_reuse", misuse.DeclineCode);

        // Replayed charger messages and a resumed session change nothing either.
        await charger.StopTransaction(new StopTransaction(start.TransactionId, sid, 7_500, T0.AddMinutes(25), null, []));
        Assert.Equal(start.TransactionId, (await charger.StartTransaction(new StartTransaction(1, sid, 500, T0, null))).TransactionId);
        await fx.Client.GetGrain<IChargingSessionGrain>(sid).Resume();

        Assert.Equal(walletBefore, (await phone.WalletAsync()).GetProperty("balance").GetInt64());
        Assert.Equal(entriesBefore, (await fx.Ledger.GetSessionEntriesAsync(sid)).Count);
        Assert.Equal(settled.Splits.Single(p => p.Role == PayeeRole.Cpo).Amount, fx.Sandbox.Store.Remittances(cpoPayee).Total);
        Assert.Equal(1, fx.Sandbox.Store.FindAuthorizations(sid, null).Count);
    }

    [Fact]
    public async Task Unused_hold_is_voided_by_the_start_timeout()
    {
        var charger = await fx.RegisterChargerAsync("CP-NOSTART");
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        var auth = await charger.AuthorizePayment(1, new PaymentPresentation("tosspay", await phone.ShowPaymentCodeAsync(), null));
        Assert.Equal(AuthorizationStatus.Accepted, auth.Status);

        var session = await fx.WaitForSessionAsync(auth.SessionId!, SessionState.Voided);
        Assert.Equal(SessionState.Voided, session.State);
        Assert.Equal("start_timeout", session.Reason);
        Assert.Equal(0, (await phone.WalletAsync()).GetProperty("held").GetInt64());
        // A late StartTransaction is refused (but still given a transaction id, as OCPP requires).
        var late = await charger.StartTransaction(new StartTransaction(1, auth.AuthorizationReference!, 0, T0, null));
        Assert.NotEqual(IdTagStatus.Accepted, late.IdTagInfo.Status);
        Assert.True(late.TransactionId > 0);
    }

    [Fact]
    public async Task Lost_stop_is_closed_from_the_last_meter_value_and_a_late_stop_charges_nothing_more()
    {
        var charger = await fx.RegisterChargerAsync("CP-LOSTSTOP");
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        var auth = await charger.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));
        var start = await charger.StartTransaction(new StartTransaction(1, auth.AuthorizationReference!, 0, T0, null));
        await charger.MeterValues(new MeterValues(1, start.TransactionId, [new MeterSample(T0.AddMinutes(15), 5_000)]));

        var session = await fx.WaitForSessionAsync(auth.SessionId!, SessionState.Settled);
        Assert.Equal(SessionState.Settled, session.State);
        Assert.Equal(1_500, session.Captured); // 5 kWh x 300
        await charger.StopTransaction(new StopTransaction(start.TransactionId, null, 9_000, T0.AddMinutes(30), null, []));
        await Task.Delay(500);
        var after = await fx.Client.GetGrain<IChargingSessionGrain>(auth.SessionId!).GetView();
        Assert.Equal(1_500, after.Captured);
        Assert.Equal(100_000 - 1_500, (await phone.WalletAsync()).GetProperty("balance").GetInt64());
    }
}
