using System.Net.Http.Json;
using System.Text.Json;
using EvCharge.Payments;

namespace EvCharge.IntegrationTests.Providers;

/// <summary>The Stripe adapter over real HTTP against the Stripe-shaped server: holds, Connect transfers, increments, faults.</summary>
public sealed class StripeGatewayTests
{
    private static AuthorizeRequest Card(string pm, long amount, string order) => new("stripe", pm, null, amount, order, "CP-1");

    private static Task<ProviderKit> StartAsync(Action<EvCharge.Payments.Providers.ProviderGatewayOptions>? configure = null, TimeSpan? hang = null) =>
        ProviderKit.StartAsync("stripe", o =>
        {
            o.Payees["cpo-1"] = "acct_1CPO";
            configure?.Invoke(o);
        }, hang);

    private static async Task<JsonElement> TransfersAsync(ProviderKit kit, string group)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v1/transfers?transfer_group={group}");
        request.Headers.Authorization = new("Bearer", kit.Server.Options.SecretKey);
        using var response = await kit.Http.SendAsync(request);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data");
    }

    [Fact]
    public async Task Hold_is_captured_and_the_CPO_part_transferred_to_its_connected_account()
    {
        await using var kit = await StartAsync();
        Assert.Equal((FundsModel.Hold, PayeeSettlement.AtCapture, true), (kit.Gateway.Capabilities.Funds, kit.Gateway.Capabilities.Payees, kit.Gateway.Capabilities.IncrementalAuthorization));
        var auth = await kit.Gateway.AuthorizeAsync(Card("pm_card_visa", 30_000, "sess-s1"), "sess-s1:authorize");
        Assert.True(auth.Approved, auth.DeclineCode);
        Assert.Equal(ProviderAuthorizationStatus.Authorized, (await kit.Gateway.GetAsync(auth.AuthorizationId!))!.Status);

        var capture = await kit.Gateway.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 12_100, 10_890), "sess-s1:capture");
        Assert.True(capture.Succeeded, capture.ErrorCode);
        Assert.Equal((12_100L, 17_900L), (capture.Captured, capture.Released));
        Assert.Equal([new Remittance("cpo-1", 10_890)], capture.Remittances); // the platform's part stays in its balance
        var transfer = Assert.Single((await TransfersAsync(kit, "sess-s1")).EnumerateArray());
        Assert.Equal(("acct_1CPO", 10_890L), (transfer.GetProperty("destination").GetString(), transfer.GetProperty("amount").GetInt64()));

        var replay = await kit.Gateway.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 12_100, 10_890), "sess-s1:capture");
        Assert.True(replay.Succeeded);
        Assert.Equal((1, 1), (kit.Server.Executions("capture"), kit.Server.Executions("transfer")));

        var refund = await kit.Gateway.RefundAsync(new RefundRequest(auth.AuthorizationId!, 5_000, [new Remittance("cpo-1", 4_500), new Remittance("platform-operator", 500)], "meter fault"), "sess-s1:refund:1");
        Assert.True(refund.Succeeded, refund.ErrorCode);
        var got = (await kit.Gateway.GetAsync(auth.AuthorizationId!))!;
        Assert.Equal((ProviderAuthorizationStatus.PartiallyRefunded, 12_100L, 5_000L), (got.Status, got.Captured, got.Refunded));
        Assert.Equal([new Remittance("cpo-1", 10_890)], got.Remittances); // remitted at capture; the reversal is in Refunded
        var reversed = Assert.Single((await TransfersAsync(kit, "sess-s1")).EnumerateArray());
        Assert.Equal(4_500, reversed.GetProperty("amount_reversed").GetInt64());
        Assert.Equal(auth.AuthorizationId, (await kit.Gateway.FindByOrderAsync("sess-s1"))!.AuthorizationId);
    }

    [Fact]
    public async Task Card_declines_and_Stripe_error_shapes_come_back_as_outcomes()
    {
        await using var kit = await StartAsync();
        var funds = await kit.Gateway.AuthorizeAsync(Card("pm_card_visa_chargeDeclinedInsufficientFunds", 30_000, "sess-s2"), "sess-s2:authorize");
        Assert.Equal(("insufficient_funds", false), (funds.DeclineCode, funds.Approved));

        var sca = await kit.Gateway.AuthorizeAsync(Card("pm_card_authenticationRequired", 30_000, "sess-s3"), "sess-s3:authorize");
        Assert.Equal("authentication_required", sca.DeclineCode);
        var abandoned = (await kit.Gateway.FindByOrderAsync("sess-s3"))!;
        Assert.Equal(ProviderAuthorizationStatus.Voided, abandoned.Status); // no hold is left behind

        var missing = await kit.Gateway.AuthorizeAsync(Card("pm_unknown", 30_000, "sess-s4"), "sess-s4:authorize");
        Assert.Equal("resource_missing", missing.DeclineCode);

        var ok = await kit.Gateway.AuthorizeAsync(Card("pm_card_visa", 30_000, "sess-s5"), "sess-s5:authorize");
        var reused = await kit.Gateway.CaptureAsync(ProviderKit.Capture(ok.AuthorizationId!, 10_000, 9_000), "sess-s5:authorize");
        Assert.Equal("idempotency_error", reused.ErrorCode);
        var tooMuch = await kit.Gateway.CaptureAsync(ProviderKit.Capture(ok.AuthorizationId!, 40_000, 36_000), "sess-s5:capture");
        Assert.Equal("amount_too_large", tooMuch.ErrorCode);
    }

    [Fact]
    public async Task Incremental_authorization_raises_an_eligible_hold_and_is_refused_otherwise()
    {
        await using var kit = await StartAsync();
        var auth = await kit.Gateway.AuthorizeAsync(Card("pm_card_visa", 30_000, "sess-s6"), "sess-s6:authorize");
        var raised = await kit.Gateway.IncrementAuthorizationAsync(new IncrementRequest(auth.AuthorizationId!, 45_000), "sess-s6:increment:1");
        Assert.True(raised.Succeeded, raised.ErrorCode);
        Assert.Equal(45_000, (await kit.Gateway.GetAsync(auth.AuthorizationId!))!.Amount);
        Assert.True((await kit.Gateway.IncrementAuthorizationAsync(new IncrementRequest(auth.AuthorizationId!, 45_000), "sess-s6:increment:1")).Succeeded);

        var other = await kit.Gateway.AuthorizeAsync(Card("pm_card_mastercard", 30_000, "sess-s7"), "sess-s7:authorize");
        var refused = await kit.Gateway.IncrementAuthorizationAsync(new IncrementRequest(other.AuthorizationId!, 45_000), "sess-s7:increment:1");
        Assert.Equal("incremental_authorization_not_available", refused.ErrorCode);
        Assert.Equal(30_000, (await kit.Gateway.GetAsync(other.AuthorizationId!))!.Amount);

        await using var off = await StartAsync(o => o.RequestIncrementalAuthorization = false);
        Assert.Equal(IncrementOutcome.NotSupported, await off.Gateway.IncrementAuthorizationAsync(new IncrementRequest("pi_x", 1), "k"));
    }

    [Fact]
    public async Task A_lost_hold_is_resolved_by_replaying_its_key_and_a_hung_attempt_is_retried()
    {
        await using var kit = await StartAsync(o => o.AttemptTimeout = TimeSpan.FromMilliseconds(300), hang: TimeSpan.FromSeconds(3));
        await kit.FaultAsync("authorize", "lost", 2);
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => kit.Gateway.AuthorizeAsync(Card("pm_card_visa", 30_000, "sess-s8"), "sess-s8:authorize"));
        var resolved = await kit.Gateway.ResolveAuthorizeAsync(Card("pm_card_visa", 30_000, "sess-s8"), "sess-s8:authorize");
        Assert.Equal((ResolutionState.Found, ProviderAuthorizationStatus.Authorized), (resolved.State, resolved.Authorization!.Status));
        Assert.Equal(1, kit.Server.Executions("authorize"));

        await kit.FaultAsync("void", "timeout");
        var voided = await kit.Gateway.VoidAsync(resolved.Authorization.AuthorizationId, "sess-s8:void");
        Assert.True(voided.Succeeded, voided.ErrorCode);
        Assert.True((await kit.Gateway.VoidAsync(resolved.Authorization.AuthorizationId, "sess-s8:void:again")).Succeeded);
        Assert.Equal(ProviderAuthorizationStatus.Voided, (await kit.Gateway.GetAsync(resolved.Authorization.AuthorizationId))!.Status);

        var expiring = await kit.Gateway.AuthorizeAsync(Card("pm_card_visa", 30_000, "sess-s9"), "sess-s9:authorize");
        await kit.TestHookAsync($"/__test/expire/{expiring.AuthorizationId}", new { });
        Assert.Equal(ProviderAuthorizationStatus.Expired, (await kit.Gateway.GetAsync(expiring.AuthorizationId!))!.Status);
        Assert.Equal(["sess-s9"], (await kit.Gateway.ListAuthorizationsAsync(ProviderAuthorizationStatus.Expired)).Select(a => a.OrderId));
    }

    [Fact]
    public async Task Saved_payment_method_is_charged_off_session_for_seamless_charging()
    {
        await using var kit = await StartAsync();
        var pm = await kit.TestHookAsync("/__test/payment_methods", new { customer = "cus_driver9" });
        var token = $"cus_driver9:{pm.GetProperty("id").GetString()}";
        var auth = await kit.Gateway.AuthorizeAsync(new AuthorizeRequest("stripe", null, token, 50_000, "sess-s10", "CP-1"), "sess-s10:authorize");
        Assert.True(auth.Approved, auth.DeclineCode);
        var wrongCustomer = await kit.Gateway.AuthorizeAsync(new AuthorizeRequest("stripe", null, $"cus_other:{pm.GetProperty("id").GetString()}", 50_000, "sess-s11", "CP-1"), "sess-s11:authorize");
        Assert.Equal("payment_method_not_attached", wrongCustomer.DeclineCode);
    }
}
