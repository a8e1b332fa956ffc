using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ocpp;

namespace EvCharge.IntegrationTests.Core;

/// <summary>Issue 2, test 5: 1,000 sessions over 200 chargers and 500 wallets at once.</summary>
public class ConcurrencyTests(ConcurrencyTests.Cluster fx) : IClassFixture<ConcurrencyTests.Cluster>
{
    public sealed class Cluster : CoreCluster
    {
        protected override short Silos => 2; // sessions, chargers and wallets spread over two silos
        // Under a thousand concurrent charges on two cores a start can take seconds: no timeouts in this test.
        protected override void Configure(EvChargeOptions options)
        {
            options.StartTimeout = TimeSpan.FromMinutes(10);
            options.StopTimeout = TimeSpan.FromMinutes(10);
        }
    }

    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 3, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Thousand_sessions_settle_with_a_balanced_ledger_and_exact_payee_totals()
    {
        const int chargers = 200, wallets = 500, rounds = 2;
        var (cpoId, cpoPayee) = await fx.CreateCpoAsync("concurrency", new Commission(1_250, 30));
        await Parallel.ForEachAsync(Enumerable.Range(0, chargers), new ParallelOptions { MaxDegreeOfParallelism = 32 },
            async (c, _) => await fx.RegisterChargerAsync($"CP-CC-{c:D3}", hold: 20_000, connectors: 3, cpoId: cpoId));
        var phones = new PhoneClient[wallets];
        await Parallel.ForEachAsync(Enumerable.Range(0, wallets), new ParallelOptions { MaxDegreeOfParallelism = 32 },
            async (w, _) => phones[w] = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 1_000_000));

        var sessions = new System.Collections.Concurrent.ConcurrentBag<string>();
        var refusedSecondCharger = 0;
        // Each wallet charges twice in a row on its own connector (charger w % 200, connector w / 200 + 1);
        // every tenth wallet also tries a second charger while its first session is open, which must be refused.
        await Parallel.ForEachAsync(Enumerable.Range(0, wallets), new ParallelOptions { MaxDegreeOfParallelism = wallets }, async (w, _) =>
        {
            var charger = fx.Client.GetGrain<IChargerGrain>($"CP-CC-{w % chargers:D3}");
            var connector = w / chargers + 1;
            for (var round = 0; round < rounds; round++)
            {
                var auth = await charger.AuthorizePayment(connector, new PaymentPresentation("kakaopay", await phones[w].ShowPaymentCodeAsync(), null));
                Assert.Equal(AuthorizationStatus.Accepted, auth.Status);
                if (w % 10 == 0 && round == 0)
                {
                    var other = fx.Client.GetGrain<IChargerGrain>($"CP-CC-{(w + 1) % chargers:D3}");
                    var second = await other.AuthorizePayment(3, new PaymentPresentation("kakaopay", await phones[w].ShowPaymentCodeAsync(), null));
                    Assert.Equal(AuthorizationStatus.Rejected, second.Status);
                    Interlocked.Increment(ref refusedSecondCharger);
                }
                var t = T0.AddHours(round);
                var start = await charger.StartTransaction(new StartTransaction(connector, auth.AuthorizationReference!, 0, t, null));
                await charger.MeterValues(new MeterValues(connector, start.TransactionId, [new MeterSample(t.AddMinutes(5), 1_000 + w)]));
                await charger.StopTransaction(new StopTransaction(start.TransactionId, null, 2_000 + w * 3 + round, t.AddMinutes(10), null, []));
                await fx.WaitForSessionAsync(auth.SessionId!, SessionState.Settled);
                sessions.Add(auth.SessionId!);
            }
        });

        var views = await Task.WhenAll(sessions.Select(s => fx.Client.GetGrain<IChargingSessionGrain>(s).GetView()));
        Assert.Equal(wallets * rounds, views.Length);
        Assert.All(views, v => Assert.Equal(SessionState.Settled, v.State));
        Assert.Equal(wallets / 10, refusedSecondCharger);

        var report = await fx.Ledger.CheckInvariantsAsync();
        Assert.True(report.Ok, string.Join("; ", report.Violations.Take(10).Select(v => $"{v.Rule} {v.SessionId} {v.Detail}")));

        // Each payee's remittances at the provider equal the sum of its splits, and so does its ledger account.
        var cpoSplits = views.SelectMany(v => v.Splits).Where(p => p.PayeeAccount == cpoPayee).Sum(p => p.Amount);
        Assert.Equal(cpoSplits, fx.Sandbox.Store.Remittances(cpoPayee).Total);
        Assert.Equal(cpoSplits, (await fx.Ledger.GetPayeeBalanceAsync(cpoPayee)).Net);
        Assert.Equal(views.Sum(v => v.Captured), views.SelectMany(v => v.Splits).Sum(p => p.Amount));

        // No wallet ever had two sessions holding at once: its captured authorizations never overlap in time.
        foreach (var phone in phones)
        {
            var wallet = await phone.WalletAsync();
            Assert.Equal(0, wallet.GetProperty("held").GetInt64());
            await phone.DisposeAsync();
        }
        // Every wallet charged exactly twice, each session is exactly one captured authorization at the provider.
        Assert.Equal(wallets, views.GroupBy(v => v.WalletKey).Count(g => g.Count() == rounds));
        Assert.All(views, v => Assert.Equal(SocialSandbox.AuthorizationStatus.Captured, fx.Sandbox.Store.FindAuthorizations(v.SessionId, null).Single().Status));
    }
}
