using System.Text.Json.Serialization;

namespace EvCharge.SocialSandbox;

// State the sandbox keeps. Records are replaced with `with` under the store's lock and journaled whole,
// so a replay of the journal is "last record per id wins".

public sealed record Wallet(
    string WalletId, string? Owner, string WalletRef, long Balance, long? PerPaymentLimit, bool Blocked,
    DateTimeOffset CreatedAt);

/// <param name="CheckoutId">Issued by a checkout's approval: good only for that checkout's order and amount.</param>
public sealed record PaymentCode(string Code, string WalletId, DateTimeOffset ExpiresAt, DateTimeOffset? UsedAt, string? CheckoutId = null);

public sealed record BillingKey(
    string Key, string WalletId, string? VehicleId, long? PerChargeLimit, long? DailyLimit,
    DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt);

[JsonConverter(typeof(JsonStringEnumConverter<AuthorizationStatus>))]
public enum AuthorizationStatus
{
    [JsonStringEnumMemberName("authorized")] Authorized,
    [JsonStringEnumMemberName("captured")] Captured,
    [JsonStringEnumMemberName("voided")] Voided,
    [JsonStringEnumMemberName("expired")] Expired,
    [JsonStringEnumMemberName("partially_refunded")] PartiallyRefunded,
    [JsonStringEnumMemberName("refunded")] Refunded,
}

public sealed record PayeeAmount(string PayeeAccount, long Amount);

public sealed record RefundRecord(
    string RefundId, string IdempotencyKey, long Amount, IReadOnlyList<PayeeAmount> SplitReversals, string? Reason,
    DateTimeOffset CreatedAt);

public sealed record Authorization(
    string AuthorizationId, string WalletId, string WalletRef, string OrderId, string? MerchantReference,
    long Amount, AuthorizationStatus Status, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt,
    string Source, string? BillingKey, string AuthorizeKey,
    long Captured = 0, long Released = 0, string? PaymentId = null, string? CaptureKey = null,
    IReadOnlyList<PayeeAmount>? Remittances = null, long Refunded = 0, IReadOnlyList<RefundRecord>? Refunds = null,
    DateTimeOffset? ResolvedAt = null)
{
    /// <summary>True while the hold still reserves money from the wallet.</summary>
    public bool Holding => Status == AuthorizationStatus.Authorized;
}

/// <summary>One line of a payee's remittance list; a refund's split reversal is a negative line.</summary>
public sealed record RemittanceEntry(
    string PayeeAccount, long Amount, string Kind, string PaymentId, string AuthorizationId, string? RefundId,
    DateTimeOffset At);

/// <summary>What the driver's phone is shown after a capture (kind "payment") or a refund (kind "refund").</summary>
public sealed record Receipt(
    long Sequence, string ReceiptId, string Kind, string WalletId, string PaymentId, string AuthorizationId,
    string? RefundId, string? Merchant, int? ConnectorId, string? SessionId, long Total, long SupplyValue, long Vat,
    long? EnergyWh, DateTimeOffset? StartedAt, DateTimeOffset? StoppedAt, IReadOnlyList<PayeeAmount> Splits,
    DateTimeOffset IssuedAt);

public sealed record IdempotencyRecord(
    string Key, string RequestHash, int StatusCode, string Body, DateTimeOffset CreatedAt);

// ----- request bodies (camelCase JSON) -----

public sealed record CreateWalletRequest(string? WalletId, string? Owner, long Balance, long? PerPaymentLimit);

public sealed record CreateBillingKeyRequest(
    bool Consent, string? VehicleId, long? PerChargeLimit, long? DailyLimit, DateTimeOffset? ExpiresAt);

public sealed record AuthorizeBody(
    string? PaymentCode, string? BillingKey, long Amount, string? OrderId, string? MerchantReference);

public sealed record ReceiptBody(
    string? ChargerId, int? ConnectorId, string? SessionId, long? EnergyWh, DateTimeOffset? StartedAt,
    DateTimeOffset? StoppedAt, long Total, long SupplyValue, long Vat);

public sealed record CaptureBody(long Amount, IReadOnlyList<PayeeAmount>? Splits, ReceiptBody? Receipt);

public sealed record RefundBody(long Amount, IReadOnlyList<PayeeAmount>? SplitReversals, string? Reason);

// ----- answers -----

public sealed record WalletView(
    string WalletId, string? Owner, string WalletRef, long Balance, long Held, long Available, long? PerPaymentLimit,
    bool Blocked);

public sealed record PaymentCodeView(string Code, string WalletId, DateTimeOffset ExpiresAt);

public sealed record BillingKeyView(
    string BillingKey, string WalletId, string? VehicleId, long? PerChargeLimit, long? DailyLimit,
    DateTimeOffset? ExpiresAt, string Status);

public sealed record AuthorizationView(
    string AuthorizationId, string WalletRef, string OrderId, string? MerchantReference, long Amount,
    AuthorizationStatus Status, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, long Captured, long Released,
    long Refunded, string? PaymentId, IReadOnlyList<PayeeAmount> Remittances, IReadOnlyList<RefundView> Refunds)
{
    public static AuthorizationView Of(Authorization a) => new(
        a.AuthorizationId, a.WalletRef, a.OrderId, a.MerchantReference, a.Amount, a.Status, a.CreatedAt, a.ExpiresAt,
        a.Captured, a.Released, a.Refunded, a.PaymentId, a.Remittances ?? [],
        (a.Refunds ?? []).Select(r => RefundView.Of(a, r)).ToList());
}

public sealed record CaptureView(
    string PaymentId, string AuthorizationId, long Captured, long Released, IReadOnlyList<PayeeAmount> Remittances,
    string Status);

public sealed record VoidView(string AuthorizationId, long Released, AuthorizationStatus Status);

public sealed record RefundView(
    string RefundId, string PaymentId, string AuthorizationId, long Amount, IReadOnlyList<PayeeAmount> SplitReversals,
    string? Reason, DateTimeOffset CreatedAt)
{
    public static RefundView Of(Authorization a, RefundRecord r) =>
        new(r.RefundId, a.PaymentId!, a.AuthorizationId, r.Amount, r.SplitReversals, r.Reason, r.CreatedAt);
}

public sealed record RemittanceListView(string PayeeAccount, long Total, IReadOnlyList<RemittanceEntry> Entries);

/// <summary>An error body shaped like RFC 9457 problem details, plus machine-readable codes.</summary>
public sealed record SandboxProblem(
    string Type, string Title, int Status, string Code, string? DeclineCode, string Detail);

/// <summary>The outcome of a store operation: an HTTP status and the body to send.</summary>
public sealed record SandboxResult(int Status, object Body)
{
    public bool IsSuccess => Status is >= 200 and < 300;

    public static SandboxResult Ok(object body) => new(200, body);
    public static SandboxResult Created(object body) => new(201, body);

    public static SandboxResult Declined(string declineCode, string detail) =>
        new(402, new SandboxProblem("https://evcharge.dev/sandbox/errors/declined", "Payment declined", 402,
            "declined", declineCode, detail));

    public static SandboxResult Problem(int status, string code, string detail) =>
        new(status, new SandboxProblem($"https://evcharge.dev/sandbox/errors/{code}", Title(status), status, code,
            null, detail));

    public static SandboxResult NotFound(string what, string id) => Problem(404, "not_found", $"{what} '{id}' does not exist");

    private static string Title(int status) => status switch
    {
        400 => "Bad request",
        404 => "Not found",
        409 => "Conflict",
        422 => "Unprocessable request",
        503 => "Service unavailable",
        504 => "Gateway time-out",
        _ => "Error",
    };
}
