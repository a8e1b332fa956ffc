using EvCharge.Payments;
using EvCharge.Silo.Security;

namespace EvCharge.Silo.Apis;

/// <summary>
/// Wallet providers' webhooks (<c>POST /webhooks/payments/{provider}</c>, no user auth: the signature is the auth).
/// A webhook is checked by its adapter (<see cref="IPaymentWebhookVerifier"/>: Stripe-Signature, Toss's
/// tosspayments-webhook-signature), then the authorization is re-read from the provider with our secret key and the
/// pair is recorded for reconciliation. The payload's own amounts are never used. Operators read the record at
/// <c>GET /api/v1/payment-provider-events</c>.
/// </summary>
public static class PaymentWebhooksApi
{
    private const int MaxBody = 256 * 1024;

    public static IEndpointRouteBuilder MapPaymentWebhooks(this IEndpointRouteBuilder app)
    {
        app.MapPost("/webhooks/payments/{provider}", Receive).AllowAnonymous().WithTags("Payments")
            .WithSummary("A wallet provider's webhook; verified by signature, then the authorization is re-read from the provider");
        app.MapGet("/api/v1/payment-provider-events", (string? provider, ProviderEventLog log) => TypedResults.Ok(log.Recent(provider)))
            .RequireAuthorization(EvChargePolicies.Operator).WithTags("Payments")
            .WithSummary("Recent verified provider webhooks with the authorization as the provider reports it now");
        return app;
    }

    private static async Task<IResult> Receive(string provider, HttpRequest request, IPaymentGatewayRegistry gateways,
        ProviderEventLog log, TimeProvider clock, ILoggerFactory logs, CancellationToken ct)
    {
        if (!gateways.TryGet(provider, out var gateway) || gateway is not IPaymentWebhookVerifier verifier)
            return ApiProblems.NotFound($"No webhook receiver for provider '{provider}'.");
        if (request.ContentLength > MaxBody) return TypedResults.Problem("Webhook body too large.", statusCode: StatusCodes.Status413PayloadTooLarge);
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);
        if (buffer.Length > MaxBody) return TypedResults.Problem("Webhook body too large.", statusCode: StatusCodes.Status413PayloadTooLarge);
        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var verdict = verifier.Verify(headers, buffer.ToArray(), clock.GetUtcNow());
        var logger = logs.CreateLogger(typeof(PaymentWebhooksApi));
        if (!verdict.Valid)
        {
            logger.LogWarning("Rejected a {Provider} webhook: {Reason}", provider, verdict.Reason);
            return TypedResults.Problem(verdict.Reason, statusCode: StatusCodes.Status400BadRequest, title: "Webhook not verified");
        }
        ProviderAuthorization? current = null;
        if (verdict.Event!.AuthorizationId is { } id)
        {
            try
            {
                current = await gateway.GetAsync(id, ct);
            }
            catch (PaymentProviderUnavailableException ex)
            {
                // Not acknowledged: the provider delivers again later, when it can be re-read.
                logger.LogWarning("Could not re-read {Provider} authorization after its webhook: {Error}", provider, ex.Message);
                return TypedResults.Problem("The provider could not be reached to confirm the event.", statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        }
        log.Add(new ReceivedProviderEvent(provider, verdict.Event, current, clock.GetUtcNow()));
        return TypedResults.Ok(new { received = true });
    }
}
