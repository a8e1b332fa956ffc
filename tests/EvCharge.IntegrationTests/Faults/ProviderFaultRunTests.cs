using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using EvCharge.ChargerBridge.Extensions;
using EvCharge.ChargerBridge.Mqtt;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Bridge;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.IntegrationTests.Providers;
using EvCharge.Ledger;
using EvCharge.Sessions;
using EvCharge.SocialSandbox.Providers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace EvCharge.IntegrationTests.Faults;

/// <summary>
/// Issue 16: the fault run with each real adapter. Chargers speak OCPP-J over MQTT (embedded broker, charger bridge),
/// grains on two silos with state, reminders, sessions, ledger and the adapters' journal in PostgreSQL, the adapter over
/// HTTP to a server shaped like Toss Payments, KakaoPay or Stripe that injects 10% 5xx, 10% time-outs and 5% lost
/// answers on every money call; every transaction frame is delivered twice; one silo is killed half-way. Afterwards:
/// every session at rest, every hold or deposit resolved once (nothing left held, no cancel sent twice, one capture per
/// settled session), the provider charged exactly what the ledger captured, ledger invariants, payee totals exact,
/// reconciliation clean. Smaller than the sandbox's run (100 sessions each) to stay inside CI's budget.
/// </summary>
[Collection("postgres")]
public class ProviderFaultRunTests(PostgresServer pg, ITestOutputHelper output)
{
    private const int Chargers = 20, SessionsPerCharger = 5;
    private const string Cpo = "cpo-run";

    [Theory]
    [InlineData("toss")]
    [InlineData("kakaopay")]
    [InlineData("stripe")]
    public async Task Sessions_under_provider_faults_duplicates_and_a_silo_kill_settle_exactly_once(string kind)
    {
        var clock = Stopwatch.StartNew();
        await using var fx = await ProviderCluster.StartAsync(kind, new ProviderClusterOptions
        {
            Silos = 2, PostgresConnectionString = await pg.CreateDatabaseAsync($"provider_run_{kind}"),
            FaultHang = TimeSpan.FromMilliseconds(400), AttemptTimeout = TimeSpan.FromMilliseconds(300), MaxRetryAttempts = 3,
            Configure = o =>
            {
                o.StartTimeout = TimeSpan.FromSeconds(30); // a start can take seconds on two busy cores
                o.StopTimeout = TimeSpan.FromSeconds(60);
                o.WatchdogPeriod = TimeSpan.FromMilliseconds(500);
                o.MaxSettlementAttempts = 5;
            },
        });
        var (bridge, port) = await FaultRunTests.StartBridgeAsync(fx.Client);
        using var _ = bridge;

        var chargers = new SimulatedCharger[Chargers];
        await Parallel.ForEachAsync(Enumerable.Range(0, Chargers), new ParallelOptions { MaxDegreeOfParallelism = 5 }, async (c, _) =>
        {
            var id = $"CP-{kind}-{c:D3}";
            await fx.RegisterChargerAsync(id, Cpo, hold: 20_000, connectors: 1);
            chargers[c] = await SimulatedCharger.ConnectAsync(port, id, $"secret-{id}");
            Frames.Result(await chargers[c].CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC50" }));
        });
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F0}s: cluster, bridge, {Chargers} chargers up ({kind})");

        fx.Server.Faults.SetRates(errorRate: 0.10, timeoutRate: 0.10, lostRate: 0.05, seed: 20261125);
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
                    output.WriteLine($"{clock.Elapsed.TotalSeconds:F0}s: silo killed");
                }
                var code = await ProviderCluster.Retry(() => fx.Phone.OneTimeCodeAsync(20_000, Cpo));
                var sid = await FaultRunTests.OneSession(chargers[c], kind, code, round);
                if (sid is null) Interlocked.Increment(ref rejected);
                else sessions.Add(sid);
            }
        });
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F0}s: {sessions.Count} sessions charged, {rejected} authorizations refused");

        // Quiescence: faults off, every session of these chargers (refused ones too) driven to rest.
        fx.Server.Faults.Clear();
        var ids = new HashSet<string>(sessions);
        foreach (var c in chargers) ids.UnionWith(await fx.SessionsOfChargerAsync(c.ChargerId));
        var views = new ConcurrentBag<SessionView>();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, _) => views.Add(await fx.SettleAsync(id)));
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F0}s: quiescent; " + string.Join(", ", views.GroupBy(v => v.State).Select(g => $"{g.Key} {g.Count()}")));
        foreach (var v in views.Where(v => v.State is not (SessionState.Settled or SessionState.Voided or SessionState.Rejected)))
            output.WriteLine($"  {v.SessionId} {v.State}: {v.Reason}");
        foreach (var op in new[] { "authorize", "capture", "void", "transfer", "payout" })
            output.WriteLine($"{op}: requests {fx.Server.Requests(op)}, executions {fx.Server.Executions(op)}, 5xx {fx.Server.Faults.Injected(op, "error")}, " +
                             $"time-outs {fx.Server.Faults.Injected(op, "timeout")}, lost answers {fx.Server.Faults.Injected(op, "lost")}");

        // KakaoPay money calls are sent once (no idempotency key), so a faulted approve refuses that charger more often.
        Assert.True(sessions.Count >= Chargers * SessionsPerCharger * 7 / 10, $"only {sessions.Count} sessions charged");
        Assert.All(views, v => Assert.True(v.State is SessionState.Settled or SessionState.Voided or SessionState.Rejected or SessionState.Debt, $"{v.SessionId} {v.State}: {v.Reason}"));
        var settled = views.Where(v => v.State == SessionState.Settled).ToList();
        var voided = views.Count(v => v.State == SessionState.Voided && v.AuthorizationId is not null);

        // The provider's side: nothing left held, every deposit cancelled at most once per keyed request, one capture per
        // settled session and one void per voided one, and what the driver was charged is exactly what the ledger captured.
        var payments = await fx.ProviderPaymentsAsync();
        Assert.DoesNotContain(payments, fx.OpenHold);
        Assert.All(payments, p => Assert.Equal(fx.CancelMarkers(p).Count, fx.CancelMarkers(p).Distinct().Count()));
        Assert.Equal(settled.Count, fx.Server.Executions("capture"));
        Assert.Equal(voided, fx.Server.Executions("void"));
        Assert.Equal(settled.Sum(v => v.Captured), payments.Sum(fx.NetCharged));
        Assert.Equal(settled.Count, payments.Count(p => fx.NetCharged(p) > 0));
        Assert.All(settled, v => Assert.Equal(v.Captured, fx.NetCharged(payments.Single(p => fx.Id(p) == v.AuthorizationId))));

        await fx.AssertLedgerOkAsync();
        foreach (var payee in new[] { $"{Cpo}-settlement", ProviderCluster.PlatformPayee })
        {
            var splits = settled.SelectMany(v => v.Splits).Where(p => p.PayeeAccount == payee).Sum(p => p.Amount);
            var paid = (await fx.Ledger.GetAccountEntriesAsync(Accounts.Payee(payee))).Sum(e => e.Amount);
            var owed = (await fx.Ledger.GetAccountEntriesAsync(Accounts.Payable(payee))).Sum(e => e.Amount);
            Assert.Equal(splits, paid + owed); // every won of the splits is either remitted by the provider or owed from the ledger
        }
        var report = await fx.Reconciler.RunAsync();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F0}s: reconciliation {report}");
        Assert.True(report.Clean, report.ToString());
        Assert.Empty(report.OpenHolds);

        foreach (var ch in chargers) await ch.DisposeAsync();
        await bridge.StopAsync();
    }
}
