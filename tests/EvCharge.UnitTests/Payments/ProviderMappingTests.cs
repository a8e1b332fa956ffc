using System.Security.Cryptography;
using System.Text;
using EvCharge.Payments;
using EvCharge.Payments.Providers;
using Microsoft.Extensions.Logging.Abstractions;

namespace EvCharge.UnitTests.Payments;

/// <summary>Pure parts of the real-provider adapters: credential formats, JWE, webhook signatures, capability defaults.</summary>
public sealed class ProviderMappingTests
{
    [Theory]
    [InlineData("co-1:tgen_abc", true, "co-1", "tgen_abc")]
    [InlineData("co-1:", false, "", "")]
    [InlineData(":tgen_abc", false, "", "")]
    [InlineData("a:b:c", false, "a", "b:c")]
    [InlineData(null, false, "", "")]
    public void Toss_payment_code_is_orderId_colon_paymentKey(string? code, bool ok, string orderId, string paymentKey)
    {
        Assert.Equal(ok, PaymentCredentials.TryTossPaymentCode(code, out var o, out var k));
        if (ok) Assert.Equal((orderId, paymentKey), (o, k));
    }

    [Fact]
    public void Stripe_credentials_are_a_PaymentMethod_or_customer_and_PaymentMethod()
    {
        Assert.True(PaymentCredentials.TryStripePaymentMethod("pm_card_visa", out var pm));
        Assert.Equal("pm_card_visa", pm);
        Assert.False(PaymentCredentials.TryStripePaymentMethod("card_123", out _));
        Assert.True(PaymentCredentials.TryStripeSaved("cus_1:pm_2", out var c, out var p));
        Assert.Equal(("cus_1", "pm_2"), (c, p));
        Assert.False(PaymentCredentials.TryStripeSaved("pm_2:cus_1", out _, out _));
        Assert.True(PaymentCredentials.TryKakaoSid("driver-9:S123", out var user, out var sid));
        Assert.Equal(("driver-9", "S123"), (user, sid));
    }

    [Theory]
    [InlineData(17_900, 1_627)]
    [InlineData(11, 1)]
    [InlineData(5, 0)]
    [InlineData(6, 1)]
    public void KakaoPay_cancel_VAT_is_one_eleventh_rounded_half_up(long amount, long vat) =>
        Assert.Equal(vat, PaymentCredentials.VatOf(amount));

    private const string Key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Fact]
    public void Toss_JWE_round_trips_and_carries_the_required_headers()
    {
        var at = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.FromHours(9));
        var jwe = TossJwe.Encrypt("""[{"refPayoutId":"p-1"}]""", Key, at, "nonce-1");
        Assert.Equal(5, jwe.Split('.').Length);
        Assert.Empty(jwe.Split('.')[1]); // dir: no encrypted key
        var (plain, header) = TossJwe.Decrypt(jwe, Key);
        Assert.Equal("""[{"refPayoutId":"p-1"}]""", plain);
        Assert.Equal(("dir", "A256GCM", "2026-03-01T12:00:00+09:00", "nonce-1"),
            (header.GetProperty("alg").GetString(), header.GetProperty("enc").GetString(), header.GetProperty("iat").GetString(), header.GetProperty("nonce").GetString()));
    }

    [Fact]
    public void Toss_JWE_refuses_a_tampered_token_or_another_key()
    {
        var jwe = TossJwe.Encrypt("payload", Key, DateTimeOffset.UtcNow, "n");
        var parts = jwe.Split('.');
        var cipher = System.Buffers.Text.Base64Url.DecodeFromChars(parts[3]);
        cipher[0] ^= 1;
        parts[3] = System.Buffers.Text.Base64Url.EncodeToString(cipher);
        Assert.ThrowsAny<CryptographicException>(() => TossJwe.Decrypt(string.Join('.', parts), Key));
        Assert.ThrowsAny<CryptographicException>(() => TossJwe.Decrypt(jwe, "f" + Key[1..]));
        Assert.Throws<ArgumentException>(() => TossJwe.Encrypt("x", "abcd", DateTimeOffset.UtcNow, "n"));
    }

    [Fact]
    public void Stripe_signature_is_checked_over_timestamp_and_raw_body_with_a_tolerance()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":"evt_1","type":"payment_intent.canceled","created":1767225600,"data":{"object":{"id":"pi_1","object":"payment_intent","status":"canceled","metadata":{"order_id":"sess-1"}}}}""");
        var now = DateTimeOffset.FromUnixTimeSeconds(1767225600);
        var header = StripeWebhookSignature.Sign(body, "whsec_x", now);
        Assert.Null(StripeWebhookSignature.Check(header, body, "whsec_x", now.AddMinutes(4), TimeSpan.FromMinutes(5)));
        Assert.Equal("signature mismatch", StripeWebhookSignature.Check(header, body, "whsec_other", now, TimeSpan.FromMinutes(5)));
        Assert.Equal("signature mismatch", StripeWebhookSignature.Check(header, [.. body, (byte)' '], "whsec_x", now, TimeSpan.FromMinutes(5)));
        Assert.StartsWith("timestamp outside", StripeWebhookSignature.Check(header, body, "whsec_x", now.AddMinutes(6), TimeSpan.FromMinutes(5)));
        Assert.Null(StripeWebhookSignature.Check($"{header},v1=deadbeef", body, "whsec_x", now, TimeSpan.FromMinutes(5))); // rotation: any v1 may match
        Assert.Equal("timestamp missing", StripeWebhookSignature.Check("v1=00", body, "whsec_x", now, TimeSpan.FromMinutes(5)));

        var gateway = new StripeGateway("stripe", () => throw new InvalidOperationException("no HTTP in this test"),
            new ProviderGatewayOptions { Kind = "Stripe", SecretKey = "sk_test_x", WebhookSecret = "whsec_x" }, TimeProvider.System, NullLogger<StripeGateway>.Instance);
        var verdict = gateway.Verify(new Dictionary<string, string> { ["Stripe-Signature"] = header }, body, now);
        Assert.True(verdict.Valid, verdict.Reason);
        Assert.Equal(("pi_1", "sess-1", "payment_intent.canceled"), (verdict.Event!.AuthorizationId, verdict.Event.OrderId, verdict.Event.Type));
        Assert.False(gateway.Verify(new Dictionary<string, string>(), body, now).Valid);
    }

    [Fact]
    public void Toss_payout_webhook_needs_its_signature_and_payment_events_are_hints_only()
    {
        var payout = Encoding.UTF8.GetBytes("""{"eventType":"payout.changed","createdAt":"2024-12-02T12:15:20+09:00","eventId":"e-1","entityBody":{"id":"FPA_1","status":"COMPLETED"}}""");
        const string sentAt = "2024-12-03T11:00:38+09:00";
        var signature = TossWebhookSignature.Sign(payout, sentAt, "security-key");
        Assert.True(TossWebhookSignature.Matches($"v1:AAAA,{signature}", payout, sentAt, "security-key"));
        Assert.False(TossWebhookSignature.Matches(signature, payout, "2024-12-03T11:00:39+09:00", "security-key"));

        var toss = new TossPaymentsGateway("toss", () => throw new InvalidOperationException("no HTTP in this test"),
            new ProviderGatewayOptions { Kind = "Toss", SecretKey = "test_sk_x", WebhookSecret = "security-key" }, null!, TimeProvider.System, NullLogger<TossPaymentsGateway>.Instance);
        var headers = new Dictionary<string, string> { ["tosspayments-webhook-signature"] = signature, ["tosspayments-webhook-transmission-time"] = sentAt };
        Assert.True(toss.Verify(headers, payout, DateTimeOffset.UtcNow).Valid);
        Assert.Equal("signature missing", toss.Verify(new Dictionary<string, string>(), payout, DateTimeOffset.UtcNow).Reason);

        var status = Encoding.UTF8.GetBytes("""{"eventType":"PAYMENT_STATUS_CHANGED","createdAt":"2026-01-01T10:00:00+09:00","data":{"paymentKey":"tgen_1","orderId":"co-1","status":"CANCELED"}}""");
        var hint = toss.Verify(new Dictionary<string, string>(), status, DateTimeOffset.UtcNow);
        Assert.True(hint.Valid);
        Assert.Equal(("tgen_1", "CANCELED"), (hint.Event!.AuthorizationId, hint.Event.Status));
    }

    [Fact]
    public void Capability_defaults_keep_the_sandbox_meaning()
    {
        var sandbox = new ProviderCapabilities(true, true, true, TimeSpan.FromDays(7));
        Assert.Equal((FundsModel.Hold, PayeeSettlement.AtCapture, true, false), (sandbox.Funds, sandbox.Payees, sandbox.ProviderIdempotencyKeys, sandbox.IncrementalAuthorization));
        Assert.Equal(PayeeSettlement.OwnLedger, new ProviderCapabilities(true, false, true, TimeSpan.FromDays(7)).Payees);
    }

    [Fact]
    public void Provider_options_never_print_their_secrets()
    {
        var o = new ProviderGatewayOptions { Kind = "Toss", SecretKey = "test_sk_supersecret1234", WebhookSecret = "whsec_verysecret9876" };
        var text = o.ToString();
        Assert.DoesNotContain("supersecret", text);
        Assert.DoesNotContain("verysecret", text);
        Assert.Contains("1234", text);
    }
}
