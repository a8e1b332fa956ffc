using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Sessions;

namespace EvCharge.Silo.Apis;

// HTTP response bodies of the operators' API. They are the published contract (/openapi/v1.json and the clients
// generated from it), so they are declared here and mapped from the Orleans wire types (grain-interfaces) and the
// ledger's records instead of sending those out as they are: a field added to a grain's view, or an [Id] renumbered,
// must not change what HTTP clients receive. Property names keep the JSON the API has always answered.

public sealed record CommissionResponse(int BasisPoints, long FixedPerSession);

public sealed record TimeOfUseBandResponse(int StartHour, int EndHour, long PricePerKwh);

/// <summary>A tariff: KRW per kWh (time-of-use bands override it for their KST hours), per minute, idle fee, minimums.</summary>
public sealed record TariffResponse(
    string TariffId, long PricePerKwh, IReadOnlyList<TimeOfUseBandResponse> TimeOfUse, long PricePerMinute, long IdleFeePerMinute,
    int IdleGraceMinutes, long MinimumBillableWh, int MinimumBillableSeconds);

public sealed record CpoContractResponse(string Name, string PayeeAccount, CommissionResponse Commission, IReadOnlyList<TariffResponse> Tariffs);

public sealed record CpoResponse(string CpoId, CpoContractResponse Contract, IReadOnlyList<string> Chargers);

public sealed record ConnectorResponse(int ConnectorId, ConnectorStatus Status, string? SessionId, int? TransactionId, string? ErrorCode);

public sealed record UnreconciledMessageResponse(string Action, int TransactionId, long MeterWh, DateTimeOffset Timestamp, DateTimeOffset ReceivedAt);

public sealed record MeterSampleResponse(DateTimeOffset Timestamp, long EnergyWh);

public sealed record SplitResponse(string PayeeAccount, PayeeRole Role, long Amount);

/// <summary>The receipt the driver's phone got: VAT = round(total / 11), supply value = total - VAT.</summary>
public sealed record ReceiptResponse(long Total, long SupplyValue, long Vat);

/// <summary>
/// One authorization of a charge and what really moved: <c>funds</c> <c>hold</c> (held, captured, the rest released) or
/// <c>deposit</c> (charged in full at authorization, the unused part cancelled). <c>orderId</c> is the session id, or
/// <c>{session}-r{n}</c> for the n-th authorization of a long charge that rolled over. <c>status</c>: open, captured,
/// voided, expired, debt.
/// </summary>
public sealed record SessionPaymentResponse(
    string OrderId, string AuthorizationId, string Funds, long Authorized, long Captured, long Released, string? PaymentId, string Status);

/// <summary>
/// One charge as operators see it. Payment codes and billing tokens are never part of it. <c>meterTimeline</c> holds
/// the charger's meter register readings; <c>meterStartWh</c> is the register at the start, so the energy delivered
/// at a reading is the reading minus it.
/// </summary>
public sealed record SessionResponse(
    string SessionId, SessionState State, string? ChargerId, int ConnectorId, string? CpoId, int? TransactionId, string? WalletKey,
    string? AuthorizationId, long HoldAmount, long EnergyWh, long? Fee, long? ChargerReportedFee, bool FeeMismatch, long Captured,
    IReadOnlyList<SplitResponse> Splits, ReceiptResponse? Receipt, IReadOnlyList<MeterSampleResponse> MeterTimeline,
    DateTimeOffset? StartedAt, DateTimeOffset? StoppedAt, string? Reason, string? PaymentId, bool Seamless, long Refunded,
    long DebtAmount, DateTimeOffset CreatedAt, long? MeterStartWh)
{
    /// <summary>What really moved, per authorization (one unless a long charge rolled over).</summary>
    public IReadOnlyList<SessionPaymentResponse> Payments { get; init; } = [];
}

/// <summary>A row of the session lists (the session index's read model).</summary>
public sealed record SessionSummaryResponse(
    string SessionId, SessionState State, string? ChargerId, int ConnectorId, string? CpoId, string? WalletKey,
    long HoldAmount, long EnergyWh, long? Fee, long Captured, long Refunded, long Debt, bool Seamless, bool FeeMismatch,
    string? Reason, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? StoppedAt, DateTimeOffset UpdatedAt);

public sealed record LedgerEntryResponse(
    string JournalKey, string SessionId, JournalKind Kind, string Account, long Amount, string? Reference, DateTimeOffset PostedAt);

public sealed record InvariantViolationResponse(string Rule, string? SessionId, string Detail);

/// <summary><c>ok</c> is true when debits equal credits and no per-session rule is broken.</summary>
public sealed record InvariantReportResponse(
    bool Ok, bool Balanced, long TotalDebits, long TotalCredits, int Journals, IReadOnlyList<InvariantViolationResponse> Violations);

public sealed record PayeeBalanceResponse(string PayeeAccount, long Remitted, long Reversed, long Net, int Sessions);

/// <summary>A seamless-charging binding; the billing token appears only as its last four characters.</summary>
public sealed record VehicleBindingResponse(
    string VehicleId, string Provider, string WalletRef, string TokenHint, DateTimeOffset BoundAt, DateTimeOffset? TokenExpiresAt,
    bool Revoked, string? RevokedReason, long PerChargeLimit, int DailyChargeLimit, string? ChargingAt, int ChargesToday);

/// <summary>Wire type to HTTP body. Pure mappings, no lookups.</summary>
public static class ApiMapping
{
    public static TariffResponse ToResponse(this Tariff t) => new(
        t.TariffId, t.PricePerKwh, t.TimeOfUse.Select(b => new TimeOfUseBandResponse(b.StartHour, b.EndHour, b.PricePerKwh)).ToList(),
        t.PricePerMinute, t.IdleFeePerMinute, t.IdleGraceMinutes, t.MinimumBillableWh, t.MinimumBillableSeconds);

    public static CpoContractResponse ToResponse(this CpoContract c) => new(
        c.Name, c.PayeeAccount, new CommissionResponse(c.Commission.BasisPoints, c.Commission.FixedPerSession),
        c.Tariffs.Select(ToResponse).ToList());

    public static ConnectorResponse ToResponse(this ConnectorView c) => new(c.ConnectorId, c.Status, c.SessionId, c.TransactionId, c.ErrorCode);

    public static UnreconciledMessageResponse ToResponse(this UnreconciledMessage m) => new(m.Action, m.TransactionId, m.MeterWh, m.Timestamp, m.ReceivedAt);

    public static SplitResponse ToResponse(this SplitPart p) => new(p.PayeeAccount, p.Role, p.Amount);

    public static SessionResponse ToResponse(this SessionView v) => new(
        v.SessionId, v.State, v.ChargerId, v.ConnectorId, v.CpoId, v.TransactionId, v.WalletKey, v.AuthorizationId, v.HoldAmount,
        v.EnergyWh, v.Fee, v.ChargerReportedFee, v.FeeMismatch, v.Captured, v.Splits.Select(ToResponse).ToList(),
        v.Receipt is { } r ? new ReceiptResponse(r.Total, r.SupplyValue, r.Vat) : null,
        v.MeterTimeline.Select(m => new MeterSampleResponse(m.Timestamp, m.EnergyWh)).ToList(),
        v.StartedAt, v.StoppedAt, v.Reason, v.PaymentId, v.Seamless, v.Refunded, v.DebtAmount, v.CreatedAt, v.MeterStartWh)
    {
        Payments = v.Payments.Select(p => new SessionPaymentResponse(p.OrderId, p.AuthorizationId, p.Funds, p.Authorized, p.Captured, p.Released, p.PaymentId, p.Status)).ToList(),
    };

    public static SessionSummaryResponse ToResponse(this SessionSummary s) => new(
        s.SessionId, s.State, s.ChargerId, s.ConnectorId, s.CpoId, s.WalletKey, s.HoldAmount, s.EnergyWh, s.Fee, s.Captured, s.Refunded,
        s.Debt, s.Seamless, s.FeeMismatch, s.Reason, s.CreatedAt, s.StartedAt, s.StoppedAt, s.UpdatedAt);

    public static LedgerEntryResponse ToResponse(this LedgerEntry e) => new(e.JournalKey, e.SessionId, e.Kind, e.Account, e.Amount, e.Reference, e.PostedAt);

    public static InvariantReportResponse ToResponse(this InvariantReport r) => new(
        r.Ok, r.Balanced, r.TotalDebits, r.TotalCredits, r.Journals, r.Violations.Select(v => new InvariantViolationResponse(v.Rule, v.SessionId, v.Detail)).ToList());

    public static PayeeBalanceResponse ToResponse(this PayeeBalance b) => new(b.PayeeAccount, b.Remitted, b.Reversed, b.Net, b.Sessions);

    public static VehicleBindingResponse ToResponse(this VehicleBindingView v) => new(
        v.VehicleId, v.Provider, v.WalletRef, v.TokenHint, v.BoundAt, v.TokenExpiresAt, v.Revoked, v.RevokedReason, v.PerChargeLimit,
        v.DailyChargeLimit, v.ChargingAt, v.ChargesToday);
}
