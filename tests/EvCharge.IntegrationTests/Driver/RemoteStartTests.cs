using System.Net;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Silo.Driver;
using EvCharge.SocialSandbox;
using Microsoft.Extensions.DependencyInjection;
using static EvCharge.IntegrationTests.Bridge.Frames;
using AuthStatus = EvCharge.SocialSandbox.AuthorizationStatus;

namespace EvCharge.IntegrationTests.Driver;

/// <summary>
/// Scan &amp; Charge end to end below the browser: a charger on a real MQTT connection to the silo's embedded broker, the
/// sandbox wallet over real HTTP (checkout, the wallet's approval page, the redirect back to the silo). Every path must
/// leave no hold behind and settle once: the provider's hold is captured or voided, the ledger balances.
/// </summary>
public sealed class RemoteStartTests(DriverHost fx) : IClassFixture<DriverHost>
{
    private static DateTimeOffset Now => DateTimeOffset.UtcNow;

    private async Task<SessionView> Until(string sessionId, params SessionState[] states)
    {
        var view = await fx.WaitForSessionAsync(sessionId, states);
        Assert.True(states.Contains(view.State), $"session {sessionId} is {view.State} ({view.Reason}), expected {string.Join('/', states)}");
        return view;
    }

    /// <summary>The hold was resolved exactly once: one Hold journal and one capture or void, nothing left on the hold account.</summary>
    private async Task AssertResolvedOnce(string sessionId, AuthStatus expected)
    {
        var hold = fx.Hold(sessionId);
        Assert.Equal(expected, hold.Status);
        var entries = await fx.Ledger.GetSessionEntriesAsync(sessionId);
        Assert.Single(entries.Where(e => e.Kind == JournalKind.Hold).Select(e => e.JournalKey).Distinct());
        var resolution = expected == AuthStatus.Captured ? JournalKind.Capture : JournalKind.Void;
        Assert.Single(entries.Where(e => e.Kind == resolution).Select(e => e.JournalKey).Distinct());
        Assert.Equal(0, entries.Where(e => e.Account == Accounts.Hold(sessionId)).Sum(e => e.Amount));
        var report = await fx.Ledger.CheckInvariantsAsync();
        Assert.True(report.Ok, string.Join("; ", report.Violations.Select(v => $"{v.Rule} {v.SessionId} {v.Detail}")));
    }

    /// <summary>The charger gets the price for the driver, then RemoteStartTransaction with the authorization reference as idTag.</summary>
    private static async Task<ServerCalls.Call> RemoteStartArrives(Bridge.TestCharger charger, string sessionId, int connectorId = 1)
    {
        var price = await charger.ExpectAsync("DataTransfer", "SetUserPrice");
        Assert.Equal("org.openchargealliance.costmsg", price.Transfer.VendorId);
        Assert.Equal(sessionId, price.Transfer.Data.GetProperty("idToken").GetString());
        Assert.Contains("30,000원", price.Transfer.Data.GetProperty("priceText").GetString());
        await charger.AnswerAsync(price, new { status = "Accepted" });
        var start = await charger.ExpectAsync("RemoteStartTransaction");
        Assert.Equal(sessionId, start.Payload.GetProperty("idTag").GetString());
        Assert.Equal(connectorId, start.Payload.GetProperty("connectorId").GetInt32());
        return start;
    }

    private static async Task<int> StartTransaction(Bridge.TestCharger charger, string sessionId, DateTimeOffset at, long meterStart = 50_000)
    {
        var authorize = Result(await charger.CallAsync("Authorize", new { idTag = sessionId }));
        Assert.Equal("Accepted", authorize.GetProperty("idTagInfo").GetProperty("status").GetString());
        Result(await charger.CallAsync("StatusNotification", new { connectorId = 1, errorCode = "NoError", status = "Preparing" }));
        var started = Result(await charger.CallAsync("StartTransaction", new { connectorId = 1, idTag = sessionId, meterStart, timestamp = Timestamp(at) }));
        Assert.Equal("Accepted", started.GetProperty("idTagInfo").GetProperty("status").GetString());
        return started.GetProperty("transactionId").GetInt32();
    }

    private static object Meter(int connectorId, int transactionId, DateTimeOffset at, long wh) => new
    {
        connectorId, transactionId,
        meterValue = new[] { new { timestamp = Timestamp(at), sampledValue = new[] { new { value = wh.ToString(), measurand = "Energy.Active.Import.Register", unit = "Wh" } } } },
    };

    [Fact]
    public async Task Accepted_start_charges_and_the_drivers_stop_from_the_phone_settles_once_with_the_final_cost_on_the_display()
    {
        const string id = "CP-SC-OK";
        await fx.RegisterAsync(id);
        var charger = await fx.ConnectAsync(id);
        var session = await fx.ScanAndApproveAsync(id, 1, await fx.WalletAsync());

        var start = await RemoteStartArrives(charger, session);
        Assert.Equal(SessionState.Authorized, (await Until(session, SessionState.Authorized)).State);
        Assert.Equal(AuthStatus.Authorized, fx.Hold(session).Status);
        Assert.Equal(30_000, fx.Hold(session).Amount);
        await charger.AnswerAsync(start, new { status = "Accepted" });

        var t0 = Now;
        var tx = await StartTransaction(charger, session, t0);
        var first = (await charger.ExpectAsync("DataTransfer", "RunningCost")).Transfer.Data;
        Assert.Equal(0, first.GetProperty("cost").GetInt64());
        Result(await charger.CallAsync("MeterValues", Meter(1, tx, t0.AddMinutes(1), 53_000)));
        var running = (await charger.ExpectAsync("DataTransfer", "RunningCost")).Transfer.Data;
        Assert.Equal(900, running.GetProperty("cost").GetInt64()); // 3 kWh at 300 KRW/kWh
        Assert.Equal(53_000, running.GetProperty("meterValue").GetInt64());

        // The driver taps Stop on the phone: the page asks the charger grain to send RemoteStopTransaction.
        Assert.True(await fx.Grains.GetGrain<IChargerGrain>(id).RemoteStop(tx, "driver_stop"));
        var remoteStop = await charger.ExpectAsync("RemoteStopTransaction");
        Assert.Equal(tx, remoteStop.Payload.GetProperty("transactionId").GetInt32());
        await charger.AnswerAsync(remoteStop, new { status = "Accepted" });
        Result(await charger.CallAsync("StopTransaction", new { transactionId = tx, idTag = session, meterStop = 54_000, timestamp = Timestamp(t0.AddSeconds(80)), reason = "Remote" }));

        var final = (await charger.ExpectAsync("DataTransfer", "FinalCost")).Transfer.Data;
        Assert.Equal(tx, final.GetProperty("transactionId").GetInt32());
        Assert.Equal(1_200, final.GetProperty("cost").GetInt64());
        var receiptLink = new Uri(final.GetProperty("qrCodeText").GetString()!);
        Assert.Equal(new Uri(fx.BaseAddress, await fx.Links.PathFor(session)), receiptLink);

        var settled = await Until(session, SessionState.Settled);
        Assert.Equal(1_200, settled.Captured);
        await AssertResolvedOnce(session, AuthStatus.Captured);
        Assert.Equal(1_200, fx.Hold(session).Captured);

        // The receipt link from the charger's display opens the receipt.
        using var phone = new HttpClient();
        phone.DefaultRequestHeaders.AcceptLanguage.ParseAdd("en");
        var page = await phone.GetStringAsync(receiptLink);
        Assert.Contains("1,200 KRW", page);
        Assert.Contains("Supply value", page);
        Assert.Contains("109 KRW", page); // VAT = round(1,200 / 11)

        // The live stream of a finished charge sends the final figures once and ends.
        var stream = await phone.GetStringAsync(new Uri(receiptLink.AbsoluteUri + "/events"));
        Assert.StartsWith("event: charge", stream.TrimStart());
        Assert.Contains("\"phase\":\"Receipt\"", stream);
        Assert.Contains("\"finalCost\":1200", stream);
    }

    [Fact]
    public async Task A_charger_that_refuses_the_remote_start_gets_the_hold_voided_at_once()
    {
        const string id = "CP-SC-REFUSE";
        await fx.RegisterAsync(id);
        var charger = await fx.ConnectAsync(id);
        var session = await fx.ScanAndApproveAsync(id, 1, await fx.WalletAsync());
        var start = await RemoteStartArrives(charger, session);
        await charger.AnswerAsync(start, new { status = "Rejected" });

        var voided = await Until(session, SessionState.Voided);
        Assert.Equal("charger_refused", voided.Reason);
        await AssertResolvedOnce(session, AuthStatus.Voided);
        var view = await fx.Grains.GetGrain<IChargerGrain>(id).GetView();
        Assert.Null(view.Connectors[0].SessionId); // the connector is free again
        var live = await DriverExtensions.LoadAsync(session, fx.Grains, TimeProvider.System);
        Assert.Equal(DriverPhase.Ended, live.Phase);
        Assert.Equal("charger_refused", live.Reason);
    }

    [Fact]
    public async Task A_charger_that_was_never_online_is_refused_before_any_hold()
    {
        const string id = "CP-SC-OFF";
        await fx.RegisterAsync(id);
        var sessionId = DriverExtensions.NewSessionId();
        var page = await fx.Links.PathFor(sessionId);
        var view = await fx.Grains.GetGrain<IDriverChargeGrain>(sessionId).BeginCheckout(new DriverCheckoutRequest(
            id, 1, "kakaopay", new Uri(fx.BaseAddress, page + "/approved"), new Uri(fx.BaseAddress, page + "/cancelled"), null));
        Assert.Equal(DriverChargeStage.Failed, view.Stage);
        Assert.Equal("charger_offline", view.Reason);
        Assert.Null(view.ApprovalUrl);
        Assert.Empty(fx.Sandbox.Store.FindAuthorizations(sessionId, null));
        Assert.Equal(SessionState.Created, (await fx.Grains.GetGrain<IChargingSessionGrain>(sessionId).GetView()).State);
    }

    [Fact]
    public async Task A_charger_gone_silent_does_not_answer_and_the_hold_is_voided_when_the_answer_is_overdue()
    {
        const string id = "CP-SC-SILENT";
        await fx.RegisterAsync(id);
        var charger = await fx.ConnectAsync(id);
        await charger.Client.DisconnectAsync(new MQTTnet.MqttClientDisconnectOptionsBuilder().Build()); // gone, but it was seen a moment ago: the server still thinks it online
        var session = await fx.ScanAndApproveAsync(id, 1, await fx.WalletAsync());

        var voided = await Until(session, SessionState.Voided);
        Assert.Equal("charger_not_responding", voided.Reason);
        await AssertResolvedOnce(session, AuthStatus.Voided);
    }

    [Fact]
    public async Task A_car_never_plugged_in_times_out_the_voids_the_hold_and_a_late_start_is_refused()
    {
        const string id = "CP-SC-NOPLUG";
        await fx.RegisterAsync(id);
        var charger = await fx.ConnectAsync(id);
        var session = await fx.ScanAndApproveAsync(id, 1, await fx.WalletAsync());
        var start = await RemoteStartArrives(charger, session);
        await charger.AnswerAsync(start, new { status = "Accepted" });
        Assert.Equal(SessionState.Authorized, (await Until(session, SessionState.Authorized)).State);

        var voided = await Until(session, SessionState.Voided);
        Assert.Equal("start_timeout", voided.Reason);
        await AssertResolvedOnce(session, AuthStatus.Voided);

        // The cable goes in after all: the charger's StartTransaction with the stale idTag is refused, nothing is charged.
        var late = Result(await charger.CallAsync("StartTransaction", new { connectorId = 1, idTag = session, meterStart = 1_000, timestamp = Timestamp(Now) }));
        Assert.NotEqual("Accepted", late.GetProperty("idTagInfo").GetProperty("status").GetString());
        Assert.Equal(SessionState.Voided, (await fx.Grains.GetGrain<IChargingSessionGrain>(session).GetView()).State);
    }

    [Fact]
    public async Task A_charger_that_stops_on_its_own_settles_once()
    {
        const string id = "CP-SC-SELF";
        await fx.RegisterAsync(id);
        var charger = await fx.ConnectAsync(id);
        var session = await fx.ScanAndApproveAsync(id, 1, await fx.WalletAsync());
        var start = await RemoteStartArrives(charger, session);
        await charger.AnswerAsync(start, new { status = "Accepted" });
        var t0 = Now;
        var tx = await StartTransaction(charger, session, t0, meterStart: 10_000);
        await charger.ExpectAsync("DataTransfer", "RunningCost");
        Result(await charger.CallAsync("MeterValues", Meter(1, tx, t0.AddMinutes(2), 20_000)));
        await charger.ExpectAsync("DataTransfer", "RunningCost");
        Result(await charger.CallAsync("StopTransaction", new { transactionId = tx, meterStop = 21_000, timestamp = Timestamp(t0.AddMinutes(3)), reason = "EVDisconnected" }));
        Assert.Equal(3_300, (await charger.ExpectAsync("DataTransfer", "FinalCost")).Transfer.Data.GetProperty("cost").GetInt64());

        var settled = await Until(session, SessionState.Settled);
        Assert.Equal(3_300, settled.Captured);
        Assert.Equal(new ReceiptLines(3_300, 3_000, 300), settled.Receipt);
        await AssertResolvedOnce(session, AuthStatus.Captured);
    }

    [Fact]
    public async Task A_busy_connector_and_an_unknown_connector_are_refused_before_any_checkout()
    {
        const string id = "CP-SC-BUSY";
        await fx.RegisterAsync(id);
        var charger = await fx.ConnectAsync(id);
        Result(await charger.CallAsync("StatusNotification", new { connectorId = 2, errorCode = "NoError", status = "Charging" }));
        foreach (var (connector, reason) in new[] { (2, "connector_busy"), (3, "unknown_connector") })
        {
            var sessionId = DriverExtensions.NewSessionId();
            var view = await fx.Grains.GetGrain<IDriverChargeGrain>(sessionId).BeginCheckout(new DriverCheckoutRequest(
                id, connector, "kakaopay", new Uri(fx.BaseAddress, "/x"), new Uri(fx.BaseAddress, "/y"), null));
            Assert.Equal(DriverChargeStage.Failed, view.Stage);
            Assert.Equal(reason, view.Reason);
            Assert.Empty(fx.Sandbox.Store.FindAuthorizations(sessionId, null));
        }
        using var phone = new HttpClient();
        phone.DefaultRequestHeaders.AcceptLanguage.ParseAdd("en");
        Assert.Contains("In use", await phone.GetStringAsync(new Uri(fx.BaseAddress, $"/c/{id}/2")));
        Assert.Equal(HttpStatusCode.NotFound, (await phone.GetAsync(new Uri(fx.BaseAddress, $"/c/{id}/3"))).StatusCode);
    }

    [Fact]
    public async Task A_wallet_cancel_leaves_nothing_and_a_wrong_capability_token_reveals_nothing()
    {
        const string id = "CP-SC-CANCEL";
        await fx.RegisterAsync(id);
        await fx.ConnectAsync(id);
        var sessionId = DriverExtensions.NewSessionId();
        var page = await fx.Links.PathFor(sessionId);
        var checkout = await fx.Grains.GetGrain<IDriverChargeGrain>(sessionId).BeginCheckout(new DriverCheckoutRequest(
            id, 1, "kakaopay", new Uri(fx.BaseAddress, page + "/approved"), new Uri(fx.BaseAddress, page + "/cancelled"), null));
        using var phone = new HttpClient(new HttpClientHandler { AllowAutoRedirect = true });
        phone.DefaultRequestHeaders.AcceptLanguage.ParseAdd("en");
        var cancelled = await phone.PostAsync(checkout.ApprovalUrl, new FormUrlEncodedContent(new Dictionary<string, string> { ["action"] = "cancel" }));
        Assert.Contains("You cancelled the payment.", await cancelled.Content.ReadAsStringAsync());
        Assert.Equal(DriverChargeStage.Failed, (await fx.Grains.GetGrain<IDriverChargeGrain>(sessionId).GetView()).Stage);
        Assert.Empty(fx.Sandbox.Store.FindAuthorizations(sessionId, null));

        // Another token, the session id alone, or a token of another session: the same plain 404.
        var other = await fx.Links.TokenFor(DriverExtensions.NewSessionId());
        foreach (var path in new[] { $"/s/{sessionId}/{other}", $"/s/{sessionId}", $"/s/{sessionId}/{other}/events", $"/s/{sessionId}/{other}/approved?approval=1" })
            Assert.Equal(HttpStatusCode.NotFound, (await phone.GetAsync(new Uri(fx.BaseAddress, path))).StatusCode);
    }

    [Fact]
    public async Task Starting_is_rate_limited_per_connector_and_per_client_address()
    {
        const string id = "CP-SC-RATE";
        await fx.RegisterAsync(id);
        using var phone = new HttpClient();
        async Task<HttpStatusCode> StartAsync(int connector) =>
            (await phone.PostAsync(new Uri(fx.BaseAddress, $"/c/{id}/{connector}"), new FormUrlEncodedContent(new Dictionary<string, string> { ["provider"] = "kakaopay" }))).StatusCode;

        // Limits of this host: 2 per connector and 3 per address a minute. Posts without the page's anti-forgery token
        // are refused (400) by the page itself, after the limiter has counted them.
        Assert.Equal(HttpStatusCode.BadRequest, await StartAsync(1));
        Assert.Equal(HttpStatusCode.BadRequest, await StartAsync(1));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StartAsync(1)); // the connector's limit
        Assert.Equal(HttpStatusCode.TooManyRequests, await StartAsync(2)); // this address's limit, on a connector not asked before
        Assert.Equal(HttpStatusCode.OK, (await phone.GetAsync(new Uri(fx.BaseAddress, $"/c/{id}/2"))).StatusCode); // reading is never limited
    }
}
