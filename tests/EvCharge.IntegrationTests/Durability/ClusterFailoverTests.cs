using System.Collections.Concurrent;
using Npgsql;
using EvCharge.IntegrationTests.Bridge;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Silo.Persistence;
using EvCharge.SocialSandbox;
using static EvCharge.IntegrationTests.Bridge.Frames;
using static EvCharge.IntegrationTests.Durability.DurabilityKit;

namespace EvCharge.IntegrationTests.Durability;

/// <summary>
/// Issue 4, tests 3 and 5 (second half): the cluster profile. Two silo processes start together on an empty PostgreSQL
/// database (both run the schema migration at once), cluster through ADO.NET membership, and share an external
/// Mosquitto broker through one MQTT 5 shared subscription. With many charges in flight one silo is SIGKILLed; the
/// chargers keep resending what got no answer, the survivor takes over every grain, and every session settles once.
/// </summary>
[Collection("postgres")]
public sealed class ClusterFailoverTests(PostgresServer postgres) : IAsyncLifetime
{
    private const int Chargers = 50;
    private readonly string _dir = Directory.CreateTempSubdirectory("evc-dur-cluster-").FullName;
    private RunningSandbox _sandbox = null!;
    private readonly MosquittoBroker _broker = new();

    public async Task InitializeAsync()
    {
        _sandbox = await StartSandboxAsync(_dir);
        await _broker.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        await _sandbox.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public async Task One_of_two_silos_killed_under_load_every_session_settles_once_on_the_survivor()
    {
        var connectionString = await postgres.CreateDatabaseAsync("dur_cluster");
        Dictionary<string, string> Settings() => Postgres(connectionString).ExternalSandbox(_sandbox.BaseAddress).With(new Dictionary<string, string>
        {
            ["ChargerBridge:Broker"] = "External",
            ["ChargerBridge:Host"] = "127.0.0.1",
            ["ChargerBridge:BridgeUsername"] = MosquittoBroker.BridgeUser,
            ["ChargerBridge:BridgePassword"] = _broker.BridgePassword,
            ["ChargerBridge:SharedGroup"] = "evc-bridge",
            // Declare a killed silo dead within seconds rather than the production default's tens of seconds.
            ["Silo:Membership:ProbeTimeout"] = "00:00:01",
            ["Silo:Membership:NumMissedProbesLimit"] = "2",
            ["Silo:Membership:NumVotesForDeathDeclaration"] = "1",
        });
        var portsA = SiloPorts.Allocate() with { Mqtt = _broker.Port };
        var portsB = SiloPorts.Allocate() with { Mqtt = _broker.Port };

        // Both start on the empty database at the same moment: the migration must be applied once, without error.
        var starting = new[]
        {
            SiloProcess.StartAsync("cluster-a", portsA, Settings(), Path.Combine(_dir, "a")),
            SiloProcess.StartAsync("cluster-b", portsB, Settings(), Path.Combine(_dir, "b")),
        };
        await Task.WhenAll(starting.Select(t => t.ContinueWith(_ => { })));
        await using var siloA = await starting[0];
        await using var siloB = await starting[1];
        await AssertEachMigrationAppliedOnceAsync(connectionString);
        await WaitForActiveSilosAsync(connectionString, 2);

        var ids = Enumerable.Range(1, Chargers).Select(i => $"DUR-CL-{i:D3}").ToList();
        await SetUpCpoAsync(siloA.Api, "cpo-cluster");
        foreach (var id in ids)
        {
            await RegisterChargerAsync(siloA.Api, "cpo-cluster", id);
            await _broker.AddUserAsync(id, PasswordFor(id));
        }

        var phones = new ConcurrentDictionary<string, PhoneClient>();
        var chargers = new ConcurrentDictionary<string, DurableCharger>();
        var sessions = new ConcurrentDictionary<string, (string SessionId, int Tx)>();
        try
        {
            // Every charger boots, gets its driver's hold and starts its transaction.
            await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 10 }, async (id, _) =>
            {
                phones[id] = await PhoneClient.CreateAsync(_sandbox.BaseAddress, 100_000);
                chargers[id] = await DurableCharger.ConnectAsync(_broker.Port, id, TimeSpan.FromSeconds(30));
                sessions[id] = await StartPaidChargeAsync(chargers[id], phones[id], meterStart: 1_000);
                Result(await chargers[id].CallAsync("MeterValues", Meter(sessions[id].Tx, 5_000, 10)));
            });
            Assert.Equal(Chargers, _sandbox.Store.FindAuthorizations(null, AuthorizationStatus.Authorized).Count(a => sessions.Values.Any(s => s.SessionId == a.OrderId)));

            // Load: every charger reports a meter value every 100 ms for a while, then stops; silo B is SIGKILLed once a
            // fifth of those are in, so the kill lands with every charge in flight.
            var metersAnswered = 0;
            var stopsAnswered = 0;
            var traffic = Task.Run(() => Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = Chargers }, async (id, _) =>
            {
                var (sessionId, tx) = sessions[id];
                var c = chargers[id];
                for (var minute = 11; minute <= 20; minute++)
                {
                    Result(await c.CallAsync("MeterValues", Meter(tx, 5_000 + (minute - 10) * 400, minute), TimeSpan.FromSeconds(120)));
                    Interlocked.Increment(ref metersAnswered);
                    await Task.Delay(100);
                }
                var stop = Result(await c.CallAsync("StopTransaction", Stop(tx, sessionId, 13_345, 40), TimeSpan.FromSeconds(120)));
                Assert.Equal("Accepted", stop.GetProperty("idTagInfo").GetProperty("status").GetString());
                Interlocked.Increment(ref stopsAnswered);
            }));
            var killAt = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (Volatile.Read(ref metersAnswered) < Chargers * 2 && DateTime.UtcNow < killAt && !traffic.IsCompleted) await Task.Delay(10);
            await siloB.KillAsync();
            var stopsBeforeKill = Volatile.Read(ref stopsAnswered);
            await traffic.WaitAsync(TimeSpan.FromSeconds(150));
            Assert.True(stopsBeforeKill < Chargers, "every stop was answered before the kill: the kill did not happen under load");

            // Every session settles on the survivor, captured exactly once at the provider.
            foreach (var id in ids)
            {
                var (sessionId, _) = sessions[id];
                var view = await WaitForSessionAsync(siloA.Api, sessionId, "Settled", TimeSpan.FromSeconds(90));
                Assert.True(view.GetProperty("state").GetString() == "Settled", $"{id}: {view}\n{siloA.Tail()}");
                Assert.Equal(3_704, view.GetProperty("captured").GetInt64());
                AssertCapturedOnce(_sandbox, sessionId, 3_704);
            }
            Assert.Empty(_sandbox.Store.FindAuthorizations(null, AuthorizationStatus.Authorized).Where(a => sessions.Values.Any(s => s.SessionId == a.OrderId)));
            Assert.Equal(Chargers, _sandbox.Store.Stats.Executions("capture"));
            foreach (var phone in phones.Values)
            {
                var wallet = await phone.WalletAsync();
                Assert.Equal(100_000 - 3_704, wallet.GetProperty("balance").GetInt64());
                Assert.Equal(0, wallet.GetProperty("held").GetInt64());
            }
            await AssertLedgerBalancedAsync(siloA.Api);
            Assert.False(siloA.HasExited, siloA.Tail());
        }
        finally
        {
            foreach (var c in chargers.Values) await c.DisposeAsync();
            foreach (var p in phones.Values) await p.DisposeAsync();
        }
    }

    private static async Task AssertEachMigrationAppliedOnceAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM schema_migrations", connection);
        var applied = (long)(await command.ExecuteScalarAsync())!;
        Assert.Equal(SchemaMigrator.Scripts(StorageProvider.Postgres).Count, applied);
    }

    /// <summary>Both silos joined one cluster (ADO.NET membership: status 3 = Active).</summary>
    private static async Task WaitForActiveSilosAsync(string connectionString, int expected)
    {
        long active = 0;
        for (var i = 0; i < 120 && active < expected; i++)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM orleansmembershiptable WHERE status = 3", connection);
            active = (long)(await command.ExecuteScalarAsync())!;
            if (active < expected) await Task.Delay(250);
        }
        Assert.Equal(expected, active);
    }
}
