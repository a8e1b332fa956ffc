using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.SocialSandbox;
using static EvCharge.IntegrationTests.Bridge.Frames;
using static EvCharge.IntegrationTests.Durability.DurabilityKit;

namespace EvCharge.IntegrationTests.Durability;

/// <summary>
/// Issue 4, tests 2 and 4, on the durable profiles through the real silo process:
/// <list type="bullet">
/// <item>SIGKILL mid-charge (hold placed, transaction started, meter values in, no stop yet), restart on the same data:
/// the reconnecting charger's StopTransaction is accepted and the session settles exactly once.</item>
/// <item>A lost stop: no StopTransaction ever comes; the watchdog reminder closes the session from the last meter value
/// and charges it; a StopTransaction arriving after that is confirmed and charges nothing more.</item>
/// </list>
/// The wallet provider is a sandbox in the test process, so it outlives the silo and can be asked what was captured.
/// </summary>
[Collection("postgres")]
public sealed class KillRestartTests(PostgresServer postgres) : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evc-dur-kill-").FullName;
    private RunningSandbox _sandbox = null!;

    public async Task InitializeAsync() => _sandbox = await StartSandboxAsync(_dir);

    public async Task DisposeAsync()
    {
        await _sandbox.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Sigkill_mid_charge_on_sqlite_then_restart_settles_once() =>
        await KillMidChargeAsync("sqlite", Sqlite(Path.Combine(_dir, "sqlite-data")).ExternalSandbox(_sandbox.BaseAddress));

    [Fact]
    public async Task Sigkill_mid_charge_on_postgres_then_restart_settles_once() =>
        await KillMidChargeAsync("pg", Postgres(await postgres.CreateDatabaseAsync("dur_kill")).ExternalSandbox(_sandbox.BaseAddress));

    [Fact]
    public async Task Lost_stop_on_sqlite_is_closed_by_the_watchdog_from_the_last_meter_value() =>
        await LostStopAsync("sqlite", Sqlite(Path.Combine(_dir, "lost-data")).ExternalSandbox(_sandbox.BaseAddress));

    private async Task KillMidChargeAsync(string name, Dictionary<string, string> settings)
    {
        var ports = SiloPorts.Allocate();
        var work = Path.Combine(_dir, name);
        var chargerId = $"DUR-KILL-{name}";
        string sessionId;
        int tx;
        await using var phone = await PhoneClient.CreateAsync(_sandbox.BaseAddress, 100_000);
        await phone.ListenForReceiptsAsync();
        var capturesBefore = _sandbox.Store.Stats.Executions("capture");

        var first = await SiloProcess.StartAsync($"kill-{name}-1", ports, settings, work);
        await using var charger = await SetUpAndConnectAsync(first, ports, chargerId);
        try
        {
            (sessionId, tx) = await StartPaidChargeAsync(charger, phone, meterStart: 1_000);
            Result(await charger.CallAsync("MeterValues", Meter(tx, 5_000, 10)));
            Result(await charger.CallAsync("MeterValues", Meter(tx, 9_000, 20)));
            Assert.Equal("Charging", (await SessionAsync(first.Api, sessionId)).GetProperty("state").GetString());
        }
        finally
        {
            await first.KillAsync();
            await first.DisposeAsync();
        }
        Assert.Equal(capturesBefore, _sandbox.Store.Stats.Executions("capture"));
        Assert.Equal(AuthorizationStatus.Authorized, Assert.Single(_sandbox.Store.FindAuthorizations(sessionId, null)).Status);

        // Same ports, same data. The charger reconnects by itself and resends the stop it got no answer to.
        await using var second = await SiloProcess.StartAsync($"kill-{name}-2", ports, settings, work);
        var stop = Result(await charger.CallAsync("StopTransaction", Stop(tx, sessionId, 13_345, 40), TimeSpan.FromSeconds(90)));
        Assert.Equal("Accepted", stop.GetProperty("idTagInfo").GetProperty("status").GetString());

        var session = await WaitForSessionAsync(second.Api, sessionId, "Settled", TimeSpan.FromSeconds(60));
        Assert.True(session.GetProperty("state").GetString() == "Settled", $"not settled after restart: {session}\n{second.Tail()}");
        Assert.Equal(3_704, session.GetProperty("captured").GetInt64());
        Assert.Equal(3_704, (await phone.NextReceiptAsync(TimeSpan.FromSeconds(30))).GetProperty("total").GetInt64());

        // The charger's retry of the same stop is confirmed again and charges nothing twice.
        Result(await charger.CallAsync("StopTransaction", Stop(tx, sessionId, 13_345, 40)));
        await WaitForSessionAsync(second.Api, sessionId, "Settled", TimeSpan.FromSeconds(5));
        AssertCapturedOnce(_sandbox, sessionId, 3_704);
        Assert.Equal(capturesBefore + 1, _sandbox.Store.Stats.Executions("capture"));
        var wallet = await phone.WalletAsync();
        Assert.Equal(100_000 - 3_704, wallet.GetProperty("balance").GetInt64());
        Assert.Equal(0, wallet.GetProperty("held").GetInt64());
        await AssertLedgerBalancedAsync(second.Api);
    }

    private async Task LostStopAsync(string name, Dictionary<string, string> settings)
    {
        settings.FastWatchdog(stopTimeout: TimeSpan.FromSeconds(4));
        var ports = SiloPorts.Allocate();
        var chargerId = $"DUR-LOST-{name}";
        await using var phone = await PhoneClient.CreateAsync(_sandbox.BaseAddress, 100_000);
        await using var silo = await SiloProcess.StartAsync($"lost-{name}", ports, settings, Path.Combine(_dir, $"lost-{name}"));
        await using var charger = await SetUpAndConnectAsync(silo, ports, chargerId);

        var (sessionId, tx) = await StartPaidChargeAsync(charger, phone, meterStart: 1_000);
        Result(await charger.CallAsync("MeterValues", Meter(tx, 5_000, 10)));
        Result(await charger.CallAsync("MeterValues", Meter(tx, 9_000, 20)));

        // No StopTransaction. After EvCharge:StopTimeout without activity the watchdog closes the session at the last
        // meter value: 8,000 Wh at 300 KRW/kWh = 2,400 KRW.
        var session = await WaitForSessionAsync(silo.Api, sessionId, "Settled", TimeSpan.FromSeconds(60));
        Assert.True(session.GetProperty("state").GetString() == "Settled", $"lost stop not closed: {session}\n{silo.Tail()}");
        Assert.Equal(8_000, session.GetProperty("energyWh").GetInt64());
        Assert.Equal(2_400, session.GetProperty("captured").GetInt64());
        AssertCapturedOnce(_sandbox, sessionId, 2_400);

        // The charger comes back with its StopTransaction (more energy than the server saw): confirmed, nothing more charged.
        var stop = Result(await charger.CallAsync("StopTransaction", Stop(tx, sessionId, 13_345, 40)));
        Assert.Equal("Accepted", stop.GetProperty("idTagInfo").GetProperty("status").GetString());
        session = await SessionAsync(silo.Api, sessionId);
        Assert.Equal("Settled", session.GetProperty("state").GetString());
        Assert.Equal(2_400, session.GetProperty("captured").GetInt64());
        AssertCapturedOnce(_sandbox, sessionId, 2_400);
        Assert.Equal(100_000 - 2_400, (await phone.WalletAsync()).GetProperty("balance").GetInt64());
        await AssertLedgerBalancedAsync(silo.Api);
    }

    private static async Task<DurableCharger> SetUpAndConnectAsync(SiloProcess silo, SiloPorts ports, string chargerId)
    {
        await SetUpCpoAsync(silo.Api, "cpo-durable");
        await RegisterChargerAsync(silo.Api, "cpo-durable", chargerId);
        return await DurableCharger.ConnectAsync(ports.Mqtt, chargerId, TimeSpan.FromSeconds(20));
    }
}
