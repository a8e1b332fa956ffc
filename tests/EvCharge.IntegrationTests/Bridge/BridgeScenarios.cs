using System.Text.Json;
using EvCharge.ChargerBridge.Mqtt;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using MQTTnet;
using MQTTnet.Protocol;
using static EvCharge.IntegrationTests.Bridge.Frames;

namespace EvCharge.IntegrationTests.Bridge;

/// <summary>
/// Issue 3's required tests, run once per transport and broker (MQTT with the embedded MQTTnet broker, routed and
/// in-process, and Mosquitto; OCPP-J over WebSocket): real connections from simulated chargers, the bridge, the
/// grains, the sandbox wallet over HTTP and the SQLite ledger.
/// </summary>
public abstract class BridgeScenarios<TFixture>(TFixture fx) where TFixture : BridgeFixture
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 1, 0, 0, TimeSpan.Zero);
    protected TFixture Fx => fx;
    protected abstract string Prefix { get; }

    private string Id(string name) => $"{Prefix}-{name}";

    private static object PaymentAuthorize(string code, int connectorId = 1) => new
    {
        vendorId = "kr.evcharge",
        messageId = "PaymentAuthorize",
        data = JsonSerializer.Serialize(new { connectorId, provider = "kakaopay", paymentCode = code }),
    };

    private static object Status(string status, int connectorId = 1) =>
        new { connectorId, errorCode = "NoError", status, timestamp = Timestamp(T0) };

    private static object Meter(int transactionId, long wh, int minute) => new
    {
        connectorId = 1,
        transactionId,
        meterValue = new[]
        {
            new { timestamp = Timestamp(T0.AddMinutes(minute)), sampledValue = new[] { new { value = (wh / 1000.0).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture), measurand = "Energy.Active.Import.Register", unit = "kWh" } } },
        },
    };

    private static object Stop(int transactionId, string idTag, long meterStop, int minute) =>
        new { transactionId, idTag, meterStop, timestamp = Timestamp(T0.AddMinutes(minute)), reason = "EVDisconnected" };

    private static object Fee(int transactionId, long fee, long energyWh) => new
    {
        vendorId = "kr.evcharge",
        messageId = "ChargerFee",
        data = JsonSerializer.Serialize(new { transactionId, fee, energyWh }),
    };

    /// <summary>Boot, Available, payment code authorized, transaction started: returns (authorization reference, transaction id).</summary>
    internal static async Task<(string Reference, int TransactionId)> StartPaidChargeAsync(TestCharger charger, PhoneClient phone, long meterStart)
    {
        var boot = Result(await charger.CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC100", firmwareVersion = "1.0" }));
        Assert.Equal("Accepted", boot.GetProperty("status").GetString());
        Result(await charger.CallAsync("StatusNotification", Status("Available")));
        Result(await charger.CallAsync("Heartbeat", new { }));

        var answer = Result(await charger.CallAsync("DataTransfer", PaymentAuthorize(await phone.ShowPaymentCodeAsync())));
        Assert.Equal("Accepted", answer.GetProperty("status").GetString());
        using var data = JsonDocument.Parse(answer.GetProperty("data").GetString()!);
        Assert.Equal("Accepted", data.RootElement.GetProperty("status").GetString());
        var reference = data.RootElement.GetProperty("authorizationReference").GetString()!;
        Assert.InRange(reference.Length, 1, 20);
        Assert.Equal(30_000, data.RootElement.GetProperty("holdAmount").GetInt64());

        Result(await charger.CallAsync("StatusNotification", Status("Preparing")));
        var start = Result(await charger.CallAsync("StartTransaction", new { connectorId = 1, idTag = reference, meterStart, timestamp = Timestamp(T0) }));
        Assert.Equal("Accepted", start.GetProperty("idTagInfo").GetProperty("status").GetString());
        Result(await charger.CallAsync("StatusNotification", Status("Charging")));
        return (reference, start.GetProperty("transactionId").GetInt32());
    }

    /// <summary>Debits equal credits overall, and this test's session breaks no ledger invariant (other tests' sessions are theirs).</summary>
    private async Task AssertLedgerBalancedAsync(string sessionId)
    {
        var report = await fx.Core.Ledger.CheckInvariantsAsync();
        Assert.True(report.Balanced, $"debits {report.TotalDebits} != credits {report.TotalCredits}");
        var mine = report.Violations.Where(v => v.SessionId == sessionId).ToList();
        Assert.True(mine.Count == 0, string.Join("; ", mine.Select(v => $"{v.Rule} {v.SessionId} {v.Detail}")));
    }

    [Fact]
    public async Task Accepted_paid_charge_runs_end_to_end()
    {
        await using var charger = await fx.ConnectChargerAsync(Id("ACC"));
        await using var phone = await PhoneClient.CreateAsync(fx.Core.Sandbox.BaseAddress, 100_000);
        await phone.ListenForReceiptsAsync();

        var (reference, tx) = await StartPaidChargeAsync(charger, phone, meterStart: 1_000);
        Assert.Equal(70_000, (await phone.WalletAsync()).GetProperty("available").GetInt64());

        Result(await charger.CallAsync("MeterValues", Meter(tx, 5_000, 10)));
        Result(await charger.CallAsync("MeterValues", Meter(tx, 9_000, 20)));
        // 12,345 Wh at 300 KRW/kWh = 3,703.5 -> 3,704 KRW.
        Assert.Equal("Accepted", Result(await charger.CallAsync("DataTransfer", Fee(tx, 3_704, 12_345))).GetProperty("status").GetString());
        var stop = Result(await charger.CallAsync("StopTransaction", Stop(tx, reference, 13_345, 40)));
        Assert.Equal("Accepted", stop.GetProperty("idTagInfo").GetProperty("status").GetString());
        Result(await charger.CallAsync("StatusNotification", Status("Finishing")));

        var session = await fx.Core.WaitForSessionAsync(reference, SessionState.Settled);
        Assert.Equal(SessionState.Settled, session.State);
        Assert.Equal(12_345, session.EnergyWh);
        Assert.Equal(3_704, session.Captured);
        Assert.False(session.FeeMismatch);

        var receipt = await phone.NextReceiptAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(3_704, receipt.GetProperty("total").GetInt64());
        var wallet = await phone.WalletAsync();
        Assert.Equal(100_000 - 3_704, wallet.GetProperty("balance").GetInt64());
        Assert.Equal(0, wallet.GetProperty("held").GetInt64());
        await AssertLedgerBalancedAsync(reference);
    }

    [Fact]
    public async Task Rejected_payment_code_is_answered_rejected_and_leaves_no_hold()
    {
        var chargerId = Id("REJ");
        await using var charger = await fx.ConnectChargerAsync(chargerId);
        await using var phone = await PhoneClient.CreateAsync(fx.Core.Sandbox.BaseAddress, 100_000);
        Result(await charger.CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC100" }));
        Result(await charger.CallAsync("StatusNotification", Status("Preparing")));

        var answer = Result(await charger.CallAsync("DataTransfer", PaymentAuthorize("999999999999999999")));
        Assert.Equal("Rejected", answer.GetProperty("status").GetString());
        using var data = JsonDocument.Parse(answer.GetProperty("data").GetString()!);
        Assert.Equal("Rejected", data.RootElement.GetProperty("status").GetString());
        Assert.False(string.IsNullOrEmpty(data.RootElement.GetProperty("reason").GetString()));
        Assert.False(data.RootElement.TryGetProperty("authorizationReference", out _));

        // The charger returns to step 0.
        Result(await charger.CallAsync("StatusNotification", Status("Available")));
        var view = await fx.Core.Client.GetGrain<IChargerGrain>(chargerId).GetView();
        Assert.Equal(ConnectorStatus.Available, view.Connectors[0].Status);
        Assert.Null(view.Connectors[0].SessionId);
        var wallet = await phone.WalletAsync();
        Assert.Equal(0, wallet.GetProperty("held").GetInt64());
        Assert.Equal(100_000, wallet.GetProperty("available").GetInt64());

        // A code that was never shown is no way to start: StartTransaction with a made-up idTag is refused.
        var start = Result(await charger.CallAsync("StartTransaction", new { connectorId = 1, idTag = "NOT-A-REFERENCE", meterStart = 0, timestamp = Timestamp(T0) }));
        Assert.Equal("Invalid", start.GetProperty("idTagInfo").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Transaction_messages_delivered_twice_and_reordered_charge_once()
    {
        var chargerId = Id("DUP");
        await using var charger = await fx.ConnectChargerAsync(chargerId);
        await using var phone = await PhoneClient.CreateAsync(fx.Core.Sandbox.BaseAddress, 100_000);
        await phone.ListenForReceiptsAsync();
        var (reference, tx) = await StartPaidChargeAsync(charger, phone, meterStart: 1_000);

        // The same StartTransaction again (QoS 1 redelivery: same message id; charger retry: new id) -> same transaction.
        var startFrame = new { connectorId = 1, idTag = reference, meterStart = 1_000, timestamp = Timestamp(T0) };
        for (var i = 0; i < 2; i++)
            Assert.Equal(tx, Result(await charger.CallAsync("StartTransaction", startFrame)).GetProperty("transactionId").GetInt32());

        // Meter values twice and out of order.
        var later = $"{chargerId}-mv-later";
        Result(await charger.CallAsync("MeterValues", Meter(tx, 9_000, 20), later));
        Result(await charger.CallAsync("MeterValues", Meter(tx, 5_000, 10)));
        Result(await charger.CallAsync("MeterValues", Meter(tx, 9_000, 20), later));
        Result(await charger.CallAsync("DataTransfer", Fee(tx, 3_704, 12_345)));
        Result(await charger.CallAsync("DataTransfer", Fee(tx, 3_704, 12_345)));

        // StopTransaction three times (redelivered, retried), and a meter value arriving after the stop.
        var stopId = $"{chargerId}-stop";
        for (var i = 0; i < 2; i++)
            Assert.Equal("Accepted", Result(await charger.CallAsync("StopTransaction", Stop(tx, reference, 13_345, 40), stopId)).GetProperty("idTagInfo").GetProperty("status").GetString());
        Result(await charger.CallAsync("MeterValues", Meter(tx, 12_000, 30)));
        Result(await charger.CallAsync("StopTransaction", Stop(tx, reference, 13_345, 40)));

        var session = await fx.Core.WaitForSessionAsync(reference, SessionState.Settled);
        Assert.Equal(SessionState.Settled, session.State);
        Assert.Equal(3_704, session.Captured);

        // A late stop after settlement is still confirmed and changes nothing.
        Result(await charger.CallAsync("StopTransaction", Stop(tx, reference, 13_345, 40)));
        await phone.NextReceiptAsync(TimeSpan.FromSeconds(20));
        await Task.Delay(500);
        var wallet = await phone.WalletAsync();
        Assert.Equal(100_000 - 3_704, wallet.GetProperty("balance").GetInt64());
        Assert.Equal(3_704, (await fx.Core.Client.GetGrain<IChargingSessionGrain>(reference).GetView()).Captured);

        // Unknown and -1 transaction ids are confirmed and kept for reconciliation.
        Result(await charger.CallAsync("StopTransaction", new { transactionId = -1, meterStop = 500, timestamp = Timestamp(T0.AddHours(2)) }));
        Result(await charger.CallAsync("StopTransaction", new { transactionId = 987_654, meterStop = 600, timestamp = Timestamp(T0.AddHours(2)) }));
        var unreconciled = await fx.Core.Client.GetGrain<IChargerGrain>(chargerId).GetUnreconciled();
        Assert.Contains(unreconciled, m => m.TransactionId == -1 && m.Action == "StopTransaction");
        Assert.Contains(unreconciled, m => m.TransactionId == 987_654);
        await AssertLedgerBalancedAsync(reference);
    }

    [Fact]
    public async Task Malformed_input_gets_the_right_callerror_and_the_bridge_keeps_serving()
    {
        await using var charger = await fx.ConnectChargerAsync(Id("BAD"));
        await using var neighbour = await fx.ConnectChargerAsync(Id("NBR"));

        AssertError(await charger.SendRawAsync("this is not json", "-1"), "FormationViolation", "-1");
        AssertError(await charger.SendRawAsync("""{"action":"Heartbeat"}""", "-1"), "FormationViolation", "-1");
        AssertError(await charger.SendRawAsync("""[5,"bad-1","Heartbeat",{}]""", "bad-1"), "FormationViolation", "bad-1");
        AssertError(await charger.SendRawAsync("""[2,"bad-2","Heartbeat"]""", "bad-2"), "ProtocolError", "bad-2");
        AssertError(await charger.CallAsync("Teleport", new { }), "NotImplemented");
        AssertError(await charger.CallAsync("BootNotification", new { chargePointVendor = new string('V', 21), chargePointModel = "M" }), "PropertyConstraintViolation");
        AssertError(await charger.CallAsync("Authorize", new { idTag = new string('T', 21) }), "PropertyConstraintViolation");
        AssertError(await charger.CallAsync("StatusNotification", new { connectorId = "one", errorCode = "NoError", status = "Available" }), "TypeConstraintViolation");
        AssertError(await charger.CallAsync("StatusNotification", new { connectorId = 1, errorCode = "NoError", status = "Sleeping" }), "PropertyConstraintViolation");
        AssertError(await charger.CallAsync("StartTransaction", new { connectorId = 1, meterStart = 0, timestamp = Timestamp(T0) }), "OccurenceConstraintViolation");
        AssertError(await charger.CallAsync("MeterValues", new { connectorId = 1, meterValue = new[] { new { timestamp = "yesterday", sampledValue = new[] { new { value = "1" } } } } }), "TypeConstraintViolation");
        AssertError(await charger.CallAsync("DataTransfer", new { vendorId = "kr.evcharge", messageId = "PaymentAuthorize", data = "{not json" }), "PropertyConstraintViolation");
        AssertError(await charger.SendRawAsync($$"""[2,"{{new string('i', 37)}}","Heartbeat",{}]""", new string('i', 37)), "FormationViolation");

        // Same connection, same bridge: still served. And the neighbour never noticed.
        Assert.True(Result(await charger.CallAsync("Heartbeat", new { })).TryGetProperty("currentTime", out _));
        Assert.True(Result(await neighbour.CallAsync("Heartbeat", new { })).TryGetProperty("currentTime", out _));
        Assert.True(charger.IsConnected);
        Assert.False(neighbour.TryReadOtherFrame(out _));
    }

    [Fact]
    public async Task Reaching_the_hold_sends_RemoteStopTransaction_down_to_the_charger()
    {
        var chargerId = Id("HOLD");
        await using var charger = await fx.ConnectChargerAsync(chargerId, hold: 1_000);
        await using var phone = await PhoneClient.CreateAsync(fx.Core.Sandbox.BaseAddress, 100_000);
        Result(await charger.CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC100" }));
        var answer = Result(await charger.CallAsync("DataTransfer", PaymentAuthorize(await phone.ShowPaymentCodeAsync())));
        using var data = JsonDocument.Parse(answer.GetProperty("data").GetString()!);
        var reference = data.RootElement.GetProperty("authorizationReference").GetString()!;
        Assert.Equal(1_000, data.RootElement.GetProperty("holdAmount").GetInt64());
        var tx = Result(await charger.CallAsync("StartTransaction", new { connectorId = 1, idTag = reference, meterStart = 0, timestamp = Timestamp(T0) }))
            .GetProperty("transactionId").GetInt32();

        // 3,334 Wh at 300 KRW/kWh = 1,000.2 -> 1,000 KRW: the running cost reaches the 1,000 KRW hold.
        // (Overshooting the hold ends as capture + debt, which the ledger's capture-or-debt rule flags: reported to the grains' owner.)
        Result(await charger.CallAsync("MeterValues", Meter(tx, 3_334, 15)));
        var call = await charger.NextOtherFrameAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(2, call[0].GetInt32());
        Assert.Equal("RemoteStopTransaction", call[2].GetString());
        Assert.Equal(tx, call[3].GetProperty("transactionId").GetInt32());

        // The charger confirms and stops; the answer to our call is correlated and not answered back.
        await charger.SendAsync($$"""[3,{{JsonSerializer.Serialize(call[1].GetString())}},{"status":"Accepted"}]""");
        Result(await charger.CallAsync("StopTransaction", Stop(tx, reference, 3_334, 16)));
        var session = await fx.Core.WaitForSessionAsync(reference, SessionState.Settled);
        Assert.Equal(SessionState.Settled, session.State);
        Assert.Equal(1_000, session.Captured);
        await AssertLedgerBalancedAsync(reference);
        Assert.False(charger.TryReadOtherFrame(out var extra), $"unexpected {extra}");
    }
}

/// <summary>The MQTT-only scenarios: topic ACL and broker logins (WebSocket logins are in WebSocketBridgeTests).</summary>
public abstract class MqttBridgeScenarios<TFixture>(TFixture fx) : BridgeScenarios<TFixture>(fx) where TFixture : MqttBridgeFixture
{
    /// <summary>
    /// The embedded broker refuses a subscription to another charger's topic outright; Mosquitto grants the
    /// SUBACK and then delivers nothing the ACL does not allow. Both are checked for no delivery below.
    /// </summary>
    protected abstract bool RefusesForeignSubscription { get; }

    private string Id(string name) => $"{Prefix}-{name}";

    [Fact]
    public async Task A_charger_can_neither_publish_as_another_nor_read_its_topics()
    {
        await using var a = await Fx.ConnectMqttChargerAsync(Id("ACL-A"));
        await using var b = await Fx.ConnectMqttChargerAsync(Id("ACL-B"));
        var handledBefore = Fx.Bridges.Sum(x => x.FramesHandled);

        // A publishes a CALL on B's up topic: the broker refuses it, nothing reaches the bridge or B.
        var published = await a.PublishAsync(ChargerTopics.Up(b.ChargerId), """[2,"spoof-1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Faulted"}]""");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, published.ReasonCode);
        var published2 = await a.PublishAsync(ChargerTopics.Down(b.ChargerId), """[2,"spoof-2","RemoteStopTransaction",{"transactionId":1}]""");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, published2.ReasonCode);

        // A asks for B's down topic: refused (embedded) or granted-but-filtered (Mosquitto), checked below.
        var sub = await a.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(ChargerTopics.Down(b.ChargerId), MqttQualityOfServiceLevel.AtLeastOnce).Build());
        if (RefusesForeignSubscription)
            Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, sub.Items.Single().ResultCode);

        // Even a wildcard subscription (refused or, on brokers that filter at delivery, granted) yields nothing of B's.
        await a.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("evc/v1/chargers/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Result(await b.CallAsync("Heartbeat", new { }));
        await Task.Delay(500);
        Assert.False(a.TryReadOtherFrame(out var leaked), $"A received {leaked}");
        Assert.False(b.TryReadOtherFrame(out var spoofed), $"B received {spoofed}");
        Assert.Equal(ConnectorStatus.Available, (await Fx.Core.Client.GetGrain<IChargerGrain>(b.ChargerId).GetView()).Connectors[0].Status);
        Assert.Equal(handledBefore + 1, Fx.Bridges.Sum(x => x.FramesHandled)); // only B's own heartbeat
        Assert.True(a.Client.IsConnected);
    }

    [Fact]
    public async Task Wrong_credentials_are_refused_at_connect()
    {
        var chargerId = Id("AUTH");
        var password = await Fx.AddChargerAsync(chargerId);
        var other = Id("AUTH-OTHER");
        await Fx.AddChargerAsync(other);
        var factory = new MqttClientFactory();

        using (var wrong = factory.CreateMqttClient())
        {
            var result = await TryConnectAsync(wrong, SimulatedCharger.Options(Fx.Port, chargerId, "not-the-password"));
            Assert.NotEqual(MqttClientConnectResultCode.Success, result);
        }
        using (var unknown = factory.CreateMqttClient())
        {
            var result = await TryConnectAsync(unknown, SimulatedCharger.Options(Fx.Port, Id("NOBODY"), "whatever"));
            Assert.NotEqual(MqttClientConnectResultCode.Success, result);
        }
        // Right password, but posing as another charger's client id: refused (embedded) or renamed to the
        // username (Mosquitto's use_username_as_clientid) - either way it can only ever be itself.
        using (var posing = factory.CreateMqttClient())
        {
            var result = await TryConnectAsync(posing, SimulatedCharger.Options(Fx.Port, chargerId, password, clientId: other));
            if (result == MqttClientConnectResultCode.Success)
            {
                var published = await posing.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(ChargerTopics.Up(other))
                    .WithPayload("""[2,"p","Heartbeat",{}]""").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
                Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, published.ReasonCode);
            }
        }
        await using var ok = await SimulatedCharger.ConnectAsync(Fx.Port, chargerId, password);
        Assert.True(ok.Client.IsConnected);
    }

    private static async Task<MqttClientConnectResultCode> TryConnectAsync(IMqttClient client, MqttClientOptions options)
    {
        try
        {
            return (await client.ConnectAsync(options)).ResultCode;
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException e)
        {
            // MQTTnet 5 throws on a refused CONNACK; the reason is in the message. A refusal, not a network failure:
            Assert.Matches("BadUserNameOrPassword|NotAuthorized|ClientIdentifierNotValid", e.Message);
            return MqttClientConnectResultCode.NotAuthorized;
        }
    }

}

public sealed class EmbeddedBrokerBridgeTests(EmbeddedBridgeFixture fx)
    : MqttBridgeScenarios<EmbeddedBridgeFixture>(fx), IClassFixture<EmbeddedBridgeFixture>
{
    protected override string Prefix => "EMB";
    protected override bool RefusesForeignSubscription => true;

    [Fact]
    public void The_bridge_takes_uplinks_from_the_broker_in_process_and_subscribes_to_nothing()
    {
        Assert.StartsWith("(in-process", Fx.Bridges.Single().Subscription);
    }

    [Fact]
    public async Task Operator_login_may_watch_all_charger_topics_but_not_publish()
    {
        await using var charger = await Fx.ConnectMqttChargerAsync("EMB-WATCHED");
        using var ops = new MqttClientFactory().CreateMqttClient();
        var seen = new List<string>();
        ops.ApplicationMessageReceivedAsync += e => { lock (seen) seen.Add(e.ApplicationMessage.Topic); return Task.CompletedTask; };
        await ops.ConnectAsync(SimulatedCharger.Options(Fx.Port, EmbeddedBridgeFixture.OperatorUser, EmbeddedBridgeFixture.OperatorPassword, clientId: "ops-console"));
        var sub = await ops.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(ChargerTopics.All, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, sub.Items.Single().ResultCode);

        Result(await charger.CallAsync("Heartbeat", new { }));
        await Task.Delay(300);
        lock (seen)
        {
            Assert.Contains(ChargerTopics.Up("EMB-WATCHED"), seen);
            Assert.Contains(ChargerTopics.Down("EMB-WATCHED"), seen);
        }
        var published = await ops.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(ChargerTopics.Down("EMB-WATCHED"))
            .WithPayload("[]").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, published.ReasonCode);
    }
}

/// <summary>The shared scenarios again with the embedded broker routing frames to the bridge's subscription.</summary>
public sealed class EmbeddedRoutedBridgeTests(EmbeddedRoutedBridgeFixture fx)
    : MqttBridgeScenarios<EmbeddedRoutedBridgeFixture>(fx), IClassFixture<EmbeddedRoutedBridgeFixture>
{
    protected override string Prefix => "EMR";
    protected override bool RefusesForeignSubscription => true;

    [Fact]
    public void The_bridge_receives_uplinks_through_its_own_subscription()
    {
        Assert.Equal(ChargerTopics.AllUp, Fx.Bridges.Single().Subscription);
    }
}

// In the "postgres" collection only to run apart from the other Mosquitto user (Durability/ClusterFailoverTests):
// two Mosquitto brokers starting at once on this machine fail with "Address already in use".
[Collection("postgres")]
public sealed class MosquittoBridgeTests(MosquittoBridgeFixture fx)
    : MqttBridgeScenarios<MosquittoBridgeFixture>(fx), IClassFixture<MosquittoBridgeFixture>
{
    protected override string Prefix => "MOS";
    protected override bool RefusesForeignSubscription => false;

    [Fact]
    public async Task Two_bridges_in_a_shared_subscription_split_the_load_and_answer_each_frame_once()
    {
        Assert.All(Fx.Bridges, b => Assert.StartsWith("$share/evc-bridge/", b.Subscription));
        var before = Fx.Bridges.Select(b => b.FramesHandled).ToArray();
        var chargers = new List<SimulatedCharger>();
        for (var i = 0; i < 4; i++) chargers.Add(await Fx.ConnectMqttChargerAsync($"MOS-SHARE-{i}"));
        try
        {
            await Task.WhenAll(chargers.Select(async c =>
            {
                for (var n = 0; n < 10; n++) Result(await c.CallAsync("Heartbeat", new { }));
            }));
            await Task.Delay(500);
            var handled = Fx.Bridges.Select((b, i) => b.FramesHandled - before[i]).ToArray();
            Assert.Equal(40, handled.Sum());
            Assert.All(handled, h => Assert.True(h > 0, $"one bridge got no work: {string.Join(",", handled)}"));
            Assert.All(chargers, c => Assert.False(c.TryReadOtherFrame(out _), "a frame was answered twice"));
        }
        finally
        {
            foreach (var c in chargers) await c.DisposeAsync();
        }
    }
}
