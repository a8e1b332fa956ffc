using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace EvCharge.Payments;

/// <summary>
/// <see cref="IPaymentGateway"/> over the sandbox HTTP contract (docs/sandbox.md). Retries live in the HttpClient's
/// resilience handler (<see cref="SandboxResilience"/>); this class maps answers: 2xx is a result, a 4xx is a
/// definite refusal returned as an outcome with its code, and anything still transient after the retry budget
/// (5xx, time-out, no connection) throws <see cref="PaymentProviderUnavailableException"/> because the money may or
/// may not have moved — the caller resumes with the same idempotency key and gets the first answer.
/// </summary>
public sealed partial class SandboxPaymentGateway(
    HttpClient http, IOptions<SandboxGatewayOptions> options, ILogger<SandboxPaymentGateway> logger) : IPaymentGateway
{
    private static readonly MediaTypeHeaderValue JsonMediaType = new("application/json");

    public ProviderCapabilities Capabilities { get; } = new(
        PartialCapture: true, SplitAtCapture: true, SavedTokens: true, HoldLifetime: options.Value.HoldLifetime);

    public async Task<AuthorizeOutcome> AuthorizeAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        LogAuthorizing(request.OrderId, request.Amount, PaymentSecrets.DescribeInstrument(request));
        var wire = new AuthorizeWire(request.PaymentCode, request.BillingToken, request.Amount, request.OrderId, request.MerchantReference);
        using var response = await SendAsync(HttpMethod.Post, "v1/authorizations", wire, idempotencyKey, "authorize", ct);
        if (response.IsSuccessStatusCode)
        {
            var a = await ReadAsync<AuthorizationWire>(response, ct);
            return new AuthorizeOutcome(true, a.AuthorizationId, a.WalletRef, a.Amount, a.ExpiresAt, null, null);
        }
        var problem = await ReadProblemAsync(response, ct);
        var code = problem.DeclineCode ?? problem.Code ?? $"http_{(int)response.StatusCode}";
        LogDeclined(request.OrderId, code, PaymentSecrets.DescribeInstrument(request));
        return AuthorizeOutcome.Decline(code, problem.Detail ?? response.ReasonPhrase ?? "declined");
    }

    public async Task<CaptureOutcome> CaptureAsync(CaptureRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var r = request.Receipt;
        var wire = new CaptureWire(request.Amount,
            request.Splits.Select(s => new PayeeAmountWire(s.PayeeAccount, s.Amount)).ToList(),
            new ReceiptWire(r.ChargerId, r.ConnectorId, r.SessionId, r.EnergyWh, r.StartedAt, r.StoppedAt, r.Total, r.SupplyValue, r.Vat));
        using var response = await SendAsync(HttpMethod.Post, $"v1/authorizations/{Uri.EscapeDataString(request.AuthorizationId)}/capture",
            wire, idempotencyKey, "capture", ct);
        if (response.IsSuccessStatusCode)
        {
            var c = await ReadAsync<CaptureResultWire>(response, ct);
            return new CaptureOutcome(true, c.PaymentId, c.Captured, c.Released,
                c.Remittances.Select(x => new Remittance(x.PayeeAccount, x.Amount)).ToList(), null, null);
        }
        var problem = await ReadProblemAsync(response, ct);
        LogRefused("capture", request.AuthorizationId, problem.Code);
        return new CaptureOutcome(false, null, 0, 0, [], problem.Code ?? $"http_{(int)response.StatusCode}", problem.Detail);
    }

    public async Task<VoidOutcome> VoidAsync(string authorizationId, string idempotencyKey, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Post, $"v1/authorizations/{Uri.EscapeDataString(authorizationId)}/void",
            new { }, idempotencyKey, "void", ct);
        if (response.IsSuccessStatusCode) return new VoidOutcome(true, null, null);
        var problem = await ReadProblemAsync(response, ct);
        LogRefused("void", authorizationId, problem.Code);
        return new VoidOutcome(false, problem.Code ?? $"http_{(int)response.StatusCode}", problem.Detail);
    }

    public async Task<RefundResult> RefundAsync(RefundRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var wire = new RefundWire(request.Amount,
            request.SplitReversals.Select(s => new PayeeAmountWire(s.PayeeAccount, s.Amount)).ToList(), request.Reason);
        using var response = await SendAsync(HttpMethod.Post, $"v1/payments/{Uri.EscapeDataString(request.PaymentId)}/refunds",
            wire, idempotencyKey, "refund", ct);
        if (response.IsSuccessStatusCode)
        {
            var rf = await ReadAsync<RefundResultWire>(response, ct);
            return new RefundResult(true, rf.RefundId, rf.Amount, null, null);
        }
        var problem = await ReadProblemAsync(response, ct);
        LogRefused("refund", request.PaymentId, problem.Code);
        return new RefundResult(false, null, 0, problem.Code ?? $"http_{(int)response.StatusCode}", problem.Detail);
    }

    public async Task<ProviderAuthorization?> GetAsync(string authorizationId, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Get, $"v1/authorizations/{Uri.EscapeDataString(authorizationId)}",
            null, null, "get", ct);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        await EnsureSuccessAsync(response, "get", ct);
        return Map(await ReadAsync<AuthorizationWire>(response, ct));
    }

    public async Task<ProviderAuthorization?> FindByOrderAsync(string orderId, CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Get, $"v1/authorizations?orderId={Uri.EscapeDataString(orderId)}",
            null, null, "find", ct);
        await EnsureSuccessAsync(response, "find", ct);
        var list = (await ReadAsync<AuthorizationListWire>(response, ct)).Data;
        // Several holds for one order can only come from different keys; the live or settled one is what matters.
        var best = list.Where(a => a.Status is not ("voided" or "expired")).OrderByDescending(a => a.CreatedAt).FirstOrDefault()
            ?? list.OrderByDescending(a => a.CreatedAt).FirstOrDefault();
        return best is null ? null : Map(best);
    }

    public async Task<IReadOnlyList<ProviderAuthorization>> ListAuthorizationsAsync(ProviderAuthorizationStatus status, CancellationToken ct = default)
    {
        var wireStatus = status switch
        {
            ProviderAuthorizationStatus.Authorized => "authorized",
            ProviderAuthorizationStatus.Captured => "captured",
            ProviderAuthorizationStatus.Voided => "voided",
            ProviderAuthorizationStatus.Expired => "expired",
            ProviderAuthorizationStatus.PartiallyRefunded => "partially_refunded",
            _ => "refunded",
        };
        using var response = await SendAsync(HttpMethod.Get, $"v1/authorizations?status={wireStatus}", null, null, "list", ct);
        await EnsureSuccessAsync(response, "list", ct);
        return (await ReadAsync<AuthorizationListWire>(response, ct)).Data.Select(Map).ToList();
    }

    private async Task<HttpResponseMessage> SendAsync(
        HttpMethod method, string path, object? body, string? idempotencyKey, string operation, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (body is not null)
        {
            // Bytes, not a lazily serialized stream: every retry re-sends exactly the same body under the same key.
            request.Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), SandboxWire.Json));
            request.Content.Headers.ContentType = JsonMediaType;
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is HttpRequestException or ExecutionRejectedException or OperationCanceledException)
        {
            LogUnavailable(operation, e.GetType().Name);
            throw new PaymentProviderUnavailableException(
                $"{operation}: the wallet provider could not be reached within the retry budget ({e.GetType().Name}); outcome unknown", e);
        }

        if (IsTransient(response.StatusCode))
        {
            var status = (int)response.StatusCode;
            response.Dispose();
            LogUnavailable(operation, $"HTTP {status}");
            throw new PaymentProviderUnavailableException(
                $"{operation}: the wallet provider still answered {status} after the retry budget; outcome unknown");
        }
        return response;
    }

    private static bool IsTransient(HttpStatusCode status) =>
        (int)status >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests;

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string operation, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        var problem = await ReadProblemAsync(response, ct);
        throw new InvalidOperationException($"{operation}: the wallet provider refused the lookup ({(int)response.StatusCode} {problem.Code}): {problem.Detail}");
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct) =>
        await response.Content.ReadFromJsonAsync<T>(SandboxWire.Json, ct)
        ?? throw new InvalidOperationException($"the wallet provider sent an empty {typeof(T).Name}");

    private static async Task<ProblemWire> ReadProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<ProblemWire>(SandboxWire.Json, ct) ?? new ProblemWire(null, null, null);
        }
        catch (JsonException)
        {
            return new ProblemWire(null, null, response.ReasonPhrase);
        }
    }

    private static ProviderAuthorization Map(AuthorizationWire a) => new(
        a.AuthorizationId, a.OrderId, a.WalletRef, a.Amount, MapStatus(a.Status), a.Captured, a.Refunded, a.PaymentId,
        (a.Remittances ?? []).Select(r => new Remittance(r.PayeeAccount, r.Amount)).ToList(), a.CreatedAt, a.ExpiresAt);

    private static ProviderAuthorizationStatus MapStatus(string status) => status switch
    {
        "authorized" => ProviderAuthorizationStatus.Authorized,
        "captured" => ProviderAuthorizationStatus.Captured,
        "voided" => ProviderAuthorizationStatus.Voided,
        "expired" => ProviderAuthorizationStatus.Expired,
        "partially_refunded" => ProviderAuthorizationStatus.PartiallyRefunded,
        "refunded" => ProviderAuthorizationStatus.Refunded,
        _ => throw new InvalidOperationException($"unknown authorization status '{status}' from the wallet provider"),
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "Authorizing {Amount} KRW for order {OrderId} with {Instrument}")]
    private partial void LogAuthorizing(string orderId, long amount, string instrument);

    [LoggerMessage(Level = LogLevel.Information, Message = "Authorization for order {OrderId} declined: {DeclineCode} ({Instrument})")]
    private partial void LogDeclined(string orderId, string declineCode, string instrument);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wallet provider refused {Operation} of {Reference}: {Code}")]
    private partial void LogRefused(string operation, string reference, string? code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wallet provider unavailable for {Operation} after retries: {Reason}")]
    private partial void LogUnavailable(string operation, string reason);
}
