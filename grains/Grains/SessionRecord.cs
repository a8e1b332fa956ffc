using EvCharge.Charging;
using EvCharge.Sessions;

namespace EvCharge.Grains;

/// <summary>The persisted state of a charging session. Replaced with <c>with</c>, written in one place.</summary>
[GenerateSerializer]
public sealed record SessionRecord
{
    [Id(0)] public SessionState State { get; init; } = SessionState.Created;
    [Id(1)] public SessionStart? Start { get; init; }
    [Id(2)] public string? WalletKey { get; init; }
    [Id(3)] public string? AuthorizationId { get; init; }
    [Id(4)] public long Authorized { get; init; }
    [Id(5)] public DateTimeOffset? HoldExpiresAt { get; init; }
    [Id(6)] public int? TransactionId { get; init; }
    [Id(7)] public long MeterStartWh { get; init; }
    [Id(8)] public DateTimeOffset? StartedAt { get; init; }
    [Id(9)] public IReadOnlyList<MeterSample> Samples { get; init; } = [];
    [Id(10)] public long? MeterStopWh { get; init; }
    [Id(11)] public DateTimeOffset? StoppedAt { get; init; }
    [Id(12)] public string? StopReason { get; init; }
    [Id(13)] public long? Fee { get; init; }
    [Id(14)] public long? ChargerFee { get; init; }
    [Id(15)] public long Captured { get; init; }
    [Id(16)] public string? PaymentId { get; init; }
    [Id(17)] public IReadOnlyList<SplitPart> Splits { get; init; } = [];
    [Id(18)] public ReceiptLines? Receipt { get; init; }
    [Id(19)] public string? Reason { get; init; }
    [Id(20)] public int Attempts { get; init; }
    [Id(21)] public DateTimeOffset LastActivity { get; init; }
    [Id(22)] public IReadOnlyList<RefundRecord> Refunds { get; init; } = [];
    [Id(23)] public long Debt { get; init; }
    [Id(24)] public DateTimeOffset CreatedAt { get; init; }
    [Id(25)] public bool RemoteStopRequested { get; init; }
    [Id(26)] public long PlannedCapture { get; init; }
    [Id(27)] public DateTimeOffset? AuthorizedAt { get; init; }
    /// <summary>While <see cref="SessionState.NeedsAttention"/>: the step (Authorizing, Voiding, Settling) still being retried.</summary>
    [Id(28)] public SessionState? AttentionStep { get; init; }
    /// <summary>Why the session needs an operator's eye; kept apart from <see cref="Reason"/>, which a void or debt records.</summary>
    [Id(29)] public string? AttentionReason { get; init; }
    /// <summary>Back-off: the watchdog does not call the provider for this session before this time.</summary>
    [Id(30)] public DateTimeOffset? NextAttemptAt { get; init; }
    /// <summary>Refund ids are never reused, even after a refused refund is dropped: the id is part of the provider key.</summary>
    [Id(31)] public int NextRefundNumber { get; init; }
    /// <summary>The gateway entry and its capabilities, resolved when the session was created (null: written before they existed).</summary>
    [Id(32)] public PaymentRoute? Route { get; init; }
    /// <summary>Earlier authorizations of a long charge that rolled over, each closed (captured, voided or expired).</summary>
    [Id(33)] public IReadOnlyList<PaymentPart> Earlier { get; init; } = [];
    /// <summary>The current authorization's number: 0, or n after the n-th rollover (its order id is <c>{session}-r{n}</c>).</summary>
    [Id(34)] public int PaymentNumber { get; init; }
    /// <summary>Rollovers tried so far; the next is numbered one more (a declined number is not reused: it is in the key).</summary>
    [Id(35)] public int Rollovers { get; init; }
    /// <summary>Increments tried so far; the next is numbered one more.</summary>
    [Id(36)] public int Increments { get; init; }
    /// <summary>A hold extension in flight (increment, rollover), finished before the session settles.</summary>
    [Id(37)] public HoldExtension? Extension { get; init; }
    /// <summary>Parts of the current capture the provider did not pay out: owed to those payees from the ledger.</summary>
    [Id(38)] public IReadOnlyList<SplitPart> Owed { get; init; } = [];

    public bool IsTerminal => State is SessionState.Settled or SessionState.Rejected or SessionState.Voided or SessionState.Debt;

    /// <summary>The step the session is on; NeedsAttention keeps retrying the step it got stuck in.</summary>
    public SessionState Step => State == SessionState.NeedsAttention ? AttentionStep ?? SessionState.Settling : State;
    public long Refunded => Refunds.Where(r => r.Done).Sum(r => r.Amount);
}

[GenerateSerializer, Immutable]
public sealed record RefundRecord(
    [property: Id(0)] string RefundId,
    [property: Id(1)] string IdempotencyKey,
    [property: Id(2)] long Amount,
    [property: Id(3)] IReadOnlyList<SplitPart> Reversals,
    [property: Id(4)] bool Done,
    [property: Id(5)] string? ProviderRefundId,
    [property: Id(6)] string? Reason,
    // Which authorization it refunds (SessionRecord.PaymentNumber numbering); null: the session's current one.
    [property: Id(7)] int? Payment = null);
