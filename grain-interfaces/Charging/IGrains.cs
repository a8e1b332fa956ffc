using Orleans.Concurrency;
using EvCharge.Ocpp;

namespace EvCharge.Charging;

/// <summary>
/// A charger bridge (MQTT or WebSocket) registers itself so the charger grain can push server-initiated
/// messages such as RemoteStopTransaction down to the charger.
/// </summary>
public interface IChargerLink : IGrainObserver
{
    Task Send(string chargerId, ChargerCommand command);

    /// <summary>
    /// The charger grain took another link for <paramref name="chargerId"/> (the charger connected again, over a
    /// WebSocket here or elsewhere, or came back to MQTT): a WebSocket connection closes, a broker bridge attaches
    /// again on the charger's next frame. One-way: the grain never waits on a link that may be gone.
    /// </summary>
    [OneWay]
    Task Released(string chargerId);
}

/// <summary>One grain per charger: registration, online status, live transactions per connector, the OCPP exchange.</summary>
public interface IChargerGrain : IGrainWithStringKey
{
    Task Register(ChargerRegistration registration);
    [AlwaysInterleave]
    Task<ChargerView> GetView();
    [AlwaysInterleave]
    Task<bool> CheckPassword(string password);

    /// <summary>A broker bridge (MQTT) that can reach the charger; bridges of one broker may replace each other silently.</summary>
    [AlwaysInterleave]
    Task AttachLink(IChargerLink link);
    /// <summary>
    /// A direct connection of the charger (one WebSocket): it replaces whatever link the grain had, and whichever
    /// link loses the charger to it, or later takes the charger from it, is told (<see cref="IChargerLink.Released"/>).
    /// </summary>
    [AlwaysInterleave]
    Task AttachConnection(IChargerLink connection);
    /// <summary>The connection closed: forget it if it is still the grain's link (one-way; the charger is gone anyway).</summary>
    [AlwaysInterleave, OneWay]
    Task DetachConnection(IChargerLink connection);
    Task<BootResult> Boot(BootNotification boot);
    [AlwaysInterleave]
    Task<DateTimeOffset> Heartbeat();
    Task StatusChanged(StatusNotification status);

    /// <summary>Steps 2-3: social payment code (or vehicle id) in, authorization reference out.</summary>
    Task<PaymentAuthorizationResult> AuthorizePayment(int connectorId, PaymentPresentation payment);
    Task<IdTagInfo> Authorize(string idTag);
    Task<StartTransactionResult> StartTransaction(StartTransaction start);
    Task MeterValues(MeterValues values);
    Task<IdTagInfo?> StopTransaction(StopTransaction stop);
    Task ReportFee(ChargerFeeReport report);

    /// <summary>Operator or session asks the charger to stop a live transaction.</summary>
    Task<bool> RemoteStop(int transactionId, string reason);

    /// <summary>
    /// A session ended on its own (settled, voided by timeout): free the connector's bookkeeping. One-way, because
    /// the session may call it while the charger is itself waiting on the session; awaiting would deadlock.
    /// </summary>
    [OneWay]
    Task SessionEnded(string sessionId, int? transactionId);

    /// <summary>StopTransaction/MeterValues for transaction ids the server never issued, kept for reconciliation.</summary>
    Task<IReadOnlyList<UnreconciledMessage>> GetUnreconciled();

    /// <summary>
    /// Scan &amp; Charge (docs/driver.md): the driver approved a payment on the phone for this connector. Opens the session
    /// (the hold), then sends OCPP RemoteStartTransaction with the authorization reference as idTag. A refusal before the
    /// hold (connector busy, charger offline) leaves no session.
    /// </summary>
    Task<RemoteStartResult> RemoteStart(RemoteStartRequest request);

    /// <summary>The charger's answer to RemoteStartTransaction for a session (one-way: the bridge never waits on the grain).</summary>
    [OneWay]
    Task RemoteStartAnswered(string sessionId, bool accepted, string? detail);
}

/// <summary>One grain per charge, from authorization to settlement.</summary>
public interface IChargingSessionGrain : IGrainWithStringKey
{
    Task<SessionAuthorization> Authorize(SessionStart start);
    /// <summary>False if the session can no longer start (voided by timeout, rejected).</summary>
    Task<bool> Start(int transactionId, long meterStartWh, DateTimeOffset timestamp);
    Task<MeterProgress> AddMeterValues(IReadOnlyList<MeterSample> samples);
    Task<SessionView> Stop(StopReport report);
    Task ReportChargerFee(long fee);
    /// <summary>Voids the hold if the session never started (rejected start, cancelled, timeout).</summary>
    Task<SessionView> Cancel(string reason);
    Task<RefundOutcome> Refund(long amount, string idempotencyKey, string? reason);
    /// <summary>Finish whatever is in flight (capture, void, refund) after a crash or a provider outage, ignoring back-off.</summary>
    Task<SessionView> Resume();
    /// <summary>The sweeper's look at a session whose due time has come: timeouts, retries (honouring back-off), lost steps.</summary>
    Task Tick();
    /// <summary>Interleaves: a read must not wait behind a capture the provider is slow to answer.</summary>
    [AlwaysInterleave]
    Task<SessionView> GetView();
}

[GenerateSerializer, Immutable]
public sealed record UnreconciledMessage(
    [property: Id(0)] string Action,
    [property: Id(1)] int TransactionId,
    [property: Id(2)] long MeterWh,
    [property: Id(3)] DateTimeOffset Timestamp,
    [property: Id(4)] DateTimeOffset ReceivedAt);

[GenerateSerializer, Immutable]
public sealed record RefundOutcome(
    [property: Id(0)] bool Succeeded,
    [property: Id(1)] string? RefundId,
    [property: Id(2)] long Amount,
    [property: Id(3)] IReadOnlyList<SplitPart> Reversals,
    [property: Id(4)] string? Error);

/// <summary>The driver's wallet as EvCharge sees it; key "{provider}:{walletRef}".</summary>
public interface ISocialPaymentAccountGrain : IGrainWithStringKey
{
    /// <summary>One active hold per wallet: returns false (with the holder) if another session holds it.</summary>
    Task<HoldClaim> TryClaimHold(string sessionId);
    /// <summary>The session is no longer live on the wallet (its row says so already; this only updates the wallet's memory).</summary>
    [OneWay]
    Task ReleaseHold(string sessionId);
    Task<WalletView> GetView();
    Task SetBlocked(bool blocked, string? reason);
}

[GenerateSerializer, Immutable]
public sealed record HoldClaim(
    [property: Id(0)] bool Granted,
    [property: Id(1)] string? HeldBySession,
    [property: Id(2)] string? Reason);

[GenerateSerializer, Immutable]
public sealed record WalletView(
    [property: Id(0)] string WalletKey,
    [property: Id(1)] string? ActiveSession,
    [property: Id(2)] bool Blocked,
    [property: Id(3)] IReadOnlyList<string> RecentSessions,
    [property: Id(4)] long TotalPaid);

/// <summary>
/// One of a few sweepers (key 0..N-1): on its reminder it ticks the sessions whose due time has come in its share of
/// the session buckets. A handful of reminders in all, instead of one per session.
/// </summary>
public interface ISessionSweeperGrain : IGrainWithIntegerKey
{
    /// <summary>Registers the sweeper's reminder (idempotent); every silo calls it for every sweeper at start.</summary>
    Task Start();
    /// <summary>Sweeps now; returns how many due sessions it ticked.</summary>
    Task<int> Sweep();
}

/// <summary>A CPO: its contract (commission, payee account, tariffs) and running settlement balance.</summary>
public interface ICpoGrain : IGrainWithStringKey
{
    Task SetContract(CpoContract contract);
    [ReadOnly]
    Task<CpoContract?> GetContract();
    Task AddCharger(string chargerId);
    Task<IReadOnlyList<string>> GetChargers();
}

/// <summary>
/// Seamless charging: a vehicle identity (EVCCID/MAC, sent as idTag "VID:&lt;id&gt;") bound to a wallet's saved
/// billing token. Keyed by the vehicle id. Holds only the provider's token reference, never card data.
/// </summary>
public interface IVehicleBindingGrain : IGrainWithStringKey
{
    Task<VehicleBindingView> Bind(VehicleBindingRequest request);
    Task<VehicleBindingView?> Revoke(string reason);
    Task<VehicleBindingView?> GetView();
    /// <summary>True if the billing key is the one bound: the phone proves it is the driver who consented.</summary>
    Task<bool> IsBoundTo(string billingKey);
    /// <summary>Checks the binding for a plug-in at a charger and marks the vehicle as charging there.</summary>
    Task<BindingResolution> ResolveForCharge(string chargerId);
    [OneWay]
    Task ChargeEnded(string chargerId);
}

[GenerateSerializer, Immutable]
public sealed record VehicleBindingRequest(
    [property: Id(0)] string Provider,
    [property: Id(1)] string WalletRef,
    [property: Id(2)] string BillingToken,
    [property: Id(3)] DateTimeOffset? TokenExpiresAt,
    [property: Id(4)] long PerChargeLimit,
    [property: Id(5)] int DailyChargeLimit);

[GenerateSerializer, Immutable]
public sealed record VehicleBindingView(
    [property: Id(0)] string VehicleId,
    [property: Id(1)] string Provider,
    [property: Id(2)] string WalletRef,
    [property: Id(3)] string TokenHint,
    [property: Id(4)] DateTimeOffset BoundAt,
    [property: Id(5)] DateTimeOffset? TokenExpiresAt,
    [property: Id(6)] bool Revoked,
    [property: Id(7)] string? RevokedReason,
    [property: Id(8)] long PerChargeLimit,
    [property: Id(9)] int DailyChargeLimit,
    [property: Id(10)] string? ChargingAt,
    [property: Id(11)] int ChargesToday);

[GenerateSerializer, Immutable]
public sealed record BindingResolution(
    [property: Id(0)] bool Accepted,
    [property: Id(1)] string? Reason,
    [property: Id(2)] string? Provider,
    [property: Id(3)] string? BillingToken,
    [property: Id(4)] long PerChargeLimit);
