namespace EvCharge.Ocpp;

// Typed OCPP 1.6 payloads as the grains see them. The charger bridge parses and validates the JSON frames
// into these records, so grains never touch raw JSON and the same grains serve MQTT or WebSocket transports.

[GenerateSerializer, Immutable]
public sealed record BootNotification(
    [property: Id(0)] string ChargePointVendor,
    [property: Id(1)] string ChargePointModel,
    [property: Id(2)] string? ChargePointSerialNumber,
    [property: Id(3)] string? FirmwareVersion);

[GenerateSerializer]
public enum RegistrationStatus { Accepted = 0, Pending = 1, Rejected = 2 }

[GenerateSerializer, Immutable]
public sealed record BootResult(
    [property: Id(0)] RegistrationStatus Status,
    [property: Id(1)] DateTimeOffset CurrentTime,
    [property: Id(2)] int HeartbeatIntervalSeconds);

[GenerateSerializer, Immutable]
public sealed record StatusNotification(
    [property: Id(0)] int ConnectorId,
    [property: Id(1)] EvCharge.Charging.ConnectorStatus Status,
    [property: Id(2)] string ErrorCode,
    [property: Id(3)] DateTimeOffset? Timestamp,
    [property: Id(4)] string? Info);

[GenerateSerializer]
public enum IdTagStatus { Accepted = 0, Blocked = 1, Expired = 2, Invalid = 3, ConcurrentTx = 4 }

[GenerateSerializer, Immutable]
public sealed record IdTagInfo(
    [property: Id(0)] IdTagStatus Status,
    [property: Id(1)] DateTimeOffset? ExpiryDate = null,
    [property: Id(2)] string? ParentIdTag = null);

[GenerateSerializer, Immutable]
public sealed record StartTransaction(
    [property: Id(0)] int ConnectorId,
    [property: Id(1)] string IdTag,
    [property: Id(2)] long MeterStartWh,
    [property: Id(3)] DateTimeOffset Timestamp,
    [property: Id(4)] int? ReservationId);

[GenerateSerializer, Immutable]
public sealed record StartTransactionResult(
    [property: Id(0)] int TransactionId,
    [property: Id(1)] IdTagInfo IdTagInfo);

[GenerateSerializer, Immutable]
public sealed record MeterValues(
    [property: Id(0)] int ConnectorId,
    [property: Id(1)] int? TransactionId,
    [property: Id(2)] IReadOnlyList<EvCharge.Charging.MeterSample> Samples);

[GenerateSerializer, Immutable]
public sealed record StopTransaction(
    [property: Id(0)] int TransactionId,
    [property: Id(1)] string? IdTag,
    [property: Id(2)] long MeterStopWh,
    [property: Id(3)] DateTimeOffset Timestamp,
    [property: Id(4)] string? Reason,
    [property: Id(5)] IReadOnlyList<EvCharge.Charging.MeterSample> TransactionData);

/// <summary>EvCharge DataTransfer "ChargerFee": the fee the charger computed itself, sent next to StopTransaction.</summary>
[GenerateSerializer, Immutable]
public sealed record ChargerFeeReport(
    [property: Id(0)] int TransactionId,
    [property: Id(1)] long Fee,
    [property: Id(2)] long EnergyWh);

/// <summary>
/// Server-to-charger command, sent down the charger's topic by whichever bridge holds the link. <see cref="Reference"/>
/// names what the charger's answer concerns (the session of a RemoteStartTransaction), so the bridge can hand the
/// answer back to the charger grain.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ChargerCommand(
    [property: Id(0)] string Action,
    [property: Id(1)] string PayloadJson,
    [property: Id(2)] string? Reference = null);
