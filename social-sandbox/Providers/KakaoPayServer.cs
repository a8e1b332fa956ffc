using System.Text.Json;
using System.Text.Json.Nodes;

namespace EvCharge.SocialSandbox.Providers;

/// <summary>
/// A server shaped like KakaoPay's online payment API (open-api.kakaopay.com; docs/payments.md cites the pages):
/// <c>Authorization: SECRET_KEY …</c>, snake_case JSON, <c>{"error_code","error_message","extras"}</c> errors, and
/// no idempotency keys: a repeated approve or cancel is executed (or refused) again, exactly like the real one.
/// Routes: ready, approve, subscription (SID), order (lookup by tid), cancel. <c>/__test/*</c> plays the driver
/// approving in KakaoTalk (pg_token) and a registered subscription (SID).
/// </summary>
internal static class KakaoPayServer
{
    private sealed class Payment
    {
        public required string Tid, Cid, PartnerOrderId, PartnerUserId;
        public string Status = "READY";
        public long Total, Vat;
        public string? PgToken, Reject;
        public DateTimeOffset CreatedAt = DateTimeOffset.UtcNow;
        public DateTimeOffset? ApprovedAt;
        public readonly List<JsonObject> Actions = [];
        public long Canceled => Actions.Where(a => (string)a["payment_action_type"]! == "CANCEL").Sum(a => (long)a["amount"]!);
    }

    public static ProviderRuntime Map(IEndpointRouteBuilder app, ProviderServerOptions options)
    {
        var rt = new ProviderRuntime("KakaoPay", _ => throw new InvalidOperationException("KakaoPay has no idempotency keys"), replayHeader: false);
        var payments = new Dictionary<string, Payment>();
        var sids = new Dictionary<string, (string UserId, string? Reject)>();
        bool Authorized(HttpContext ctx) => ctx.Request.Headers.Authorization.ToString() == "SECRET_KEY " + options.SecretKey;
        IResult Unauthorized() => ProviderRuntime.Write(Error(401, -401, "invalid secret key"));

        app.MapPost("/__test/approve", async (HttpContext ctx) =>
        {
            var b = await ReadAsync(ctx);
            lock (rt.Gate)
            {
                if (!payments.TryGetValue((string?)b["tid"] ?? "", out var p)) return Results.NotFound();
                p.PgToken = ProviderRuntime.NewId("", 20);
                p.Reject = (string?)b["reject"];
                return Results.Json(new { pg_token = p.PgToken });
            }
        });
        app.MapPost("/__test/sids", async (HttpContext ctx) =>
        {
            var b = await ReadAsync(ctx);
            var sid = "S" + ProviderRuntime.NewId("", 19);
            lock (rt.Gate) sids[sid] = ((string)b["partner_user_id"]!, (string?)b["reject"]);
            return Results.Json(new { sid });
        });

        // Every payment with its actions, for a test's checks across all of them (no double cancel, nothing left open).
        app.MapGet("/__test/payments", () => { lock (rt.Gate) return Results.Json(payments.Values.Where(p => p.Status != "READY").Select(p => Order(p)).ToList()); });

        Map("ready", "ready", b =>
        {
            var total = (long?)b["total_amount"] ?? 0;
            if (total <= 0 || b["partner_order_id"] is null || b["partner_user_id"] is null || b["approval_url"] is null)
                return Error(400, -2, "invalid request: total_amount, partner_order_id, partner_user_id and approval_url are required");
            var p = new Payment
            {
                Tid = "T" + ProviderRuntime.NewId("", 19), Cid = (string)b["cid"]!, PartnerOrderId = (string)b["partner_order_id"]!,
                PartnerUserId = (string)b["partner_user_id"]!, Total = total, Vat = (long?)b["vat_amount"] ?? (total + 5) / 11,
            };
            payments[p.Tid] = p;
            return ProviderReply.Ok(new JsonObject
            {
                ["tid"] = p.Tid, ["next_redirect_app_url"] = $"https://online-pay.kakao.com/mockup/v1/{p.Tid}/aInfo",
                ["next_redirect_mobile_url"] = $"https://online-pay.kakao.com/mockup/v1/{p.Tid}/mInfo",
                ["next_redirect_pc_url"] = $"https://online-pay.kakao.com/mockup/v1/{p.Tid}/info",
                ["android_app_scheme"] = $"kakaotalk://kakaopay/pg?url=https://online-pay.kakao.com/pg/{p.Tid}",
                ["ios_app_scheme"] = $"kakaotalk://kakaopay/pg?url=https://online-pay.kakao.com/pg/{p.Tid}",
                ["created_at"] = p.CreatedAt.ToString("yyyy-MM-dd'T'HH:mm:ss"),
            });
        });

        Map("approve", "authorize", b =>
        {
            if (!payments.TryGetValue((string?)b["tid"] ?? "", out var p) || p.Cid != (string?)b["cid"]) return Error(400, -721, "invalid tid");
            if (p.Status != "READY") return Error(400, -702, "payment is already done!");
            if (p.PgToken is null || p.PgToken != (string?)b["pg_token"]) return Error(400, -722, "invalid pg_token");
            if (p.PartnerOrderId != (string?)b["partner_order_id"] || p.PartnerUserId != (string?)b["partner_user_id"])
                return Error(400, -2, "partner_order_id or partner_user_id differs from ready");
            if (p.Reject is { } reject)
            {
                p.Status = "FAIL_PAYMENT";
                return Decline(reject);
            }
            Approve(p);
            return ProviderReply.Ok(Approval(p));
        });

        Map("subscription", "authorize", b =>
        {
            var sid = (string?)b["sid"] ?? "";
            if (!sids.TryGetValue(sid, out var s)) return Error(400, -797, "invalid sid");
            if (s.UserId != (string?)b["partner_user_id"]) return Error(400, -797, "partner_user_id differs from the sid's");
            var total = (long?)b["total_amount"] ?? 0;
            if (total <= 0) return Error(400, -2, "total_amount must be positive");
            if (s.Reject is { } reject) return Decline(reject);
            var p = new Payment
            {
                Tid = "T" + ProviderRuntime.NewId("", 19), Cid = (string)b["cid"]!, PartnerOrderId = (string?)b["partner_order_id"] ?? "",
                PartnerUserId = s.UserId, Total = total, Vat = (long?)b["vat_amount"] ?? (total + 5) / 11,
            };
            payments[p.Tid] = p;
            Approve(p);
            var answer = Approval(p);
            answer["sid"] = sid;
            return ProviderReply.Ok(answer);
        });

        Map("order", "get", b =>
            payments.TryGetValue((string?)b["tid"] ?? "", out var p) && p.Cid == (string?)b["cid"] ? ProviderReply.Ok(Order(p)) : Error(400, -721, "invalid tid"));

        app.MapPost("/online/v1/payment/cancel", async (HttpContext ctx) =>
        {
            if (!Authorized(ctx)) return Unauthorized();
            var b = await ReadAsync(ctx);
            var payload = (string?)b["payload"] ?? "";
            var operation = payload.StartsWith("release", StringComparison.Ordinal) ? "capture" : payload.StartsWith("void", StringComparison.Ordinal) ? "void" : "refund";
            return await rt.RunAsync(ctx, operation, null, "", () =>
            {
                if (!payments.TryGetValue((string?)b["tid"] ?? "", out var p) || p.Cid != (string?)b["cid"]) return Error(400, -721, "invalid tid");
                if (p.Status is not ("SUCCESS_PAYMENT" or "PART_CANCEL_PAYMENT")) return Error(400, -708, "payment is not cancelable (status " + p.Status + ")");
                var amount = (long?)b["cancel_amount"] ?? 0;
                if (b["cancel_tax_free_amount"] is null) return Error(400, -2, "cancel_tax_free_amount is required");
                if (amount <= 0 || amount > p.Total - p.Canceled) return Error(400, -781, "cancel amount exceeds the cancelable amount");
                p.Actions.Add(Action("CANCEL", amount, payload));
                p.Status = p.Canceled == p.Total ? "CANCEL_PAYMENT" : "PART_CANCEL_PAYMENT";
                var answer = Order(p);
                answer["approved_cancel_amount"] = new JsonObject { ["total"] = amount, ["vat"] = (long?)b["cancel_vat_amount"] ?? (amount + 5) / 11 };
                answer["canceled_at"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss");
                return ProviderReply.Ok(answer);
            });
        });
        return rt;

        void Map(string path, string operation, Func<JsonObject, ProviderReply> execute) =>
            app.MapPost($"/online/v1/payment/{path}", async (HttpContext ctx) =>
            {
                if (!Authorized(ctx)) return Unauthorized();
                var b = await ReadAsync(ctx);
                return await rt.RunAsync(ctx, operation, null, "", () => execute(b));
            });
    }

    private static void Approve(Payment p)
    {
        p.Status = "SUCCESS_PAYMENT";
        p.ApprovedAt = DateTimeOffset.UtcNow;
        p.Actions.Add(Action("PAYMENT", p.Total, null));
    }

    private static JsonObject Action(string type, long amount, string? payload) => new()
    {
        ["aid"] = "A" + ProviderRuntime.NewId("", 19), ["approved_at"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss"),
        ["amount"] = amount, ["point_amount"] = 0, ["discount_amount"] = 0, ["green_deposit"] = 0, ["payment_action_type"] = type, ["payload"] = payload,
    };

    private static JsonObject Amount(long total) => new() { ["total"] = total, ["tax_free"] = 0, ["vat"] = (total + 5) / 11, ["point"] = 0, ["discount"] = 0, ["green_deposit"] = 0 };

    private static JsonObject Approval(Payment p) => new()
    {
        ["aid"] = "A" + ProviderRuntime.NewId("", 19), ["tid"] = p.Tid, ["cid"] = p.Cid, ["partner_order_id"] = p.PartnerOrderId,
        ["partner_user_id"] = p.PartnerUserId, ["payment_method_type"] = "MONEY", ["item_name"] = "EV charging", ["quantity"] = 1,
        ["amount"] = Amount(p.Total), ["created_at"] = p.CreatedAt.ToString("yyyy-MM-dd'T'HH:mm:ss"), ["approved_at"] = p.ApprovedAt?.ToString("yyyy-MM-dd'T'HH:mm:ss"),
    };

    private static JsonObject Order(Payment p) => new()
    {
        ["tid"] = p.Tid, ["cid"] = p.Cid, ["status"] = p.Status, ["partner_order_id"] = p.PartnerOrderId, ["partner_user_id"] = p.PartnerUserId,
        ["payment_method_type"] = "MONEY", ["item_name"] = "EV charging", ["quantity"] = 1,
        ["amount"] = Amount(p.Total), ["canceled_amount"] = Amount(p.Canceled), ["cancel_available_amount"] = Amount(p.Status is "SUCCESS_PAYMENT" or "PART_CANCEL_PAYMENT" ? p.Total - p.Canceled : 0),
        ["created_at"] = p.CreatedAt.ToString("yyyy-MM-dd'T'HH:mm:ss"), ["approved_at"] = p.ApprovedAt?.ToString("yyyy-MM-dd'T'HH:mm:ss"),
        ["payment_action_details"] = new JsonArray(p.Actions.Select(a => (JsonNode)a.DeepClone()).ToArray()),
    };

    private static ProviderReply Decline(string methodCode) => new(400, new JsonObject
    {
        ["error_code"] = -780, ["error_message"] = "approval failure!",
        ["extras"] = new JsonObject { ["method_result_code"] = methodCode, ["method_result_message"] = "결제가 거절되었습니다 (" + methodCode + ")" },
    });

    private static ProviderReply Error(int status, int code, string message) =>
        new(status, new JsonObject { ["error_code"] = code, ["error_message"] = message });

    private static async Task<JsonObject> ReadAsync(HttpContext ctx)
    {
        try { return await JsonNode.ParseAsync(ctx.Request.Body) as JsonObject ?? []; }
        catch (JsonException) { return []; }
    }
}
