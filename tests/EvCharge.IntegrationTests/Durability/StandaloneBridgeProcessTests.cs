using System.Diagnostics;
using System.Text;
using EvCharge.IntegrationTests.Bridge;
using EvCharge.IntegrationTests.Infrastructure;
using static EvCharge.IntegrationTests.Bridge.Frames;
using static EvCharge.IntegrationTests.Durability.DurabilityKit;

namespace EvCharge.IntegrationTests.Durability;

/// <summary>
/// The stand-alone charger bridge as an operator deploys it when bridges scale apart from silos: the silo process, a
/// Mosquitto broker, and <c>dotnet EvCharge.ChargerBridge.dll</c> as its own process (an Orleans client of the silo's
/// gateway, the MQTT bridge as a client of Mosquitto, and the OCPP-J WebSocket endpoint). One charger reaches it over
/// WebSocket, one over MQTT through Mosquitto; both charges settle and the ledger balances.
/// </summary>
public sealed class StandaloneBridgeProcessTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evc-bridge-proc-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Charges_over_websocket_and_over_mosquitto_settle_through_the_standalone_bridge_process()
    {
        var sandboxPort = SiloPorts.FreePort();
        var settings = Sqlite(Path.Combine(_dir, "data"));
        settings["Payments:EmbeddedSandboxUrl"] = $"http://127.0.0.1:{sandboxPort}";
        settings["Payments:SandboxDataFile"] = Path.Combine(_dir, "sandbox.jsonl");
        var ports = SiloPorts.Allocate();
        await using var silo = await SiloProcess.StartAsync("bridge-proc-silo", ports, settings, Path.Combine(_dir, "silo"));

        await using var broker = new MosquittoBroker();
        await broker.StartAsync();
        var wsPort = SiloPorts.FreePort();
        await using var bridge = await BridgeProcess.StartAsync(Path.Combine(_dir, "bridge"), new Dictionary<string, string>
        {
            ["Cluster:GatewayPort"] = ports.Gateway.ToString(),
            ["ChargerBridge:Host"] = "127.0.0.1",
            ["ChargerBridge:Port"] = broker.Port.ToString(),
            ["ChargerBridge:BridgeUsername"] = MosquittoBroker.BridgeUser,
            ["ChargerBridge:BridgePassword"] = broker.BridgePassword,
            ["ChargerBridge:ClientId"] = "evc-bridge-standalone-1",
            ["ChargerBridge:WebSocket:Host"] = "127.0.0.1",
            ["ChargerBridge:WebSocket:Port"] = wsPort.ToString(),
            ["ChargerBridge:WebSocket:TlsPort"] = "0",
        });

        await SetUpCpoAsync(silo.Api, "cpo-bridge-proc");
        const string overWebSocket = "BRIDGE-PROC-WS", overMqtt = "BRIDGE-PROC-MQTT";
        await RegisterChargerAsync(silo.Api, "cpo-bridge-proc", overWebSocket);
        await RegisterChargerAsync(silo.Api, "cpo-bridge-proc", overMqtt);
        await broker.AddUserAsync(overMqtt, PasswordFor(overMqtt)); // Mosquitto checks charger logins from its password file

        await using (var ws = await WebSocketCharger.ConnectAsync(new Uri($"ws://127.0.0.1:{wsPort}/ocpp/"), overWebSocket,
                         new WebSocketCharger.Login(Password: PasswordFor(overWebSocket))))
        {
            await ChargeAndSettleAsync(silo, bridge, sandboxPort, (action, payload) => ws.CallAsync(action, payload),
                c => StartPaidChargeAsync(ws, c, meterStart: 1_000));
        }

        await using (var mqtt = await DurableCharger.ConnectAsync(broker.Port, overMqtt, TimeSpan.FromSeconds(20)))
        {
            await ChargeAndSettleAsync(silo, bridge, sandboxPort, (action, payload) => mqtt.CallAsync(action, payload),
                c => StartPaidChargeAsync(mqtt, c, meterStart: 1_000));
        }

        await AssertLedgerBalancedAsync(silo.Api);
        Assert.False(bridge.HasExited, $"the bridge process exited\n{bridge.Tail()}");
    }

    /// <summary>A paid charge of 12,345 Wh at 300 KRW/kWh: authorized, metered, stopped, captured at 3,704 KRW, receipt on the phone.</summary>
    private static async Task ChargeAndSettleAsync(SiloProcess silo, BridgeProcess bridge, int sandboxPort,
        Func<string, object, Task<System.Text.Json.JsonElement>> call,
        Func<PhoneClient, Task<(string SessionId, int TransactionId)>> start)
    {
        await using var phone = await PhoneClient.CreateAsync(new Uri($"http://127.0.0.1:{sandboxPort}"), 100_000);
        await phone.ListenForReceiptsAsync();
        var (sessionId, tx) = await start(phone);
        Result(await call("MeterValues", Meter(tx, 7_000, 10)));
        var stop = Result(await call("StopTransaction", Stop(tx, sessionId, 13_345, 40)));
        Assert.Equal("Accepted", stop.GetProperty("idTagInfo").GetProperty("status").GetString());

        var session = await WaitForSessionAsync(silo.Api, sessionId, "Settled", TimeSpan.FromSeconds(60));
        Assert.True(session.GetProperty("state").GetString() == "Settled", $"session not settled: {session}\n{bridge.Tail()}");
        Assert.Equal(3_704, session.GetProperty("captured").GetInt64());
        Assert.Equal(3_704, (await phone.NextReceiptAsync(TimeSpan.FromSeconds(30))).GetProperty("total").GetInt64());
        Assert.Equal(100_000 - 3_704, (await phone.WalletAsync()).GetProperty("balance").GetInt64());
    }

    /// <summary>
    /// <c>dotnet EvCharge.ChargerBridge.dll --Key=Value ...</c> in an empty working directory (no appsettings.json), bounded
    /// by coreutils timeout; ready once its log says the broker subscription and the WebSocket endpoint are up.
    /// </summary>
    private sealed class BridgeProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _log = new();

        private BridgeProcess(Process process) => _process = process;

        public bool HasExited => _process.HasExited;

        public static async Task<BridgeProcess> StartAsync(string workDirectory, IReadOnlyDictionary<string, string> settings)
        {
            Directory.CreateDirectory(workDirectory);
            var dll = Path.Combine(AppContext.BaseDirectory, "EvCharge.ChargerBridge.dll");
            var psi = new ProcessStartInfo("timeout")
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDirectory,
            };
            foreach (var arg in new[] { "-s", "KILL", SiloProcess.MaxLifetimeSeconds.ToString(), "dotnet", dll }) psi.ArgumentList.Add(arg);
            foreach (var (key, value) in settings) psi.ArgumentList.Add($"--{key}={value}");
            psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
            psi.Environment["DOTNET_gcServer"] = "0";
            var bridge = new BridgeProcess(new Process { StartInfo = psi });
            bridge._process.OutputDataReceived += (_, e) => bridge.Append(e.Data);
            bridge._process.ErrorDataReceived += (_, e) => bridge.Append(e.Data);
            bridge._process.Start();
            bridge._process.BeginOutputReadLine();
            bridge._process.BeginErrorReadLine();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                var log = bridge.Tail();
                if (log.Contains("subscribed to") && log.Contains("OCPP WebSocket endpoint on")) return bridge;
                if (bridge.HasExited) break;
                await Task.Delay(200);
            }
            var tail = bridge.Tail();
            await bridge.DisposeAsync();
            throw new TimeoutException($"the stand-alone bridge did not come up (exited: {bridge.HasExited})\n{tail}");
        }

        private void Append(string? line)
        {
            if (line is null) return;
            lock (_log) _log.AppendLine(line);
        }

        public string Tail()
        {
            lock (_log) return _log.Length > 8_000 ? _log.ToString(_log.Length - 8_000, 8_000) : _log.ToString();
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }
    }
}
