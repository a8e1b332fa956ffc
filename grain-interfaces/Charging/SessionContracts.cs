namespace EvCharge.Charging;

/// <summary>The session state machine. Ends: Settled, Rejected, Voided, Debt; NeedsAttention waits for an operator.</summary>
[GenerateSerializer]
public enum SessionState
{
    Created = 0,
    Authorizing = 1,
    Authorized = 2,
    Rejected = 3,
    Charging = 4,
    Stopped = 5,
    Settling = 6,
    Settled = 7,
    Voiding = 8,
    Voided = 9,
    Debt = 10,
    NeedsAttention = 11,
}

/// <summary>
/// Everything a session needs from the charger and CPO contract to run without calling back. <see cref="StartTimeout"/>:
/// this session's own deadline for StartTransaction (a remote start from the driver's phone waits less than the
/// platform's <c>EvCharge:StartTimeout</c>); null uses the platform's.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SessionStart(
    [property: Id(0)] string ChargerId,
    [property: Id(1)] int ConnectorId,
    [property: Id(2)] string CpoId,
    [property: Id(3)] Tariff Tariff,
    [property: Id(4)] long HoldAmount,
    [property: Id(5)] Commission Commission,
    [property: Id(6)] string CpoPayeeAccount,
    [property: Id(7)] string PlatformPayeeAccount,
    [property: Id(8)] PaymentPresentation Payment,
    [property: Id(9)] string AuthorizationReference,
    [property: Id(10)] string? BillingToken = null,
    [property: Id(11)] TimeSpan? StartTimeout = null,
    // The most a long charge may take in all (a seamless binding's per-charge limit); 0: no limit besides the platform's.
    [property: Id(12)] long ChargeLimit = 0);

[GenerateSerializer, Immutable]
public sealed record SessionAuthorization(
    [property: Id(0)] bool Accepted,
    [property: Id(1)] string? Reason,
    [property: Id(2)] string? WalletKey);

/// <summary>What the charger reported at the end; the server's own fee is what gets charged.</summary>
[GenerateSerializer, Immutable]
public sealed record StopReport(
    [property: Id(0)] long MeterStopWh,
    [property: Id(1)] DateTimeOffset Timestamp,
    [property: Id(2)] string? Reason,
    [property: Id(3)] IReadOnlyList<MeterSample> TransactionData);

[GenerateSerializer, Immutable]
public sealed record MeterProgress(
    [property: Id(0)] long EnergyWh,
    [property: Id(1)] long RunningCost,
    [property: Id(2)] bool HoldReached);

[GenerateSerializer, Immutable]
public sealed record SessionView(
    [property: Id(0)] string SessionId,
    [property: Id(1)] SessionState State,
    [property: Id(2)] string? ChargerId,
    [property: Id(3)] int ConnectorId,
    [property: Id(4)] string? CpoId,
    [property: Id(5)] int? TransactionId,
    [property: Id(6)] string? WalletKey,
    [property: Id(7)] string? AuthorizationId,
    [property: Id(8)] long HoldAmount,
    [property: Id(9)] long EnergyWh,
    [property: Id(10)] long? Fee,
    [property: Id(11)] long? ChargerReportedFee,
    [property: Id(12)] bool FeeMismatch,
    [property: Id(13)] long Captured,
    [property: Id(14)] IReadOnlyList<SplitPart> Splits,
    [property: Id(15)] ReceiptLines? Receipt,
    [property: Id(16)] IReadOnlyList<MeterSample> MeterTimeline,
    [property: Id(17)] DateTimeOffset? StartedAt,
    [property: Id(18)] DateTimeOffset? StoppedAt,
    [property: Id(19)] string? Reason,
    [property: Id(20)] string? PaymentId,
    [property: Id(21)] bool Seamless,
    [property: Id(22)] long Refunded,
    [property: Id(23)] long DebtAmount,
    [property: Id(24)] DateTimeOffset CreatedAt)
{
    /// <summary>The meter register at StartTransaction (null before the start): MeterTimeline holds register readings,
    /// so energy delivered at a reading is the reading minus this.</summary>
    [Id(25)] public long? MeterStartWh { get; init; }

    /// <summary>The tariff the session is charged by (a snapshot taken when it was authorized).</summary>
    [Id(26)] public Tariff? Tariff { get; init; }

    /// <summary>
    /// What really moved, per authorization: a hold captured and released, or a deposit charged and partly cancelled.
    /// One entry unless a long charge rolled over to a new authorization.
    /// </summary>
    [Id(27)] public IReadOnlyList<SessionPayment> Payments { get; init; } = [];
}

/// <summary>
/// One authorization of a session as it stands: <see cref="Funds"/> <c>hold</c> (held, then <see cref="Captured"/> and
/// the rest <see cref="Released"/>) or <c>deposit</c> (charged in full, then the unused part cancelled: <see cref="Released"/>).
/// <see cref="Status"/>: open, captured, voided, expired, debt.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SessionPayment(
    [property: Id(0)] string OrderId,
    [property: Id(1)] string AuthorizationId,
    [property: Id(2)] string Funds,
    [property: Id(3)] long Authorized,
    [property: Id(4)] long Captured,
    [property: Id(5)] long Released,
    [property: Id(6)] string? PaymentId,
    [property: Id(7)] string Status);
