using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.SocialSandbox;
using AuthorizationStatus = EvCharge.Charging.AuthorizationStatus;
using ProviderStatus = EvCharge.SocialSandbox.AuthorizationStatus;

namespace EvCharge.IntegrationTests.Core;

/// <summary>A cluster whose authorization budget (2 s) is shorter than the provider's latency in these tests (4 s).</summary>
public sealed class SlowProviderCluster : CoreCluster
{
    protected override void Configure(EvChargeOptions options) => options.AuthorizeBudget = TimeSpan.FromSeconds(2);
}

/// <summary>
/// Issue 12's slow provider: the provider answers an authorization after the charger's answer budget. The charger is
/// told "rejected" inside its call, the session agrees (it never shows Authorized), the hold that lands at the provider
/// afterwards is found by order id and voided, and the wallet is free for the driver's next try at once.
/// </summary>
public class TimeBudgetTests(SlowProviderCluster fx) : IClassFixture<SlowProviderCluster>
{
    [Fact]
    public async Task A_provider_slower_than_the_chargers_answer_leaves_no_hold_and_no_busy_wallet()
    {
        var charger = await fx.RegisterChargerAsync("CP-SLOW-1");
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        fx.Sandbox.Faults.Set(new FaultSettings(LatencyMs: 4_000, AppliesTo: ["authorize"]));
        PaymentAuthorizationResult slow;
        try
        {
            slow = await charger.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));
        }
        finally
        {
            fx.Sandbox.Faults.Clear();
        }
        Assert.Equal(AuthorizationStatus.Rejected, slow.Status); // an answer, not a timed-out call
        Assert.Equal("provider_unavailable", slow.Reason);

        // The request still reaches the provider and its hold lands after the charger gave up.
        for (var i = 0; i < 100 && fx.Sandbox.Store.FindAuthorizations(null, null).All(a => a.MerchantReference != "CP-SLOW-1"); i++) await Task.Delay(100);
        var late = fx.Sandbox.Store.FindAuthorizations(null, null).Single(a => a.MerchantReference == "CP-SLOW-1");
        var session = fx.Client.GetGrain<IChargingSessionGrain>(late.OrderId);
        Assert.NotEqual(SessionState.Authorized, (await session.GetView()).State); // the session agrees with what the charger was told

        // The driver tries again at another charger at once: the wallet is not held by the refused session.
        var other = await fx.RegisterChargerAsync("CP-SLOW-2");
        var retry = await other.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));
        Assert.Equal(AuthorizationStatus.Accepted, retry.Status);
        await fx.Client.GetGrain<IChargingSessionGrain>(retry.SessionId!).Cancel("test_done");

        // The sweeper asks the provider by order id and voids the late hold.
        var ended = await fx.WaitForSessionAsync(late.OrderId, SessionState.Voided, SessionState.Rejected);
        Assert.Equal(SessionState.Voided, ended.State);
        Assert.Equal(ProviderStatus.Voided, fx.Sandbox.Store.FindAuthorizations(late.OrderId, null).Single().Status);
        Assert.Equal(0, (await phone.WalletAsync()).GetProperty("held").GetInt64());
        var invariants = await fx.Ledger.CheckInvariantsAsync();
        Assert.True(invariants.Ok, string.Join("; ", invariants.Violations.Select(v => $"{v.Rule} {v.SessionId} {v.Detail}")));
    }
}
