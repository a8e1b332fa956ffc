namespace EvCharge.Payments;

/// <summary>
/// Checks that a webhook really comes from the provider (signature over the raw body, time tolerance) and reads
/// which authorization it is about. The payload is never trusted for amounts: the receiver re-reads the
/// authorization with <see cref="IPaymentGateway.GetAsync"/> and hands that to reconciliation.
/// </summary>
public interface IPaymentWebhookVerifier
{
    WebhookVerification Verify(IReadOnlyDictionary<string, string> headers, ReadOnlySpan<byte> body, DateTimeOffset now);
}

/// <summary>One provider event, reduced to what reconciliation needs to look the authorization up again.</summary>
public sealed record ProviderEvent(
    string EventId, string Type, string? AuthorizationId, string? OrderId, string? Status, DateTimeOffset? CreatedAt);

public sealed record WebhookVerification(bool Valid, ProviderEvent? Event, string? Reason)
{
    public static WebhookVerification Reject(string reason) => new(false, null, reason);
    public static WebhookVerification Accept(ProviderEvent e) => new(true, e, null);
}
