using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using EvCharge.ChargerBridge.Extensions;
using EvCharge.ChargerBridge.Mqtt;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Bridge;
using EvCharge.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;
using FaultSettings = EvCharge.SocialSandbox.FaultSettings;
using ProviderStatus = EvCharge.SocialSandbox.AuthorizationStatus;

namespace EvCharge.IntegrationTests.Faults;

/// <summary>
/// Issue 6, test 2: the real stack under faults. Chargers speak OCPP-J over MQTT (embedded broker, charger bridge),
/// grains on two silos with state, reminders and ledger in PostgreSQL, the sandbox over HTTP injecting 10% 5xx, 10%
/// time-outs and 5% lost answers on every money call; every transaction frame is delivered twice; one silo is killed
/// half-way. Afterwards: one capture per order, captures executed = sessions settled, no open hold, ledger invariants,
/// payee totals exact, reconciliation clean.
/// </summary>
[Collection("postgres")]
public class FaultRunTests(PostgresServer pg, ITestOutputHelper output)
{
    private const int Chargers = 50, SessionsPerCharger = 10; // 500 sessions
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 7, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Five_hundred_sessions_under_provider_faults_duplicates_and_a_silo_kill_settle_exactly_once()
    {
        var clock = Stopwatch.StartNew();
        await using var fx = await FaultCluster.StartAsync(pg, "fault_run", configure: o =>
        {
            o.StartTimeout = TimeSpan.FromSeconds(30); // a start can take seconds on two busy cores
            o.StopTimeout = TimeSpan.FromSeconds(60);
            o.MaxSettlementAttempts = 5;
        });
        var (bridge, port) = await FaultRunTests.StartBridgeAsync(fx.Client);
        using var _ = bridge;

        var chargers = new SimulatedCharger[Chargers];
        await Parallel.ForEachAsync(Enumerable.Range(0, Chargers), new ParallelOptions { MaxDegreeOfParallelism = 10 }, async (c, _) =>
        {
            await fx.RegisterChargerAsync($"CP-FR-{c:D3}", hold: 20_000, connectors: 1);
            chargers[c] = await SimulatedCharger.ConnectAsync(port, $"CP-FR-{c:D3}", $"secret-CP-FR-{c:D3}");
            Frames.Result(await chargers[c].CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC50" }));
        });
        var phones = new PhoneClient[Chargers];
        for (var c = 0; c < Chargers; c++) phones[c] = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 10_000_000);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F0}s: cluster, bridge, {Chargers} chargers up");

        fx.Sandbox.Faults.Set(new FaultSettings(ErrorRate: 0.10, TimeoutRate: 0.10, LostAnswerRate: 0.05, Seed: 20261125));
        var sessions = new ConcurrentBag<string>();
        var started = 0;
        var rejected = 0;
        var killed = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, Chargers), new ParallelOptions { MaxDegreeOfParallelism = Chargers }, async (c, _) =>
        {
            for (var round = 0; round < SessionsPerCharger; round++)
            {
                if (Interlocked.Increment(ref started) == Chargers * SessionsPerCharger / 2 && Interlocked.Exchange(ref killed, 1) == 0)
                {
                    await fx.KillAsync(fx.Cluster.Silos[^1].SiloAddress); // one silo dies half-way through the run
                    output.WriteLine($"{clock.Elapsed.TotalSeconds:F0}s: silo killed after {Chargers * SessionsPerCharger / 2} sessions started");
                }
                var sid = await OneSession(chargers[c], phones[c], round);
                if (sid is null) Interlocked.Increment(ref rejected);
                else sessions.Add(sid);
            }
        });
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F0}s: {sessions.Count} sessions charged, {rejected} authorizations refused");

        // Quiescence: faults off, every session the grains or the provider know driven to an end state.
        fx.Sandbox.Faults.Clear();
        var ids = sessions.Union(fx.Sandbox.Store.FindAuthorizations(null, null).Select(a => a.OrderId)).Distinct().ToList();
        var views = new ConcurrentBag<SessionView>();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, _) => views.Add(await fx.SettleAsync(id)));
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F0}s: quiescent; " + string.Join(", ", views.GroupBy(v => v.State).Select(g => $"{g.Key} {g.Count()}")));
        var stats = fx.Sandbox.Store.Stats;
        foreach (var op in new[] { "authorize", "capture", "void" })
            output.WriteLine($"{op}: requests {stats.Requests(op)}, executions {stats.Executions(op)}, 503 {stats.Faults(op, "error")}, time-outs {stats.Faults(op, "timeout")}, lost answers {stats.Faults(op, "lost_answer")}");

        Assert.True(sessions.Count >= 450, $"only {sessions.Count} sessions charged");
        Assert.All(views, v => Assert.Contains(v.State, new[] { SessionState.Settled, SessionState.Voided, SessionState.Rejected, SessionState.Debt }));
        var settled = views.Count(v => v.State == SessionState.Settled);
        var all = fx.Sandbox.Store.FindAuthorizations(null, null);
        Assert.DoesNotContain(all, a => a.Status == ProviderStatus.Authorized);                     // zero unresolved holds
        Assert.All(all.GroupBy(a => a.OrderId), g => Assert.True(g.Count(a => a.Captured > 0) <= 1)); // one capture per order id
        Assert.Equal(settled, stats.Executions("capture"));                                           // zero double captures
        Assert.Equal(settled, all.Count(a => a.Captured > 0));

        var invariants = await fx.Ledger.CheckInvariantsAsync();
        Assert.True(invariants.Ok, string.Join("; ", invariants.Violations.Take(20).Select(v => $"{v.Rule} {v.SessionId} {v.Detail}")));
        foreach (var payee in new[] { FaultCluster.CpoPayee, FaultCluster.PlatformPayee })
        {
            var splits = views.Where(v => v.State == SessionState.Settled).SelectMany(v => v.Splits).Where(p => p.PayeeAccount == payee).Sum(p => p.Amount);
            Assert.Equal(splits, (await fx.Ledger.GetPayeeBalanceAsync(payee)).Net);
            Assert.Equal(splits, fx.Sandbox.Store.Remittances(payee).Total);
        }
        var report = await fx.Reconciler.RunAsync();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F0}s: reconciliation {report}");
        Assert.True(report.Clean, report.ToString());
        Assert.Empty(report.OpenHolds);

        foreach (var ch in chargers) await ch.DisposeAsync();
        foreach (var p in phones) await p.DisposeAsync();
        await bridge.StopAsync();
    }

    /// <summary>A charger bridge with its own embedded broker, a client of the test cluster: started and subscribed.</summary>
    internal static async Task<(IHost Bridge, int Port)> StartBridgeAsync(IGrainFactory client)
    {
        var port = MosquittoBroker.FreePort();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(client);
        builder.Services.AddChargerBridge(o =>
        {
            o.Broker = BrokerMode.Embedded;
            o.Port = port;
            o.ReconnectMinMilliseconds = 100;
            o.ReconnectMaxMilliseconds = 1000;
            o.PasswordCacheSeconds = 60;
        });
        var bridge = builder.Build();
        await bridge.StartAsync();
        await bridge.Services.GetRequiredService<MqttChargerBridge>().WaitUntilSubscribedAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (bridge, port);
    }

    private static async Task<string?> OneSession(SimulatedCharger charger, PhoneClient phone, int round) =>
        await OneSession(charger, "kakaopay", await phone.ShowPaymentCodeAsync(), round);

    /// <summary>
    /// One charge over MQTT paid with <paramref name="code"/> at <paramref name="provider"/> (also the fault run of each
    /// wallet provider); every transaction frame is published twice (same message id), as a broker may.
    /// </summary>
    internal static async Task<string?> OneSession(SimulatedCharger charger, string provider, string code, int round)
    {
        var t = T0.AddHours(round);
        var authFrame = await Call(charger, "DataTransfer", new
        {
            vendorId = "kr.evcharge", messageId = "PaymentAuthorize",
            data = JsonSerializer.Serialize(new { connectorId = 1, provider, paymentCode = code }),
        }, duplicate: false);
        using var data = JsonDocument.Parse(authFrame.GetProperty("data").GetString()!);
        if (data.RootElement.GetProperty("status").GetString() != "Accepted") return null;
        var reference = data.RootElement.GetProperty("authorizationReference").GetString()!;

        var start = await Call(charger, "StartTransaction", new { connectorId = 1, idTag = reference, meterStart = 1_000, timestamp = Frames.Timestamp(t) });
        if (start.GetProperty("idTagInfo").GetProperty("status").GetString() != "Accepted") return reference; // voided meanwhile: no charge
        var tx = start.GetProperty("transactionId").GetInt32();
        var energy = 2_000 + round * 1_000 + Math.Abs(charger.ChargerId.GetHashCode() % 997);
        await Call(charger, "MeterValues", new
        {
            connectorId = 1, transactionId = tx,
            meterValue = new[] { new { timestamp = Frames.Timestamp(t.AddMinutes(10)), sampledValue = new[] { new { value = (1_000 + energy / 2).ToString(), measurand = "Energy.Active.Import.Register", unit = "Wh" } } } },
        });
        await Call(charger, "StopTransaction", new { transactionId = tx, idTag = reference, meterStop = 1_000 + energy, timestamp = Frames.Timestamp(t.AddMinutes(20)), reason = "EVDisconnected" });
        return reference;
    }

    /// <summary>Calls until a CALLRESULT arrives (a silo kill answers InternalError or nothing); optionally twice.</summary>
    internal static async Task<JsonElement> Call(SimulatedCharger charger, string action, object payload, bool duplicate = true)
    {
        var id = charger.NewId();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var frame = await charger.CallAsync(action, payload, id);
                if (frame[0].GetInt32() == 3)
                {
                    if (duplicate) await charger.CallAsync(action, payload, id); // the same frame delivered again
                    return frame[2];
                }
            }
            catch (TimeoutException) when (attempt < 10) { }
            if (attempt >= 10) throw new InvalidOperationException($"{action} never answered for {charger.ChargerId}");
            await Task.Delay(500);
        }
    }
}
