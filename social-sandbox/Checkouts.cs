using System.Net;
using System.Text;

namespace EvCharge.SocialSandbox;

/// <summary>
/// A phone checkout, as wallet apps do it for a merchant's web page (KakaoPay's ready and approve, Toss's payment window):
/// the merchant opens it for an amount and its order id, the phone is sent to the wallet's page to approve, and the
/// wallet sends it back to the merchant's approval URL with a one-time code that authorizes exactly that order and amount.
/// </summary>
/// <param name="Status">pending, approved, cancelled.</param>
public sealed record Checkout(
    string CheckoutId, string OrderId, long Amount, string? DriverRef, string? ItemName, Uri ApprovalUrl, Uri CancelUrl, Uri? FailUrl,
    string Status, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, string? WalletId = null, string? Code = null);

public sealed record CheckoutBody(
    string? OrderId, long Amount, string? DriverRef, string? ItemName, Uri? ApprovalUrl, Uri? CancelUrl, Uri? FailUrl);

public sealed record CheckoutView(string CheckoutId, string OrderId, long Amount, string Status, DateTimeOffset ExpiresAt, Uri RedirectUrl);

public sealed partial class SandboxStore
{
    private readonly Dictionary<string, Checkout> _checkouts = new();
    private readonly Dictionary<string, string> _checkoutByOrder = new();

    /// <summary>Opens a checkout; the same order id again answers the open checkout (a retry), with another amount 409.</summary>
    public SandboxResult CreateCheckout(CheckoutBody body, Uri walletPageBase)
    {
        if (body.Amount <= 0) return SandboxResult.Problem(422, "invalid_amount", "amount must be a positive number of KRW");
        if (string.IsNullOrWhiteSpace(body.OrderId) || body.OrderId.Length > 64) return SandboxResult.Problem(422, "invalid_request", "orderId is required (at most 64 characters)");
        if (!IsWebUrl(body.ApprovalUrl) || !IsWebUrl(body.CancelUrl) || body.FailUrl is not null && !IsWebUrl(body.FailUrl))
            return SandboxResult.Problem(422, "invalid_request", "approvalUrl and cancelUrl must be absolute http(s) URLs");
        lock (_gate)
        {
            if (_checkoutByOrder.TryGetValue(body.OrderId, out var existingId))
            {
                var existing = _checkouts[existingId];
                return existing.Amount == body.Amount
                    ? SandboxResult.Ok(View(existing, walletPageBase))
                    : SandboxResult.Problem(409, "checkout_exists", $"order {body.OrderId} already has a checkout for {existing.Amount} KRW");
            }
            var checkout = new Checkout("co_" + Random(Alnum, 16), body.OrderId, body.Amount, body.DriverRef, body.ItemName, body.ApprovalUrl!,
                body.CancelUrl!, body.FailUrl, "pending", Now, Now + _options.PaymentCodeLifetime * 2);
            PutCheckout(checkout);
            Commit();
            return SandboxResult.Created(View(checkout, walletPageBase));
        }
    }

    public Checkout? GetCheckout(string checkoutId)
    {
        lock (_gate) return _checkouts.GetValueOrDefault(checkoutId);
    }

    /// <summary>
    /// The driver approves in the wallet app: a one-time payment code for exactly this order and amount, handed back on
    /// the approval URL. Approving again (a double tap) hands back the same code.
    /// </summary>
    public (Uri? Redirect, string? Error) ApproveCheckout(string checkoutId, string walletId)
    {
        lock (_gate)
        {
            if (!_checkouts.TryGetValue(checkoutId, out var checkout)) return (null, "This checkout does not exist.");
            if (checkout.Status == "approved" && checkout.WalletId == walletId) return (WithQuery(checkout.ApprovalUrl, "approval", checkout.Code!), null);
            if (checkout.Status != "pending" || checkout.ExpiresAt <= Now) return (null, "This checkout is closed; start again from the charger.");
            if (!_wallets.TryGetValue(walletId.Trim(), out var wallet)) return (null, $"There is no wallet '{walletId}'.");
            if (wallet.Blocked) return (null, "This wallet is blocked.");
            string code;
            do code = Random(Digits, 20); while (_codes.ContainsKey(code));
            PutCode(new PaymentCode(code, wallet.WalletId, checkout.ExpiresAt, null, checkout.CheckoutId));
            PutCheckout(checkout with { Status = "approved", WalletId = wallet.WalletId, Code = code });
            Commit();
            Stats.Executed("checkout_approve");
            return (WithQuery(checkout.ApprovalUrl, "approval", code), null);
        }
    }

    public Uri? CancelCheckout(string checkoutId)
    {
        lock (_gate)
        {
            if (!_checkouts.TryGetValue(checkoutId, out var checkout)) return null;
            if (checkout.Status == "pending") PutCheckout(checkout with { Status = "cancelled" });
            Commit();
            return checkout.Status == "approved" ? null : checkout.CancelUrl;
        }
    }

    /// <summary>A checkout's code pays for its own order and amount only, so a code read off a redirect cannot pay for something else.</summary>
    private string? CheckoutMismatch(PaymentCode code, AuthorizeBody body) =>
        code.CheckoutId is { } id && _checkouts.TryGetValue(id, out var checkout) && (checkout.Amount != body.Amount || checkout.OrderId != body.OrderId)
            ? $"the payment code was approved for order {checkout.OrderId} and {checkout.Amount} KRW"
            : null;

    private void IndexCheckout(Checkout c)
    {
        _checkouts[c.CheckoutId] = c;
        _checkoutByOrder[c.OrderId] = c.CheckoutId;
    }

    private void PutCheckout(Checkout c)
    {
        IndexCheckout(c);
        _pending.Add(("checkout", c));
    }

    private static CheckoutView View(Checkout c, Uri walletPageBase) =>
        new(c.CheckoutId, c.OrderId, c.Amount, c.Status, c.ExpiresAt, new Uri(walletPageBase, $"checkout/{c.CheckoutId}"));

    private static bool IsWebUrl(Uri? u) => u is { IsAbsoluteUri: true } && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps);

    private static Uri WithQuery(Uri url, string name, string value)
    {
        var separator = string.IsNullOrEmpty(url.Query) ? "?" : "&";
        return new Uri(url.AbsoluteUri + separator + name + "=" + Uri.EscapeDataString(value));
    }
}

/// <summary>The checkout routes: the merchant's API and the wallet app's approval page (a phone-sized HTML form).</summary>
internal static class CheckoutApi
{
    public static void Map(RouteGroupBuilder root, RouteGroupBuilder v1, SandboxRuntime rt)
    {
        v1.MapPost("/checkouts", async Task<IResult> (HttpContext ctx) =>
        {
            CheckoutBody? body;
            try { body = await System.Text.Json.JsonSerializer.DeserializeAsync<CheckoutBody>(ctx.Request.Body, SandboxJson.Options, ctx.RequestAborted); }
            catch (System.Text.Json.JsonException e) { return Write(SandboxResult.Problem(400, "invalid_json", e.Message)); }
            if (body is null) return Write(SandboxResult.Problem(400, "invalid_json", "a JSON body is required"));
            return Write(rt.Store.CreateCheckout(body, PageBase(ctx)));
        });
        root.MapGet("/checkout/{checkoutId}", IResult (string checkoutId) =>
            rt.Store.GetCheckout(checkoutId) is { } c ? Page(c, null) : Results.Content(Html("Sandbox Wallet", "<p>This checkout does not exist.</p>"), "text/html; charset=utf-8", Encoding.UTF8, 404));
        root.MapPost("/checkout/{checkoutId}", async Task<IResult> (HttpContext ctx, string checkoutId) =>
        {
            var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
            if (rt.Store.GetCheckout(checkoutId) is not { } checkout) return Results.NotFound();
            if (form["action"] == "cancel")
                return rt.Store.CancelCheckout(checkoutId) is { } back ? Results.Redirect(back.AbsoluteUri) : Page(checkout, "This checkout was already approved.");
            var (redirect, error) = rt.Store.ApproveCheckout(checkoutId, form["walletId"].ToString());
            return redirect is not null ? Results.Redirect(redirect.AbsoluteUri) : Page(checkout, error);
        });
    }

    private static Uri PageBase(HttpContext ctx) => new($"{ctx.Request.Scheme}://{ctx.Request.Host}{ctx.Request.PathBase}/");

    private static IResult Write(SandboxResult result) => Results.Text(
        System.Text.Json.JsonSerializer.Serialize(result.Body, result.Body.GetType(), SandboxJson.Options),
        result.Status >= 400 ? "application/problem+json" : "application/json", Encoding.UTF8, result.Status);

    private static IResult Page(Checkout c, string? error)
    {
        Func<string?, string> e = WebUtility.HtmlEncode;
        var body = new StringBuilder();
        body.Append($"<p class=\"merchant\">{e(c.ItemName ?? c.OrderId)}</p>");
        body.Append($"<p class=\"amount\" id=\"amount\">{c.Amount:#,0}원</p>");
        body.Append("<p class=\"note\">승인 금액(홀드) · 충전이 끝나면 실제 요금만 결제되고 나머지는 취소됩니다.<br>Hold; only the final cost is charged, the rest is released.</p>");
        if (error is not null) body.Append($"<p class=\"error\" role=\"alert\">{e(error)}</p>");
        if (c.Status == "pending")
            body.Append($"""
                <form method="post">
                  <label for="walletId">지갑 ID · Wallet</label>
                  <input id="walletId" name="walletId" autocomplete="username" required>
                  <button type="submit" name="action" value="approve" id="approve">승인 · Approve</button>
                  <button type="submit" name="action" value="cancel" id="cancel" formnovalidate class="secondary">취소 · Cancel</button>
                </form>
                """);
        else body.Append($"<p>{e(c.Status)}</p>");
        return Results.Content(Html("Sandbox Wallet", body.ToString()), "text/html; charset=utf-8", Encoding.UTF8);
    }

    private static string Html(string title, string body) => $$"""
        <!doctype html>
        <html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}}</title>
        <style>
          body{margin:0;font:16px/1.45 system-ui,sans-serif;background:#fee500;color:#191919}
          header{padding:14px 18px;font-weight:700;font-size:18px}
          main{background:#fff;border-radius:18px 18px 0 0;min-height:80vh;padding:22px 18px}
          .merchant{color:#555;margin:0}.amount{font-size:34px;font-weight:800;margin:6px 0 4px}.note{color:#555;font-size:14px}
          label{display:block;margin:18px 0 6px;font-weight:600}input{width:100%;box-sizing:border-box;font-size:18px;padding:12px;border:1px solid #bbb;border-radius:10px}
          button{display:block;width:100%;margin-top:14px;padding:14px;font-size:18px;font-weight:700;border:0;border-radius:12px;background:#191919;color:#fff}
          button.secondary{background:#eee;color:#191919}.error{color:#b00020;font-weight:600}
        </style></head>
        <body><header>Sandbox Wallet · 샌드박스 지갑</header><main>{{body}}</main></body></html>
        """;
}
