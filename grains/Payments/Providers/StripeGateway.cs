using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EvCharge.Charging;
using Microsoft.Extensions.Logging;

namespace EvCharge.Payments.Providers;

/// <summary>
/// <see cref="IPaymentGateway"/> over Stripe's PaymentIntents API with manual capture and Connect separate charges and
/// transfers (docs/payments.md, "Stripe"). Authorize creates and confirms a PaymentIntent with
/// <c>capture_method=manual</c> (a hold, 7 days for cards), asking for incremental authorization where the card
/// allows it; capture takes the fee (<c>amount_to_capture</c>, the rest is released) and transfers each CPO's part to
/// its connected account (<c>source_transaction</c> = the charge, so the transfer waits for the funds); the capture's
/// remittances are those transfers, as the PaymentIntent's record lists them (the platform's part stays in the
/// platform balance: the session books it as owed from the ledger); void cancels;
/// a refund refunds and reverses the transfers by the split reversals. Every POST carries our Idempotency-Key
/// (Stripe keeps keys 24 hours); derived calls get derived keys. KRW is a zero-decimal currency: amounts are won.
/// </summary>
public sealed partial class StripeGateway(
    string name, Func<HttpClient> http, ProviderGatewayOptions options, TimeProvider time, ILogger<StripeGateway> logger)
    : IPaymentGateway, IPaymentWebhookVerifier
{
    private const string Provider = "Stripe";
    private readonly AuthenticationHeaderValue _auth =
        new("Bearer", options.SecretKey ?? throw new ArgumentException($"Payments:Providers:{name}:SecretKey is missing"));

    public ProviderCapabilities Capabilities => new(PartialCapture: true, SplitAtCapture: true, SavedTokens: true, HoldLifetime: options.HoldLifetime)
    {
        Funds = FundsModel.Hold,
        IncrementalAuthorization = options.RequestIncrementalAuthorization,
        Payees = PayeeSettlement.AtCapture,
        ProviderIdempotencyKeys = true,
        NeedsCheckout = false,
        Webhooks = true,
        SavedCredential = "saved PaymentMethod of a Customer (cus_…:pm_…), charged off-session",
    };

    public async Task<AuthorizeOutcome> AuthorizeAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("amount", Num(request.Amount)), new("currency", "krw"), new("capture_method", "manual"), new("confirm", "true"),
            new("payment_method_types[]", "card"), new("metadata[order_id]", request.OrderId),
            new("metadata[merchant_reference]", request.MerchantReference), new("expand[]", "latest_charge"),
        };
        if (options.RequestIncrementalAuthorization) form.Add(new("payment_method_options[card][request_incremental_authorization]", "if_available"));
        if (request.PaymentCode is not null)
        {
            if (!PaymentCredentials.TryStripePaymentMethod(request.PaymentCode, out var pm))
                return AuthorizeOutcome.Decline("invalid_payment_code", "a Stripe payment code is a PaymentMethod id (pm_…)");
            form.Add(new("payment_method", pm));
        }
        else
        {
            if (!PaymentCredentials.TryStripeSaved(request.BillingToken, out var customer, out var pm))
                return AuthorizeOutcome.Decline("invalid_billing_key", "a Stripe saved credential is cus_…:pm_…");
            form.Add(new("customer", customer));
            form.Add(new("payment_method", pm));
            form.Add(new("off_session", "true"));
        }
        var answer = await PostAsync("v1/payment_intents", form, idempotencyKey, "authorize", ct);
        if (answer.Ok && answer.Str("status") == "requires_capture") return Approved(answer.Body);
        if (answer.Ok)
        {
            // requires_action (3-D Secure) cannot be completed at a charger: release it at once.
            await PostAsync($"v1/payment_intents/{answer.Str("id")}/cancel", [], idempotencyKey + ":abandon", "void", ct);
            return AuthorizeOutcome.Decline("authentication_required", $"the card needs the driver's authentication ({answer.Str("status")})");
        }
        var (code, message) = Error(answer);
        LogDeclined(request.OrderId, code);
        return AuthorizeOutcome.Decline(code, message);
    }

    /// <summary>
    /// Stripe keeps the first answer for an Idempotency-Key for 24 hours, so the surest lookup is the same create
    /// under the same key: it returns the PaymentIntent the lost call made, or makes it now (what the caller meant).
    /// Search by metadata is not used for this: its index lags by up to a minute and could say "none" wrongly.
    /// </summary>
    public async Task<AuthorizeResolution> ResolveAuthorizeAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var outcome = await AuthorizeAsync(request, idempotencyKey, ct);
        return outcome.Approved && await GetAsync(outcome.AuthorizationId!, ct) is { } a ? AuthorizeResolution.Found(a) : AuthorizeResolution.None;
    }

    public async Task<CaptureOutcome> CaptureAsync(CaptureRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        if (request.Splits.Sum(s => s.Amount) != request.Amount)
            return new CaptureOutcome(false, null, 0, 0, [], "split_mismatch", "splits must sum to the amount");
        var answer = await PostAsync($"v1/payment_intents/{Uri.EscapeDataString(request.AuthorizationId)}/capture",
            [new("amount_to_capture", Num(request.Amount)), new("expand[]", "latest_charge")], idempotencyKey, "capture", ct);
        if (!answer.Ok)
        {
            var (code, message) = Error(answer);
            LogRefused("capture", code);
            return new CaptureOutcome(false, null, 0, 0, [], code, message);
        }
        var pi = answer.Body;
        var chargeId = ChargeId(pi);
        var remittances = new List<Remittance>();
        foreach (var split in request.Splits.Where(s => s.Amount > 0))
        {
            if (split.Role == PayeeRole.Cpo && Destination(split.PayeeAccount) is { } account)
            {
                var transfer = await PostAsync("v1/transfers",
                [
                    new("amount", Num(split.Amount)), new("currency", "krw"), new("destination", account), new("source_transaction", chargeId ?? ""),
                    new("transfer_group", OrderIdOf(pi)), new("metadata[payee]", split.PayeeAccount),
                ], $"{idempotencyKey}:transfer:{split.PayeeAccount}", "transfer", ct);
                if (!transfer.Ok)
                {
                    // Captured, but the transfer was refused: that part stays in the platform balance and is settled from the ledger.
                    LogRefused("transfer", Error(transfer).Code);
                    continue;
                }
            }
            else continue; // no connected account (or the platform's own part, which stays in its balance): settled from the ledger
            remittances.Add(new Remittance(split.PayeeAccount, split.Amount));
        }
        var captured = pi.Long("amount_received");
        return new CaptureOutcome(true, pi.Str("id"), captured, pi.Long("amount") - captured, remittances, null, null);
    }

    public async Task<VoidOutcome> VoidAsync(string authorizationId, string idempotencyKey, CancellationToken ct = default)
    {
        var answer = await PostAsync($"v1/payment_intents/{Uri.EscapeDataString(authorizationId)}/cancel",
            [new("cancellation_reason", "abandoned")], idempotencyKey, "void", ct);
        if (answer.Ok) return new VoidOutcome(true, null, null);
        // Cancelling a cancelled PaymentIntent is refused (payment_intent_unexpected_state); the hold is gone either way.
        var current = await GetIntentAsync(authorizationId, ct);
        if (current?.Str("status") == "canceled") return new VoidOutcome(true, null, null);
        if (current?.Str("status") == "succeeded") return new VoidOutcome(false, "already_captured", "the hold was captured; refund instead");
        var (code, message) = Error(answer);
        return new VoidOutcome(false, code, message);
    }

    public async Task<IncrementOutcome> IncrementAuthorizationAsync(IncrementRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        if (!options.RequestIncrementalAuthorization) return IncrementOutcome.NotSupported;
        var answer = await PostAsync($"v1/payment_intents/{Uri.EscapeDataString(request.AuthorizationId)}/increment_authorization",
            [new("amount", Num(request.NewAmount)), new("expand[]", "latest_charge")], idempotencyKey, "increment", ct);
        if (!answer.Ok)
        {
            var (code, message) = Error(answer);
            LogRefused("increment", code);
            return new IncrementOutcome(false, 0, null, code, message);
        }
        return new IncrementOutcome(true, answer.Body.Long("amount"), CaptureBefore(answer.Body), null, null);
    }

    public async Task<RefundResult> RefundAsync(RefundRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var answer = await PostAsync("v1/refunds",
            [new("payment_intent", request.PaymentId), new("amount", Num(request.Amount)), new("metadata[reason]", request.Reason ?? "")],
            idempotencyKey, "refund", ct);
        if (!answer.Ok)
        {
            var (code, message) = Error(answer);
            LogRefused("refund", code);
            return new RefundResult(false, null, 0, code, message);
        }
        if (request.SplitReversals.Any(r => r.Amount > 0))
        {
            var intent = await GetIntentAsync(request.PaymentId, ct);
            var transfers = await LookupAsync($"v1/transfers?transfer_group={Uri.EscapeDataString(intent is { } i ? OrderIdOf(i) : "")}", ct);
            foreach (var reversal in request.SplitReversals.Where(r => r.Amount > 0))
            {
                var transfer = transfers.Body.Items("data").FirstOrDefault(t => t.TryGetProperty("metadata", out var m) && m.Str("payee") == reversal.PayeeAccount);
                if (transfer.ValueKind != JsonValueKind.Object) continue; // that payee's part was never transferred
                var r = await PostAsync($"v1/transfers/{transfer.Str("id")}/reversals", [new("amount", Num(reversal.Amount))],
                    $"{idempotencyKey}:reversal:{reversal.PayeeAccount}", "refund", ct);
                if (!r.Ok) LogRefused("transfer reversal", Error(r).Code);
            }
        }
        return new RefundResult(true, answer.Str("id"), answer.Body.Long("amount"), null, null);
    }

    public async Task<ProviderAuthorization?> GetAsync(string authorizationId, CancellationToken ct = default) =>
        await GetIntentAsync(authorizationId, ct) is { } pi ? await MapAsync(pi, ct) : null;

    public async Task<ProviderAuthorization?> FindByOrderAsync(string orderId, CancellationToken ct = default)
    {
        var query = $"metadata['order_id']:'{orderId.Replace("'", "\\'")}'";
        var answer = await LookupAsync($"v1/payment_intents/search?query={Uri.EscapeDataString(query)}&expand[]=data.latest_charge", ct);
        var best = answer.Body.Items("data").OrderByDescending(p => p.Str("status") is "requires_capture" or "succeeded").ThenByDescending(p => p.Long("created")).FirstOrDefault();
        return best.ValueKind == JsonValueKind.Object ? await MapAsync(best, ct) : null;
    }

    public async Task<IReadOnlyList<ProviderAuthorization>> ListAuthorizationsAsync(ProviderAuthorizationStatus status, CancellationToken ct = default)
    {
        var stripeStatus = status switch
        {
            ProviderAuthorizationStatus.Authorized => "requires_capture",
            ProviderAuthorizationStatus.Voided or ProviderAuthorizationStatus.Expired => "canceled",
            _ => "succeeded",
        };
        var answer = await LookupAsync($"v1/payment_intents/search?query={Uri.EscapeDataString($"status:'{stripeStatus}'")}&limit=100&expand[]=data.latest_charge", ct);
        var list = new List<ProviderAuthorization>();
        foreach (var pi in answer.Body.Items("data"))
            if (await MapAsync(pi, ct) is { } a && a.Status == status) list.Add(a);
        return list;
    }

    /// <summary>
    /// <c>Stripe-Signature: t={unix},v1={hex HMAC-SHA256(secret, "{t}.{payload}")}</c>; several v1 values may be given
    /// (secret rotation); older than five minutes is refused as a replay.
    /// </summary>
    public WebhookVerification Verify(IReadOnlyDictionary<string, string> headers, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        if (options.WebhookSecret is null) return WebhookVerification.Reject("no webhook secret configured");
        if (!headers.TryGetValue("Stripe-Signature", out var header)) return WebhookVerification.Reject("Stripe-Signature missing");
        var check = StripeWebhookSignature.Check(header, body, options.WebhookSecret, now, TimeSpan.FromMinutes(5));
        if (check is not null) return WebhookVerification.Reject(check);
        JsonElement e;
        try { e = JsonDocument.Parse(body.ToArray()).RootElement.Clone(); }
        catch (JsonException) { return WebhookVerification.Reject("body is not JSON"); }
        var obj = e.TryGetProperty("data", out var d) && d.TryGetProperty("object", out var o) ? o : default;
        var isIntent = obj.ValueKind == JsonValueKind.Object && obj.Str("object") == "payment_intent";
        var intentId = isIntent ? obj.Str("id") : obj.ValueKind == JsonValueKind.Object ? obj.Str("payment_intent") : null;
        return WebhookVerification.Accept(new ProviderEvent(e.Str("id") ?? "", e.Str("type") ?? "", intentId,
            isIntent && obj.TryGetProperty("metadata", out var m) ? m.Str("order_id") : null,
            obj.ValueKind == JsonValueKind.Object ? obj.Str("status") : null,
            DateTimeOffset.FromUnixTimeSeconds(e.Long("created"))));
    }

    private async Task<ProviderAuthorization> MapAsync(JsonElement pi, CancellationToken ct)
    {
        var status = pi.Str("status") switch
        {
            "requires_capture" => ProviderAuthorizationStatus.Authorized,
            "succeeded" => ProviderAuthorizationStatus.Captured,
            "canceled" when pi.Str("cancellation_reason") == "automatic" => ProviderAuthorizationStatus.Expired,
            "canceled" => ProviderAuthorizationStatus.Voided,
            _ => ProviderAuthorizationStatus.Expired,
        };
        var captured = pi.Long("amount_received");
        var charge = pi.TryGetProperty("latest_charge", out var c) && c.ValueKind == JsonValueKind.Object ? c : default;
        var refunded = charge.ValueKind == JsonValueKind.Object ? charge.Long("amount_refunded") : 0;
        if (status == ProviderAuthorizationStatus.Captured && refunded > 0)
            status = refunded >= captured ? ProviderAuthorizationStatus.Refunded : ProviderAuthorizationStatus.PartiallyRefunded;
        IReadOnlyList<Remittance> remittances = [];
        if (captured > 0)
        {
            // What was remitted at capture, as the sandbox and the ledger's Remit journals count it; reversals show in Refunded.
            var transfers = await LookupAsync($"v1/transfers?transfer_group={Uri.EscapeDataString(OrderIdOf(pi))}", ct);
            var cpo = transfers.Body.Items("data").Select(t => new Remittance(
                t.TryGetProperty("metadata", out var m) ? m.Str("payee") ?? t.Str("destination")! : t.Str("destination")!,
                t.Long("amount"))).ToList();
            remittances = cpo;
        }
        var created = DateTimeOffset.FromUnixTimeSeconds(pi.Long("created"));
        return new ProviderAuthorization(pi.Str("id")!, OrderIdOf(pi), WalletRefOf(pi), pi.Long("amount"), status, captured, refunded,
            captured > 0 ? pi.Str("id") : null, remittances, created, CaptureBefore(pi) ?? created + options.HoldLifetime);
    }

    private AuthorizeOutcome Approved(JsonElement pi) =>
        new(true, pi.Str("id"), WalletRefOf(pi), pi.Long("amount"), CaptureBefore(pi) ?? time.GetUtcNow() + options.HoldLifetime, null, null);

    /// <summary>The card's own deadline for capture (<c>latest_charge.payment_method_details.card.capture_before</c>).</summary>
    private static DateTimeOffset? CaptureBefore(JsonElement pi) =>
        pi.TryGetProperty("latest_charge", out var c) && c.ValueKind == JsonValueKind.Object
        && c.TryGetProperty("payment_method_details", out var d) && d.TryGetProperty("card", out var card)
        && card.TryGetProperty("capture_before", out var cb) && cb.ValueKind == JsonValueKind.Number
            ? DateTimeOffset.FromUnixTimeSeconds(cb.GetInt64()) : null;

    private static string? ChargeId(JsonElement pi) =>
        pi.TryGetProperty("latest_charge", out var c) ? c.ValueKind == JsonValueKind.Object ? c.Str("id") : c.ValueKind == JsonValueKind.String ? c.GetString() : null : null;

    private static string OrderIdOf(JsonElement pi) => pi.TryGetProperty("metadata", out var m) ? m.Str("order_id") ?? "" : "";

    private static string WalletRefOf(JsonElement pi) =>
        ProviderHttp.WalletRef(Provider, pi.Str("customer") ?? pi.Str("payment_method") ?? pi.Str("id") ?? "");

    private string? Destination(string payee) =>
        options.Payees.TryGetValue(payee, out var account) ? account : payee.StartsWith("acct_", StringComparison.Ordinal) ? payee : null;

    private async Task<JsonElement?> GetIntentAsync(string id, CancellationToken ct)
    {
        var answer = await LookupAsync($"v1/payment_intents/{Uri.EscapeDataString(id)}?expand[]=latest_charge", ct, allowNotFound: true);
        return answer.Status == HttpStatusCode.NotFound ? null : answer.Body;
    }

    private async Task<ProviderAnswer> LookupAsync(string path, CancellationToken ct, bool allowNotFound = false)
    {
        using var message = new HttpRequestMessage(HttpMethod.Get, path);
        message.Headers.Authorization = _auth;
        using var response = await ProviderHttp.SendAsync(http(), message, Provider, "get", ct);
        var answer = await ProviderAnswer.ReadAsync(response, ct);
        if (!answer.Ok && !(allowNotFound && answer.Status == HttpStatusCode.NotFound))
            throw new InvalidOperationException($"Stripe refused the lookup {path.Split('?')[0]}: {Error(answer).Code}");
        return answer;
    }

    private async Task<ProviderAnswer> PostAsync(string path, IEnumerable<KeyValuePair<string, string>> form, string idempotencyKey, string operation, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, path) { Content = ProviderJson.Form(form) };
        message.Headers.Authorization = _auth;
        message.Headers.Add("Idempotency-Key", idempotencyKey);
        using var response = await ProviderHttp.SendAsync(http(), message, Provider, operation, ct);
        return await ProviderAnswer.ReadAsync(response, ct);
    }

    /// <summary>Stripe's error: <c>{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":…}}</c>.</summary>
    internal static (string Code, string Message) Error(ProviderAnswer answer)
    {
        var e = answer.Body.ValueKind == JsonValueKind.Object && answer.Body.TryGetProperty("error", out var x) ? x : default;
        if (e.ValueKind != JsonValueKind.Object) return ($"http_{(int)answer.Status}", answer.Status.ToString());
        return (e.Str("decline_code") ?? e.Str("code") ?? e.Str("type") ?? $"http_{(int)answer.Status}", e.Str("message") ?? "");
    }

    private static string Num(long v) => v.ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stripe declined the hold for order {OrderId}: {Code}")]
    private partial void LogDeclined(string orderId, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stripe refused {Operation}: {Code}")]
    private partial void LogRefused(string operation, string code);
}

public static class StripeWebhookSignature
{
    public static string Sign(ReadOnlySpan<byte> payload, string secret, DateTimeOffset at)
    {
        var t = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return $"t={t},v1={Hex(payload, secret, t)}";
    }

    /// <summary>Null when valid, else why not.</summary>
    public static string? Check(string header, ReadOnlySpan<byte> payload, string secret, DateTimeOffset now, TimeSpan tolerance)
    {
        string? t = null;
        var signatures = new List<string>();
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) continue;
            var (k, v) = (part[..eq], part[(eq + 1)..]);
            if (k == "t") t = v;
            else if (k == "v1") signatures.Add(v);
        }
        if (t is null || !long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var unix)) return "timestamp missing";
        if (signatures.Count == 0) return "no v1 signature";
        var expected = Encoding.ASCII.GetBytes(Hex(payload, secret, t));
        if (!signatures.Any(s => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(s), expected))) return "signature mismatch";
        if ((now - DateTimeOffset.FromUnixTimeSeconds(unix)).Duration() > tolerance) return "timestamp outside the tolerance (replay?)";
        return null;
    }

    private static string Hex(ReadOnlySpan<byte> payload, string secret, string t) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), (byte[])[.. Encoding.UTF8.GetBytes(t + "."), .. payload]));
}
