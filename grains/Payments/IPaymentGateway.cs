using EvCharge.Charging;

namespace EvCharge.Payments;

/// <summary>
/// The port to a social-payment provider (KakaoPay, NaverPay, Toss Pay, the sandbox). It mirrors what real
/// wallet APIs offer: a hold with manual capture, capture with split remittance, void, refund with split
/// reversals, and a lookup for reconciliation. Every call carries an idempotency key derived from the session,
/// so a retry after a lost answer returns the first answer instead of moving money twice.
/// </summary>
public interface IPaymentGateway
{
    ProviderCapabilities Capabilities { get; }
    Task<AuthorizeOutcome> AuthorizeAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct = default);
    Task<CaptureOutcome> CaptureAsync(CaptureRequest request, string idempotencyKey, CancellationToken ct = default);
    Task<VoidOutcome> VoidAsync(string authorizationId, string idempotencyKey, CancellationToken ct = default);
    Task<RefundResult> RefundAsync(RefundRequest request, string idempotencyKey, CancellationToken ct = default);
    /// <summary>The provider's record of an authorization (and its capture), or null if it has none.</summary>
    Task<ProviderAuthorization?> GetAsync(string authorizationId, CancellationToken ct = default);
    /// <summary>Finds an authorization by our order id: resolves an authorize whose answer was lost.</summary>
    Task<ProviderAuthorization?> FindByOrderAsync(string orderId, CancellationToken ct = default);
    /// <summary>The provider's authorizations in one status (e.g. holds still open), for reconciliation.</summary>
    Task<IReadOnlyList<ProviderAuthorization>> ListAuthorizationsAsync(ProviderAuthorizationStatus status, CancellationToken ct = default);
}

public sealed record ProviderCapabilities(
    bool PartialCapture, bool SplitAtCapture, bool SavedTokens, TimeSpan HoldLifetime);

/// <summary>Either a one-time payment code from the phone or a saved billing token (seamless charging).</summary>
public sealed record AuthorizeRequest(
    string Provider, string? PaymentCode, string? BillingToken, long Amount, string OrderId, string MerchantReference);

public sealed record AuthorizeOutcome(
    bool Approved, string? AuthorizationId, string? WalletRef, long Amount, DateTimeOffset? ExpiresAt,
    string? DeclineCode, string? DeclineMessage)
{
    public static AuthorizeOutcome Decline(string code, string message) => new(false, null, null, 0, null, code, message);
}

public sealed record ReceiptDetails(
    string ChargerId, int ConnectorId, string SessionId, long EnergyWh, DateTimeOffset StartedAt,
    DateTimeOffset StoppedAt, long Total, long SupplyValue, long Vat);

public sealed record CaptureRequest(
    string AuthorizationId, long Amount, IReadOnlyList<SplitPart> Splits, ReceiptDetails Receipt);

public sealed record Remittance(string PayeeAccount, long Amount);

public sealed record CaptureOutcome(
    bool Succeeded, string? PaymentId, long Captured, long Released, IReadOnlyList<Remittance> Remittances,
    string? ErrorCode, string? ErrorMessage);

public sealed record VoidOutcome(bool Succeeded, string? ErrorCode, string? ErrorMessage);

public sealed record RefundRequest(string PaymentId, long Amount, IReadOnlyList<Remittance> SplitReversals, string? Reason);

public sealed record RefundResult(bool Succeeded, string? RefundId, long Amount, string? ErrorCode, string? ErrorMessage);

public enum ProviderAuthorizationStatus { Authorized, Captured, Voided, Expired, PartiallyRefunded, Refunded }

public sealed record ProviderAuthorization(
    string AuthorizationId, string OrderId, string WalletRef, long Amount, ProviderAuthorizationStatus Status,
    long Captured, long Refunded, string? PaymentId, IReadOnlyList<Remittance> Remittances,
    DateTimeOffset? CreatedAt = null, DateTimeOffset? ExpiresAt = null);

/// <summary>
/// The provider could not be reached or answered 5xx after the retry budget: the outcome is unknown, the
/// caller must keep its intent and resume later with the same idempotency key.
/// </summary>
public sealed class PaymentProviderUnavailableException(string message, Exception? inner = null)
    : Exception(message, inner);
