using EvCharge.Charging;
using EvCharge.Grains;
using EvCharge.Ledger;
using EvCharge.Payments;

namespace EvCharge.Sessions;

/// <summary>
/// What can happen to a session: a request from the charger, an operator or the sweeper, or the answer to a provider
/// call the session made. <see cref="SessionMachine.Decide"/> turns one of these and the current state into a
/// <see cref="SessionDecision"/>.
/// </summary>
public abstract record SessionCommand;

/// <param name="Route">The gateway entry the session's CPO and wallet resolve to, and its capabilities; null: none answers.</param>
public sealed record AuthorizeSession(SessionStart Start, PaymentRoute? Route = null) : SessionCommand;
public sealed record StartCharging(int TransactionId, long MeterStartWh, DateTimeOffset Timestamp) : SessionCommand;
public sealed record AddMeterSamples(IReadOnlyList<MeterSample> Samples) : SessionCommand;
public sealed record StopCharging(StopReport Report) : SessionCommand;
public sealed record ReportChargerFee(long Fee) : SessionCommand;
public sealed record CancelSession(string Reason) : SessionCommand;
public sealed record RequestRefund(long Amount, string IdempotencyKey, string? Reason) : SessionCommand;
/// <summary>The sweeper's look at a due session (<paramref name="Force"/>: an operator's Resume, which ignores the back-off).</summary>
public sealed record Tick(bool Force) : SessionCommand;
/// <summary>After <see cref="Tick"/>: one pending refund, if any is due.</summary>
public sealed record TickRefunds(bool Force) : SessionCommand;

// Answers to the provider calls, fed back by the grain that ran the call.
/// <param name="Claim">The wallet's answer to "one open session per wallet"; null when the provider declined.</param>
/// <param name="Late">The answer came after the charger's answer budget: the charger was already told it failed.</param>
public sealed record AuthorizeAnswered(AuthorizeOutcome Outcome, HoldClaim? Claim, bool Late) : SessionCommand;
/// <param name="RefusalCode">For a capture lookup: the code the capture was refused with.</param>
public sealed record ProviderUnanswered(ProviderCallKind Call, string? RefundId = null, string? RefusalCode = null) : SessionCommand;
/// <summary>No gateway is configured for the session's provider (a provider removed from configuration).</summary>
public sealed record ProviderMissing(ProviderCallKind Call, string? RefundId = null) : SessionCommand;
public sealed record CaptureAnswered(CaptureOutcome Outcome) : SessionCommand;
public sealed record CaptureLookedUp(ProviderAuthorization? Found, string? RefusalCode) : SessionCommand;
public sealed record VoidAnswered(VoidOutcome Outcome) : SessionCommand;
/// <summary>What an authorize whose answer was lost left at the provider (<see cref="IPaymentGateway.ResolveAuthorizeAsync"/>).</summary>
public sealed record AuthorizeResolved(AuthorizeResolution Resolution) : SessionCommand;
public sealed record IncrementAnswered(IncrementOutcome Outcome) : SessionCommand;
public sealed record RefundAnswered(string RefundId, RefundResult Result) : SessionCommand;

public enum ProviderCallKind { Authorize, Capture, CaptureLookup, Void, ResolveAuthorize, Refund, Increment }

/// <summary>The one provider call a decision asks for; its key is derived from the session, so a repeat is the same request.</summary>
public abstract record ProviderCall(ProviderCallKind Kind, string Provider);
public sealed record AuthorizeCall(string Provider, AuthorizeRequest Request, string IdempotencyKey) : ProviderCall(ProviderCallKind.Authorize, Provider)
{
    /// <summary>
    /// The session's first authorization, whose approval claims the wallet (one open session per wallet). False for a
    /// re-send that resolves a lost answer (the charger was already refused) and for a long charge's rollover.
    /// </summary>
    public bool ClaimWallet { get; init; } = true;
}
public sealed record CaptureCall(string Provider, CaptureRequest Request, string IdempotencyKey) : ProviderCall(ProviderCallKind.Capture, Provider);
public sealed record CaptureLookupCall(string Provider, string AuthorizationId, string? RefusalCode) : ProviderCall(ProviderCallKind.CaptureLookup, Provider);
public sealed record VoidCall(string Provider, string AuthorizationId, string IdempotencyKey) : ProviderCall(ProviderCallKind.Void, Provider);
/// <summary>Asks what an authorize with this request and key left at the provider; never authorizes under another key.</summary>
public sealed record ResolveAuthorizeCall(string Provider, AuthorizeRequest Request, string IdempotencyKey) : ProviderCall(ProviderCallKind.ResolveAuthorize, Provider);
public sealed record IncrementCall(string Provider, IncrementRequest Request, string IdempotencyKey) : ProviderCall(ProviderCallKind.Increment, Provider);
public sealed record RefundCall(string Provider, string RefundId, RefundRequest Request, string IdempotencyKey) : ProviderCall(ProviderCallKind.Refund, Provider);

/// <summary>
/// What a command does: the next state, what the step writes besides it (new meter samples, ledger journals), at most
/// one provider call to make after the step is durable, what to tell others, and the caller's answer where the command
/// has one of its own. A decision whose <see cref="Next"/> is the current state object and that writes nothing is a no-op.
/// </summary>
public sealed record SessionDecision(SessionRecord Next)
{
    public IReadOnlyList<MeterSample> NewSamples { get; init; } = [];
    public IReadOnlyList<Journal> Journals { get; init; } = [];
    public ProviderCall? Call { get; init; }
    /// <summary>The charger should forget the session (it ended without the charger asking).</summary>
    public bool ChargerSessionEnded { get; init; }
    /// <summary>Ask the charger to stop this transaction (hold about to expire).</summary>
    public string? RemoteStopReason { get; init; }
    public MeterProgress? Progress { get; init; }
    public RefundOutcome? Refund { get; init; }
    /// <summary>The session entered NeedsAttention with this reason (for the operator's log).</summary>
    public string? AttentionRaised { get; init; }
}

/// <summary>The settings the session's decisions depend on (from <see cref="EvChargeOptions"/>).</summary>
public sealed record SessionRules(
    TimeSpan StartTimeout,
    TimeSpan StopTimeout,
    TimeSpan WatchdogPeriod,
    int MaxSettlementAttempts,
    TimeSpan HoldRefreshBefore,
    int HoldStopMarginBasisPoints,
    TimeSpan AuthorizeBudget,
    long MaxSessionAmount = EvChargeOptions.DefaultMaxSessionAmount)
{
    public static SessionRules From(EvChargeOptions o) => new(
        o.StartTimeout, o.StopTimeout, o.WatchdogPeriod, o.MaxSettlementAttempts, o.HoldRefreshBefore, o.HoldStopMarginBasisPoints,
        o.AuthorizeBudget, o.MaxSessionAmount);

    /// <summary>Sessions needing attention are retried this many watchdog periods apart.</summary>
    public const int AttentionPaceFactor = 16;

    /// <summary>Back-off after an unanswered provider call: watchdog period × 1, 2, 4, 8, then the attention pace.</summary>
    public TimeSpan Backoff(int attempts) =>
        attempts >= MaxSettlementAttempts
            ? WatchdogPeriod * AttentionPaceFactor
            : WatchdogPeriod * Math.Min(1 << Math.Max(0, attempts - 1), 8);
}
