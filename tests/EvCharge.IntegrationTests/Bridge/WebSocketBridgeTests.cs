using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EvCharge.ChargerBridge.WebSockets;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using static EvCharge.IntegrationTests.Bridge.Frames;

namespace EvCharge.IntegrationTests.Bridge;

/// <summary>
/// The shared bridge scenarios over OCPP-J WebSocket, plus what only WebSocket has: the handshake (subprotocol,
/// security profiles 1-3, throttled logins), one connection per charger, a charger moving between WebSocket and MQTT
/// mid-charge, and the connection limits (message size, send queue, ping, idle time).
/// </summary>
public sealed class WebSocketBridgeTests(WebSocketBridgeFixture fx)
    : BridgeScenarios<WebSocketBridgeFixture>(fx), IClassFixture<WebSocketBridgeFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 1, 0, 0, TimeSpan.Zero);
    protected override string Prefix => "WS";

    private WebSocketCharger.Login Basic(string password) => new(password, TrustedCa: Fx.Certificates.Ca);

    [Fact]
    public async Task The_handshake_refuses_what_is_not_an_ocpp16_charger_login()
    {
        var password = await Fx.AddChargerAsync("WS-HS", profile: null);
        Assert.Equal(HttpStatusCode.BadRequest, await WebSocketCharger.RefusalAsync(Fx.WsEndpoint, "WS-HS", Basic(password) with { Subprotocols = ["ocpp2.0.1"] }));
        Assert.Equal(HttpStatusCode.BadRequest, await WebSocketCharger.RefusalAsync(Fx.WsEndpoint, "WS-HS", Basic(password) with { Subprotocols = [] }));
        Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WsEndpoint, "WS-HS", Basic("not-the-password")));
        Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WsEndpoint, "WS-NOBODY", Basic("whatever-secret")));
        Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WsEndpoint, "WS-HS", new WebSocketCharger.Login()));

        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.UpgradeRequired, (await http.GetAsync($"http://127.0.0.1:{Fx.WsPort}/ocpp/WS-HS")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"http://127.0.0.1:{Fx.WsPort}/api/v1/chargers/WS-HS")).StatusCode);

        // Offering ocpp1.6 among others is fine: the server picks it.
        await using var ok = await WebSocketCharger.ConnectAsync(Fx.WsEndpoint, "WS-HS", Basic(password) with { Subprotocols = ["ocpp2.0.1", "ocpp1.6"] });
        Assert.Equal("Accepted", Result(await ok.CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC100" })).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Each_security_profile_logs_in_only_its_own_way()
    {
        // Profile 2: TLS + Basic. Over wss with the secret: in. Over plain ws: refused.
        var p2 = await Fx.AddChargerAsync("WS-P2", OcppSecurityProfile.TlsBasicAuth);
        await using (var charger = await WebSocketCharger.ConnectAsync(Fx.WssEndpoint, "WS-P2", Basic(p2)))
            Assert.True(Result(await charger.CallAsync("Heartbeat", new { })).TryGetProperty("currentTime", out _));
        Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WsEndpoint, "WS-P2", Basic(p2)));
        Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WssEndpoint, "WS-P2", Basic("not-the-password")));

        // Profile 1: Basic over plain ws only; the same charger over wss is a mismatch.
        var p1 = await Fx.AddChargerAsync("WS-P1", OcppSecurityProfile.BasicAuth);
        await using (var charger = await WebSocketCharger.ConnectAsync(Fx.WsEndpoint, "WS-P1", Basic(p1)))
            Assert.True(charger.IsConnected);
        Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WssEndpoint, "WS-P1", Basic(p1)));

        // Profile 3: its own client certificate from the charger CA. Another charger's certificate, a certificate from
        // another CA, no certificate, the secret instead of a certificate, or plain ws: refused.
        await Fx.AddChargerAsync("WS-P3", OcppSecurityProfile.TlsClientCertificate);
        var own = Fx.Certificates.IssueCharger("WS-P3").Certificate;
        var others = Fx.Certificates.IssueCharger("WS-P3-OTHER").Certificate;
        using var rogueCa = new TestCertificates(Path.Combine(Path.GetTempPath(), $"evc-rogue-{Guid.NewGuid():N}"), "Rogue CA");
        var rogue = rogueCa.IssueCharger("WS-P3").Certificate;
        await using (var charger = await WebSocketCharger.ConnectAsync(Fx.WssEndpoint, "WS-P3", new WebSocketCharger.Login(ClientCertificate: own, TrustedCa: Fx.Certificates.Ca)))
            Assert.Equal("Accepted", Result(await charger.CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC100" })).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WssEndpoint, "WS-P3", new(ClientCertificate: others, TrustedCa: Fx.Certificates.Ca)));
        Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WssEndpoint, "WS-P3", new(ClientCertificate: rogue, TrustedCa: Fx.Certificates.Ca)));
        Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WssEndpoint, "WS-P3", new(Password: "secret-WS-P3", TrustedCa: Fx.Certificates.Ca)));
        Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WsEndpoint, "WS-P3", new(Password: "secret-WS-P3")));

        // The profile the connection used is the one the charger is registered for.
        var p2Again = await WebSocketCharger.ConnectAsync(Fx.WssEndpoint, "WS-P2", Basic(p2));
        await using (p2Again)
        {
            Result(await p2Again.CallAsync("Heartbeat", new { }));
            Assert.True(Fx.Hub.TryGetConnection("WS-P2", out var c));
            Assert.Equal(OcppSecurityProfile.TlsBasicAuth, c.Profile);
        }
    }

    [Fact]
    public async Task Failed_logins_are_throttled_per_charger_and_logged_without_the_secret()
    {
        var password = await Fx.AddChargerAsync("WS-THR", profile: null);
        for (var i = 0; i < 5; i++) // LoginFailuresPerCharger = 5 in this fixture
            Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(Fx.WsEndpoint, "WS-THR", Basic($"guess-number-{i}")));
        // Now even the right secret waits for the window: guessing costs a minute per five tries.
        Assert.Equal(HttpStatusCode.TooManyRequests, await WebSocketCharger.RefusalAsync(Fx.WsEndpoint, "WS-THR", Basic(password)));
        // Other chargers are not affected by this charger's throttle.
        var neighbour = await Fx.AddChargerAsync("WS-THR-N", profile: null);
        await using (await WebSocketCharger.ConnectAsync(Fx.WsEndpoint, "WS-THR-N", Basic(neighbour))) { }

        var refusals = Fx.Logs.Messages.Where(m => m.Contains("Refused WebSocket login of charger WS-THR ", StringComparison.Ordinal)).ToList();
        Assert.True(refusals.Count >= 6, string.Join("\n", refusals));
        Assert.Contains(refusals, m => m.Contains("wrong password", StringComparison.Ordinal));
        Assert.Contains(refusals, m => m.Contains("throttled", StringComparison.Ordinal));
        Assert.DoesNotContain(Fx.Logs.Messages, m => m.Contains("guess-number", StringComparison.Ordinal) || m.Contains(password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_second_connection_of_a_charger_replaces_the_first_and_gets_the_server_calls()
    {
        await using var first = await Fx.ConnectWebSocketChargerAsync("WS-TWICE");
        Result(await first.CallAsync("Heartbeat", new { }));
        await using var second = await WebSocketCharger.ConnectAsync(Fx.WsEndpoint, "WS-TWICE", Basic("secret-WS-TWICE"));
        await first.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.NormalClosure, first.CloseStatus);
        Assert.Contains("replaced", first.CloseDescription);

        Result(await second.CallAsync("Heartbeat", new { }));
        Assert.True(await Fx.Core.Client.GetGrain<IChargerGrain>("WS-TWICE").RemoteStop(7, "test"));
        var call = await second.NextOtherFrameAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("RemoteStopTransaction", call[2].GetString());
        Assert.Equal(7, call[3].GetProperty("transactionId").GetInt32());
        Assert.True(Fx.Hub.IsConnected("WS-TWICE"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_charger_that_moves_to_the_other_transport_mid_charge_settles_once(bool startOnWebSocket)
    {
        var chargerId = startOnWebSocket ? "WS-MOVE-A" : "WS-MOVE-B";
        var password = await Fx.AddChargerAsync(chargerId, profile: null);
        await using var phone = await PhoneClient.CreateAsync(Fx.Core.Sandbox.BaseAddress, 100_000);
        await phone.ListenForReceiptsAsync();

        Task<TestCharger> Ws() => WebSocketCharger.ConnectAsync(Fx.WsEndpoint, chargerId, Basic(password)).ContinueWith(t => (TestCharger)t.Result);
        Task<TestCharger> Mqtt() => SimulatedCharger.ConnectAsync(Fx.MqttPort, chargerId, password).ContinueWith(t => (TestCharger)t.Result);

        var before = await (startOnWebSocket ? Ws() : Mqtt());
        var (reference, tx) = await StartPaidChargeAsync(before, phone, meterStart: 1_000);
        Result(await before.CallAsync("MeterValues", Meter(tx, 5_000, 10)));
        await before.DisposeAsync(); // the charger loses its connection and comes back over the other transport

        await using var after = await (startOnWebSocket ? Mqtt() : Ws());
        Result(await after.CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC100" }));
        Result(await after.CallAsync("MeterValues", Meter(tx, 9_000, 20)));
        // Server calls follow the charger to its new transport.
        Assert.True(await Fx.Core.Client.GetGrain<IChargerGrain>(chargerId).RemoteStop(tx, "test"));
        var call = await after.NextOtherFrameAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("RemoteStopTransaction", call[2].GetString());
        await after.SendAsync($$"""[3,{{JsonSerializer.Serialize(call[1].GetString())}},{"status":"Accepted"}]""");

        // The stop, sent twice (a retry after the switch), settles once.
        var stop = new { transactionId = tx, idTag = reference, meterStop = 13_345, timestamp = Timestamp(T0.AddMinutes(40)), reason = "Remote" };
        Assert.Equal("Accepted", Result(await after.CallAsync("StopTransaction", stop)).GetProperty("idTagInfo").GetProperty("status").GetString());
        Assert.Equal("Accepted", Result(await after.CallAsync("StopTransaction", stop)).GetProperty("idTagInfo").GetProperty("status").GetString());
        var session = await Fx.Core.WaitForSessionAsync(reference, SessionState.Settled);
        Assert.Equal(SessionState.Settled, session.State);
        Assert.Equal(3_704, session.Captured); // 12,345 Wh at 300 KRW/kWh
        Assert.Equal(3_704, (await phone.NextReceiptAsync(TimeSpan.FromSeconds(20))).GetProperty("total").GetInt64());
        await Task.Delay(500);
        var wallet = await phone.WalletAsync();
        Assert.Equal(100_000 - 3_704, wallet.GetProperty("balance").GetInt64());
        Assert.Equal(0, wallet.GetProperty("held").GetInt64());
        var report = await Fx.Core.Ledger.CheckInvariantsAsync();
        Assert.True(report.Balanced);
        Assert.DoesNotContain(report.Violations, v => v.SessionId == reference);
    }

    private static object Meter(int transactionId, long wh, int minute) => new
    {
        connectorId = 1,
        transactionId,
        meterValue = new[] { new { timestamp = Timestamp(T0.AddMinutes(minute)), sampledValue = new[] { new { value = wh.ToString() } } } },
    };

    // ---- connection limits: each on a bridge host of its own with tight settings ----

    private async Task<(IHost Host, WebSocketHub Hub, Uri Endpoint, int Port)> LimitedHostAsync(Action<OcppWebSocketOptions> configure)
    {
        var port = MosquittoBroker.FreePort();
        var host = await WebSocketBridgeFixture.StartHostAsync(Fx.Core.Client, MosquittoBroker.FreePort(), o =>
        {
            o.Port = port;
            o.TlsPort = 0;
            configure(o);
        }, Fx.Logs);
        return (host, host.Services.GetRequiredService<WebSocketHub>(), new Uri($"ws://127.0.0.1:{port}/ocpp/"), port);
    }

    private static async Task StopAsync(IHost host)
    {
        await host.StopAsync();
        host.Dispose();
    }

    [Fact]
    public async Task An_oversized_message_closes_the_connection_with_1009_and_the_charger_can_come_back()
    {
        var (host, hub, endpoint, _) = await LimitedHostAsync(o => o.MaxMessageBytes = 4096);
        try
        {
            var password = await Fx.AddChargerAsync("WS-BIG", profile: null);
            await using var charger = await WebSocketCharger.ConnectAsync(endpoint, "WS-BIG", Basic(password));
            Result(await charger.CallAsync("Heartbeat", new { }));
            var huge = Encoding.UTF8.GetBytes($$"""[2,"big-1","DataTransfer",{"vendorId":"x","data":"{{new string('A', 200_000)}}"}]""");
            try
            {
                await charger.SendFragmentedAsync(huge, 1_000);
            }
            catch (WebSocketException) { /* the server may close before the last piece is out */ }
            await charger.Closed.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, charger.CloseStatus);
            Assert.Equal(1, hub.FramesHandled); // only the heartbeat: the big message never reached the dispatcher

            await using var again = await WebSocketCharger.ConnectAsync(endpoint, "WS-BIG", Basic(password));
            Result(await again.CallAsync("Heartbeat", new { }));
        }
        finally { await StopAsync(host); }
    }

    [Fact]
    public async Task A_charger_that_never_reads_is_dropped_when_its_send_queue_fills()
    {
        var (host, hub, _, port) = await LimitedHostAsync(o =>
        {
            o.SendQueueFrames = 4;
            o.PingIntervalSeconds = 0;
            o.IdleTimeoutSeconds = 0;
        });
        try
        {
            var password = await Fx.AddChargerAsync("WS-DEAF", profile: null);
            using var socket = await RawWebSocket.OpenAsync(port, "WS-DEAF", password, receiveBufferBytes: 1024);
            await WaitUntilAsync(() => hub.IsConnected("WS-DEAF"), TimeSpan.FromSeconds(10));
            var frame = RawWebSocket.MaskedText("""[2,"h","Heartbeat",{}]""");
            try
            {
                // It keeps calling and never reads an answer: 50,000 heartbeats (1.4 MB), then it waits.
                for (var sent = 0; sent < 50_000 && hub.IsConnected("WS-DEAF"); sent++)
                    await socket.SendAsync(frame).WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is SocketException or IOException or TimeoutException) { /* the server dropped us */ }
            await WaitUntilAsync(() => !hub.IsConnected("WS-DEAF"), TimeSpan.FromSeconds(60));
            Assert.Contains(Fx.Logs.Messages, m => m.Contains("Charger WS-DEAF is not reading", StringComparison.Ordinal));
        }
        finally { await StopAsync(host); }
    }

    [Fact]
    public async Task Pings_drop_a_silent_peer_and_the_idle_timeout_closes_a_charger_that_sends_nothing()
    {
        var (pingHost, pingHub, pingEndpoint, pingPort) = await LimitedHostAsync(o =>
        {
            o.PingIntervalSeconds = 1;
            o.PingTimeoutSeconds = 1;
            o.IdleTimeoutSeconds = 0;
        });
        try
        {
            // A peer that never answers pings (it never reads) is dropped; a charger that reads answers them and stays.
            var password = await Fx.AddChargerAsync("WS-SILENT", profile: null);
            var alivePassword = await Fx.AddChargerAsync("WS-ALIVE", profile: null);
            using var silent = await RawWebSocket.OpenAsync(pingPort, "WS-SILENT", password, receiveBufferBytes: 65536);
            await using var alive = await WebSocketCharger.ConnectAsync(pingEndpoint, "WS-ALIVE", Basic(alivePassword));
            await WaitUntilAsync(() => pingHub.IsConnected("WS-SILENT"), TimeSpan.FromSeconds(10));
            await WaitUntilAsync(() => !pingHub.IsConnected("WS-SILENT"), TimeSpan.FromSeconds(20));
            Assert.True(alive.IsConnected);
            Result(await alive.CallAsync("Heartbeat", new { }));
        }
        finally { await StopAsync(pingHost); }

        var (idleHost, _, idleEndpoint, _) = await LimitedHostAsync(o =>
        {
            o.PingIntervalSeconds = 0;
            o.IdleTimeoutSeconds = 2;
        });
        try
        {
            var password = await Fx.AddChargerAsync("WS-IDLE", profile: null);
            await using var idle = await WebSocketCharger.ConnectAsync(idleEndpoint, "WS-IDLE", Basic(password));
            Result(await idle.CallAsync("Heartbeat", new { }));
            await idle.Closed.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, idle.CloseStatus);
            Assert.Equal("idle timeout", idle.CloseDescription);
        }
        finally { await StopAsync(idleHost); }
    }

    [Fact]
    public async Task Failed_logins_from_one_address_are_throttled_across_charger_ids()
    {
        var (host, _, endpoint, _) = await LimitedHostAsync(o =>
        {
            o.LoginFailuresPerAddress = 2;
            o.LoginFailuresPerCharger = 100;
        });
        try
        {
            var password = await Fx.AddChargerAsync("WS-ADDR", profile: null);
            Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(endpoint, "WS-ADDR-X", Basic("guess-1")));
            Assert.Equal(HttpStatusCode.Unauthorized, await WebSocketCharger.RefusalAsync(endpoint, "WS-ADDR-Y", Basic("guess-2")));
            Assert.Equal(HttpStatusCode.TooManyRequests, await WebSocketCharger.RefusalAsync(endpoint, "WS-ADDR", Basic(password)));
        }
        finally { await StopAsync(host); }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met in time");
            await Task.Delay(50);
        }
    }
}

/// <summary>
/// A WebSocket client made by hand on a raw socket, for peers no library would play: one that never reads (so it
/// answers no ping and lets the server's sends pile up). Handshake and masked text frames per RFC 6455.
/// </summary>
internal static class RawWebSocket
{
    public static async Task<Socket> OpenAsync(int port, string chargerId, string password, int receiveBufferBytes)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = receiveBufferBytes };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{chargerId}:{password}"));
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            $"GET /ocpp/{chargerId} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {Convert.ToBase64String(Guid.NewGuid().ToByteArray())}\r\nSec-WebSocket-Version: 13\r\n" +
            $"Sec-WebSocket-Protocol: ocpp1.6\r\nAuthorization: Basic {auth}\r\n\r\n"));
        var response = new StringBuilder();
        var one = new byte[1];
        while (!response.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await socket.ReceiveAsync(one) == 0) throw new IOException("closed during the handshake");
            response.Append((char)one[0]);
        }
        Assert.StartsWith("HTTP/1.1 101", response.ToString());
        return socket;
    }

    public static byte[] MaskedText(string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        if (payload.Length > 125) throw new ArgumentException("short frames only");
        var mask = new byte[] { 0x12, 0x34, 0x56, 0x78 };
        var frame = new byte[2 + 4 + payload.Length];
        frame[0] = 0x81; // FIN, text
        frame[1] = (byte)(0x80 | payload.Length);
        mask.CopyTo(frame, 2);
        for (var i = 0; i < payload.Length; i++) frame[6 + i] = (byte)(payload[i] ^ mask[i % 4]);
        return frame;
    }
}
