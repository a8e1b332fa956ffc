using System.Text.Json;
using System.Text.Json.Serialization;

namespace EvCharge.Payments;

// The sandbox HTTP contract as the adapter sees it (docs/sandbox.md). Kept apart from the social-sandbox project
// on purpose: the adapter speaks the wire contract, not the sandbox's code, exactly as it would to a real provider.

internal static class SandboxWire
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

internal sealed record PayeeAmountWire(string PayeeAccount, long Amount);

internal sealed record AuthorizeWire(string? PaymentCode, string? BillingKey, long Amount, string OrderId, string MerchantReference);

internal sealed record ReceiptWire(
    string ChargerId, int ConnectorId, string SessionId, long EnergyWh, DateTimeOffset StartedAt, DateTimeOffset StoppedAt,
    long Total, long SupplyValue, long Vat);

internal sealed record CaptureWire(long Amount, IReadOnlyList<PayeeAmountWire> Splits, ReceiptWire Receipt);

internal sealed record RefundWire(long Amount, IReadOnlyList<PayeeAmountWire> SplitReversals, string? Reason);

internal sealed record AuthorizationWire(
    string AuthorizationId, string WalletRef, string OrderId, long Amount, string Status, DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt, long Captured, long Released, long Refunded, string? PaymentId,
    IReadOnlyList<PayeeAmountWire>? Remittances);

internal sealed record AuthorizationListWire(IReadOnlyList<AuthorizationWire> Data);

internal sealed record CaptureResultWire(
    string PaymentId, string AuthorizationId, long Captured, long Released, IReadOnlyList<PayeeAmountWire> Remittances,
    string Status);

internal sealed record RefundResultWire(string RefundId, string PaymentId, long Amount);

internal sealed record ProblemWire(string? Code, string? DeclineCode, string? Detail);
