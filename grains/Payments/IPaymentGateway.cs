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

    /// <summary>
    /// Raises an open hold to <see cref="IncrementRequest.NewAmount"/> (Stripe incremental authorization), so a long
    /// charge nearing its hold can go on without a capture and a new hold. Only when
    /// <see cref="ProviderCapabilities.IncrementalAuthorization"/>; otherwise the answer is a refusal with code
    /// <c>not_supported</c> and nothing is sent. A refusal leaves the hold as it was.
    /// </summary>
    Task<IncrementOutcome> IncrementAuthorizationAsync(IncrementRequest request, string idempotencyKey, CancellationToken ct = default) =>
        Task.FromResult(IncrementOutcome.NotSupported);

    /// <summary>
    /// Resolves an authorize whose answer was lost (after <see cref="PaymentProviderUnavailableException"/>): what an
    /// earlier <see cref="AuthorizeAsync"/> with the same request and key left at the provider. Providers index their
    /// records differently (Toss by its order id or payment key, KakaoPay by tid only, Stripe by idempotency key and
    /// metadata), so the adapter, not the caller, decides how to look. <see cref="ResolutionState.Unknown"/> means
    /// nobody can tell yet: the caller must keep the intent and ask again, never authorize anew under another key.
    /// </summary>
    async Task<AuthorizeResolution> ResolveAuthorizeAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var found = await FindByOrderAsync(request.OrderId, ct);
        return found is null ? AuthorizeResolution.None : AuthorizeResolution.Found(found);
    }

    /// <summary>
    /// Starts a checkout on the driver's phone for providers whose one-time payments need the wallet app's approval
    /// before the server can approve (KakaoPay ready, Toss payment window). The phone approves, then presents the
    /// resulting payment code (<see cref="CheckoutSession.PaymentCodeFormat"/>) at the charger.
    /// </summary>
    Task<CheckoutSession> PrepareCheckoutAsync(CheckoutRequest request, string idempotencyKey, CancellationToken ct = default) =>
        Task.FromResult(CheckoutSession.NotNeeded(request.CheckoutId));
}

/// <summary>How the provider holds the driver's money between authorize and capture.</summary>
[GenerateSerializer]
public enum FundsModel
{
    /// <summary>A hold (pre-authorization) that capture takes from and void releases (Stripe manual capture, the sandbox).</summary>
    Hold,
    /// <summary>
    /// No holds: authorize approves (charges) the deposit; capture cancels the difference to the final fee, void cancels
    /// all of it (Toss Payments, KakaoPay). The driver sees a charge and a partial cancel; the money really moved.
    /// </summary>
    ApproveThenPartialCancel,
}

/// <summary>Who pays the CPO and the platform their parts of a capture.</summary>
[GenerateSerializer]
public enum PayeeSettlement
{
    /// <summary>The provider splits at capture and reports each payee's remittance (the sandbox, Stripe Connect transfers).</summary>
    AtCapture,
    /// <summary>The provider pays payees on request after the payment (Toss payouts to registered sellers).</summary>
    ProviderPayout,
    /// <summary>
    /// The provider cannot split: the whole fee lands in the platform's merchant account and EvCharge settles the
    /// payees from its own ledger (KakaoPay; Toss without payouts). Capture reports no remittances.
    /// </summary>
    OwnLedger,
}

/// <summary>
/// What a provider can do; the session chooses hold or deposit-and-partial-cancel, incremental authorization or
/// capture-and-rehold, and who settles payees from these. The four positional flags are the original ones; the rest
/// default to what the sandbox does.
/// </summary>
public sealed record ProviderCapabilities(
    bool PartialCapture, bool SplitAtCapture, bool SavedTokens, TimeSpan HoldLifetime)
{
    public FundsModel Funds { get; init; } = FundsModel.Hold;

    /// <summary><see cref="IPaymentGateway.IncrementAuthorizationAsync"/> can raise an open hold (Stripe, eligible cards only).</summary>
    public bool IncrementalAuthorization { get; init; }

    public PayeeSettlement Payees { get; init; } = SplitAtCapture ? PayeeSettlement.AtCapture : PayeeSettlement.OwnLedger;

    /// <summary>The provider itself deduplicates by our Idempotency-Key; false: the adapter deduplicates in its journal.</summary>
    public bool ProviderIdempotencyKeys { get; init; } = true;

    /// <summary>The one-time payment code needs a phone checkout first (<see cref="IPaymentGateway.PrepareCheckoutAsync"/>).</summary>
    public bool NeedsCheckout { get; init; }

    /// <summary>The provider sends signed (or re-fetchable) webhooks that <see cref="IPaymentWebhookVerifier"/> checks.</summary>
    public bool Webhooks { get; init; }

    /// <summary>What a saved credential (<see cref="AuthorizeRequest.BillingToken"/>) is at this provider, for docs and logs.</summary>
    public string SavedCredential { get; init; } = "billing key";
}

/// <summary>Raise an open hold to a new total (not by a delta: a replay then cannot raise it twice).</summary>
public sealed record IncrementRequest(string AuthorizationId, long NewAmount, string? Reason = null);

public sealed record IncrementOutcome(bool Succeeded, long Amount, DateTimeOffset? ExpiresAt, string? ErrorCode, string? ErrorMessage)
{
    public static readonly IncrementOutcome NotSupported =
        new(false, 0, null, "not_supported", "the provider cannot raise a hold; capture and authorize anew instead");
}

public enum ResolutionState { Found, NotFound, Unknown }

public sealed record AuthorizeResolution(ResolutionState State, ProviderAuthorization? Authorization, string? Detail)
{
    public static readonly AuthorizeResolution None = new(ResolutionState.NotFound, null, null);
    public static AuthorizeResolution Found(ProviderAuthorization a) => new(ResolutionState.Found, a, null);
    public static AuthorizeResolution Unknown(string detail) => new(ResolutionState.Unknown, null, detail);
}

/// <summary>A phone checkout for <paramref name="Amount"/> (the hold), identified by our <paramref name="CheckoutId"/>.</summary>
public sealed record CheckoutRequest(string CheckoutId, long Amount, string DriverRef, string ItemName, Uri ApprovalUrl, Uri CancelUrl, Uri FailUrl);

/// <summary>
/// Where the phone goes to approve (<see cref="RedirectUrl"/>, or the provider's client SDK with
/// <see cref="ClientParameters"/>), and what it then presents at the charger.
/// </summary>
public sealed record CheckoutSession(
    string CheckoutId, bool Required, string? ProviderReference, Uri? RedirectUrl,
    IReadOnlyDictionary<string, string> ClientParameters, string PaymentCodeFormat)
{
    public static CheckoutSession NotNeeded(string checkoutId) =>
        new(checkoutId, false, null, null, new Dictionary<string, string>(), "the wallet's own one-time payment code");
}

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
