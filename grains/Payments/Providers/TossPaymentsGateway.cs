using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EvCharge.Charging;
using Microsoft.Extensions.Logging;

namespace EvCharge.Payments.Providers;

/// <summary>
/// <see cref="IPaymentGateway"/> over Toss Payments' core API (docs/payments.md, "Toss Payments"). Toss has no holds:
/// authorize approves the deposit (<c>POST /v1/payments/confirm</c> for a payment-window code, <c>POST
/// /v1/billing/{billingKey}</c> for a saved credential); capture cancels the difference to the fee
/// (<c>POST /v1/payments/{paymentKey}/cancel</c> with <c>cancelAmount</c>); void cancels the rest; a refund is one more
/// partial cancel. Every POST carries our Idempotency-Key (Toss keeps it 15 days). Payees are paid by Toss payouts
/// (<c>POST /v2/payouts</c>, JWE-encrypted) when sellers are configured, otherwise from EvCharge's ledger.
/// The journal records what each cancel meant, since Toss's record alone cannot tell a deposit captured in full
/// from one still open.
/// </summary>
public sealed partial class TossPaymentsGateway(
    string name, Func<HttpClient> http, ProviderGatewayOptions options, IPaymentOperationJournal journal, TimeProvider time,
    ILogger<TossPaymentsGateway> logger) : IPaymentGateway, IPaymentWebhookVerifier
{
    private const string Provider = "Toss";
    private readonly AuthenticationHeaderValue _auth = new("Basic",
        Convert.ToBase64String(Encoding.UTF8.GetBytes((options.SecretKey ?? throw new ArgumentException($"Payments:Providers:{name}:SecretKey is missing")) + ":")));

    private bool PaysOut => options.SecurityKey is not null && options.Payees.Count > 0;

    public ProviderCapabilities Capabilities => new(PartialCapture: true, SplitAtCapture: PaysOut, SavedTokens: true, HoldLifetime: options.HoldLifetime)
    {
        Funds = FundsModel.ApproveThenPartialCancel,
        IncrementalAuthorization = false,
        Payees = PaysOut ? PayeeSettlement.ProviderPayout : PayeeSettlement.OwnLedger,
        ProviderIdempotencyKeys = true,
        NeedsCheckout = true,
        Webhooks = true,
        SavedCredential = "auto-payment billing key (customerKey:billingKey)",
    };

    public async Task<AuthorizeOutcome> AuthorizeAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        string path, paymentRef;
        object body;
        if (request.PaymentCode is not null)
        {
            if (!PaymentCredentials.TryTossPaymentCode(request.PaymentCode, out var tossOrderId, out var paymentKey))
                return AuthorizeOutcome.Decline("invalid_payment_code", "a Toss payment code is {orderId}:{paymentKey}");
            (path, paymentRef, body) = ("v1/payments/confirm", paymentKey, new { paymentKey, orderId = tossOrderId, amount = request.Amount });
        }
        else
        {
            if (!PaymentCredentials.TryTossBillingKey(request.BillingToken, out var customerKey, out var billingKey))
                return AuthorizeOutcome.Decline("invalid_billing_key", "a Toss saved credential is {customerKey}:{billingKey}");
            (path, paymentRef, body) = ($"v1/billing/{Uri.EscapeDataString(billingKey)}", "billing:" + PaymentRequestHash.Of(customerKey)[..12],
                new { customerKey, amount = request.Amount, orderId = request.OrderId, orderName = options.ItemName });
        }

        var hash = PaymentRequestHash.Of($"authorize|{path}|{paymentRef}|{request.Amount}|{request.OrderId}");
        // A one-time code's payment key is recorded with the row at once: the first authorization to present it owns it.
        var presented = request.PaymentCode is not null ? paymentRef : null;
        var (begin, row) = await journal.BeginAsync(name, idempotencyKey, "authorize", request.OrderId, presented, hash, ct);
        if (begin == JournalBegin.Completed) return ProviderJson.Deserialize<AuthorizeOutcome>(row.Response!);
        if (begin == JournalBegin.KeyReused) return AuthorizeOutcome.Decline("idempotency_key_reuse", "this key was used for another authorization");
        if (presented is not null && !await OwnsPaymentAsync(presented, idempotencyKey, ct))
        {
            // A payment window pays one authorization: a charger that retried its DataTransfer into a new session must not
            // take over (or, resolving, cancel) the payment that belongs to the first.
            await journal.ForgetAsync(name, idempotencyKey, ct);
            return AuthorizeOutcome.Decline("code_used", "this Toss payment was presented for another authorization");
        }

        // Started or in doubt: Toss's own Idempotency-Key makes sending again safe either way.
        var answer = await SendAsync(HttpMethod.Post, path, body, idempotencyKey, "authorize", ct);
        AuthorizeOutcome outcome;
        if (answer.Ok && answer.Str("status") is "DONE")
        {
            var p = answer.Body;
            outcome = new AuthorizeOutcome(true, p.Str("paymentKey"), WalletRefOf(p), p.Long("totalAmount"),
                (p.Time("approvedAt") ?? time.GetUtcNow()) + options.HoldLifetime, null, null);
        }
        else
        {
            var (code, message) = Error(answer);
            LogDeclined(request.OrderId, code);
            outcome = AuthorizeOutcome.Decline(code, message);
        }
        await journal.CompleteAsync(name, idempotencyKey, outcome.AuthorizationId, ProviderJson.Serialize(outcome), ct);
        return outcome;
    }

    public async Task<AuthorizeResolution> ResolveAuthorizeAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        if (await journal.GetAsync(name, idempotencyKey, ct) is { IsDone: true } done)
        {
            var o = ProviderJson.Deserialize<AuthorizeOutcome>(done.Response!);
            return o.Approved && await GetAsync(o.AuthorizationId!, ct) is { } a ? AuthorizeResolution.Found(a) : AuthorizeResolution.None;
        }
        // Toss answers a retry under the same Idempotency-Key with the first answer, so "not approved yet" is safe to
        // report as NotFound: the caller's retry with the same key cannot approve twice.
        var isCode = PaymentCredentials.TryTossPaymentCode(request.PaymentCode, out _, out var paymentKey);
        // Another authorization's payment with the same code is not ours: the re-send is then declined as code_used.
        if (isCode && !await OwnsPaymentAsync(paymentKey, idempotencyKey, ct)) return AuthorizeResolution.None;
        var p = isCode
            ? await GetPaymentAsync($"v1/payments/{Uri.EscapeDataString(paymentKey)}", ct)
            : await GetPaymentAsync($"v1/payments/orders/{Uri.EscapeDataString(request.OrderId)}", ct);
        return p is { } payment && payment.Str("status") is "DONE" or "PARTIAL_CANCELED" or "CANCELED"
            ? AuthorizeResolution.Found(await MapAsync(payment, ct))
            : AuthorizeResolution.None;
    }

    /// <summary>The first authorization to present a payment key owns it (journal order: created, then key).</summary>
    private async Task<bool> OwnsPaymentAsync(string paymentKey, string idempotencyKey, CancellationToken ct) =>
        (await journal.FindAsync(name, authorizationId: paymentKey, operation: "authorize", ct: ct)).FirstOrDefault()?.IdempotencyKey is not { } owner
        || owner == idempotencyKey;

    public async Task<CaptureOutcome> CaptureAsync(CaptureRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var hash = PaymentRequestHash.Of($"capture|{request.AuthorizationId}|{request.Amount}|{string.Join(',', request.Splits.Select(s => $"{s.PayeeAccount}={s.Amount}"))}");
        var (begin, row) = await journal.BeginAsync(name, idempotencyKey, "capture", null, request.AuthorizationId, hash, ct);
        if (begin == JournalBegin.Completed) return ProviderJson.Deserialize<CaptureOutcome>(row.Response!);
        if (begin == JournalBegin.KeyReused) return CaptureFailed("idempotency_key_reuse", "this key was used for another capture");

        var payment = await GetPaymentAsync($"v1/payments/{Uri.EscapeDataString(request.AuthorizationId)}", ct);
        if (payment is not { } p) return await Refuse(CaptureFailed("not_found", "Toss has no such payment"));
        if (p.Str("status") is "CANCELED") return await Refuse(CaptureFailed("authorization_voided", "the deposit was cancelled in full"));
        var deposit = p.Long("totalAmount");
        if (request.Amount <= 0 || request.Amount > deposit)
            return await Refuse(CaptureFailed("amount_exceeds_authorized", $"capture {request.Amount} must be in 1..{deposit}"));
        if (request.Splits.Sum(s => s.Amount) != request.Amount) return await Refuse(CaptureFailed("split_mismatch", "splits must sum to the amount"));

        var release = deposit - request.Amount;
        var reason = $"release {idempotencyKey}";
        if (release > 0 && !p.Items("cancels").Any(c => c.Str("cancelReason") == reason))
        {
            var answer = await SendAsync(HttpMethod.Post, $"v1/payments/{Uri.EscapeDataString(request.AuthorizationId)}/cancel",
                new { cancelReason = reason, cancelAmount = release }, idempotencyKey, "capture", ct);
            if (!answer.Ok)
            {
                var (code, message) = Error(answer);
                LogRefused("capture", code);
                return await Refuse(CaptureFailed(code, message));
            }
        }

        var remittances = PaysOut ? await PayOutAsync(request, idempotencyKey, ct) : [];
        var outcome = new CaptureOutcome(true, request.AuthorizationId, request.Amount, release, remittances, null, null);
        await journal.CompleteAsync(name, idempotencyKey, request.AuthorizationId, ProviderJson.Serialize(outcome), ct);
        return outcome;

        async Task<CaptureOutcome> Refuse(CaptureOutcome o)
        {
            await journal.ForgetAsync(name, idempotencyKey, ct);
            return o;
        }
    }

    public async Task<VoidOutcome> VoidAsync(string authorizationId, string idempotencyKey, CancellationToken ct = default)
    {
        var (begin, row) = await journal.BeginAsync(name, idempotencyKey, "void", null, authorizationId, PaymentRequestHash.Of("void|" + authorizationId), ct);
        if (begin == JournalBegin.Completed) return ProviderJson.Deserialize<VoidOutcome>(row.Response!);
        if (begin == JournalBegin.KeyReused) return new VoidOutcome(false, "idempotency_key_reuse", "this key was used for another request");
        if ((await journal.FindAsync(name, authorizationId: authorizationId, operation: "capture", ct: ct)).Any(r => r.IsDone))
        {
            await journal.ForgetAsync(name, idempotencyKey, ct);
            return new VoidOutcome(false, "already_captured", "the deposit was captured; refund instead");
        }
        var answer = await SendAsync(HttpMethod.Post, $"v1/payments/{Uri.EscapeDataString(authorizationId)}/cancel",
            new { cancelReason = $"void {idempotencyKey}" }, idempotencyKey, "void", ct);
        var outcome = answer.Ok || Error(answer).Code == "ALREADY_CANCELED_PAYMENT"
            ? new VoidOutcome(true, null, null)
            : new VoidOutcome(false, Error(answer).Code, Error(answer).Message);
        if (outcome.Succeeded) await journal.CompleteAsync(name, idempotencyKey, authorizationId, ProviderJson.Serialize(outcome), ct);
        else await journal.ForgetAsync(name, idempotencyKey, ct);
        return outcome;
    }

    public async Task<RefundResult> RefundAsync(RefundRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var hash = PaymentRequestHash.Of($"refund|{request.PaymentId}|{request.Amount}");
        var (begin, row) = await journal.BeginAsync(name, idempotencyKey, "refund", null, request.PaymentId, hash, ct);
        if (begin == JournalBegin.Completed) return ProviderJson.Deserialize<RefundResult>(row.Response!);
        if (begin == JournalBegin.KeyReused) return new RefundResult(false, null, 0, "idempotency_key_reuse", "this key was used for another refund");
        var answer = await SendAsync(HttpMethod.Post, $"v1/payments/{Uri.EscapeDataString(request.PaymentId)}/cancel",
            new { cancelReason = $"refund {idempotencyKey}", cancelAmount = request.Amount }, idempotencyKey, "refund", ct);
        if (!answer.Ok)
        {
            await journal.ForgetAsync(name, idempotencyKey, ct);
            var (code, message) = Error(answer);
            LogRefused("refund", code);
            return new RefundResult(false, null, 0, code, message);
        }
        var cancel = answer.Body.Items("cancels").LastOrDefault(c => c.Str("cancelReason") == $"refund {idempotencyKey}");
        var result = new RefundResult(true, cancel.ValueKind == JsonValueKind.Object ? cancel.Str("transactionKey") : null, request.Amount, null, null);
        await journal.CompleteAsync(name, idempotencyKey, request.PaymentId, ProviderJson.Serialize(result), ct);
        return result;
    }

    public async Task<ProviderAuthorization?> GetAsync(string authorizationId, CancellationToken ct = default) =>
        await GetPaymentAsync($"v1/payments/{Uri.EscapeDataString(authorizationId)}", ct) is { } p ? await MapAsync(p, ct) : null;

    public async Task<ProviderAuthorization?> FindByOrderAsync(string orderId, CancellationToken ct = default)
    {
        // A payment-window payment carries the checkout's order id at Toss; the journal knows which session it paid.
        var ours = (await journal.FindAsync(name, orderId: orderId, operation: "authorize", ct: ct))
            .Where(r => r.IsDone && r.AuthorizationId is not null).Select(r => r.AuthorizationId!).LastOrDefault();
        if (ours is not null) return await GetAsync(ours, ct);
        return await GetPaymentAsync($"v1/payments/orders/{Uri.EscapeDataString(orderId)}", ct) is { } p ? await MapAsync(p, ct) : null;
    }

    public async Task<IReadOnlyList<ProviderAuthorization>> ListAuthorizationsAsync(ProviderAuthorizationStatus status, CancellationToken ct = default)
    {
        // Toss has no list by status; every deposit EvCharge approved is in the journal.
        var list = new List<ProviderAuthorization>();
        foreach (var id in (await journal.FindAsync(name, operation: "authorize", ct: ct)).Where(r => r.IsDone && r.AuthorizationId is not null).Select(r => r.AuthorizationId!).Distinct())
            if (await GetAsync(id, ct) is { } a && a.Status == status) list.Add(a);
        return list;
    }

    /// <summary>
    /// Toss webhooks: <c>payout.changed</c> / <c>seller.changed</c> carry <c>tosspayments-webhook-signature</c>
    /// (<c>v1:</c> base64 HMAC-SHA256 of <c>{payload}:{transmission-time}</c> with the security key);
    /// <c>PAYMENT_STATUS_CHANGED</c> carries no signature, so it is accepted only as a hint: the receiver re-reads the
    /// payment from Toss with the secret key before anything else.
    /// </summary>
    public WebhookVerification Verify(IReadOnlyDictionary<string, string> headers, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        JsonElement root;
        try { root = JsonDocument.Parse(body.ToArray()).RootElement.Clone(); }
        catch (JsonException) { return WebhookVerification.Reject("body is not JSON"); }
        var type = root.Str("eventType") ?? "";
        if (headers.TryGetValue("tosspayments-webhook-signature", out var signature))
        {
            if (options.WebhookSecret is null) return WebhookVerification.Reject("no webhook secret configured");
            if (!headers.TryGetValue("tosspayments-webhook-transmission-time", out var sentAt)) return WebhookVerification.Reject("transmission time missing");
            if (!TossWebhookSignature.Matches(signature, body, sentAt, options.WebhookSecret)) return WebhookVerification.Reject("signature mismatch");
        }
        else if (type is "payout.changed" or "seller.changed")
        {
            return WebhookVerification.Reject("signature missing");
        }
        var data = root.TryGetProperty("data", out var d) ? d : root.TryGetProperty("entityBody", out var e) ? e : default;
        return WebhookVerification.Accept(new ProviderEvent(
            root.Str("eventId") ?? PaymentRequestHash.Of(Encoding.UTF8.GetString(body))[..20], type,
            data.ValueKind == JsonValueKind.Object ? data.Str("paymentKey") : null,
            data.ValueKind == JsonValueKind.Object ? data.Str("orderId") : null,
            data.ValueKind == JsonValueKind.Object ? data.Str("status") : null, root.Time("createdAt")));
    }

    private async Task<IReadOnlyList<Remittance>> PayOutAsync(CaptureRequest request, string idempotencyKey, CancellationToken ct)
    {
        var remittances = new List<Remittance>();
        var payouts = new List<object>();
        foreach (var (split, i) in request.Splits.Select((s, i) => (s, i)))
        {
            if (split.Amount == 0) continue;
            if (split.Role == PayeeRole.Cpo && options.Payees.TryGetValue(split.PayeeAccount, out var seller))
                payouts.Add(new
                {
                    refPayoutId = $"{PaymentRequestHash.Of(idempotencyKey)[..24]}-{i}", destination = seller, scheduleType = "EXPRESS",
                    amount = new { currency = "KRW", value = split.Amount }, transactionDescription = $"EvCharge {request.Receipt.SessionId}",
                });
            else if (split.Role == PayeeRole.Cpo) continue; // no seller at Toss: settled from the ledger
            remittances.Add(new Remittance(split.PayeeAccount, split.Amount));
        }
        if (payouts.Count == 0) return remittances;
        var jwe = TossJwe.Encrypt(JsonSerializer.Serialize(payouts, ProviderJson.Web), options.SecurityKey!, time.GetUtcNow().ToOffset(TimeSpan.FromHours(9)), Guid.NewGuid().ToString());
        using var message = new HttpRequestMessage(HttpMethod.Post, "v2/payouts") { Content = new StringContent(jwe, Encoding.UTF8, "text/plain") };
        message.Headers.Authorization = _auth;
        message.Headers.Add("Idempotency-Key", idempotencyKey + ":payout");
        message.Headers.Add("TossPayments-api-security-mode", "ENCRYPTION");
        using var response = await ProviderHttp.SendAsync(http(), message, Provider, "payout", ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            // Captured, but Toss refused the payouts: the CPO's part is settled from the ledger instead.
            LogRefused("payout", text.Length > 120 ? text[..120] : text);
            return remittances.Where(r => request.Splits.Any(s => s.PayeeAccount == r.PayeeAccount && s.Role == PayeeRole.Platform)).ToList();
        }
        TossJwe.Decrypt(text, options.SecurityKey!); // authenticates the answer
        return remittances;
    }

    private async Task<ProviderAuthorization> MapAsync(JsonElement p, CancellationToken ct)
    {
        var paymentKey = p.Str("paymentKey")!;
        var ops = await journal.FindAsync(name, authorizationId: paymentKey, ct: ct);
        var capture = ops.Where(o => o.Operation == "capture" && o.IsDone).Select(o => ProviderJson.Deserialize<CaptureOutcome>(o.Response!)).FirstOrDefault();
        var deposit = p.Long("totalAmount");
        var cancels = p.Items("cancels").ToList();
        var refunded = cancels.Where(c => c.Str("cancelReason")?.StartsWith("refund", StringComparison.Ordinal) == true).Sum(c => c.Long("cancelAmount"));
        var status = p.Str("status");
        var approvedAt = p.Time("approvedAt");
        var orderId = ops.FirstOrDefault(o => o.Operation == "authorize")?.OrderId ?? p.Str("orderId") ?? "";
        ProviderAuthorizationStatus s;
        long captured = 0;
        if (capture is not null)
        {
            captured = capture.Captured;
            s = refunded >= captured ? ProviderAuthorizationStatus.Refunded : refunded > 0 ? ProviderAuthorizationStatus.PartiallyRefunded : ProviderAuthorizationStatus.Captured;
        }
        else s = status switch
        {
            "DONE" or "PARTIAL_CANCELED" => ProviderAuthorizationStatus.Authorized,
            "CANCELED" => ProviderAuthorizationStatus.Voided,
            _ => ProviderAuthorizationStatus.Expired,
        };
        return new ProviderAuthorization(paymentKey, orderId, WalletRefOf(p), deposit, s, captured, refunded,
            capture?.PaymentId, capture?.Remittances ?? [], approvedAt ?? p.Time("requestedAt"), approvedAt + options.HoldLifetime);
    }

    private static string WalletRefOf(JsonElement p) =>
        ProviderHttp.WalletRef(Provider, p.Str("customerKey") ?? p.Str("paymentKey") ?? "");

    private async Task<JsonElement?> GetPaymentAsync(string path, CancellationToken ct)
    {
        var answer = await SendAsync(HttpMethod.Get, path, null, null, "get", ct);
        if (answer.Status == HttpStatusCode.NotFound) return null;
        if (!answer.Ok) throw new InvalidOperationException($"Toss refused the lookup: {Error(answer).Code}");
        return answer.Body;
    }

    private async Task<ProviderAnswer> SendAsync(HttpMethod method, string path, object? body, string? key, string operation, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(method, path);
        message.Headers.Authorization = _auth;
        if (key is not null) message.Headers.Add("Idempotency-Key", key);
        if (body is not null) message.Content = ProviderJson.Content(body, ProviderJson.Web);
        using var response = await ProviderHttp.SendAsync(http(), message, Provider, operation, ct);
        return await ProviderAnswer.ReadAsync(response, ct);
    }

    /// <summary>Toss's error object: <c>{"code":"REJECT_CARD_PAYMENT","message":"…"}</c>.</summary>
    internal static (string Code, string Message) Error(ProviderAnswer answer) =>
        (answer.Str("code") ?? $"http_{(int)answer.Status}", answer.Str("message") ?? answer.Status.ToString());

    private static CaptureOutcome CaptureFailed(string code, string message) => new(false, null, 0, 0, [], code, message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Toss declined the deposit for order {OrderId}: {Code}")]
    private partial void LogDeclined(string orderId, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Toss refused {Operation}: {Code}")]
    private partial void LogRefused(string operation, string code);
}

/// <summary>Toss's webhook signature: <c>v1:</c>base64(HMAC-SHA256(key, "{payload}:{transmission-time}")), one or more, comma-separated.</summary>
public static class TossWebhookSignature
{
    public static string Sign(ReadOnlySpan<byte> payload, string transmissionTime, string secret) =>
        "v1:" + Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Concat(payload, transmissionTime)));

    public static bool Matches(string header, ReadOnlySpan<byte> payload, string transmissionTime, string secret)
    {
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Concat(payload, transmissionTime));
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var value = part.StartsWith("v1:", StringComparison.Ordinal) ? part[3..] : null;
            if (value is null) continue;
            try
            {
                if (CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(value), expected)) return true;
            }
            catch (FormatException) { }
        }
        return false;
    }

    private static byte[] Concat(ReadOnlySpan<byte> payload, string time) => [.. payload, .. Encoding.UTF8.GetBytes(":" + time)];
}
