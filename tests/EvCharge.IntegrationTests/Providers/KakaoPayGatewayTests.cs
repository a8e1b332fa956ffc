using System.Net.Http.Json;
using System.Text.Json;
using EvCharge.Payments;

namespace EvCharge.IntegrationTests.Providers;

/// <summary>
/// The KakaoPay adapter over real HTTP against the KakaoPay-shaped server. KakaoPay has no idempotency keys, so the
/// tests count executions at the server: no lost answer or replay may approve or cancel twice.
/// </summary>
public sealed class KakaoPayGatewayTests
{
    private static CheckoutRequest Checkout(string id, long amount) => new(id, amount, "driver-7", "EV charging",
        new Uri("https://evcharge.example/pay/approve"), new Uri("https://evcharge.example/pay/cancel"), new Uri("https://evcharge.example/pay/fail"));

    /// <summary>The phone: a checkout, the driver approves in KakaoTalk, the code it then shows.</summary>
    private static async Task<string> ApprovedCodeAsync(ProviderKit kit, string checkoutId, long amount, string? reject = null)
    {
        var session = await kit.Gateway.PrepareCheckoutAsync(Checkout(checkoutId, amount), checkoutId + ":ready");
        Assert.True(session.Required);
        var approved = await kit.TestHookAsync("/__test/approve", new { tid = session.ProviderReference, reject });
        return $"{session.ProviderReference}:{approved.GetProperty("pg_token").GetString()}";
    }

    private static AuthorizeRequest Code(string code, long amount, string order) => new("kakaopay", code, null, amount, order, "CP-1");

    private static async Task<JsonElement> OrderAsync(ProviderKit kit, string tid, string cid = "TC0ONETIME")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "online/v1/payment/order") { Content = JsonContent.Create(new { cid, tid }) };
        request.Headers.TryAddWithoutValidation("Authorization", "SECRET_KEY " + kit.Server.Options.SecretKey);
        using var response = await kit.Http.SendAsync(request);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Approved_deposit_is_captured_by_cancelling_the_difference_with_VAT()
    {
        await using var kit = await ProviderKit.StartAsync("kakaopay");
        Assert.False(kit.Gateway.Capabilities.ProviderIdempotencyKeys);
        Assert.Equal(PayeeSettlement.OwnLedger, kit.Gateway.Capabilities.Payees);

        var auth = await kit.Gateway.AuthorizeAsync(Code(await ApprovedCodeAsync(kit, "co-k1", 30_000), 30_000, "sess-k1"), "sess-k1:authorize");
        Assert.True(auth.Approved, auth.DeclineCode);
        Assert.Equal(ProviderAuthorizationStatus.Authorized, (await kit.Gateway.FindByOrderAsync("sess-k1"))!.Status);

        var capture = await kit.Gateway.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 12_100, 10_890), "sess-k1:capture");
        Assert.True(capture.Succeeded, capture.ErrorCode);
        Assert.Equal((12_100L, 17_900L), (capture.Captured, capture.Released));
        var order = await OrderAsync(kit, auth.AuthorizationId!);
        Assert.Equal(17_900, order.GetProperty("canceled_amount").GetProperty("total").GetInt64());
        Assert.Equal("PART_CANCEL_PAYMENT", order.GetProperty("status").GetString());

        var replay = await kit.Gateway.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 12_100, 10_890), "sess-k1:capture");
        Assert.True(replay.Succeeded);
        Assert.Equal(1, kit.Server.Executions("capture"));
        Assert.Equal("already_captured", (await kit.Gateway.VoidAsync(auth.AuthorizationId!, "sess-k1:void")).ErrorCode);

        var refund = await kit.Gateway.RefundAsync(new RefundRequest(auth.AuthorizationId!, 2_100, [], "meter fault"), "sess-k1:refund:1");
        Assert.True(refund.Succeeded, refund.ErrorCode);
        var tooMuch = await kit.Gateway.RefundAsync(new RefundRequest(auth.AuthorizationId!, 50_000, [], "typo"), "sess-k1:refund:2");
        Assert.Equal("refund_exceeds_captured", tooMuch.ErrorCode);
        var got = (await kit.Gateway.GetAsync(auth.AuthorizationId!))!;
        Assert.Equal((ProviderAuthorizationStatus.PartiallyRefunded, 12_100L, 2_100L), (got.Status, got.Captured, got.Refunded));
    }

    [Fact]
    public async Task A_declined_approval_carries_KakaoPay_error_and_method_codes()
    {
        await using var kit = await ProviderKit.StartAsync("kakaopay");
        var declined = await kit.Gateway.AuthorizeAsync(Code(await ApprovedCodeAsync(kit, "co-k2", 30_000, reject: "8003"), 30_000, "sess-k2"), "sess-k2:authorize");
        Assert.Equal(("-780:8003", false), (declined.DeclineCode, declined.Approved));

        var mismatch = await kit.Gateway.AuthorizeAsync(Code(await ApprovedCodeAsync(kit, "co-k3", 20_000), 30_000, "sess-k3"), "sess-k3:authorize");
        Assert.Equal("amount_mismatch", mismatch.DeclineCode);
        var unknown = await kit.Gateway.AuthorizeAsync(Code("T0000000000000000000:abc", 30_000, "sess-k4"), "sess-k4:authorize");
        Assert.Equal("unknown_checkout", unknown.DeclineCode);
    }

    [Fact]
    public async Task A_lost_approve_or_cancel_is_resolved_by_the_order_lookup_without_sending_it_again()
    {
        await using var kit = await ProviderKit.StartAsync("kakaopay");
        var code = await ApprovedCodeAsync(kit, "co-k5", 30_000);
        await kit.FaultAsync("authorize", "lost");
        var auth = await kit.Gateway.AuthorizeAsync(Code(code, 30_000, "sess-k5"), "sess-k5:authorize");
        Assert.True(auth.Approved, auth.DeclineCode);
        Assert.Equal(1, kit.Server.Executions("authorize"));
        Assert.Equal(auth.AuthorizationId, (await kit.Gateway.AuthorizeAsync(Code(code, 30_000, "sess-k5"), "sess-k5:authorize")).AuthorizationId);
        Assert.Equal(1, kit.Server.Executions("authorize"));

        await kit.FaultAsync("capture", "lost");
        var capture = await kit.Gateway.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 10_000, 9_000), "sess-k5:capture");
        Assert.True(capture.Succeeded, capture.ErrorCode);
        Assert.Equal(20_000, capture.Released);
        Assert.Equal(1, kit.Server.Executions("capture"));
    }

    [Fact]
    public async Task A_timed_out_cancel_is_not_retried_blindly_and_completes_once_later()
    {
        await using var kit = await ProviderKit.StartAsync("kakaopay", o => o.AttemptTimeout = TimeSpan.FromMilliseconds(300), faultHang: TimeSpan.FromSeconds(3));
        var auth = await kit.Gateway.AuthorizeAsync(Code(await ApprovedCodeAsync(kit, "co-k6", 30_000), 30_000, "sess-k6"), "sess-k6:authorize");
        await kit.FaultAsync("capture", "timeout");
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() =>
            kit.Gateway.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 10_000, 9_000), "sess-k6:capture"));
        Assert.Equal(0, kit.Server.Executions("capture"));
        Assert.Equal(PaymentOperation.Pending, (await kit.Journal.GetAsync("kakaopay", "sess-k6:capture"))!.State);

        var capture = await kit.Gateway.CaptureAsync(ProviderKit.Capture(auth.AuthorizationId!, 10_000, 9_000), "sess-k6:capture");
        Assert.True(capture.Succeeded, capture.ErrorCode);
        Assert.Equal(1, kit.Server.Executions("capture"));
    }

    [Fact]
    public async Task Saved_SID_pays_under_the_session_order_and_a_lost_SID_payment_stays_in_doubt()
    {
        await using var kit = await ProviderKit.StartAsync("kakaopay");
        var sid = (await kit.TestHookAsync("/__test/sids", new { partner_user_id = "driver-9" })).GetProperty("sid").GetString();
        var request = new AuthorizeRequest("kakaopay", null, $"driver-9:{sid}", 50_000, "sess-k7", "CP-1");
        var auth = await kit.Gateway.AuthorizeAsync(request, "sess-k7:authorize");
        Assert.True(auth.Approved, auth.DeclineCode);
        Assert.Equal(auth.AuthorizationId, (await kit.Gateway.FindByOrderAsync("sess-k7"))!.AuthorizationId);
        Assert.True((await kit.Gateway.VoidAsync(auth.AuthorizationId!, "sess-k7:void")).Succeeded);
        var voided = (await kit.Gateway.GetAsync(auth.AuthorizationId!))!;
        Assert.Equal(ProviderAuthorizationStatus.Voided, voided.Status);
        var order = await OrderAsync(kit, auth.AuthorizationId!, "TCSUBSCRIP");
        Assert.Equal("CANCEL_PAYMENT", order.GetProperty("status").GetString());

        var lost = request with { OrderId = "sess-k8" };
        await kit.FaultAsync("authorize", "lost");
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => kit.Gateway.AuthorizeAsync(lost, "sess-k8:authorize"));
        Assert.Equal(ResolutionState.Unknown, (await kit.Gateway.ResolveAuthorizeAsync(lost, "sess-k8:authorize")).State);
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => kit.Gateway.AuthorizeAsync(lost, "sess-k8:authorize"));
        Assert.Equal(2, kit.Server.Executions("authorize")); // sess-k7 and the lost sess-k8, never a second sess-k8
    }
}
