using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace EvCharge.Payments.Providers;

/// <summary>
/// <see cref="IPaymentGateway"/> over KakaoPay's online payment API (docs/payments.md, "KakaoPay"). KakaoPay has no
/// holds, no idempotency keys, no lookup by our order id and no split: authorize approves the deposit
/// (<c>/online/v1/payment/approve</c> after the phone approved a <c>ready</c>, or <c>/online/v1/payment/subscription</c>
/// with a saved SID), capture cancels the difference (<c>/online/v1/payment/cancel</c>, <c>cancel_amount</c> with
/// <c>cancel_vat_amount</c>), void cancels the rest, and EvCharge pays the payees from its ledger.
/// Deduplication is ours: every call is written to the journal before it leaves and sent exactly once; each cancel
/// carries its key in <c>payload</c>, so after a lost answer the order lookup (<c>/online/v1/payment/order</c>, by tid)
/// tells whether it happened. A SID payment whose answer was lost cannot be looked up (no tid yet): it stays in doubt
/// and is reported as such, never sent again.
/// </summary>
public sealed partial class KakaoPayGateway(
    string name, Func<HttpClient> http, ProviderGatewayOptions options, IPaymentOperationJournal journal, TimeProvider time,
    ILogger<KakaoPayGateway> logger) : IPaymentGateway
{
    private const string Provider = "KakaoPay";
    private readonly AuthenticationHeaderValue _auth =
        new("SECRET_KEY", options.SecretKey ?? throw new ArgumentException($"Payments:Providers:{name}:SecretKey is missing"));
    private string OneTimeCid => options.Cid ?? "TC0ONETIME";
    private string SubscriptionCid => options.SubscriptionCid ?? "TCSUBSCRIP";

    public ProviderCapabilities Capabilities => new(PartialCapture: true, SplitAtCapture: false, SavedTokens: true, HoldLifetime: options.HoldLifetime)
    {
        Funds = FundsModel.ApproveThenPartialCancel,
        IncrementalAuthorization = false,
        Payees = PayeeSettlement.OwnLedger,
        ProviderIdempotencyKeys = false,
        NeedsCheckout = true,
        Webhooks = false,
        SavedCredential = "subscription SID (partner_user_id:sid)",
    };

    private sealed record ReadyRecord(string Tid, string Cid, string PartnerOrderId, string PartnerUserId, long Amount);
    private sealed record AuthorizeRecord(AuthorizeOutcome Outcome, string? Cid);

    public async Task<CheckoutSession> PrepareCheckoutAsync(CheckoutRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var hash = PaymentRequestHash.Of($"ready|{request.CheckoutId}|{request.Amount}|{request.DriverRef}");
        var (begin, row) = await journal.BeginAsync(name, idempotencyKey, "ready", request.CheckoutId, null, hash, ct);
        if (begin == JournalBegin.KeyReused) throw new InvalidOperationException("this key was used for another checkout");
        if (begin != JournalBegin.Completed)
        {
            // A ready moves no money: sending it again after a lost answer only makes a second, unused tid.
            var answer = await SendAsync("online/v1/payment/ready", new
            {
                cid = OneTimeCid, partner_order_id = request.CheckoutId, partner_user_id = request.DriverRef, item_name = request.ItemName,
                quantity = 1, total_amount = request.Amount, vat_amount = PaymentCredentials.VatOf(request.Amount), tax_free_amount = 0,
                approval_url = request.ApprovalUrl, cancel_url = request.CancelUrl, fail_url = request.FailUrl,
            }, "ready", retrySafe: true, ct);
            if (!answer.Ok) throw new InvalidOperationException($"KakaoPay refused the checkout: {Error(answer).Code} {Error(answer).Message}");
            var ready = new ReadyRecord(answer.Str("tid")!, OneTimeCid, request.CheckoutId, request.DriverRef, request.Amount);
            var redirect = answer.Str("next_redirect_mobile_url");
            await journal.CompleteAsync(name, idempotencyKey, ready.Tid, ProviderJson.Serialize(new { ready, redirect }), ct);
            row = (await journal.GetAsync(name, idempotencyKey, ct))!;
        }
        var stored = JsonDocument.Parse(row.Response!).RootElement;
        var tid = stored.GetProperty("ready").Str("tid")!;
        return new CheckoutSession(request.CheckoutId, true, tid, stored.Str("redirect") is { } r ? new Uri(r) : null,
            new Dictionary<string, string> { ["tid"] = tid }, "{tid}:{pg_token} (pg_token from the approval_url redirect)");
    }

    public async Task<AuthorizeOutcome> AuthorizeAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        if (request.PaymentCode is not null) return await ApproveAsync(request, idempotencyKey, ct);
        if (!PaymentCredentials.TryKakaoSid(request.BillingToken, out var userId, out var sid))
            return AuthorizeOutcome.Decline("invalid_billing_key", "a KakaoPay saved credential is {partner_user_id}:{sid}");

        var hash = PaymentRequestHash.Of($"subscription|{sid}|{request.Amount}|{request.OrderId}");
        var (begin, row) = await journal.BeginAsync(name, idempotencyKey, "authorize", request.OrderId, null, hash, ct);
        switch (begin)
        {
            case JournalBegin.Completed: return ProviderJson.Deserialize<AuthorizeRecord>(row.Response!).Outcome;
            case JournalBegin.KeyReused: return AuthorizeOutcome.Decline("idempotency_key_reuse", "this key was used for another authorization");
            case JournalBegin.InDoubt:
                throw new PaymentProviderUnavailableException(
                    $"KakaoPay subscription payment for order {request.OrderId} is in doubt: it was sent and its answer lost, and KakaoPay " +
                    "cannot be asked by order id; it is not sent again (reconcile it from KakaoPay's settlement report)");
        }
        var answer = await SendAsync("online/v1/payment/subscription", new
        {
            cid = SubscriptionCid, sid, partner_order_id = request.OrderId, partner_user_id = userId, item_name = options.ItemName,
            quantity = 1, total_amount = request.Amount, vat_amount = PaymentCredentials.VatOf(request.Amount), tax_free_amount = 0,
        }, "authorize", retrySafe: false, ct);
        var outcome = answer.Ok ? Approved(answer.Body, userId) : Decline(answer, request.OrderId);
        await journal.CompleteAsync(name, idempotencyKey, outcome.AuthorizationId, ProviderJson.Serialize(new AuthorizeRecord(outcome, SubscriptionCid)), ct);
        return outcome;
    }

    private async Task<AuthorizeOutcome> ApproveAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct)
    {
        if (!PaymentCredentials.TryKakaoPaymentCode(request.PaymentCode, out var tid, out var pgToken))
            return AuthorizeOutcome.Decline("invalid_payment_code", "a KakaoPay payment code is {tid}:{pg_token}");
        var readyRow = (await journal.FindAsync(name, authorizationId: tid, operation: "ready", ct: ct)).FirstOrDefault(r => r.IsDone);
        if (readyRow is null) return AuthorizeOutcome.Decline("unknown_checkout", "no KakaoPay checkout with this tid was prepared here");
        var ready = JsonDocument.Parse(readyRow.Response!).RootElement.GetProperty("ready").Deserialize<ReadyRecord>(ProviderJson.Web)!;
        if (ready.Amount != request.Amount)
            return AuthorizeOutcome.Decline("amount_mismatch", $"the checkout was for {ready.Amount} KRW, the hold is {request.Amount} KRW");

        var (begin, row) = await journal.BeginAsync(name, idempotencyKey, "authorize", request.OrderId, tid,
            PaymentRequestHash.Of($"approve|{tid}|{request.Amount}|{request.OrderId}"), ct);
        if (begin == JournalBegin.Completed) return ProviderJson.Deserialize<AuthorizeRecord>(row.Response!).Outcome;
        if (begin == JournalBegin.KeyReused) return AuthorizeOutcome.Decline("idempotency_key_reuse", "this key was used for another authorization");
        if (!await OwnsCheckoutAsync(tid, idempotencyKey, ct))
        {
            // A checkout pays one authorization: a charger that retried its DataTransfer into a new session, or a code
            // shown twice, must not take over (or, resolving, cancel) the approval that belongs to the first.
            await journal.ForgetAsync(name, idempotencyKey, ct);
            return AuthorizeOutcome.Decline("code_used", "this KakaoPay checkout was presented for another authorization");
        }
        if (begin == JournalBegin.InDoubt && await OrderAsync(ready.Cid, tid, ct) is { } earlier && IsApproved(earlier))
            return await CompleteApproval(Approved(earlier, ready.PartnerUserId));

        ProviderAnswer answer;
        try
        {
            answer = await SendAsync("online/v1/payment/approve", new
            {
                cid = ready.Cid, tid, partner_order_id = ready.PartnerOrderId, partner_user_id = ready.PartnerUserId, pg_token = pgToken,
            }, "authorize", retrySafe: false, ct);
        }
        catch (PaymentProviderUnavailableException)
        {
            // The approve may or may not have happened; the tid can be asked about right away.
            if (await TryOrderAsync(ready.Cid, tid, ct) is { } now && IsApproved(now)) return await CompleteApproval(Approved(now, ready.PartnerUserId));
            throw;
        }
        if (answer.Ok) return await CompleteApproval(Approved(answer.Body, ready.PartnerUserId));
        // An approve refused because it already happened (a replay after a lost answer) is the first approval.
        if (await OrderAsync(ready.Cid, tid, ct) is { } order && IsApproved(order)) return await CompleteApproval(Approved(order, ready.PartnerUserId));
        return await CompleteApproval(Decline(answer, request.OrderId));

        async Task<AuthorizeOutcome> CompleteApproval(AuthorizeOutcome outcome)
        {
            await journal.CompleteAsync(name, idempotencyKey, outcome.AuthorizationId, ProviderJson.Serialize(new AuthorizeRecord(outcome, ready.Cid)), ct);
            return outcome;
        }
    }

    public async Task<AuthorizeResolution> ResolveAuthorizeAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var row = await journal.GetAsync(name, idempotencyKey, ct);
        if (row is null) return AuthorizeResolution.None; // never sent
        if (row.IsDone)
        {
            var o = ProviderJson.Deserialize<AuthorizeRecord>(row.Response!).Outcome;
            return o.Approved && await GetAsync(o.AuthorizationId!, ct) is { } a ? AuthorizeResolution.Found(a) : AuthorizeResolution.None;
        }
        if (row.AuthorizationId is { } tid) // an approve: the tid is known
        {
            // Another authorization's approval of the same checkout is not ours: the re-send is then declined as code_used.
            if (!await OwnsCheckoutAsync(tid, idempotencyKey, ct)) return AuthorizeResolution.None;
            var cid = OneTimeCid;
            if (await OrderAsync(cid, tid, ct) is { } order && IsApproved(order)) return AuthorizeResolution.Found(await MapAsync(order, cid, ct));
            return AuthorizeResolution.None;
        }
        return AuthorizeResolution.Unknown("a KakaoPay SID payment was sent and its answer lost; KakaoPay has no lookup by order id");
    }

    /// <summary>The first authorization to present a checkout's tid owns it (journal order: created, then key).</summary>
    private async Task<bool> OwnsCheckoutAsync(string tid, string idempotencyKey, CancellationToken ct) =>
        (await journal.FindAsync(name, authorizationId: tid, operation: "authorize", ct: ct)).FirstOrDefault()?.IdempotencyKey is not { } owner
        || owner == idempotencyKey;

    public async Task<CaptureOutcome> CaptureAsync(CaptureRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        if (request.Splits.Sum(s => s.Amount) != request.Amount) return CaptureFailed("split_mismatch", "splits must sum to the amount");
        var cid = await CidOfAsync(request.AuthorizationId, ct);
        var (outcome, error) = await CancelOnceAsync(request.AuthorizationId, cid, idempotencyKey, "capture", $"release {idempotencyKey}",
            order =>
            {
                var deposit = order.GetProperty("amount").Long("total");
                if (order.Str("status") == "CANCEL_PAYMENT") return (null, ("authorization_voided", "the deposit was cancelled in full"));
                if (request.Amount <= 0 || request.Amount > deposit) return (null, ("amount_exceeds_authorized", $"capture {request.Amount} must be in 1..{deposit}"));
                return (deposit - request.Amount, null);
            }, PaymentRequestHash.Of($"capture|{request.AuthorizationId}|{request.Amount}"), ct);
        if (error is { } e) return CaptureFailed(e.Code, e.Message);
        var released = outcome!.Value;
        var result = new CaptureOutcome(true, request.AuthorizationId, request.Amount, released, [], null, null);
        await journal.CompleteAsync(name, idempotencyKey, request.AuthorizationId, ProviderJson.Serialize(result), ct);
        return result;
    }

    public async Task<VoidOutcome> VoidAsync(string authorizationId, string idempotencyKey, CancellationToken ct = default)
    {
        if ((await journal.FindAsync(name, authorizationId: authorizationId, operation: "capture", ct: ct)).Any(r => r.IsDone))
            return new VoidOutcome(false, "already_captured", "the deposit was captured; refund instead");
        var cid = await CidOfAsync(authorizationId, ct);
        var (_, error) = await CancelOnceAsync(authorizationId, cid, idempotencyKey, "void", $"void {idempotencyKey}",
            order => order.Str("status") == "CANCEL_PAYMENT" ? (0L, null) : (order.GetProperty("cancel_available_amount").Long("total"), null),
            PaymentRequestHash.Of("void|" + authorizationId), ct);
        if (error is { } e) return new VoidOutcome(false, e.Code, e.Message);
        var result = new VoidOutcome(true, null, null);
        await journal.CompleteAsync(name, idempotencyKey, authorizationId, ProviderJson.Serialize(result), ct);
        return result;
    }

    public async Task<RefundResult> RefundAsync(RefundRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var cid = await CidOfAsync(request.PaymentId, ct);
        var (_, error) = await CancelOnceAsync(request.PaymentId, cid, idempotencyKey, "refund", $"refund {idempotencyKey}",
            order => request.Amount <= 0 || request.Amount > order.GetProperty("cancel_available_amount").Long("total")
                ? (null, ("refund_exceeds_captured", "more than KakaoPay can still cancel"))
                : (request.Amount, null),
            PaymentRequestHash.Of($"refund|{request.PaymentId}|{request.Amount}"), ct);
        if (error is { } e) return new RefundResult(false, null, 0, e.Code, e.Message);
        var result = new RefundResult(true, $"{request.PaymentId}:{PaymentRequestHash.Of(idempotencyKey)[..12]}", request.Amount, null, null);
        await journal.CompleteAsync(name, idempotencyKey, request.PaymentId, ProviderJson.Serialize(result), ct);
        return result;
    }

    /// <summary>
    /// One cancel, at most once: journal first; if a previous attempt under this key is in doubt, the order's
    /// action list (each cancel carries its key in <c>payload</c>) says whether it happened. Returns the amount
    /// cancelled, or a definite refusal (nothing moved, the key is forgotten so a fixed request may use it again).
    /// </summary>
    private async Task<(long? Amount, (string Code, string Message)? Error)> CancelOnceAsync(
        string tid, string cid, string key, string operation, string marker,
        Func<JsonElement, (long? Amount, (string, string)? Error)> decide, string hash, CancellationToken ct)
    {
        var (begin, row) = await journal.BeginAsync(name, key, operation, null, tid, hash, ct);
        if (begin == JournalBegin.KeyReused) return (null, ("idempotency_key_reuse", "this key was used for another request"));
        if (begin == JournalBegin.Completed)
        {
            var done = JsonDocument.Parse(row.Response!).RootElement;
            return (done.Long("released") is var r and > 0 ? r : done.Long("amount"), null);
        }
        var order = await OrderAsync(cid, tid, ct);
        if (order is not { } o)
        {
            await journal.ForgetAsync(name, key, ct);
            return (null, ("not_found", "KakaoPay has no such payment"));
        }
        if (CancelledWith(o, marker) is { } already) return (already, null);
        var (amount, error) = decide(o);
        if (error is not null)
        {
            await journal.ForgetAsync(name, key, ct);
            return (null, error);
        }
        if (amount is 0) return (0, null);
        ProviderAnswer answer;
        try
        {
            answer = await SendAsync("online/v1/payment/cancel", new
            {
                cid, tid, cancel_amount = amount, cancel_tax_free_amount = 0, cancel_vat_amount = PaymentCredentials.VatOf(amount!.Value), payload = marker,
            }, operation, retrySafe: false, ct);
        }
        catch (PaymentProviderUnavailableException)
        {
            if (await TryOrderAsync(cid, tid, ct) is { } now && CancelledWith(now, marker) is { } happened) return (happened, null);
            throw; // still in doubt: the journal row stays pending and the next attempt asks first
        }
        if (answer.Ok) return (amount, null);
        if (await OrderAsync(cid, tid, ct) is { } after && CancelledWith(after, marker) is { } done2) return (done2, null);
        await journal.ForgetAsync(name, key, ct);
        LogRefused(operation, Error(answer).Code);
        return (null, Error(answer));
    }

    private static long? CancelledWith(JsonElement order, string marker) =>
        order.Items("payment_action_details").Where(a => a.Str("payment_action_type") == "CANCEL" && a.Str("payload") == marker)
            .Select(a => (long?)Math.Abs(a.Long("amount"))).FirstOrDefault();

    public async Task<ProviderAuthorization?> GetAsync(string authorizationId, CancellationToken ct = default)
    {
        var cid = await CidOfAsync(authorizationId, ct);
        return await OrderAsync(cid, authorizationId, ct) is { } order ? await MapAsync(order, cid, ct) : null;
    }

    public async Task<ProviderAuthorization?> FindByOrderAsync(string orderId, CancellationToken ct = default)
    {
        var tid = (await journal.FindAsync(name, orderId: orderId, operation: "authorize", ct: ct))
            .Where(r => r.IsDone && r.AuthorizationId is not null).Select(r => r.AuthorizationId!).LastOrDefault();
        return tid is null ? null : await GetAsync(tid, ct);
    }

    public async Task<IReadOnlyList<ProviderAuthorization>> ListAuthorizationsAsync(ProviderAuthorizationStatus status, CancellationToken ct = default)
    {
        var list = new List<ProviderAuthorization>();
        foreach (var tid in (await journal.FindAsync(name, operation: "authorize", ct: ct)).Where(r => r.IsDone && r.AuthorizationId is not null).Select(r => r.AuthorizationId!).Distinct())
            if (await GetAsync(tid, ct) is { } a && a.Status == status) list.Add(a);
        return list;
    }

    private async Task<ProviderAuthorization> MapAsync(JsonElement order, string cid, CancellationToken ct)
    {
        var tid = order.Str("tid")!;
        var ops = await journal.FindAsync(name, authorizationId: tid, ct: ct);
        var capture = ops.Where(o => o.Operation == "capture" && o.IsDone).Select(o => ProviderJson.Deserialize<CaptureOutcome>(o.Response!)).FirstOrDefault();
        var refunded = order.Items("payment_action_details")
            .Where(a => a.Str("payment_action_type") == "CANCEL" && a.Str("payload")?.StartsWith("refund", StringComparison.Ordinal) == true)
            .Sum(a => Math.Abs(a.Long("amount")));
        var status = order.Str("status");
        ProviderAuthorizationStatus s;
        if (capture is not null)
            s = refunded >= capture.Captured ? ProviderAuthorizationStatus.Refunded : refunded > 0 ? ProviderAuthorizationStatus.PartiallyRefunded : ProviderAuthorizationStatus.Captured;
        else s = status switch
        {
            "SUCCESS_PAYMENT" or "PART_CANCEL_PAYMENT" => ProviderAuthorizationStatus.Authorized,
            "CANCEL_PAYMENT" => ProviderAuthorizationStatus.Voided,
            _ => ProviderAuthorizationStatus.Expired,
        };
        var approvedAt = order.Time("approved_at");
        var orderId = ops.FirstOrDefault(o => o.Operation == "authorize")?.OrderId ?? order.Str("partner_order_id") ?? "";
        return new ProviderAuthorization(tid, orderId, ProviderHttp.WalletRef(Provider, order.Str("partner_user_id") ?? tid),
            order.GetProperty("amount").Long("total"), s, capture?.Captured ?? 0, refunded, capture?.PaymentId, [],
            approvedAt ?? order.Time("created_at"), approvedAt + options.HoldLifetime);
    }

    private AuthorizeOutcome Approved(JsonElement p, string partnerUserId) => new(
        true, p.Str("tid"), ProviderHttp.WalletRef(Provider, p.Str("partner_user_id") ?? partnerUserId),
        p.GetProperty("amount").Long("total"), (p.Time("approved_at") ?? time.GetUtcNow()) + options.HoldLifetime, null, null);

    private static bool IsApproved(JsonElement order) => order.Str("status") is "SUCCESS_PAYMENT" or "PART_CANCEL_PAYMENT" or "CANCEL_PAYMENT";

    private AuthorizeOutcome Decline(ProviderAnswer answer, string orderId)
    {
        var (code, message) = Error(answer);
        LogDeclined(orderId, code);
        return AuthorizeOutcome.Decline(code, message);
    }

    private async Task<string> CidOfAsync(string tid, CancellationToken ct)
    {
        var row = (await journal.FindAsync(name, authorizationId: tid, operation: "authorize", ct: ct)).FirstOrDefault(r => r.IsDone);
        return row is null ? OneTimeCid : ProviderJson.Deserialize<AuthorizeRecord>(row.Response!).Cid ?? OneTimeCid;
    }

    private async Task<JsonElement?> OrderAsync(string cid, string tid, CancellationToken ct)
    {
        var answer = await SendAsync("online/v1/payment/order", new { cid, tid }, "get", retrySafe: true, ct);
        if (answer.Ok) return answer.Body;
        if ((int)answer.Status is 400 or 404) return null; // unknown tid
        throw new InvalidOperationException($"KakaoPay refused the order lookup: {Error(answer).Code}");
    }

    private async Task<JsonElement?> TryOrderAsync(string cid, string tid, CancellationToken ct)
    {
        try { return await OrderAsync(cid, tid, ct); }
        catch (PaymentProviderUnavailableException) { return null; }
    }

    private async Task<ProviderAnswer> SendAsync(string path, object body, string operation, bool retrySafe, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, path) { Content = ProviderJson.Content(body, ProviderJson.Snake) };
        message.Headers.Authorization = _auth;
        if (retrySafe) message.Options.Set(ProviderHttp.RetrySafe, true);
        using var response = await ProviderHttp.SendAsync(http(), message, Provider, operation, ct);
        return await ProviderAnswer.ReadAsync(response, ct);
    }

    /// <summary>KakaoPay's error: <c>{"error_code":-780,"error_message":"approval failure!","extras":{"method_result_code":…,"method_result_message":…}}</c>.</summary>
    internal static (string Code, string Message) Error(ProviderAnswer answer)
    {
        var b = answer.Body;
        var code = b.ValueKind == JsonValueKind.Object && b.TryGetProperty("error_code", out var c)
            ? c.ValueKind == JsonValueKind.Number ? c.GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture) : c.GetString() ?? ""
            : $"http_{(int)answer.Status}";
        var extras = b.ValueKind == JsonValueKind.Object && b.TryGetProperty("extras", out var x) ? x : default;
        var methodCode = extras.ValueKind == JsonValueKind.Object ? extras.Str("method_result_code") : null;
        var message = (extras.ValueKind == JsonValueKind.Object ? extras.Str("method_result_message") : null) ?? b.Str("error_message") ?? answer.Status.ToString();
        return (methodCode is null ? code : $"{code}:{methodCode}", message);
    }

    private static CaptureOutcome CaptureFailed(string code, string message) => new(false, null, 0, 0, [], code, message);

    [LoggerMessage(Level = LogLevel.Information, Message = "KakaoPay declined the deposit for order {OrderId}: {Code}")]
    private partial void LogDeclined(string orderId, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "KakaoPay refused {Operation}: {Code}")]
    private partial void LogRefused(string operation, string code);
}
