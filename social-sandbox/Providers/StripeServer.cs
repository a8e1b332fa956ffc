using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;

namespace EvCharge.SocialSandbox.Providers;

/// <summary>
/// A server shaped like Stripe's API for the subset EvCharge uses (docs/payments.md cites the pages): Bearer secret
/// key, form-encoded bodies, Idempotency-Key with 24-hour replay (<c>Idempotent-Replayed</c>) and
/// <c>idempotency_error</c> for a reused key, <c>{"error":{type,code,decline_code,message}}</c> errors, PaymentIntents
/// with manual capture and incremental authorization, search, Connect transfers and reversals, refunds, and signed
/// webhooks (<c>Stripe-Signature</c>). Stripe's own test PaymentMethods are known (<c>pm_card_visa</c>,
/// <c>pm_card_visa_chargeDeclinedInsufficientFunds</c>, <c>pm_card_authenticationRequired</c>, …).
/// </summary>
internal static class StripeServer
{
    private sealed class Intent
    {
        public required string Id, PaymentMethod, ChargeId;
        public string? Customer, CancellationReason;
        public long Amount, AmountReceived, AmountRefunded;
        public string Status = "requires_capture";
        public bool Incremental;
        public long Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        public Dictionary<string, string> Metadata = [];
    }

    private sealed record Method(string Behavior, string? Customer, bool Incremental);

    private sealed class Transfer
    {
        public required string Id, Destination, Group, SourceTransaction;
        public long Amount, Reversed;
        public Dictionary<string, string> Metadata = [];
    }

    public static ProviderRuntime Map(IEndpointRouteBuilder app, ProviderServerOptions options)
    {
        var rt = new ProviderRuntime("Stripe", key => Error(400, "idempotency_error", null, null,
            $"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."), replayHeader: true);
        var intents = new Dictionary<string, Intent>();
        var transfers = new List<Transfer>();
        var methods = new Dictionary<string, Method>
        {
            ["pm_card_visa"] = new("ok", null, true),
            ["pm_card_mastercard"] = new("ok", null, false),
            ["pm_card_visa_chargeDeclined"] = new("generic_decline", null, false),
            ["pm_card_visa_chargeDeclinedInsufficientFunds"] = new("insufficient_funds", null, false),
            ["pm_card_authenticationRequired"] = new("requires_action", null, false),
        };
        bool Authorized(HttpContext ctx) => ctx.Request.Headers.Authorization.ToString() == "Bearer " + options.SecretKey;
        IResult Unauthorized() => ProviderRuntime.Write(Error(401, null, null, null, "Invalid API Key provided", "invalid_request_error"));

        app.MapPost("/__test/payment_methods", async (HttpContext ctx) =>
        {
            var b = await JsonNode.ParseAsync(ctx.Request.Body) as JsonObject ?? [];
            var id = ProviderRuntime.NewId("pm_", 24);
            lock (rt.Gate) methods[id] = new((string?)b["behavior"] ?? "ok", (string?)b["customer"], (bool?)b["incremental"] ?? true);
            return Results.Json(new { id });
        });
        // Every PaymentIntent, for a test's checks across all of them (nothing left on hold, captures once).
        app.MapGet("/__test/payment_intents", () => { lock (rt.Gate) return Results.Json(intents.Values.Select(pi => ToJson(pi, expand: true)).ToList()); });
        app.MapPost("/__test/expire/{id}", (string id) =>
        {
            lock (rt.Gate)
            {
                if (!intents.TryGetValue(id, out var pi) || pi.Status != "requires_capture") return Results.NotFound();
                (pi.Status, pi.CancellationReason) = ("canceled", "automatic");
                return Results.Ok(new { id, status = pi.Status });
            }
        });
        // Sends a signed event about a PaymentIntent to a URL, as Stripe's webhook delivery does.
        app.MapPost("/__test/webhooks/deliver", async (HttpContext ctx) =>
        {
            var b = await JsonNode.ParseAsync(ctx.Request.Body) as JsonObject ?? [];
            JsonObject payload;
            lock (rt.Gate)
            {
                if (!intents.TryGetValue((string?)b["payment_intent"] ?? "", out var pi)) return Results.NotFound();
                payload = new JsonObject
                {
                    ["id"] = ProviderRuntime.NewId("evt_", 24), ["object"] = "event", ["type"] = (string?)b["type"] ?? "payment_intent.succeeded",
                    ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ["data"] = new JsonObject { ["object"] = ToJson(pi, expand: false) },
                };
            }
            var body = payload.ToJsonString();
            var t = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            var sig = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(options.WebhookSecret), Encoding.UTF8.GetBytes(t + "." + body)));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using var request = new HttpRequestMessage(HttpMethod.Post, (string?)b["url"]) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("Stripe-Signature", $"t={t},v1={sig}");
            using var response = await http.SendAsync(request);
            return Results.Json(new { delivered = (int)response.StatusCode, eventId = (string?)payload["id"] });
        });

        Post("/v1/payment_intents", "authorize", (f, _) =>
        {
            var amount = Long(f, "amount");
            if (amount is null or < 100) return Error(400, "amount_too_small", null, "amount", "Amount must be at least ₩100 krw");
            if (Get(f, "currency") != "krw") return Error(400, "parameter_invalid_empty", null, "currency", "EvCharge's server only knows krw");
            if (Get(f, "capture_method") != "manual" || Get(f, "confirm") != "true") return Error(400, "parameter_missing", null, "capture_method", "manual capture and confirm=true expected");
            var pmId = Get(f, "payment_method") ?? "";
            if (!methods.TryGetValue(pmId, out var pm)) return Error(400, "resource_missing", null, "payment_method", $"No such PaymentMethod: '{pmId}'");
            var customer = Get(f, "customer");
            if (pm.Customer is not null && pm.Customer != customer) return Error(400, "payment_method_not_attached", null, "payment_method", "The PaymentMethod is attached to another Customer");
            var pi = new Intent
            {
                Id = ProviderRuntime.NewId("pi_", 24), ChargeId = ProviderRuntime.NewId("ch_", 24), PaymentMethod = pmId, Customer = customer, Amount = amount.Value,
                Incremental = pm.Incremental && Get(f, "payment_method_options[card][request_incremental_authorization]") == "if_available",
                Metadata = f.Where(kv => kv.Key.StartsWith("metadata[", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[9..^1], kv => kv.Value.ToString()),
            };
            if (pm.Behavior is "generic_decline" or "insufficient_funds")
            {
                (pi.Status, pi.AmountReceived) = ("requires_payment_method", 0);
                intents[pi.Id] = pi;
                var e = Error(402, "card_declined", pm.Behavior, null, "Your card was declined.", "card_error");
                e.Body["error"]!["payment_intent"] = ToJson(pi, expand: false);
                return e;
            }
            if (pm.Behavior == "requires_action") pi.Status = "requires_action";
            intents[pi.Id] = pi;
            return ProviderReply.Ok(ToJson(pi, Expand(f)));
        });

        Post("/v1/payment_intents/{id}/capture", "capture", (f, id) =>
        {
            if (!intents.TryGetValue(id, out var pi)) return Missing("payment_intent", id);
            if (pi.Status != "requires_capture") return Unexpected(pi, "capture");
            var amount = Long(f, "amount_to_capture") ?? pi.Amount;
            if (amount <= 0 || amount > pi.Amount) return Error(400, "amount_too_large", null, "amount_to_capture", "The amount to capture exceeds the amount capturable.");
            (pi.Status, pi.AmountReceived) = ("succeeded", amount);
            return ProviderReply.Ok(ToJson(pi, Expand(f)));
        });

        Post("/v1/payment_intents/{id}/cancel", "void", (f, id) =>
        {
            if (!intents.TryGetValue(id, out var pi)) return Missing("payment_intent", id);
            if (pi.Status is not ("requires_capture" or "requires_action" or "requires_payment_method")) return Unexpected(pi, "cancel");
            (pi.Status, pi.CancellationReason) = ("canceled", Get(f, "cancellation_reason") ?? "requested_by_customer");
            return ProviderReply.Ok(ToJson(pi, Expand(f)));
        });

        Post("/v1/payment_intents/{id}/increment_authorization", "increment", (f, id) =>
        {
            if (!intents.TryGetValue(id, out var pi)) return Missing("payment_intent", id);
            if (pi.Status != "requires_capture") return Unexpected(pi, "increment_authorization");
            if (!pi.Incremental) return Error(400, "incremental_authorization_not_available", null, null, "This PaymentIntent is not eligible for incremental authorization.");
            var amount = Long(f, "amount") ?? 0;
            if (amount <= pi.Amount) return Error(400, "parameter_invalid_integer", null, "amount", "The new amount must be greater than the current amount.");
            pi.Amount = amount;
            return ProviderReply.Ok(ToJson(pi, Expand(f)));
        });

        Post("/v1/transfers", "transfer", (f, _) =>
        {
            var destination = Get(f, "destination") ?? "";
            if (!destination.StartsWith("acct_", StringComparison.Ordinal) || destination == "acct_invalid") return Missing("account", destination);
            var source = Get(f, "source_transaction") ?? "";
            if (!intents.Values.Any(i => i.ChargeId == source && i.Status == "succeeded")) return Missing("charge", source);
            var t = new Transfer
            {
                Id = ProviderRuntime.NewId("tr_", 24), Destination = destination, Group = Get(f, "transfer_group") ?? "", SourceTransaction = source, Amount = Long(f, "amount") ?? 0,
                Metadata = f.Where(kv => kv.Key.StartsWith("metadata[", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[9..^1], kv => kv.Value.ToString()),
            };
            transfers.Add(t);
            return ProviderReply.Ok(TransferJson(t));
        });

        Post("/v1/transfers/{id}/reversals", "reversal", (f, id) =>
        {
            var t = transfers.FirstOrDefault(x => x.Id == id);
            if (t is null) return Missing("transfer", id);
            var amount = Long(f, "amount") ?? t.Amount - t.Reversed;
            if (amount <= 0 || amount > t.Amount - t.Reversed) return Error(400, "amount_too_large", null, "amount", "Reversal exceeds the transfer's remaining amount.");
            t.Reversed += amount;
            return ProviderReply.Ok(new JsonObject { ["id"] = ProviderRuntime.NewId("trr_", 24), ["object"] = "transfer_reversal", ["amount"] = amount, ["transfer"] = t.Id });
        });

        Post("/v1/refunds", "refund", (f, _) =>
        {
            if (!intents.TryGetValue(Get(f, "payment_intent") ?? "", out var pi)) return Missing("payment_intent", Get(f, "payment_intent"));
            if (pi.Status != "succeeded") return Error(400, "charge_not_refundable", null, null, "This PaymentIntent has no successful charge to refund.");
            var amount = Long(f, "amount") ?? pi.AmountReceived - pi.AmountRefunded;
            if (amount <= 0 || amount > pi.AmountReceived - pi.AmountRefunded) return Error(400, "amount_too_large", null, "amount", "Refund amount is greater than the unrefunded amount.");
            pi.AmountRefunded += amount;
            return ProviderReply.Ok(new JsonObject { ["id"] = ProviderRuntime.NewId("re_", 24), ["object"] = "refund", ["amount"] = amount, ["payment_intent"] = pi.Id, ["charge"] = pi.ChargeId, ["status"] = "succeeded" });
        });

        app.MapGet("/v1/payment_intents/search", (HttpContext ctx) =>
        {
            if (!Authorized(ctx)) return Unauthorized();
            var query = ctx.Request.Query["query"].ToString();
            lock (rt.Gate)
            {
                var data = intents.Values.Where(pi => Matches(pi, query)).OrderByDescending(pi => pi.Created)
                    .Select(pi => (JsonNode)ToJson(pi, ctx.Request.Query["expand[]"].Contains("data.latest_charge"))).ToArray();
                return ProviderRuntime.Write(ProviderReply.Ok(new JsonObject { ["object"] = "search_result", ["data"] = new JsonArray(data), ["has_more"] = false }));
            }
        });
        app.MapGet("/v1/payment_intents/{id}", (string id, HttpContext ctx) =>
        {
            if (!Authorized(ctx)) return Unauthorized();
            lock (rt.Gate)
                return ProviderRuntime.Write(intents.TryGetValue(id, out var pi)
                    ? ProviderReply.Ok(ToJson(pi, ctx.Request.Query["expand[]"].Contains("latest_charge"))) : Missing("payment_intent", id));
        });
        app.MapGet("/v1/transfers", (HttpContext ctx) =>
        {
            if (!Authorized(ctx)) return Unauthorized();
            var group = ctx.Request.Query["transfer_group"].ToString();
            lock (rt.Gate)
                return ProviderRuntime.Write(ProviderReply.Ok(new JsonObject
                {
                    ["object"] = "list", ["has_more"] = false,
                    ["data"] = new JsonArray(transfers.Where(t => t.Group == group).Select(t => (JsonNode)TransferJson(t)).ToArray()),
                }));
        });
        return rt;

        void Post(string pattern, string operation, Func<Dictionary<string, StringValues>, string, ProviderReply> execute) =>
            app.MapPost(pattern, async (HttpContext ctx) =>
            {
                if (!Authorized(ctx)) return Unauthorized();
                var (form, raw) = await FormAsync(ctx);
                var id = ctx.Request.RouteValues["id"]?.ToString() ?? "";
                var key = ctx.Request.Headers.TryGetValue("Idempotency-Key", out var k) ? k.ToString() : null;
                return await rt.RunAsync(ctx, operation, key, ProviderRuntime.Hash(ctx.Request.Path + "?" + raw), () => execute(form, id));
            });
    }

    private static bool Matches(Intent pi, string query)
    {
        // The two clauses EvCharge sends: metadata['order_id']:'…' and status:'…'.
        var m = System.Text.RegularExpressions.Regex.Match(query, @"^(metadata\['(?<k>[^']+)'\]|(?<f>status)):'(?<v>(?:[^'\\]|\\.)*)'$");
        if (!m.Success) return false;
        var value = m.Groups["v"].Value.Replace("\\'", "'");
        return m.Groups["f"].Success ? pi.Status == value : pi.Metadata.GetValueOrDefault(m.Groups["k"].Value) == value;
    }

    private static JsonObject ToJson(Intent pi, bool expand)
    {
        var charge = new JsonObject
        {
            ["id"] = pi.ChargeId, ["object"] = "charge", ["amount"] = pi.Amount, ["amount_captured"] = pi.AmountReceived, ["amount_refunded"] = pi.AmountRefunded,
            ["refunded"] = pi.AmountRefunded > 0 && pi.AmountRefunded == pi.AmountReceived,
            ["payment_method_details"] = new JsonObject
            {
                ["type"] = "card",
                ["card"] = new JsonObject
                {
                    ["brand"] = "visa", ["last4"] = "4242", ["capture_before"] = pi.Created + 7 * 24 * 3600,
                    ["incremental_authorization"] = new JsonObject { ["status"] = pi.Incremental ? "available" : "unavailable" },
                },
            },
        };
        return new JsonObject
        {
            ["id"] = pi.Id, ["object"] = "payment_intent", ["amount"] = pi.Amount, ["amount_capturable"] = pi.Status == "requires_capture" ? pi.Amount : 0,
            ["amount_received"] = pi.AmountReceived, ["currency"] = "krw", ["capture_method"] = "manual", ["status"] = pi.Status,
            ["cancellation_reason"] = pi.CancellationReason, ["created"] = pi.Created, ["customer"] = pi.Customer, ["payment_method"] = pi.PaymentMethod,
            ["metadata"] = new JsonObject(pi.Metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["latest_charge"] = expand ? charge : pi.ChargeId,
        };
    }

    private static JsonObject TransferJson(Transfer t) => new()
    {
        ["id"] = t.Id, ["object"] = "transfer", ["amount"] = t.Amount, ["amount_reversed"] = t.Reversed, ["currency"] = "krw",
        ["destination"] = t.Destination, ["transfer_group"] = t.Group, ["source_transaction"] = t.SourceTransaction, ["reversed"] = t.Reversed == t.Amount,
        ["metadata"] = new JsonObject(t.Metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
    };

    private static bool Expand(Dictionary<string, StringValues> f) => f.TryGetValue("expand[]", out var e) && e.Contains("latest_charge");
    private static string? Get(Dictionary<string, StringValues> f, string key) => f.TryGetValue(key, out var v) ? v.ToString() : null;
    private static long? Long(Dictionary<string, StringValues> f, string key) =>
        long.TryParse(Get(f, key), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static async Task<(Dictionary<string, StringValues> Form, string Raw)> FormAsync(HttpContext ctx)
    {
        var raw = await new StreamReader(ctx.Request.Body).ReadToEndAsync();
        return (QueryHelpers.ParseQuery(raw), raw);
    }

    private static ProviderReply Missing(string what, string? id) =>
        Error(404, "resource_missing", null, what, $"No such {what}: '{id}'");

    private static ProviderReply Unexpected(Intent pi, string action) =>
        Error(400, "payment_intent_unexpected_state", null, null, $"This PaymentIntent could not be {action} because it has a status of {pi.Status}.");

    private static ProviderReply Error(int status, string? code, string? declineCode, string? param, string message, string type = "invalid_request_error") =>
        new(status, new JsonObject
        {
            ["error"] = new JsonObject { ["type"] = type, ["code"] = code, ["decline_code"] = declineCode, ["param"] = param, ["message"] = message },
        });
}
