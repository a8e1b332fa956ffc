using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Ocpp;

namespace EvCharge.ChargerBridge.Ocpp;

/// <summary>
/// EvCharge's vendor extensions carried in DataTransfer (docs/protocol.md, "DataTransfer extensions").
/// The data field is a string holding a JSON object; these methods validate it like any other payload.
/// </summary>
public static class EvChargeDataTransfer
{
    public const string VendorId = "kr.evcharge";
    public const string PaymentAuthorize = "PaymentAuthorize";
    public const string ChargerFee = "ChargerFee";

    /// <summary>OCPP idTag is CiString20, and the authorization reference becomes the idTag of StartTransaction.</summary>
    public const int MaxAuthorizationReferenceLength = OcppSchema.CiString20;

    public const int MaxProviderLength = 32;
    public const int MaxPaymentCodeLength = 128;
    public const int MaxVehicleIdLength = 64;
    public const int MaxDataLength = 4096;

    public sealed record PaymentAuthorizeRequest(int ConnectorId, PaymentPresentation Payment);

    public static PaymentAuthorizeRequest ParsePaymentAuthorize(string? data)
    {
        using var document = ParseData(data);
        var p = OcppPayloadReader.ForObject(document.RootElement, "data",
            "connectorId", "provider", "paymentCode", "vehicleId");
        var connectorId = p.RequiredInt("connectorId", min: 1);
        var provider = p.RequiredString("provider", MaxProviderLength);
        var paymentCode = p.OptionalString("paymentCode", MaxPaymentCodeLength);
        var vehicleId = p.OptionalString("vehicleId", MaxVehicleIdLength);
        if (string.IsNullOrEmpty(paymentCode) && string.IsNullOrEmpty(vehicleId))
            throw new OcppException(OcppErrorCode.OccurenceConstraintViolation,
                "'data.paymentCode' or 'data.vehicleId' is required");
        if (provider.Length == 0)
            throw new OcppException(OcppErrorCode.PropertyConstraintViolation, "'data.provider' must not be empty");
        return new PaymentAuthorizeRequest(connectorId, new PaymentPresentation(provider, paymentCode, vehicleId));
    }

    public static ChargerFeeReport ParseChargerFee(string? data)
    {
        using var document = ParseData(data);
        var p = OcppPayloadReader.ForObject(document.RootElement, "data", "transactionId", "fee", "energyWh");
        var transactionId = p.RequiredInt("transactionId", min: int.MinValue);
        var fee = p.RequiredLong("fee");
        var energyWh = p.RequiredLong("energyWh");
        return new ChargerFeeReport(transactionId, fee, energyWh);
    }

    /// <summary>The data string of the PaymentAuthorize answer.</summary>
    public static string PaymentAuthorizeAnswer(PaymentAuthorizationResult result)
    {
        using var stream = new MemoryStream(128);
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            if (result.Status == AuthorizationStatus.Accepted)
            {
                w.WriteString("status", "Accepted");
                w.WriteString("authorizationReference", result.AuthorizationReference);
                w.WriteNumber("holdAmount", result.HoldAmount);
            }
            else
            {
                w.WriteString("status", "Rejected");
                w.WriteString("reason", result.Reason ?? "Rejected");
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }

    private static JsonDocument ParseData(string? data)
    {
        if (string.IsNullOrEmpty(data))
            throw new OcppException(OcppErrorCode.OccurenceConstraintViolation, "'data' is required for this messageId");
        if (data.Length > MaxDataLength)
            throw new OcppException(OcppErrorCode.PropertyConstraintViolation, $"'data' exceeds {MaxDataLength} characters");
        try
        {
            return JsonDocument.Parse(data);
        }
        catch (JsonException)
        {
            throw new OcppException(OcppErrorCode.PropertyConstraintViolation, "'data' must be a string holding a JSON object");
        }
    }
}
