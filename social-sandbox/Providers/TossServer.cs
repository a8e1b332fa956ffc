using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EvCharge.SocialSandbox.Providers;

/// <summary>
/// A server shaped like Toss Payments' core API (docs/payments.md cites the pages): Basic auth with the secret key,
/// the Payment object, <c>{"code","message"}</c> errors, Idempotency-Key on POSTs, and the subset the adapter uses:
/// confirm, billing-key payment, cancel (full/partial), lookup by paymentKey and by orderId, v2 payouts (JWE).
/// <c>/__test/*</c> plays the phone (a finished payment window, a registered billing key). Like Toss, a key is
/// matched with the API key, URL and method, not the body: a reused key with another body gets the first answer.
/// </summary>
internal static class TossServer
{
    private sealed class Payment
    {
        public required string PaymentKey, OrderId;
        public string? CustomerKey;
        public string Status = "READY";
        public long TotalAmount;
        public string? RejectCode;
        public DateTimeOffset RequestedAt = DateTimeOffset.UtcNow;
        public DateTimeOffset? ApprovedAt;
        public readonly List<JsonObject> Cancels = [];
        public long Balance => TotalAmount - Cancels.Sum(c => (long)c["cancelAmount"]!);
    }

    public static ProviderRuntime Map(IEndpointRouteBuilder app, ProviderServerOptions options)
    {
        var rt = new ProviderRuntime("Toss", _ => Error(409, "IDEMPOTENT_REQUEST_PROCESSING", "Idempotency-Key가 다른 요청에 사용되었습니다."), replayHeader: false);
        var payments = new Dictionary<string, Payment>();
        var billingKeys = new Dictionary<string, (string CustomerKey, string? Reject)>();
        var payouts = new List<JsonNode>();
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(options.SecretKey + ":"));

        bool Authorized(HttpContext ctx) => ctx.Request.Headers.Authorization.ToString() == expected;
        IResult Unauthorized() => ProviderRuntime.Write(Error(401, "UNAUTHORIZED_KEY", "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다."));

        app.MapPost("/__test/checkouts", async (HttpContext ctx) =>
        {
            var b = await ReadAsync(ctx);
            var p = new Payment { PaymentKey = ProviderRuntime.NewId("tgen_", 30), OrderId = b["orderId"]!.GetValue<string>(), TotalAmount = b["amount"]!.GetValue<long>(), RejectCode = b["reject"]?.GetValue<string>() };
            lock (rt.Gate) payments[p.PaymentKey] = p;
            return Results.Json(new { paymentKey = p.PaymentKey, orderId = p.OrderId, amount = p.TotalAmount });
        });
        app.MapPost("/__test/billing-keys", async (HttpContext ctx) =>
        {
            var b = await ReadAsync(ctx);
            var key = ProviderRuntime.NewId("bk_", 30);
            lock (rt.Gate) billingKeys[key] = (b["customerKey"]!.GetValue<string>(), b["reject"]?.GetValue<string>());
            return Results.Json(new { billingKey = key, customerKey = b["customerKey"]!.GetValue<string>() });
        });
        app.MapGet("/__test/payouts", () => { lock (rt.Gate) return Results.Json(payouts.Select(p => p.DeepClone()).ToList()); });
        // Every payment with its cancels, for a test's checks across all of them (no double cancel, nothing left open).
        app.MapGet("/__test/payments", () => { lock (rt.Gate) return Results.Json(payments.Values.Where(p => p.Status != "READY").Select(p => ToJson(p)).ToList()); });

        app.MapPost("/v1/payments/confirm", async (HttpContext ctx) =>
        {
            if (!Authorized(ctx)) return Unauthorized();
            var (b, raw) = await ReadRawAsync(ctx);
            return await rt.RunAsync(ctx, "authorize", Key(ctx), ProviderRuntime.Hash("POST /v1/payments/confirm"), () =>
            {
                var key = b["paymentKey"]?.GetValue<string>() ?? "";
                if (!payments.TryGetValue(key, out var p)) return Error(404, "NOT_FOUND_PAYMENT_SESSION", "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.");
                if (p.Status != "READY") return Error(400, "ALREADY_PROCESSED_PAYMENT", "이미 처리된 결제 입니다.");
                if (b["orderId"]?.GetValue<string>() != p.OrderId || b["amount"]?.GetValue<long>() != p.TotalAmount)
                    return Error(400, "INVALID_REQUEST", "결제 요청 정보(orderId, amount)가 결제창의 정보와 다릅니다.");
                if (p.RejectCode is { } reject)
                {
                    p.Status = "ABORTED";
                    return Error(403, reject, "한도초과 혹은 잔액부족으로 결제에 실패했습니다.");
                }
                p.Status = "DONE";
                p.ApprovedAt = DateTimeOffset.UtcNow;
                return ProviderReply.Ok(ToJson(p));
            });
        });

        app.MapPost("/v1/billing/{billingKey}", async (string billingKey, HttpContext ctx) =>
        {
            if (!Authorized(ctx)) return Unauthorized();
            var (b, raw) = await ReadRawAsync(ctx);
            return await rt.RunAsync(ctx, "authorize", Key(ctx), ProviderRuntime.Hash("POST /v1/billing/" + billingKey), () =>
            {
                if (!billingKeys.TryGetValue(billingKey, out var bk) || bk.CustomerKey != b["customerKey"]?.GetValue<string>())
                    return Error(404, "NOT_FOUND_BILLING", "존재하지 않는 빌링키 입니다.");
                var orderId = b["orderId"]?.GetValue<string>() ?? "";
                var amount = b["amount"]?.GetValue<long>() ?? 0;
                if (amount <= 0 || orderId.Length is < 6 or > 64) return Error(400, "INVALID_REQUEST", "잘못된 요청입니다.");
                if (payments.Values.Any(x => x.OrderId == orderId)) return Error(400, "DUPLICATED_ORDER_ID", "이미 승인 및 취소가 진행된 중복된 주문번호 입니다.");
                if (bk.Reject is { } reject) return Error(403, reject, "카드사에서 결제를 거절했습니다.");
                var p = new Payment { PaymentKey = ProviderRuntime.NewId("tbil_", 30), OrderId = orderId, CustomerKey = bk.CustomerKey, TotalAmount = amount, Status = "DONE", ApprovedAt = DateTimeOffset.UtcNow };
                payments[p.PaymentKey] = p;
                return ProviderReply.Ok(ToJson(p));
            });
        });

        app.MapPost("/v1/payments/{paymentKey}/cancel", async (string paymentKey, HttpContext ctx) =>
        {
            if (!Authorized(ctx)) return Unauthorized();
            var (b, raw) = await ReadRawAsync(ctx);
            var reason = b["cancelReason"]?.GetValue<string>() ?? "";
            var operation = reason.StartsWith("release", StringComparison.Ordinal) ? "capture" : reason.StartsWith("void", StringComparison.Ordinal) ? "void" : "refund";
            return await rt.RunAsync(ctx, operation, Key(ctx), ProviderRuntime.Hash($"POST /v1/payments/{paymentKey}/cancel"), () =>
            {
                if (!payments.TryGetValue(paymentKey, out var p) || p.Status == "READY") return Error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.");
                if (p.Status == "CANCELED") return Error(400, "ALREADY_CANCELED_PAYMENT", "이미 취소된 결제 입니다.");
                if (string.IsNullOrEmpty(reason)) return Error(400, "INVALID_REQUEST", "cancelReason은 필수입니다.");
                var amount = b["cancelAmount"]?.GetValue<long>() ?? p.Balance;
                if (amount <= 0 || amount > p.Balance) return Error(400, "NOT_CANCELABLE_AMOUNT", "취소 할 수 없는 금액 입니다.");
                p.Cancels.Add(new JsonObject
                {
                    ["cancelAmount"] = amount, ["cancelReason"] = reason, ["canceledAt"] = DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(9)).ToString("O"),
                    ["transactionKey"] = ProviderRuntime.NewId("", 32), ["taxFreeAmount"] = 0, ["refundableAmount"] = p.Balance - amount,
                });
                p.Status = p.Balance == 0 ? "CANCELED" : "PARTIAL_CANCELED";
                return ProviderReply.Ok(ToJson(p));
            });
        });

        app.MapGet("/v1/payments/{paymentKey}", (string paymentKey, HttpContext ctx) =>
        {
            if (!Authorized(ctx)) return Unauthorized();
            lock (rt.Gate)
                return ProviderRuntime.Write(payments.TryGetValue(paymentKey, out var p) ? ProviderReply.Ok(ToJson(p)) : Error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다."));
        });
        app.MapGet("/v1/payments/orders/{orderId}", (string orderId, HttpContext ctx) =>
        {
            if (!Authorized(ctx)) return Unauthorized();
            lock (rt.Gate)
                return ProviderRuntime.Write(payments.Values.FirstOrDefault(x => x.OrderId == orderId && x.Status != "READY") is { } p
                    ? ProviderReply.Ok(ToJson(p)) : Error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다."));
        });

        // v2 payouts: the body is a compact JWE (dir, A256GCM) under the security key; so is the answer.
        app.MapPost("/v2/payouts", async (HttpContext ctx) =>
        {
            if (!Authorized(ctx)) return Unauthorized();
            if (ctx.Request.Headers["TossPayments-api-security-mode"] != "ENCRYPTION") return ProviderRuntime.Write(Error(400, "INVALID_ENCRYPTION", "암호화되지 않은 요청입니다."));
            var jwe = await new StreamReader(ctx.Request.Body).ReadToEndAsync();
            string plain;
            try { plain = Jwe.Decrypt(jwe, options.SecurityKey); }
            catch (Exception e) when (e is CryptographicException or FormatException or JsonException or KeyNotFoundException)
            {
                return ProviderRuntime.Write(Error(400, "INVALID_ENCRYPTION", "복호화에 실패했습니다."));
            }
            var reply = await rt.RunAsync(ctx, "payout", Key(ctx), ProviderRuntime.Hash("POST /v2/payouts"), () =>
            {
                var items = JsonNode.Parse(plain)!.AsArray();
                var accepted = new JsonArray();
                foreach (var item in items)
                {
                    var o = item!.DeepClone().AsObject();
                    o["id"] = ProviderRuntime.NewId("FPA_", 20);
                    o["status"] = "REQUESTED";
                    payouts.Add(o.DeepClone());
                    accepted.Add(o);
                }
                return ProviderReply.Ok(new JsonObject { ["version"] = "2022-11-16", ["entityType"] = "payout", ["entityBody"] = new JsonObject { ["items"] = accepted } });
            }, write: r => r.Status == 200 // answers go back encrypted, like Toss's ENCRYPTION mode; errors stay plain JSON
                ? Results.Text(Jwe.Encrypt(r.Body.ToJsonString(), options.SecurityKey), "text/plain", Encoding.UTF8, 200)
                : ProviderRuntime.Write(r));
            return reply;
        });
        return rt;
    }

    private static string? Key(HttpContext ctx) => ctx.Request.Headers.TryGetValue("Idempotency-Key", out var k) ? k.ToString() : null;

    private static JsonObject ToJson(Payment p) => new()
    {
        ["mId"] = "tvivarepublica", ["version"] = "2022-11-16", ["paymentKey"] = p.PaymentKey, ["orderId"] = p.OrderId, ["orderName"] = "EV charging",
        ["status"] = p.Status, ["requestedAt"] = p.RequestedAt.ToOffset(TimeSpan.FromHours(9)).ToString("O"),
        ["approvedAt"] = p.ApprovedAt?.ToOffset(TimeSpan.FromHours(9)).ToString("O"), ["totalAmount"] = p.TotalAmount, ["balanceAmount"] = p.Balance,
        ["method"] = p.CustomerKey is null ? "간편결제" : "카드", ["customerKey"] = p.CustomerKey, ["currency"] = "KRW",
        ["cancels"] = p.Cancels.Count == 0 ? null : new JsonArray(p.Cancels.Select(c => (JsonNode)c.DeepClone()).ToArray()),
    };

    private static ProviderReply Error(int status, string code, string message) => new(status, new JsonObject { ["code"] = code, ["message"] = message });

    private static async Task<JsonObject> ReadAsync(HttpContext ctx) => (await ReadRawAsync(ctx)).Body;

    private static async Task<(JsonObject Body, string Raw)> ReadRawAsync(HttpContext ctx)
    {
        var raw = await new StreamReader(ctx.Request.Body).ReadToEndAsync();
        try { return (JsonNode.Parse(raw) as JsonObject ?? [], raw); }
        catch (JsonException) { return ([], raw); }
    }

    /// <summary>The server's side of Toss's JWE (dir + A256GCM); written apart from the adapter's on purpose.</summary>
    private static class Jwe
    {
        public static string Decrypt(string token, string keyHex)
        {
            var p = token.Trim().Split('.');
            if (p.Length != 5) throw new FormatException("compact JWE has five parts");
            var header = JsonNode.Parse(Base64Url.DecodeFromChars(p[0]))!;
            if ((string?)header["alg"] != "dir" || (string?)header["enc"] != "A256GCM" || header["iat"] is null || header["nonce"] is null)
                throw new CryptographicException("header must be alg=dir, enc=A256GCM with iat and nonce");
            var cipher = Base64Url.DecodeFromChars(p[3]);
            var plain = new byte[cipher.Length];
            using var gcm = new AesGcm(Convert.FromHexString(keyHex), 16);
            gcm.Decrypt(Base64Url.DecodeFromChars(p[2]), cipher, Base64Url.DecodeFromChars(p[4]), plain, Encoding.ASCII.GetBytes(p[0]));
            return Encoding.UTF8.GetString(plain);
        }

        public static string Encrypt(string plaintext, string keyHex)
        {
            var header = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
                $$"""{"alg":"dir","enc":"A256GCM","iat":"{{DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(9)):yyyy-MM-dd'T'HH:mm:sszzz}}","nonce":"{{Guid.NewGuid()}}"}"""));
            var iv = RandomNumberGenerator.GetBytes(12);
            var plain = Encoding.UTF8.GetBytes(plaintext);
            var cipher = new byte[plain.Length];
            var tag = new byte[16];
            using var gcm = new AesGcm(Convert.FromHexString(keyHex), 16);
            gcm.Encrypt(iv, plain, cipher, tag, Encoding.ASCII.GetBytes(header));
            return $"{header}..{Base64Url.EncodeToString(iv)}.{Base64Url.EncodeToString(cipher)}.{Base64Url.EncodeToString(tag)}";
        }
    }
}
