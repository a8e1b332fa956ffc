using System.Net.Http.Json;
using System.Text.Json;
using EvCharge.Payments;

namespace EvCharge.IntegrationTests.Providers;

/// <summary>The Toss adapter over real HTTP against the Toss-shaped server: deposit, partial cancel, faults, replays.</summary>
public sealed class TossPaymentsGatewayTests
{
    private static async Task<string> CheckoutAsync(ProviderKit kit, string orderId, long amount, string? reject = null)
    {
        var c = await kit.TestHookAsync("/__test/checkouts", new { orderId, amount, reject });
        return $"{orderId}:{c.GetProperty("paymentKey").GetString()}";
    }

    private static AuthorizeRequest Code(string code, long amount, string order) => new("toss", code, null, amount, order, "CP-1");

    private async Task<JsonElement> RawPaymentAsync(ProviderKit kit, string paymentKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v1/payments/{paymentKey}");
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(kit.Server.Options.SecretKey + ":")));
        using var response = await kit.Http.SendAsync(request);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Deposit_is_approved_then_capture_cancels_the_difference_once()
    {
        await using var kit = await ProviderKit.StartAsync("toss");
        var g = kit.Gateway;
        Assert.Equal(FundsModel.ApproveThenPartialCancel, g.Capabilities.Funds);
        Assert.Equal(PayeeSettlement.OwnLedger, g.Capabilities.Payees);

        var auth = await g.AuthorizeAsync(Code(await CheckoutAsync(kit, "co-t1", 30_000), 30_000, "sess-t1"), "sess-t1:authorize");
        Assert.True(auth.Approved, auth.DeclineCode);
        Assert.Equal(30_000, auth.Amount);
        Assert.Equal(ProviderAuthorizationStatus.Authorized, (await g.GetAsync(auth.AuthorizationId!))!.Status);
        Assert.Equal("sess-t1", (await g.FindByOrderAsync("sess-t1"))!.OrderId);

        var capture = await g.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 12_100, 10_890), "sess-t1:capture");
        Assert.True(capture.Succeeded, capture.ErrorCode);
        Assert.Equal((12_100, 17_900), (capture.Captured, capture.Released));
        Assert.Empty(capture.Remittances); // no payouts configured: EvCharge settles the payees itself
        var raw = await RawPaymentAsync(kit, auth.AuthorizationId!);
        Assert.Equal(12_100, raw.GetProperty("balanceAmount").GetInt64());
        Assert.Equal("PARTIAL_CANCELED", raw.GetProperty("status").GetString());

        var again = await g.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 12_100, 10_890), "sess-t1:capture");
        Assert.Equal((capture.PaymentId, capture.Captured, capture.Released), (again.PaymentId, again.Captured, again.Released));
        Assert.Equal(1, kit.Server.Executions("capture"));
        var reused = await g.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 13_000, 10_000), "sess-t1:capture");
        Assert.Equal("idempotency_key_reuse", reused.ErrorCode);

        var got = (await g.GetAsync(auth.AuthorizationId!))!;
        Assert.Equal((ProviderAuthorizationStatus.Captured, 12_100L, 30_000L), (got.Status, got.Captured, got.Amount));
        Assert.Equal([got.AuthorizationId], (await g.ListAuthorizationsAsync(ProviderAuthorizationStatus.Captured)).Select(a => a.AuthorizationId));
        Assert.Empty(await g.ListAuthorizationsAsync(ProviderAuthorizationStatus.Authorized));
    }

    [Fact]
    public async Task Declines_and_error_shapes_come_back_as_outcomes_with_Toss_codes()
    {
        await using var kit = await ProviderKit.StartAsync("toss");
        var rejected = await kit.Gateway.AuthorizeAsync(Code(await CheckoutAsync(kit, "co-t2", 30_000, "REJECT_CARD_PAYMENT"), 30_000, "sess-t2"), "sess-t2:authorize");
        Assert.Equal(("REJECT_CARD_PAYMENT", false), (rejected.DeclineCode, rejected.Approved));

        var wrongAmount = await kit.Gateway.AuthorizeAsync(Code(await CheckoutAsync(kit, "co-t3", 20_000), 30_000, "sess-t3"), "sess-t3:authorize");
        Assert.Equal("INVALID_REQUEST", wrongAmount.DeclineCode);

        var garbage = await kit.Gateway.AuthorizeAsync(Code("not-a-code", 30_000, "sess-t4"), "sess-t4:authorize");
        Assert.Equal("invalid_payment_code", garbage.DeclineCode);

        await using var badKey = await ProviderKit.StartAsync("toss", o => o.SecretKey = "test_sk_wrong");
        var unauthorized = await badKey.Gateway.AuthorizeAsync(Code(await CheckoutAsync(badKey, "co-t5", 30_000), 30_000, "sess-t5"), "sess-t5:authorize");
        Assert.Equal("UNAUTHORIZED_KEY", unauthorized.DeclineCode);
    }

    [Fact]
    public async Task A_lost_approval_is_resolved_by_lookup_and_a_replay_approves_nothing_twice()
    {
        await using var kit = await ProviderKit.StartAsync("toss");
        var code = await CheckoutAsync(kit, "co-t6", 30_000);
        await kit.FaultAsync("authorize", "lost", 2); // executes, then both attempts of the pipeline lose the answer
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => kit.Gateway.AuthorizeAsync(Code(code, 30_000, "sess-t6"), "sess-t6:authorize"));

        var resolved = await kit.Gateway.ResolveAuthorizeAsync(Code(code, 30_000, "sess-t6"), "sess-t6:authorize");
        Assert.Equal(ResolutionState.Found, resolved.State);
        Assert.Equal(ProviderAuthorizationStatus.Authorized, resolved.Authorization!.Status);

        var replay = await kit.Gateway.AuthorizeAsync(Code(code, 30_000, "sess-t6"), "sess-t6:authorize");
        Assert.True(replay.Approved);
        Assert.Equal(resolved.Authorization.AuthorizationId, replay.AuthorizationId);
        Assert.Equal(1, kit.Server.Executions("authorize"));
    }

    [Fact]
    public async Task A_hung_attempt_is_retried_under_the_same_key_and_a_provider_down_is_outcome_unknown()
    {
        await using var kit = await ProviderKit.StartAsync("toss", o => o.AttemptTimeout = TimeSpan.FromMilliseconds(300), faultHang: TimeSpan.FromSeconds(3));
        var auth = await kit.Gateway.AuthorizeAsync(Code(await CheckoutAsync(kit, "co-t7", 30_000), 30_000, "sess-t7"), "sess-t7:authorize");
        Assert.True(auth.Approved);

        await kit.FaultAsync("capture", "timeout"); // first attempt hangs and is abandoned; the retry goes through
        var capture = await kit.Gateway.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 10_000, 9_000), "sess-t7:capture");
        Assert.True(capture.Succeeded, capture.ErrorCode);
        Assert.Equal(1, kit.Server.Executions("capture"));

        await kit.FaultAsync("refund", "error", 2);
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() =>
            kit.Gateway.RefundAsync(new RefundRequest(auth.AuthorizationId!, 4_000, [], "meter fault"), "sess-t7:refund:1"));
        Assert.Equal(0, kit.Server.Executions("refund"));
        var refund = await kit.Gateway.RefundAsync(new RefundRequest(auth.AuthorizationId!, 4_000, [], "meter fault"), "sess-t7:refund:1");
        Assert.True(refund.Succeeded, refund.ErrorCode);
        var got = (await kit.Gateway.GetAsync(auth.AuthorizationId!))!;
        Assert.Equal((ProviderAuthorizationStatus.PartiallyRefunded, 10_000L, 4_000L), (got.Status, got.Captured, got.Refunded));
    }

    [Fact]
    public async Task Saved_billing_key_pays_under_the_session_order_and_void_cancels_the_deposit()
    {
        await using var kit = await ProviderKit.StartAsync("toss");
        var bk = await kit.TestHookAsync("/__test/billing-keys", new { customerKey = "cust-0042" });
        var token = $"cust-0042:{bk.GetProperty("billingKey").GetString()}";
        var auth = await kit.Gateway.AuthorizeAsync(new AuthorizeRequest("toss", null, token, 50_000, "sess-t8", "CP-1"), "sess-t8:authorize");
        Assert.True(auth.Approved, auth.DeclineCode);
        Assert.Equal(auth.AuthorizationId, (await kit.Gateway.FindByOrderAsync("sess-t8"))!.AuthorizationId);

        var voided = await kit.Gateway.VoidAsync(auth.AuthorizationId!, "sess-t8:void");
        Assert.True(voided.Succeeded, voided.ErrorCode);
        Assert.True((await kit.Gateway.VoidAsync(auth.AuthorizationId!, "sess-t8:void")).Succeeded);
        Assert.Equal(ProviderAuthorizationStatus.Voided, (await kit.Gateway.GetAsync(auth.AuthorizationId!))!.Status);
        Assert.Equal(1, kit.Server.Executions("void"));

        var declined = await kit.TestHookAsync("/__test/billing-keys", new { customerKey = "cust-0043", reject = "EXCEED_MAX_AMOUNT" });
        var refused = await kit.Gateway.AuthorizeAsync(new AuthorizeRequest("toss", null, $"cust-0043:{declined.GetProperty("billingKey").GetString()}", 50_000, "sess-t9", "CP-1"), "sess-t9:authorize");
        Assert.Equal("EXCEED_MAX_AMOUNT", refused.DeclineCode);
    }

    [Fact]
    public async Task Payouts_pay_the_CPO_seller_through_an_encrypted_request()
    {
        await using var kit = await ProviderKit.StartAsync("toss", o =>
        {
            o.SecurityKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
            o.Payees["cpo-1"] = "seller-cpo-1";
        });
        Assert.Equal(PayeeSettlement.ProviderPayout, kit.Gateway.Capabilities.Payees);
        var auth = await kit.Gateway.AuthorizeAsync(Code(await CheckoutAsync(kit, "co-t10", 30_000), 30_000, "sess-t10"), "sess-t10:authorize");
        var capture = await kit.Gateway.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 12_100, 10_890, session: "sess-t10"), "sess-t10:capture");
        Assert.True(capture.Succeeded, capture.ErrorCode);
        Assert.Equal([new Remittance("cpo-1", 10_890), new Remittance("platform-operator", 1_210)], capture.Remittances);

        var payouts = await kit.Http.GetFromJsonAsync<JsonElement>("/__test/payouts");
        var payout = Assert.Single(payouts.EnumerateArray());
        Assert.Equal("seller-cpo-1", payout.GetProperty("destination").GetString());
        Assert.Equal(10_890, payout.GetProperty("amount").GetProperty("value").GetInt64());
    }
}
