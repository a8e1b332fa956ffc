using System.Net;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace EvCharge.Payments.Providers;

/// <summary>
/// The HTTP path the real-provider adapters share: the resilience pipeline (total time-out, retry, attempt time-out),
/// and the rule that turns "no definite answer" into <see cref="PaymentProviderUnavailableException"/>.
/// A request is retried only when a repeat cannot move money twice: it is a lookup, or it carries an
/// Idempotency-Key the provider honours. KakaoPay's approve, subscription payment and cancel carry neither and are
/// sent once; their adapter resolves a lost answer from its journal and the provider's order lookup.
/// </summary>
internal static class ProviderHttp
{
    /// <summary>Marks a POST that only reads (KakaoPay's order lookup) as safe to repeat.</summary>
    public static readonly HttpRequestOptionsKey<bool> RetrySafe = new("evcharge.retry-safe");

    public static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, ProviderGatewayOptions options)
    {
        pipeline
            .AddTimeout(new HttpTimeoutStrategyOptions { Name = "total", Timeout = options.TotalTimeout })
            .AddRetry(new HttpRetryStrategyOptions
            {
                Name = "retry",
                MaxRetryAttempts = Math.Max(1, options.MaxRetryAttempts),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.MaxRetryDelay,
                ShouldHandle = args => ValueTask.FromResult(
                    HttpClientResiliencePredicates.IsTransient(args.Outcome) && IsRepeatable(args.Context.GetRequestMessage())),
            })
            .AddTimeout(new HttpTimeoutStrategyOptions { Name = "attempt", Timeout = options.AttemptTimeout });
    }

    public static bool IsRepeatable(HttpRequestMessage? request) =>
        request is not null
        && (request.Method == HttpMethod.Get
            || request.Headers.Contains("Idempotency-Key")
            || (request.Options.TryGetValue(RetrySafe, out var safe) && safe));

    public static bool IsTransient(HttpStatusCode status) =>
        (int)status >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests;

    /// <summary>
    /// Sends and returns any definite answer (2xx or 4xx); throws <see cref="PaymentProviderUnavailableException"/>
    /// when there is none after the pipeline gave up (connection failure, time-out, 5xx, 429).
    /// </summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, string provider, string operation, CancellationToken ct)
    {
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
            throw new PaymentProviderUnavailableException(
                $"{provider} {operation}: no answer within the retry budget ({e.GetType().Name}); outcome unknown", e);
        }
        if (IsTransient(response.StatusCode))
        {
            var status = (int)response.StatusCode;
            response.Dispose();
            throw new PaymentProviderUnavailableException($"{provider} {operation}: still HTTP {status} after the retry budget; outcome unknown");
        }
        return response;
    }

    /// <summary>A wallet reference that identifies the customer at the provider without revealing its id.</summary>
    public static string WalletRef(string provider, string customer) =>
        "w_" + PaymentRequestHash.Of(provider + ":" + customer)[..16];
}
