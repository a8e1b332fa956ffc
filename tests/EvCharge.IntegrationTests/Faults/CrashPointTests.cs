using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ledger;
using EvCharge.Ocpp;
using ProviderStatus = EvCharge.SocialSandbox.AuthorizationStatus;

namespace EvCharge.IntegrationTests.Faults;

/// <summary>
/// Issue 6, test 3: the silo that runs a session is killed right before and right after each provider call
/// (authorize, capture, void, refund) — around the real HTTP call — and the session, resumed on the surviving or
/// restarted silo from its persisted intent, settles exactly once.
/// </summary>
[Collection("postgres")]
public class CrashPointTests(PostgresServer pg, Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 5, 0, 0, TimeSpan.Zero);

    public static TheoryData<string, bool> Points() => new()
    {
        { "authorize", false }, { "authorize", true }, { "capture", false }, { "capture", true },
        { "void", false }, { "void", true }, { "refund", false }, { "refund", true },
    };

    [Theory]
    [MemberData(nameof(Points))]
    public async Task Silo_killed_around_a_provider_call_settles_exactly_once(string operation, bool after)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Log(string m) { output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s {m}"); FaultCluster.Trace($"{operation}/{after}: {m}"); }
        await using var fx = await FaultCluster.StartAsync(pg, $"crash_{operation}_{after}");
        Log("cluster up");
        var chargerId = $"CP-CRASH-{operation}-{after}".ToUpperInvariant();
        var charger = await fx.RegisterChargerAsync(chargerId);
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        var sessions = new List<string>();

        if (operation == "authorize")
        {
            fx.Crashes.Arm("authorize", after);
            await Assert.ThrowsAnyAsync<Exception>(() => charger.AuthorizePayment(1, new PaymentPresentation("kakaopay", phone.ShowPaymentCodeAsync().Result, null)));
            await fx.Crashes.Fired;
            // The interrupted session: the watchdog (on whichever silo now owns its reminder) finds and voids any hold.
            var orphan = fx.Sandbox.Store.FindAuthorizations(null, null).SingleOrDefault()?.OrderId;
            if (after) Assert.NotNull(orphan); // the provider placed the hold before the "crash"
            // The driver shows a fresh code; this charge goes through.
        }

        Log("before main authorize");
        var auth = await FaultCluster.Retry(async () => await charger.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null)));
        Assert.Equal(AuthorizationStatus.Accepted, auth.Status);
        var sid = auth.SessionId!;
        sessions.Add(sid);

        if (operation == "void")
        {
            fx.Crashes.Arm("void", after);
            await Assert.ThrowsAnyAsync<Exception>(() => fx.Client.GetGrain<IChargingSessionGrain>(sid).Cancel("driver_cancelled"));
            await fx.Crashes.Fired;
            var voided = await fx.SettleAsync(sid);
            Assert.Equal(SessionState.Voided, voided.State);
        }
        else
        {
            var start = await FaultCluster.Retry(() => charger.StartTransaction(new StartTransaction(1, sid, 1_000, T0, null)));
            Assert.Equal(IdTagStatus.Accepted, start.IdTagInfo.Status);
            if (operation == "capture") fx.Crashes.Arm("capture", after);
            await FaultCluster.Retry(() => charger.StopTransaction(new StopTransaction(start.TransactionId, sid, 11_000, T0.AddMinutes(30), "Local", [])));
            if (operation == "capture") await WaitFired(fx);
            var settled = await fx.SettleAsync(sid);
            Assert.Equal(SessionState.Settled, settled.State);
            Assert.Equal(3_000, settled.Captured);

            if (operation == "refund")
            {
                fx.Crashes.Arm("refund", after);
                await Assert.ThrowsAnyAsync<Exception>(() => fx.Client.GetGrain<IChargingSessionGrain>(sid).Refund(1_000, "refund-1", "meter fault"));
                await fx.Crashes.Fired;
                // The operator's retry with the same key, or the watchdog, finishes it; either way one refund.
                var refund = await FaultCluster.Retry(() => fx.Client.GetGrain<IChargingSessionGrain>(sid).Refund(1_000, "refund-1", "meter fault"));
                Assert.True(refund.Succeeded, refund.Error);
            }
        }

        Log("main flow done");
        // Quiescence: every session the provider knows ended (the interrupted authorization too).
        foreach (var order in fx.Sandbox.Store.FindAuthorizations(null, null).Select(a => a.OrderId).Distinct())
            await fx.SettleAsync(order, TimeSpan.FromSeconds(30));

        var all = fx.Sandbox.Store.FindAuthorizations(null, null);
        Assert.DoesNotContain(all, a => a.Status == ProviderStatus.Authorized); // no hold left behind
        var expectedCaptures = operation == "void" ? 0 : 1;
        Assert.Equal(expectedCaptures, all.Count(a => a.Captured > 0));
        Assert.Equal(expectedCaptures, fx.Sandbox.Store.Stats.Executions("capture"));
        Assert.Equal(operation == "refund" ? 1 : 0, fx.Sandbox.Store.Stats.Executions("refund"));
        var expectedBalance = 100_000 - expectedCaptures * 3_000 + (operation == "refund" ? 1_000 : 0);
        var wallet = await phone.WalletAsync();
        Assert.Equal(expectedBalance, wallet.GetProperty("balance").GetInt64());
        Assert.Equal(0, wallet.GetProperty("held").GetInt64());

        var invariants = await fx.Ledger.CheckInvariantsAsync();
        Assert.True(invariants.Ok, string.Join("; ", invariants.Violations.Select(v => $"{v.Rule} {v.SessionId} {v.Detail}")));
        var cpo = (await fx.Ledger.GetPayeeBalanceAsync(FaultCluster.CpoPayee)).Net;
        Assert.Equal(fx.Sandbox.Store.Remittances(FaultCluster.CpoPayee).Total, cpo);
        Log("checks");
        var report = await fx.Reconciler.RunAsync();
        Assert.True(report.Clean, report.ToString());
        Assert.Empty(report.OpenHolds);
    }

    private static async Task WaitFired(FaultCluster fx)
    {
        for (var i = 0; i < 200 && fx.Crashes.Armed; i++) await Task.Delay(50);
        Assert.False(fx.Crashes.Armed, "the capture never reached its crash point");
        await fx.Crashes.Fired;
    }
}
