namespace EvCharge.Charging;

/// <summary>
/// What an operator registers for a charger. The hold is what the wallet pre-authorizes at the start.
/// <see cref="SecurityProfile"/> pins how the charger must log in over WebSocket (null: HTTP Basic over ws or wss,
/// as registrations made before WebSocket existed); MQTT logins are not affected by it. <see cref="PricingMessages"/>: the
/// charger implements the Open Charge Alliance's California pricing DataTransfer messages (vendor
/// <c>org.openchargealliance.costmsg</c>: SetUserPrice, RunningCost, FinalCost) and shows them on its display.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ChargerRegistration(
    [property: Id(0)] string CpoId,
    [property: Id(1)] int ConnectorCount,
    [property: Id(2)] string TariffId,
    [property: Id(3)] long HoldAmount,
    [property: Id(4)] string? Password = null,
    [property: Id(5)] string? Model = null,
    [property: Id(6)] string? Location = null,
    [property: Id(7)] OcppSecurityProfile? SecurityProfile = null,
    [property: Id(8)] bool PricingMessages = false);

/// <summary>The OCPP 1.6 security whitepaper's profiles for a charger's WebSocket connection.</summary>
[GenerateSerializer]
public enum OcppSecurityProfile
{
    /// <summary>Profile 1: HTTP Basic (username = charger id, password = the charger's secret) over plain ws://.</summary>
    BasicAuth = 1,
    /// <summary>Profile 2: TLS (wss://, server certificate) with HTTP Basic.</summary>
    TlsBasicAuth = 2,
    /// <summary>Profile 3: TLS with a client certificate whose subject CN is the charger id, issued by the operator's charger CA.</summary>
    TlsClientCertificate = 3,
}

[GenerateSerializer]
public enum ConnectorStatus
{
    Available = 0, Preparing = 1, Charging = 2, SuspendedEVSE = 3, SuspendedEV = 4, Finishing = 5,
    Reserved = 6, Unavailable = 7, Faulted = 8
}

[GenerateSerializer, Immutable]
public sealed record ConnectorView(
    [property: Id(0)] int ConnectorId,
    [property: Id(1)] ConnectorStatus Status,
    [property: Id(2)] string? SessionId,
    [property: Id(3)] int? TransactionId,
    [property: Id(4)] string? ErrorCode);

[GenerateSerializer, Immutable]
public sealed record ChargerView(
    [property: Id(0)] string ChargerId,
    [property: Id(1)] ChargerRegistration? Registration,
    [property: Id(2)] bool Online,
    [property: Id(3)] DateTimeOffset? LastSeen,
    [property: Id(4)] IReadOnlyList<ConnectorView> Connectors,
    [property: Id(5)] string? Vendor,
    [property: Id(6)] string? FirmwareVersion);

/// <summary>A payment method as the charger presents it: a one-time wallet payment code, or a bound vehicle id.</summary>
[GenerateSerializer, Immutable]
public sealed record PaymentPresentation(
    [property: Id(0)] string Provider,
    [property: Id(1)] string? PaymentCode,
    [property: Id(2)] string? VehicleId);

[GenerateSerializer]
public enum AuthorizationStatus { Accepted = 0, Rejected = 1 }

/// <summary>The answer to the charger for steps 2-3: an authorization reference to use as idTag, or a rejection.</summary>
[GenerateSerializer, Immutable]
public sealed record PaymentAuthorizationResult(
    [property: Id(0)] AuthorizationStatus Status,
    [property: Id(1)] string? AuthorizationReference,
    [property: Id(2)] string? SessionId,
    [property: Id(3)] long HoldAmount,
    [property: Id(4)] string? Reason)
{
    public static PaymentAuthorizationResult Reject(string reason) => new(AuthorizationStatus.Rejected, null, null, 0, reason);
}
