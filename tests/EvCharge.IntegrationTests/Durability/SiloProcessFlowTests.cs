using EvCharge.IntegrationTests.Infrastructure;
using static EvCharge.IntegrationTests.Bridge.Frames;
using static EvCharge.IntegrationTests.Durability.DurabilityKit;

namespace EvCharge.IntegrationTests.Durability;

/// <summary>
/// Issue 4, test 1: the accepted path of the core flow through the real silo process, on PostgreSQL and on SQLite.
/// The silo runs as operators start it: embedded MQTT broker, embedded social-sandbox (its own loopback port and data
/// file), REST facade. A simulated charger speaks OCPP-J over MQTT, the phone gets its receipt pushed by the sandbox.
/// </summary>
[Collection("postgres")]
public sealed class SiloProcessFlowTests(PostgresServer postgres) : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evc-dur-flow-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Accepted_charge_settles_through_the_silo_process_on_postgres() =>
        await AcceptedChargeAsync("pg", Postgres(await postgres.CreateDatabaseAsync("dur_flow")));

    [Fact]
    public async Task Accepted_charge_settles_through_the_silo_process_on_sqlite() =>
        await AcceptedChargeAsync("sqlite", Sqlite(Path.Combine(_dir, "sqlite-data")));

    private async Task AcceptedChargeAsync(string name, Dictionary<string, string> settings)
    {
        var sandboxPort = SiloPorts.FreePort();
        settings["Payments:EmbeddedSandboxUrl"] = $"http://127.0.0.1:{sandboxPort}";
        settings["Payments:SandboxDataFile"] = Path.Combine(_dir, $"{name}-sandbox.jsonl");
        var ports = SiloPorts.Allocate();
        await using var silo = await SiloProcess.StartAsync($"flow-{name}", ports, settings, Path.Combine(_dir, name));

        var chargerId = $"DUR-FLOW-{name}";
        await SetUpCpoAsync(silo.Api, "cpo-flow");
        await RegisterChargerAsync(silo.Api, "cpo-flow", chargerId);
        await using var phone = await PhoneClient.CreateAsync(new Uri($"http://127.0.0.1:{sandboxPort}"), 100_000);
        await phone.ListenForReceiptsAsync();
        await using var charger = await DurableCharger.ConnectAsync(ports.Mqtt, chargerId, TimeSpan.FromSeconds(20));

        var (sessionId, tx) = await StartPaidChargeAsync(charger, phone, meterStart: 1_000);
        Assert.Equal(100_000 - Hold, (await phone.WalletAsync()).GetProperty("available").GetInt64());
        Result(await charger.CallAsync("MeterValues", Meter(tx, 5_000, 10)));
        Result(await charger.CallAsync("MeterValues", Meter(tx, 9_000, 20)));
        var stop = Result(await charger.CallAsync("StopTransaction", Stop(tx, sessionId, 13_345, 40)));
        Assert.Equal("Accepted", stop.GetProperty("idTagInfo").GetProperty("status").GetString());

        // 12,345 Wh at 300 KRW/kWh = 3,703.5 -> 3,704 KRW; split 10% platform, the rest to the CPO.
        var session = await WaitForSessionAsync(silo.Api, sessionId, "Settled", TimeSpan.FromSeconds(60));
        Assert.True(session.GetProperty("state").GetString() == "Settled", $"session not settled: {session}\n{silo.Tail()}");
        Assert.Equal(12_345, session.GetProperty("energyWh").GetInt64());
        Assert.Equal(3_704, session.GetProperty("captured").GetInt64());

        var receipt = await phone.NextReceiptAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(3_704, receipt.GetProperty("total").GetInt64());
        var wallet = await phone.WalletAsync();
        Assert.Equal(100_000 - 3_704, wallet.GetProperty("balance").GetInt64());
        Assert.Equal(0, wallet.GetProperty("held").GetInt64());
        await AssertLedgerBalancedAsync(silo.Api);
    }
}
