using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.SocialSandbox;
using Npgsql;
using static EvCharge.IntegrationTests.Bridge.Frames;
using static EvCharge.IntegrationTests.Durability.DurabilityKit;

namespace EvCharge.IntegrationTests.Durability;

/// <summary>
/// Issue 12, under load on real PostgreSQL: chargers charge continuously (payment code, start, meter values, stop, over
/// MQTT, retrying unanswered messages as OCPP-J asks) while PostgreSQL is killed with SIGKILL and started again, and, in
/// the second test, while the silo is. Afterwards every answer a charger got is backed by a committed step (an accepted
/// payment by an authorized session row, a transaction id by that row, a confirmed meter value by its meter row, a
/// confirmed stop by a stopped session), every call the provider received by a committed intent, nothing is captured
/// twice, no hold is left open, and the ledger balances.
/// </summary>
public sealed class CrashUnderLoadTests : IAsyncLifetime
{
    private const int Chargers = 8;
    private readonly string _dir = Directory.CreateTempSubdirectory("evc-crashload-").FullName;
    // Its own server: it is killed, so the shared one (other test classes) must not be. Commits are acknowledged after
    // their WAL is written, as in production, so a killed server keeps everything it acknowledged.
    private readonly PostgresServer _postgres = new() { DurableCommits = true };
    private RunningSandbox _sandbox = null!;

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        _sandbox = await StartSandboxAsync(_dir);
    }

    public async Task DisposeAsync()
    {
        await _sandbox.DisposeAsync();
        await _postgres.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Postgres_killed_under_load_loses_no_answered_step_and_settles_every_charge_once() =>
        await RunAsync("pgkill", async (silo, _) =>
        {
            await _postgres.KillAsync();
            await Task.Delay(TimeSpan.FromSeconds(2)); // chargers meet errors and time-outs meanwhile, and retry
            await _postgres.StartAgainAsync();
            return silo;
        });

    [Fact]
    public async Task Silo_killed_under_load_loses_no_answered_step_and_settles_every_charge_once() =>
        await RunAsync("silokill", async (silo, start) =>
        {
            await silo.KillAsync();
            await silo.DisposeAsync();
            return await start(); // same ports, same database: chargers reconnect and resend what went unanswered
        });

    private async Task RunAsync(string name, Func<SiloProcess, Func<Task<SiloProcess>>, Task<SiloProcess>> crash)
    {
        var cs = await _postgres.CreateDatabaseAsync(name);
        var settings = Postgres(cs).ExternalSandbox(_sandbox.BaseAddress).FastWatchdog(TimeSpan.FromSeconds(20))
            .With(new Dictionary<string, string> { ["EvCharge:StartTimeout"] = "00:00:05" });
        var ports = SiloPorts.Allocate();
        var work = Path.Combine(_dir, name);
        var generation = 0;
        Task<SiloProcess> Start() => SiloProcess.StartAsync($"{name}-{++generation}", ports, settings, work);
        var silo = await Start();
        var log = new AnswerLog();
        try
        {
            await SetUpCpoAsync(silo.Api, "cpo-crashload");
            for (var i = 0; i < Chargers; i++) await RegisterChargerAsync(silo.Api, "cpo-crashload", $"CRASH-{name}-{i}");

            using var stop = new CancellationTokenSource();
            var drivers = Enumerable.Range(0, Chargers).Select(i => DriveAsync(ports.Mqtt, $"CRASH-{name}-{i}", i, log, stop.Token)).ToList();
            await WaitForAsync(() => log.Stopped.Count >= Chargers, TimeSpan.FromSeconds(60)); // every charger has finished a charge
            var before = log.Stopped.Count;
            silo = await crash(silo, Start);
            await WaitForAsync(() => log.Stopped.Count >= before + 2 * Chargers, TimeSpan.FromSeconds(120)); // charging goes on after it
            await stop.CancelAsync(); // each driver finishes the charge it is in, then stops
            await Task.WhenAll(drivers).WaitAsync(TimeSpan.FromSeconds(180));
            Assert.True(log.Stopped.Count >= before + 2 * Chargers, $"charging did not resume after the crash: {log.Stopped.Count} stops\n{silo.Tail()}");
            Assert.True(log.Retries > 0, "the chargers never noticed the crash: it did not happen under load");

            // Quiescence: the sweepers resolve whatever the crash left open (holds placed before a lost answer, captures).
            await WaitForAsync(() => _sandbox.Store.FindAuthorizations(null, null).All(a => a.Status != AuthorizationStatus.Authorized)
                                     && SettledCountAsync(cs, log).Result == log.Stopped.Count, TimeSpan.FromSeconds(120));
            await AssertBackedAsync(cs, log, silo);
            await AssertLedgerBalancedAsync(silo.Api);
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    /// <summary>What the chargers were told: each answer is a promise the database must keep.</summary>
    private sealed class AnswerLog
    {
        public ConcurrentDictionary<string, int> Accepted { get; } = new(); // session -> charger's loop index
        public ConcurrentDictionary<string, int> Started { get; } = new(); // session -> transaction id
        public ConcurrentBag<(string Session, DateTimeOffset At, long Wh)> Meters { get; } = [];
        public ConcurrentDictionary<string, long> Stopped { get; } = new(); // session -> meter stop
        /// <summary>Calls the chargers had to send again (CALLERROR InternalError, no answer, a dropped connection).</summary>
        public int Retries;
    }

    /// <summary>One charger and its driver's phone: charge after charge until told to stop, then finish the current one.</summary>
    private async Task DriveAsync(int port, string chargerId, int index, AnswerLog log, CancellationToken stop)
    {
        await using var phone = await PhoneClient.CreateAsync(_sandbox.BaseAddress, 10_000_000);
        await using var charger = await DurableCharger.ConnectAsync(port, chargerId, TimeSpan.FromSeconds(60));
        charger.AttemptTimeout = TimeSpan.FromSeconds(3);
        Result(await charger.CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC100", firmwareVersion = "1.0" }, TimeSpan.FromSeconds(120)));
        var total = TimeSpan.FromSeconds(120);
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            // Each charge has its own charger clock, an hour apart, so meter timestamps never repeat across sessions.
            var t0 = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero).AddDays(index).AddHours(n);
            var answer = Result(await charger.CallAsync("DataTransfer", PaymentAuthorize(await phone.ShowPaymentCodeAsync()), total));
            using var data = JsonDocument.Parse(answer.GetProperty("data").GetString()!);
            if (data.RootElement.GetProperty("status").GetString() != "Accepted") continue; // e.g. a code used by an attempt the crash cut off: show a new one
            var session = data.RootElement.GetProperty("authorizationReference").GetString()!;
            log.Accepted[session] = n;
            var start = Result(await charger.CallAsync("StartTransaction", new { connectorId = 1, idTag = session, meterStart = 1_000, timestamp = Timestamp(t0) }, total));
            if (start.GetProperty("idTagInfo").GetProperty("status").GetString() != "Accepted") continue;
            var tx = start.GetProperty("transactionId").GetInt32();
            log.Started[session] = tx;
            long wh = 1_000;
            for (var m = 1; m <= 3; m++)
            {
                wh += 2_000;
                Result(await charger.CallAsync("MeterValues", MeterAt(tx, wh, t0.AddMinutes(m)), total));
                log.Meters.Add((session, t0.AddMinutes(m), wh));
            }
            Result(await charger.CallAsync("StopTransaction", new { transactionId = tx, idTag = session, meterStop = wh + 1_000, timestamp = Timestamp(t0.AddMinutes(5)), reason = "EVDisconnected" }, total));
            log.Stopped[session] = wh + 1_000;
        }
        Interlocked.Add(ref log.Retries, charger.InternalErrors + charger.Unanswered + charger.Reconnects);
    }

    private static object MeterAt(int transactionId, long wh, DateTimeOffset at) => new
    {
        connectorId = 1, transactionId,
        meterValue = new[]
        {
            new { timestamp = Timestamp(at), sampledValue = new[] { new { value = (wh / 1000.0).ToString("0.###", CultureInfo.InvariantCulture), measurand = "Energy.Active.Import.Register", unit = "kWh" } } },
        },
    };

    private static async Task<int> SettledCountAsync(string cs, AnswerLog log)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM sessions WHERE state = 'Settled' AND session_id = ANY(@ids)", c);
        cmd.Parameters.AddWithValue("ids", log.Stopped.Keys.ToArray());
        return Convert.ToInt32(await cmd.ExecuteScalarAsync());
    }

    private async Task AssertBackedAsync(string cs, AnswerLog log, SiloProcess silo)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync();
        var rows = new Dictionary<string, (string State, long Version, int? Tx, long Captured)>();
        await using (var cmd = new NpgsqlCommand("SELECT session_id, state, version, transaction_id, captured FROM sessions", c))
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync())
                rows[r.GetString(0)] = (r.GetString(1), r.GetInt64(2), r.IsDBNull(3) ? null : r.GetInt32(3), r.GetInt64(4));
        var meters = new HashSet<(string, DateTime)>();
        await using (var cmd = new NpgsqlCommand("SELECT session_id, ts FROM session_meter", c))
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync()) meters.Add((r.GetString(0), r.GetDateTime(1)));

        foreach (var session in log.Accepted.Keys)
            Assert.True(rows.TryGetValue(session, out var row) && row.Version >= 2, $"payment {session} was accepted but its authorized step is not in the database");
        foreach (var (session, tx) in log.Started)
            Assert.True(rows[session].Tx == tx, $"transaction {tx} was given for {session} but its row says {rows[session].Tx}");
        foreach (var (session, at, _) in log.Meters)
            Assert.Contains((session, at.UtcDateTime), meters);
        foreach (var (session, meterStop) in log.Stopped)
        {
            Assert.True(rows[session].State == "Settled", $"{session} stopped but is {rows[session].State}\n{silo.Tail()}");
            Assert.Equal((meterStop - 1_000) * 300 / 1000, rows[session].Captured); // flat 300 KRW/kWh, whole kWh here
            AssertCapturedOnce(_sandbox, session, rows[session].Captured);
        }

        // The provider side: every authorization it holds was asked for by a committed intent, none is still open,
        // and what it captured is what the settled rows say.
        var authorizations = _sandbox.Store.FindAuthorizations(null, null).Where(a => a.MerchantReference?.StartsWith("CRASH-") == true).ToList();
        foreach (var a in authorizations)
            Assert.True(rows.ContainsKey(a.OrderId), $"the provider holds {a.AuthorizationId} for order {a.OrderId}, which has no committed session step");
        Assert.DoesNotContain(authorizations, a => a.Status == AuthorizationStatus.Authorized);
        Assert.Equal(authorizations.Sum(a => a.Captured), rows.Values.Sum(r => r.Captured));
        Assert.Equal(log.Stopped.Count, authorizations.Count(a => a.Captured > 0));
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition() && DateTime.UtcNow < deadline) await Task.Delay(250);
    }
}
