using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace EvCharge.Payments;

/// <summary>
/// The resilience pipeline of the sandbox adapter, outermost first: a total time-out, a retry with exponential
/// back-off and jitter, a per-attempt time-out. Retried: 5xx, 408, 429, connection failures and attempt
/// time-outs (what <see cref="HttpClientResiliencePredicates.IsTransient(Outcome{HttpResponseMessage})"/> treats as
/// transient). Never retried: a definite answer such as 402 (decline), 409 or 422 — repeating it cannot change it.
/// Retrying a POST is safe only because every request carries the same Idempotency-Key on every attempt.
/// </summary>
internal static class SandboxResilience
{
    public static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, SandboxGatewayOptions options)
    {
        pipeline
            .AddTimeout(new HttpTimeoutStrategyOptions { Name = "total", Timeout = options.TotalTimeout })
            .AddRetry(new HttpRetryStrategyOptions
            {
                Name = "retry",
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.MaxRetryDelay,
                ShouldHandle = args => ValueTask.FromResult(HttpClientResiliencePredicates.IsTransient(args.Outcome)),
            })
            .AddTimeout(new HttpTimeoutStrategyOptions { Name = "attempt", Timeout = options.AttemptTimeout });
    }
}
