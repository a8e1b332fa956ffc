using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

namespace EvCharge.SocialSandbox;

/// <summary>
/// The sandbox's HTTP contract (docs/sandbox.md), in route groups. Money-moving POSTs go through
/// <see cref="MoneyMovingAsync{TBody}"/>: Idempotency-Key required, fault switches applied, the answer stored.
/// </summary>
public static class SandboxApi
{
    public static IEndpointRouteBuilder MapSocialSandbox(this IEndpointRouteBuilder endpoints, string prefix = "")
    {
        var rt = endpoints.ServiceProvider.GetRequiredService<SandboxRuntime>();
        var root = endpoints.MapGroup(prefix);
        root.MapGet("/health", () => Results.Json(new { status = "ok" }, SandboxJson.Options));

        var v1 = root.MapGroup("/v1");
        MapWallets(v1.MapGroup("/wallets"), rt);
        MapAuthorizations(v1.MapGroup("/authorizations"), rt);
        MapPayments(v1, rt);
        MapFaults(v1.MapGroup("/faults"), rt);
        CheckoutApi.Map(root, v1, rt);
        return endpoints;
    }

    private static void MapWallets(RouteGroupBuilder wallets, SandboxRuntime rt)
    {
        var store = rt.Store;
        wallets.MapPost("/", async (HttpContext ctx) =>
        {
            var (body, error) = await ReadAsync<CreateWalletRequest>(ctx);
            return Write(error ?? store.CreateWallet(body!));
        });
        wallets.MapGet("/{walletId}", (string walletId) => Write(store.GetWallet(walletId)));
        wallets.MapPost("/{walletId}/block", (string walletId) => Write(store.SetBlocked(walletId, true)));
        wallets.MapPost("/{walletId}/unblock", (string walletId) => Write(store.SetBlocked(walletId, false)));
        wallets.MapPost("/{walletId}/payment-codes", (string walletId) => Write(store.IssuePaymentCode(walletId)));
        wallets.MapPost("/{walletId}/billing-keys", async (HttpContext ctx, string walletId) =>
        {
            var (body, error) = await ReadAsync<CreateBillingKeyRequest>(ctx);
            return Write(error ?? store.IssueBillingKey(walletId, body!));
        });
        wallets.MapGet("/{walletId}/receipts", (string walletId) => store.Receipts(walletId) is { } list
            ? Write(SandboxResult.Ok(new { walletId, data = list }))
            : Write(SandboxResult.NotFound("wallet", walletId)));
        wallets.MapGet("/{walletId}/receipts/stream", (HttpContext ctx, string walletId) => StreamReceiptsAsync(ctx, walletId, rt));
    }

    private static void MapAuthorizations(RouteGroupBuilder auths, SandboxRuntime rt)
    {
        var store = rt.Store;
        auths.MapPost("/", (HttpContext ctx) => MoneyMovingAsync<AuthorizeBody>(ctx, rt, "authorize",
            (body, key, fault) => store.Authorize(body, key, forceDecline: fault == FaultKind.Decline)));
        auths.MapPost("/{authorizationId}/capture", (HttpContext ctx, string authorizationId) =>
            MoneyMovingAsync<CaptureBody>(ctx, rt, "capture", (body, key, _) => store.Capture(authorizationId, body, key)));
        auths.MapPost("/{authorizationId}/void", (HttpContext ctx, string authorizationId) =>
            MoneyMovingAsync<JsonElement>(ctx, rt, "void", (_, key, _) => store.Void(authorizationId, key)));
        auths.MapGet("/{authorizationId}", (string authorizationId) => Write(store.GetAuthorization(authorizationId)));
        auths.MapGet("/", (string? orderId, string? status) =>
        {
            AuthorizationStatus? wanted = null;
            if (status is not null)
            {
                try { wanted = JsonSerializer.Deserialize<AuthorizationStatus>($"\"{status}\"", SandboxJson.Options); }
                catch (JsonException) { return Write(SandboxResult.Problem(400, "invalid_request", $"unknown status '{status}'")); }
            }
            return Write(SandboxResult.Ok(new { data = store.FindAuthorizations(orderId, wanted) }));
        });
    }

    private static void MapPayments(RouteGroupBuilder v1, SandboxRuntime rt)
    {
        var store = rt.Store;
        v1.MapPost("/payments/{paymentId}/refunds", (HttpContext ctx, string paymentId) =>
            MoneyMovingAsync<RefundBody>(ctx, rt, "refund", (body, key, _) => store.Refund(paymentId, body, key)));
        v1.MapGet("/payees/{payeeAccount}/remittances", (string payeeAccount) =>
            Write(SandboxResult.Ok(store.Remittances(payeeAccount))));
        v1.MapDelete("/billing-keys/{billingKey}", (string billingKey) => Write(store.RevokeBillingKey(billingKey)));
    }

    private static void MapFaults(RouteGroupBuilder faults, SandboxRuntime rt)
    {
        faults.MapGet("/", () => Write(SandboxResult.Ok(rt.Faults.Current)));
        faults.MapPut("/", async (HttpContext ctx) =>
        {
            var (body, error) = await ReadAsync<FaultSettings>(ctx);
            if (error is not null) return Write(error);
            if (body!.Validate() is { } invalid) return Write(SandboxResult.Problem(422, "invalid_faults", invalid));
            rt.Faults.Set(body);
            return Write(SandboxResult.Ok(rt.Faults.Current));
        });
        faults.MapDelete("/", () =>
        {
            rt.Faults.Clear();
            return Write(SandboxResult.Ok(rt.Faults.Current));
        });
    }

    /// <summary>
    /// The path every money-moving POST takes: read the body once (it is hashed), require the key, let the fault
    /// switches act (before execution for 503/504, after it for a lost answer), then run under the key's lock.
    /// </summary>
    private static async Task MoneyMovingAsync<TBody>(
        HttpContext ctx, SandboxRuntime rt, string operation, Func<TBody, string, FaultKind, SandboxResult> execute)
    {
        rt.Store.Stats.Requested(operation);
        var ct = ctx.RequestAborted;
        using var buffer = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(buffer, ct);
        var raw = buffer.ToArray();

        var key = ctx.Request.Headers[IdempotencyGuard.HeaderName].ToString();
        if (string.IsNullOrWhiteSpace(key) || key.Length > IdempotencyGuard.MaxKeyLength)
        {
            await WriteAsync(ctx, SandboxResult.Problem(400, "idempotency_key_missing",
                $"money-moving requests need an {IdempotencyGuard.HeaderName} header (1-{IdempotencyGuard.MaxKeyLength} characters)"));
            return;
        }

        TBody body;
        try
        {
            body = JsonSerializer.Deserialize<TBody>(raw.Length == 0 ? "{}"u8 : raw, SandboxJson.Options)!;
            if (body is null) throw new JsonException("empty body");
        }
        catch (JsonException e)
        {
            await WriteAsync(ctx, SandboxResult.Problem(400, "invalid_json", e.Message));
            return;
        }

        var fault = rt.Faults.Decide(operation);
        // A slow provider is slow at its end: the request is processed even if the caller gives up waiting.
        if (fault.LatencyMs > 0) await Task.Delay(fault.LatencyMs, CancellationToken.None);
        switch (fault.Kind)
        {
            case FaultKind.Error:
                rt.Store.Stats.Faulted(operation, "error");
                await WriteAsync(ctx, SandboxResult.Problem(503, "service_unavailable", "injected fault: provider unavailable"));
                return;
            case FaultKind.Timeout:
                rt.Store.Stats.Faulted(operation, "timeout");
                try { await Task.Delay(rt.Options.FaultTimeoutHang, ct); }
                catch (OperationCanceledException) { return; } // the caller gave up first
                await WriteAsync(ctx, SandboxResult.Problem(504, "gateway_timeout", "injected fault: upstream timed out"));
                return;
            case FaultKind.Decline:
                rt.Store.Stats.Faulted(operation, "decline");
                break;
        }

        var hash = IdempotencyGuard.HashRequest(ctx.Request.Method, ctx.Request.Path.Value ?? "", raw);
        // Not cancelled by the caller hanging up: once started, an operation finishes and its answer is stored.
        var answer = await rt.Idempotency.RunAsync(key, hash, () => execute(body, key, fault.Kind), CancellationToken.None);

        if (fault.Kind == FaultKind.LostAnswer)
        {
            rt.Store.Stats.Faulted(operation, "lost_answer");
            await WriteAsync(ctx, SandboxResult.Problem(503, "service_unavailable", "injected fault: the answer was lost"));
            return;
        }

        ctx.Response.StatusCode = answer.Status;
        ctx.Response.ContentType = answer.Status >= 400 ? "application/problem+json" : "application/json";
        if (answer.Replayed) ctx.Response.Headers["Idempotent-Replayed"] = "true";
        await ctx.Response.WriteAsync(answer.Body, CancellationToken.None);
    }

    /// <summary>
    /// Server-sent events: one <c>event: receipt</c> per capture or refund of the wallet, <c>id</c> = the wallet's
    /// receipt sequence. A reconnecting phone sends <c>Last-Event-ID</c> and first gets what it missed.
    /// The stream opens with a comment line so a client knows it is subscribed before anything is captured.
    /// </summary>
    private static async Task StreamReceiptsAsync(HttpContext ctx, string walletId, SandboxRuntime rt)
    {
        if (!rt.Store.WalletExists(walletId))
        {
            await WriteAsync(ctx, SandboxResult.NotFound("wallet", walletId));
            return;
        }
        var ct = ctx.RequestAborted;
        using var subscription = rt.Hub.Subscribe(walletId);
        ctx.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";

        try
        {
            await ctx.Response.WriteAsync(": subscribed\n\n", ct);
            await ctx.Response.Body.FlushAsync(ct);

            long replayedUpTo = 0;
            if (long.TryParse(ctx.Request.Headers["Last-Event-ID"].ToString(), out var lastSeen))
            {
                foreach (var missed in rt.Store.Receipts(walletId, lastSeen) ?? [])
                {
                    await SendAsync(ctx, missed, ct);
                    replayedUpTo = missed.Sequence;
                }
            }

            while (!ct.IsCancellationRequested)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
                idle.CancelAfter(rt.Options.ReceiptStreamKeepAlive);
                bool ready;
                try { ready = await subscription.Reader.WaitToReadAsync(idle.Token); }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    await ctx.Response.WriteAsync(": keep-alive\n\n", ct);
                    await ctx.Response.Body.FlushAsync(ct);
                    continue;
                }
                if (!ready) break;
                while (subscription.Reader.TryRead(out var receipt))
                    if (receipt.Sequence > replayedUpTo) await SendAsync(ctx, receipt, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the phone went away
        }
    }

    private static async Task SendAsync(HttpContext ctx, Receipt receipt, CancellationToken ct)
    {
        var data = JsonSerializer.Serialize(receipt, SandboxJson.Options);
        await ctx.Response.WriteAsync($"id: {receipt.Sequence}\nevent: receipt\ndata: {data}\n\n", ct);
        await ctx.Response.Body.FlushAsync(ct);
    }

    private static async Task<(T? Body, SandboxResult? Error)> ReadAsync<T>(HttpContext ctx) where T : class
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(ctx.Request.Body, SandboxJson.Options, ctx.RequestAborted);
            return body is null ? (null, SandboxResult.Problem(400, "invalid_json", "a JSON body is required")) : (body, null);
        }
        catch (JsonException e)
        {
            return (null, SandboxResult.Problem(400, "invalid_json", e.Message));
        }
    }

    private static IResult Write(SandboxResult result) => Results.Text(
        JsonSerializer.Serialize(result.Body, result.Body.GetType(), SandboxJson.Options),
        result.Status >= 400 ? "application/problem+json" : "application/json", System.Text.Encoding.UTF8, result.Status);

    private static Task WriteAsync(HttpContext ctx, SandboxResult result)
    {
        ctx.Response.StatusCode = result.Status;
        ctx.Response.ContentType = result.Status >= 400 ? "application/problem+json" : "application/json";
        return ctx.Response.WriteAsync(JsonSerializer.Serialize(result.Body, result.Body.GetType(), SandboxJson.Options));
    }
}
