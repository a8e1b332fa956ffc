namespace EvCharge.Charging;

/// <summary>
/// A remote start asked for by the driver's phone (Scan &amp; Charge). <see cref="SessionId"/> is chosen before the
/// wallet checkout (it is the provider's order id and the authorization reference); <see cref="StartTimeout"/> is how
/// long the charger may take to start the transaction (cable not plugged in, charger silent) before the hold is voided,
/// <see cref="AnswerTimeout"/> how long it may take to answer RemoteStartTransaction at all.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record RemoteStartRequest(
    [property: Id(0)] int ConnectorId,
    [property: Id(1)] PaymentPresentation Payment,
    [property: Id(2)] string SessionId,
    [property: Id(3)] TimeSpan StartTimeout,
    [property: Id(4)] TimeSpan AnswerTimeout);

/// <param name="Sent">RemoteStartTransaction went to the charger; the session decides the rest.</param>
/// <param name="Reason">Why nothing was sent: a refusal before the hold (no session) or the session's own refusal.</param>
[GenerateSerializer, Immutable]
public sealed record RemoteStartResult(
    [property: Id(0)] bool Sent,
    [property: Id(1)] bool SessionOpened,
    [property: Id(2)] string? Reason,
    [property: Id(3)] long HoldAmount);

/// <summary>Where a driver's Scan &amp; Charge is before (and when) its session exists.</summary>
[GenerateSerializer]
public enum DriverChargeStage
{
    /// <summary>Nothing stored under this id.</summary>
    None = 0,
    /// <summary>The wallet checkout is open: the driver approves (or cancels) in the wallet.</summary>
    AwaitingApproval = 1,
    /// <summary>Approved: the hold is being placed and the charger asked to start.</summary>
    Starting = 2,
    /// <summary>The session exists; from here on the session itself says what happens.</summary>
    SessionOpened = 3,
    /// <summary>Ended before any hold: cancelled in the wallet, or the charger could not take it.</summary>
    Failed = 4,
}

[GenerateSerializer, Immutable]
public sealed record DriverChargeView(
    [property: Id(0)] string SessionId,
    [property: Id(1)] DriverChargeStage Stage,
    [property: Id(2)] string? ChargerId,
    [property: Id(3)] int ConnectorId,
    [property: Id(4)] string? Provider,
    [property: Id(5)] Uri? ApprovalUrl,
    [property: Id(6)] string? Reason,
    [property: Id(7)] DateTimeOffset CreatedAt,
    [property: Id(8)] long HoldAmount);

/// <summary>What the driver's page asks for: a checkout for this connector with this wallet provider.</summary>
[GenerateSerializer, Immutable]
public sealed record DriverCheckoutRequest(
    [property: Id(0)] string ChargerId,
    [property: Id(1)] int ConnectorId,
    [property: Id(2)] string Provider,
    [property: Id(3)] Uri ReturnUrl,
    [property: Id(4)] Uri CancelUrl,
    [property: Id(5)] string? DriverRef);

/// <summary>
/// One driver's Scan &amp; Charge, keyed by its session id: the wallet checkout before the session exists, and the
/// approval that turns into the hold and the remote start.
/// </summary>
public interface IDriverChargeGrain : IGrainWithStringKey
{
    /// <summary>Opens the wallet checkout (once; a repeat answers the same). Refuses a busy or offline connector.</summary>
    Task<DriverChargeView> BeginCheckout(DriverCheckoutRequest request);
    /// <summary>
    /// The wallet sent the driver back approved, with the provider's parameters (the query of the return URL). Returns at
    /// once; the hold and the remote start run on, and the view and the session show how they went.
    /// </summary>
    Task<DriverChargeView> Approve(IReadOnlyDictionary<string, string> approval);
    /// <summary>The driver cancelled (or the wallet failed) before approving: nothing was held.</summary>
    Task<DriverChargeView> Cancel(string reason);
    [Orleans.Concurrency.AlwaysInterleave]
    Task<DriverChargeView> GetView();
}

/// <summary>The secret behind the drivers' capability links (one per cluster, created on first use, kept in grain storage).</summary>
public interface IDriverLinkKeyGrain : IGrainWithIntegerKey
{
    Task<byte[]> GetKey();
}
