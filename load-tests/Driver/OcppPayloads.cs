using System.Globalization;
using System.Text.Json;
using EvCharge.ChargerBridge.Ocpp;

namespace EvCharge.LoadTests.Driver;

/// <summary>The payloads a charger sends in a paid charge (docs/protocol.md), written straight into the frame.</summary>
public static class OcppPayloads
{
    public const string Vendor = "kr.evcharge";

    public static string Ts(DateTimeOffset t) => OcppFrameWriter.Timestamp(t);

    public static readonly Action<Utf8JsonWriter> Heartbeat = static _ => { };

    public static Action<Utf8JsonWriter> Boot(string model) => w =>
    {
        w.WriteString("chargePointVendor", "EvChargeLoad");
        w.WriteString("chargePointModel", model);
        w.WriteString("firmwareVersion", "1.0");
    };

    public static Action<Utf8JsonWriter> Status(int connectorId, string status, DateTimeOffset at) => w =>
    {
        w.WriteNumber("connectorId", connectorId);
        w.WriteString("errorCode", "NoError");
        w.WriteString("status", status);
        w.WriteString("timestamp", Ts(at));
    };

    public static Action<Utf8JsonWriter> PaymentAuthorize(int connectorId, string paymentCode) => w =>
    {
        w.WriteString("vendorId", Vendor);
        w.WriteString("messageId", "PaymentAuthorize");
        w.WriteString("data", $"{{\"connectorId\":{connectorId},\"provider\":\"kakaopay\",\"paymentCode\":\"{paymentCode}\"}}");
    };

    public static Action<Utf8JsonWriter> StartTransaction(int connectorId, string idTag, long meterStartWh, DateTimeOffset at) => w =>
    {
        w.WriteNumber("connectorId", connectorId);
        w.WriteString("idTag", idTag);
        w.WriteNumber("meterStart", meterStartWh);
        w.WriteString("timestamp", Ts(at));
    };

    public static Action<Utf8JsonWriter> MeterValues(int connectorId, int transactionId, long registerWh, DateTimeOffset at) => w =>
    {
        w.WriteNumber("connectorId", connectorId);
        w.WriteNumber("transactionId", transactionId);
        w.WriteStartArray("meterValue");
        w.WriteStartObject();
        w.WriteString("timestamp", Ts(at));
        w.WriteStartArray("sampledValue");
        w.WriteStartObject();
        w.WriteString("value", registerWh.ToString(CultureInfo.InvariantCulture));
        w.WriteString("measurand", "Energy.Active.Import.Register");
        w.WriteString("unit", "Wh");
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();
    };

    public static Action<Utf8JsonWriter> ChargerFee(int transactionId, long fee, long energyWh) => w =>
    {
        w.WriteString("vendorId", Vendor);
        w.WriteString("messageId", "ChargerFee");
        w.WriteString("data", $"{{\"transactionId\":{transactionId},\"fee\":{fee},\"energyWh\":{energyWh}}}");
    };

    public static Action<Utf8JsonWriter> StopTransaction(int transactionId, string idTag, long meterStopWh, DateTimeOffset at) => w =>
    {
        w.WriteNumber("transactionId", transactionId);
        w.WriteString("idTag", idTag);
        w.WriteNumber("meterStop", meterStopWh);
        w.WriteString("timestamp", Ts(at));
        w.WriteString("reason", "EVDisconnected");
    };

    /// <summary>Fee the charger computes with the same flat tariff the driver registers (round half away from zero).</summary>
    public static long Fee(long energyWh, long pricePerKwh) =>
        (long)Math.Round(energyWh * pricePerKwh / 1000.0, MidpointRounding.AwayFromZero);
}
