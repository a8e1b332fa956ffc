using System.Globalization;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Ocpp;
using static EvCharge.ChargerBridge.Ocpp.OcppSchema;

namespace EvCharge.ChargerBridge.Ocpp;

/// <summary>A validated DataTransfer.req; <see cref="Data"/> stays opaque until a vendor extension reads it.</summary>
public sealed record DataTransferRequest(string VendorId, string? MessageId, string? Data);

/// <summary>
/// Validates the payload of each charger-initiated OCPP 1.6 action and turns it into the typed record the
/// charger grain takes. Every method throws <see cref="OcppException"/> on a schema violation.
/// </summary>
public static class OcppRequests
{
    public static BootNotification BootNotification(JsonElement payload)
    {
        var p = OcppPayloadReader.ForObject(payload, "",
            "chargePointVendor", "chargePointModel", "chargePointSerialNumber", "chargeBoxSerialNumber",
            "firmwareVersion", "iccid", "imsi", "meterType", "meterSerialNumber");
        var vendor = p.RequiredString("chargePointVendor", CiString20);
        var model = p.RequiredString("chargePointModel", CiString20);
        var serial = p.OptionalString("chargePointSerialNumber", CiString25);
        p.OptionalString("chargeBoxSerialNumber", CiString25);
        var firmware = p.OptionalString("firmwareVersion", CiString50);
        p.OptionalString("iccid", CiString20);
        p.OptionalString("imsi", CiString20);
        p.OptionalString("meterType", CiString25);
        p.OptionalString("meterSerialNumber", CiString25);
        return new BootNotification(vendor, model, serial, firmware);
    }

    public static void Heartbeat(JsonElement payload) => OcppPayloadReader.ForObject(payload, "");

    public static StatusNotification StatusNotification(JsonElement payload)
    {
        var p = OcppPayloadReader.ForObject(payload, "",
            "connectorId", "errorCode", "info", "status", "timestamp", "vendorId", "vendorErrorCode");
        var connectorId = p.RequiredInt("connectorId");
        var errorCode = p.RequiredEnum("errorCode", ChargePointErrorCode);
        var info = p.OptionalString("info", CiString50);
        var status = Enum.Parse<ConnectorStatus>(p.RequiredEnum("status", ChargePointStatus), ignoreCase: false);
        var timestamp = p.OptionalDateTime("timestamp");
        p.OptionalString("vendorId", CiString255);
        p.OptionalString("vendorErrorCode", CiString50);
        return new StatusNotification(connectorId, status, errorCode, timestamp, info);
    }

    public static string Authorize(JsonElement payload)
    {
        var p = OcppPayloadReader.ForObject(payload, "", "idTag");
        return p.RequiredString("idTag", CiString20);
    }

    public static StartTransaction StartTransaction(JsonElement payload)
    {
        var p = OcppPayloadReader.ForObject(payload, "",
            "connectorId", "idTag", "meterStart", "reservationId", "timestamp");
        var connectorId = p.RequiredInt("connectorId", min: 1);
        var idTag = p.RequiredString("idTag", CiString20);
        var meterStart = p.RequiredLong("meterStart");
        var reservationId = p.OptionalInt("reservationId", min: int.MinValue);
        var timestamp = p.RequiredDateTime("timestamp");
        return new StartTransaction(connectorId, idTag, meterStart, timestamp, reservationId);
    }

    public static MeterValues MeterValues(JsonElement payload)
    {
        var p = OcppPayloadReader.ForObject(payload, "", "connectorId", "transactionId", "meterValue");
        var connectorId = p.RequiredInt("connectorId");
        // transactionId is any integer: -1 and other unknown ids are kept for reconciliation by the grain.
        var transactionId = p.OptionalInt("transactionId", min: int.MinValue);
        var samples = ReadMeterValues(p, "meterValue", p.RequiredArray("meterValue", minItems: 1));
        return new MeterValues(connectorId, transactionId, samples);
    }

    public static StopTransaction StopTransaction(JsonElement payload)
    {
        var p = OcppPayloadReader.ForObject(payload, "",
            "idTag", "meterStop", "timestamp", "transactionId", "reason", "transactionData");
        var idTag = p.OptionalString("idTag", CiString20);
        var meterStop = p.RequiredLong("meterStop");
        var timestamp = p.RequiredDateTime("timestamp");
        var transactionId = p.RequiredInt("transactionId", min: int.MinValue);
        var reason = p.OptionalEnum("reason", StopReason);
        var data = p.OptionalArray("transactionData") is { } items
            ? ReadMeterValues(p, "transactionData", items)
            : [];
        return new StopTransaction(transactionId, idTag, meterStop, timestamp, reason, data);
    }

    public static DataTransferRequest DataTransfer(JsonElement payload)
    {
        var p = OcppPayloadReader.ForObject(payload, "", "vendorId", "messageId", "data");
        var vendorId = p.RequiredString("vendorId", CiString255);
        var messageId = p.OptionalString("messageId", CiString50);
        // The 1.6 schema puts no length limit on data; the transport's packet limit bounds it.
        var data = p.OptionalString("data", int.MaxValue);
        return new DataTransferRequest(vendorId, messageId, data);
    }

    /// <summary>The charger's answer to our RemoteStartTransaction: "Accepted" or "Rejected".</summary>
    public static string RemoteStartTransactionResult(JsonElement payload) => RemoteStopTransactionResult(payload);

    /// <summary>The charger's answer to our RemoteStopTransaction: "Accepted" or "Rejected".</summary>
    public static string RemoteStopTransactionResult(JsonElement payload)
    {
        var p = OcppPayloadReader.ForObject(payload, "", "status");
        return p.RequiredEnum("status", RemoteStartStopStatus);
    }

    /// <summary>
    /// Reads MeterValue[] and keeps, per reading, the Energy.Active.Import.Register sample (the default measurand
    /// when none is given) as integer Wh. Everything else is validated and then ignored: the fee depends on
    /// the energy register only.
    /// </summary>
    private static IReadOnlyList<MeterSample> ReadMeterValues(OcppPayloadReader parent, string name, JsonElement.ArrayEnumerator items)
    {
        var samples = new List<MeterSample>();
        var index = 0;
        foreach (var item in items)
        {
            var path = $"{name}[{index++}]";
            var meterValue = parent.Child(item, path, "timestamp", "sampledValue");
            var timestamp = meterValue.RequiredDateTime("timestamp");
            long? energyWh = null;
            var sampleIndex = 0;
            foreach (var sampled in meterValue.RequiredArray("sampledValue", minItems: 1))
            {
                var sv = meterValue.Child(sampled, $"sampledValue[{sampleIndex++}]",
                    "value", "context", "format", "measurand", "phase", "location", "unit");
                var value = sv.RequiredString("value", int.MaxValue);
                sv.OptionalEnum("context", ReadingContext);
                var format = sv.OptionalEnum("format", ValueFormat) ?? "Raw";
                var measurand = sv.OptionalEnum("measurand", Measurand) ?? EnergyActiveImportRegister;
                var phase = sv.OptionalEnum("phase", Phase);
                sv.OptionalEnum("location", Location);
                var unit = sv.OptionalEnum("unit", UnitOfMeasure) ?? "Wh";

                if (energyWh is not null || measurand != EnergyActiveImportRegister || format != "Raw" || phase is not null)
                    continue;
                energyWh = ToWattHours(value, unit, sv.PathOf("value"));
            }
            if (energyWh is { } wh)
                samples.Add(new MeterSample(timestamp, wh));
        }
        return samples;
    }

    /// <summary>Register reading in Wh or kWh to integer Wh, rounded half away from zero once.</summary>
    public static long ToWattHours(string value, string unit, string path = "value")
    {
        if (!decimal.TryParse(value, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out var reading))
            throw new OcppException(OcppErrorCode.PropertyConstraintViolation, $"'{path}' must be a decimal number for an energy register");
        if (reading < 0)
            throw new OcppException(OcppErrorCode.PropertyConstraintViolation, $"'{path}' must not be negative for an energy register");
        var wh = unit switch
        {
            "Wh" => reading,
            "kWh" => reading * 1000m,
            _ => throw new OcppException(OcppErrorCode.PropertyConstraintViolation,
                $"Energy.Active.Import.Register must be in Wh or kWh, not {unit}"),
        };
        try
        {
            return (long)Math.Round(wh, MidpointRounding.AwayFromZero);
        }
        catch (OverflowException)
        {
            throw new OcppException(OcppErrorCode.PropertyConstraintViolation, $"'{path}' is out of range");
        }
    }
}
