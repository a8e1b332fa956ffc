using CsCheck;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ocpp;
using FaultSettings = EvCharge.SocialSandbox.FaultSettings;
using Xunit.Abstractions;
using ProviderStatus = EvCharge.SocialSandbox.AuthorizationStatus;

namespace EvCharge.IntegrationTests.Faults;

/// <summary>
/// Issue 6, test 1: random charger message sequences (duplicates, reordering, lost stops, starts that never come,
/// cancellations), seeded provider faults and grain deactivations, on two silos with durable state. After quiescence
/// the ledger invariants hold, no hold is left open, and each payee received exactly the sum of its splits
/// (sandbox remittances = ledger payee balance = sum of the sessions' splits net of refunds).
/// Reproduce a failure with the seed CsCheck prints: EVCHARGE_PROPERTY_SEED=&lt;seed&gt;.
/// </summary>
[Collection("postgres")]
public class SettlementPropertyTests(PostgresServer pg, ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 6, 0, 0, TimeSpan.Zero);

    public sealed record SessionPlan(
        long EnergyWh, bool DuplicateStart, bool DuplicateStop, bool ReorderMeters, bool LoseStop, bool NeverStart,
        bool CancelBeforeStart, int DeactivateAt, long Refund);

    public sealed record Scenario(int FaultSeed, double ErrorRate, double TimeoutRate, double LostAnswerRate, IReadOnlyList<SessionPlan> Sessions);

    private static readonly Gen<SessionPlan> PlanGen =
        Gen.Select(Gen.Long[0, 40_000], Gen.Bool, Gen.Bool, Gen.Bool, Gen.Int[0, 9], Gen.Int[-1, 3], Gen.Long[0, 2_000])
           .Select(t => new SessionPlan(t.Item1, t.Item2, t.Item3, t.Item4,
               LoseStop: t.Item5 == 0, NeverStart: t.Item5 == 1, CancelBeforeStart: t.Item5 == 2, t.Item6, t.Item7));

    private static readonly Gen<Scenario> ScenarioGen =
        Gen.Select(Gen.Int[1, 1_000_000], Gen.Int[0, 15], Gen.Int[0, 10], Gen.Int[0, 10], PlanGen.Array[3, 6])
           .Select(t => new Scenario(t.Item1, t.Item2 / 100.0, t.Item3 / 100.0, t.Item4 / 100.0, t.Item5));

    [Fact]
    public async Task After_quiescence_invariants_hold_and_each_payee_got_exactly_its_splits()
    {
        await using var fx = await FaultCluster.StartAsync(pg, "property");
        var iteration = 0;
        var seed = Environment.GetEnvironmentVariable("EVCHARGE_PROPERTY_SEED");
        await ScenarioGen.SampleAsync(async scenario =>
        {
            var n = Interlocked.Increment(ref iteration);
            output.WriteLine($"iteration {n}: faults seed {scenario.FaultSeed} error {scenario.ErrorRate} timeout {scenario.TimeoutRate} lost {scenario.LostAnswerRate}, {scenario.Sessions.Count} sessions");
            await RunScenario(fx, n, scenario);
        }, writeLine: output.WriteLine, seed: seed, iter: 5, threads: 1,
        print: s => $"{s} sessions=[{string.Join(", ", s.Sessions)}]");
    }

    private static async Task RunScenario(FaultCluster fx, int n, Scenario scenario)
    {
        var cpoId = $"cpo-prop-{n}";
        var payee = $"{cpoId}-settlement";
        await FaultCluster.Retry(() => fx.Client.GetGrain<ICpoGrain>(cpoId).SetContract(new CpoContract(cpoId, payee, new Commission(1_250, 30), [FaultCluster.DefaultTariff])));
        fx.Sandbox.Faults.Set(new FaultSettings(ErrorRate: scenario.ErrorRate, TimeoutRate: scenario.TimeoutRate, LostAnswerRate: scenario.LostAnswerRate, Seed: scenario.FaultSeed));

        var sessionIds = new System.Collections.Concurrent.ConcurrentBag<string>();
        var refunds = new System.Collections.Concurrent.ConcurrentBag<(string Session, long Amount)>();
        var phones = new List<PhoneClient>();
        try
        {
            await Task.WhenAll(scenario.Sessions.Select(async (plan, i) =>
            {
                var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 1_000_000);
                lock (phones) phones.Add(phone);
                var charger = await fx.RegisterChargerAsync($"CP-P{n}-{i}", hold: 10_000, cpoId: cpoId);
                var session = await Play(fx, charger, phone, plan);
                if (session is not null) sessionIds.Add(session);
                if (session is not null && plan.Refund > 0) refunds.Add((session, plan.Refund));
            }));

            // Quiescence: faults off, every session the provider or the grains know is driven to an end state.
            fx.Sandbox.Faults.Clear();
            var orders = fx.Sandbox.Store.FindAuthorizations(null, null).Select(a => a.OrderId).Where(o => sessionIds.Contains(o) || true).ToHashSet();
            var views = new List<SessionView>();
            foreach (var id in sessionIds.Union(orders))
                views.Add(await fx.SettleAsync(id));
            // Refunds after settlement: some of them right through a deactivation.
            foreach (var (sid, amount) in refunds)
            {
                var v = views.First(x => x.SessionId == sid);
                if (v.State != SessionState.Settled || v.Captured < amount) continue;
                await fx.Cluster.DeactivateAsync(fx.Client.GetGrain<IChargingSessionGrain>(sid));
                var r = await FaultCluster.Retry(() => fx.Client.GetGrain<IChargingSessionGrain>(sid).Refund(amount, $"{sid}-refund", "property"));
                Assert.True(r.Succeeded, r.Error);
            }
            views = [];
            foreach (var id in sessionIds.Union(orders)) views.Add(await fx.SettleAsync(id));

            Assert.All(views, v => Assert.Contains(v.State, new[] { SessionState.Settled, SessionState.Voided, SessionState.Rejected, SessionState.Debt }));
            Assert.All(views.Where(v => v.EnergyWh > 0 && v.Fee > 0), v => Assert.Contains(v.State, new[] { SessionState.Settled, SessionState.Debt }));
            Assert.DoesNotContain(fx.Sandbox.Store.FindAuthorizations(null, null), a => a.Status == ProviderStatus.Authorized);
            Assert.All(fx.Sandbox.Store.FindAuthorizations(null, null).GroupBy(a => a.OrderId), g => Assert.True(g.Count(a => a.Captured > 0) <= 1));

            var invariants = await fx.Ledger.CheckInvariantsAsync();
            Assert.True(invariants.Ok, string.Join("; ", invariants.Violations.Select(v => $"{v.Rule} {v.SessionId} {v.Detail}")));
            var mine = views.Where(v => v.CpoId == cpoId && v.State == SessionState.Settled).ToList();
            var splitSum = 0L;
            foreach (var v in mine)
            {
                var cpoSplit = v.Splits.Where(p => p.PayeeAccount == payee).Sum(p => p.Amount);
                var reversed = (await fx.Ledger.GetSessionEntriesAsync(v.SessionId))
                    .Where(e => e.Kind == EvCharge.Ledger.JournalKind.RefundReversal && e.Account == $"payee:{payee}").Sum(e => -e.Amount);
                splitSum += cpoSplit - reversed;
            }
            var ledgerNet = (await fx.Ledger.GetPayeeBalanceAsync(payee)).Net;
            var remitted = fx.Sandbox.Store.Remittances(payee).Total;
            Assert.Equal(splitSum, ledgerNet);
            Assert.Equal(remitted, ledgerNet);
            var report = await fx.Reconciler.RunAsync();
            Assert.True(report.Clean, report.ToString());
        }
        finally
        {
            fx.Sandbox.Faults.Clear();
            foreach (var p in phones) await p.DisposeAsync();
        }
    }

    /// <summary>Plays one session's charger messages as the plan says; returns its session id if one was opened.</summary>
    private static async Task<string?> Play(FaultCluster fx, IChargerGrain charger, PhoneClient phone, SessionPlan plan)
    {
        var auth = await FaultCluster.Retry(async () => await charger.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null)));
        if (auth.Status != AuthorizationStatus.Accepted) return auth.SessionId;
        var sid = auth.SessionId!;
        var session = fx.Client.GetGrain<IChargingSessionGrain>(sid);
        async Task MaybeDeactivate(int step)
        {
            if (plan.DeactivateAt == step) await fx.Cluster.DeactivateAsync(session);
        }
        await MaybeDeactivate(0);
        if (plan.NeverStart) return sid; // the start timeout voids it
        if (plan.CancelBeforeStart)
        {
            await FaultCluster.Retry(() => session.Cancel("driver_cancelled"));
            return sid;
        }
        var startMsg = new StartTransaction(1, sid, 1_000, T0, null);
        var start = await FaultCluster.Retry(() => charger.StartTransaction(startMsg));
        if (plan.DuplicateStart) Assert.Equal(start.TransactionId, (await FaultCluster.Retry(() => charger.StartTransaction(startMsg))).TransactionId);
        await MaybeDeactivate(1);
        var samples = new List<MeterSample> { new(T0.AddMinutes(10), 1_000 + plan.EnergyWh / 3), new(T0.AddMinutes(20), 1_000 + plan.EnergyWh * 2 / 3) };
        if (plan.ReorderMeters) samples.Reverse();
        foreach (var sample in samples)
        {
            await FaultCluster.Retry(() => charger.MeterValues(new MeterValues(1, start.TransactionId, [sample])));
            if (plan.DuplicateStart) await FaultCluster.Retry(() => charger.MeterValues(new MeterValues(1, start.TransactionId, [sample])));
        }
        await MaybeDeactivate(2);
        if (plan.LoseStop) return sid; // the stop timeout closes it from the last meter value
        var stop = new StopTransaction(start.TransactionId, sid, 1_000 + plan.EnergyWh, T0.AddMinutes(30), "Local", []);
        await FaultCluster.Retry(() => charger.StopTransaction(stop));
        await MaybeDeactivate(3);
        if (plan.DuplicateStop) await FaultCluster.Retry(() => charger.StopTransaction(stop));
        return sid;
    }
}
