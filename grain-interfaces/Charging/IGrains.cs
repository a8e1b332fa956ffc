using EvCharge.Ocpp;

namespace EvCharge.Charging;

/// <summary>
/// A charger bridge (MQTT or WebSocket) registers itself so the charger grain can push server-initiated
/// messages such as RemoteStopTransaction down to the charger.
/// </summary>
public interface IChargerLink : IGrainObserver
{
    Task Send(string chargerId, ChargerCommand command);
}

/// <summary>One grain per charger: registration, online status, live transactions per connector, the OCPP exchange.</summary>
public interface IChargerGrain : IGrainWithStringKey
{
    Task Register(ChargerRegistration registration);
    Task<ChargerView> GetView();
    Task<bool> CheckPassword(string password);

    Task AttachLink(IChargerLink link);
    Task<BootResult> Boot(BootNotification boot);
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

    /// <summary>A session ended without the charger (timeout, void): free the connector's bookkeeping.</summary>
    Task SessionEnded(string sessionId, int? transactionId);
}

/// <summary>One grain per charge, from authorization to settlement.</summary>
public interface IChargingSessionGrain : IGrainWithStringKey
{
    Task<SessionAuthorization> Authorize(SessionStart start);
    Task Start(int transactionId, long meterStartWh, DateTimeOffset timestamp);
    Task<MeterProgress> AddMeterValues(IReadOnlyList<MeterSample> samples);
    Task<SessionView> Stop(StopReport report);
    Task ReportChargerFee(long fee);
    /// <summary>Voids the hold if the session never started (rejected start, cancelled, timeout).</summary>
    Task<SessionView> Cancel(string reason);
    Task<RefundOutcome> Refund(long amount, string idempotencyKey, string? reason);
    /// <summary>Finish whatever is in flight (capture, void, refund) after a crash or a provider outage.</summary>
    Task<SessionView> Resume();
    Task<SessionView> GetView();
}

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
    Task ReleaseHold(string sessionId);
    Task RecordReceipt(string sessionId, long amount);
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

/// <summary>A CPO: its contract (commission, payee account, tariffs) and running settlement balance.</summary>
public interface ICpoGrain : IGrainWithStringKey
{
    Task SetContract(CpoContract contract);
    Task<CpoContract?> GetContract();
    Task AddCharger(string chargerId);
    Task<IReadOnlyList<string>> GetChargers();
}
