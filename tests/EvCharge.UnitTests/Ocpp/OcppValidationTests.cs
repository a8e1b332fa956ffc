using System.Text.Json;
using EvCharge.ChargerBridge.Ocpp;

namespace EvCharge.UnitTests.Ocpp;

/// <summary>Each row: an action, a payload, and the CALLERROR code OCPP-J names for what is wrong with it.</summary>
public class OcppValidationTests
{
    private static readonly string S21 = new('A', 21);
    private static readonly string S26 = new('A', 26);
    private static readonly string S51 = new('A', 51);
    private static readonly string S256 = new('A', 256);

    private static void Validate(string action, string payload)
    {
        using var doc = JsonDocument.Parse(payload);
        var p = doc.RootElement;
        switch (action)
        {
            case "BootNotification": OcppRequests.BootNotification(p); break;
            case "Heartbeat": OcppRequests.Heartbeat(p); break;
            case "StatusNotification": OcppRequests.StatusNotification(p); break;
            case "Authorize": OcppRequests.Authorize(p); break;
            case "StartTransaction": OcppRequests.StartTransaction(p); break;
            case "MeterValues": OcppRequests.MeterValues(p); break;
            case "StopTransaction": OcppRequests.StopTransaction(p); break;
            case "DataTransfer": OcppRequests.DataTransfer(p); break;
            default: throw new ArgumentOutOfRangeException(nameof(action));
        }
    }

    public static TheoryData<string, string, OcppErrorCode> Violations() => new()
    {
        // missing required fields
        { "BootNotification", """{"chargePointVendor":"V"}""", OcppErrorCode.OccurenceConstraintViolation },
        { "StatusNotification", """{"connectorId":1,"errorCode":"NoError"}""", OcppErrorCode.OccurenceConstraintViolation },
        { "Authorize", """{}""", OcppErrorCode.OccurenceConstraintViolation },
        { "Authorize", """{"idTag":null}""", OcppErrorCode.OccurenceConstraintViolation },
        { "StartTransaction", """{"connectorId":1,"idTag":"T","timestamp":"2025-01-31T09:00:00Z"}""", OcppErrorCode.OccurenceConstraintViolation },
        { "StopTransaction", """{"meterStop":1,"timestamp":"2025-01-31T09:00:00Z"}""", OcppErrorCode.OccurenceConstraintViolation },
        { "MeterValues", """{"connectorId":1}""", OcppErrorCode.OccurenceConstraintViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":[]}""", OcppErrorCode.OccurenceConstraintViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[]}]}""", OcppErrorCode.OccurenceConstraintViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":[{"sampledValue":[{"value":"1"}]}]}""", OcppErrorCode.OccurenceConstraintViolation },
        { "DataTransfer", """{"messageId":"PaymentAuthorize"}""", OcppErrorCode.OccurenceConstraintViolation },
        // wrong JSON types
        { "BootNotification", """{"chargePointVendor":5,"chargePointModel":"M"}""", OcppErrorCode.TypeConstraintViolation },
        { "StatusNotification", """{"connectorId":"1","errorCode":"NoError","status":"Available"}""", OcppErrorCode.TypeConstraintViolation },
        { "StartTransaction", """{"connectorId":1,"idTag":"T","meterStart":1.5,"timestamp":"2025-01-31T09:00:00Z"}""", OcppErrorCode.TypeConstraintViolation },
        { "StartTransaction", """{"connectorId":1,"idTag":"T","meterStart":"100","timestamp":"2025-01-31T09:00:00Z"}""", OcppErrorCode.TypeConstraintViolation },
        { "StartTransaction", """{"connectorId":1,"idTag":"T","meterStart":100,"timestamp":1738314000}""", OcppErrorCode.TypeConstraintViolation },
        { "StartTransaction", """{"connectorId":1,"idTag":"T","meterStart":100,"timestamp":"yesterday"}""", OcppErrorCode.TypeConstraintViolation },
        { "StartTransaction", """{"connectorId":1,"idTag":"T","meterStart":100,"timestamp":"2025-01-31T09:00:00"}""", OcppErrorCode.TypeConstraintViolation },
        { "StartTransaction", """{"connectorId":1,"idTag":"T","meterStart":100,"timestamp":"2025-02-30T09:00:00Z"}""", OcppErrorCode.TypeConstraintViolation },
        { "StopTransaction", """{"transactionId":"42","meterStop":1,"timestamp":"2025-01-31T09:00:00Z"}""", OcppErrorCode.TypeConstraintViolation },
        { "StopTransaction", """{"transactionId":42,"meterStop":1,"timestamp":"2025-01-31T09:00:00Z","transactionData":{}}""", OcppErrorCode.TypeConstraintViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[{"value":12}]}]}""", OcppErrorCode.TypeConstraintViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":["x"]}""", OcppErrorCode.TypeConstraintViolation },
        { "MeterValues", """{"connectorId":99999999999,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[{"value":"1"}]}]}""", OcppErrorCode.TypeConstraintViolation },
        { "DataTransfer", """{"vendorId":"kr.evcharge","data":{"connectorId":1}}""", OcppErrorCode.TypeConstraintViolation },
        // over-long CiStrings
        { "BootNotification", $$"""{"chargePointVendor":"{{S21}}","chargePointModel":"M"}""", OcppErrorCode.PropertyConstraintViolation },
        { "BootNotification", $$"""{"chargePointVendor":"V","chargePointModel":"M","chargePointSerialNumber":"{{S26}}"}""", OcppErrorCode.PropertyConstraintViolation },
        { "BootNotification", $$"""{"chargePointVendor":"V","chargePointModel":"M","firmwareVersion":"{{S51}}"}""", OcppErrorCode.PropertyConstraintViolation },
        { "Authorize", $$"""{"idTag":"{{S21}}"}""", OcppErrorCode.PropertyConstraintViolation },
        { "StatusNotification", $$"""{"connectorId":1,"errorCode":"NoError","status":"Available","info":"{{S51}}"}""", OcppErrorCode.PropertyConstraintViolation },
        { "StatusNotification", $$"""{"connectorId":1,"errorCode":"NoError","status":"Available","vendorId":"{{S256}}"}""", OcppErrorCode.PropertyConstraintViolation },
        { "DataTransfer", $$"""{"vendorId":"{{S256}}"}""", OcppErrorCode.PropertyConstraintViolation },
        { "DataTransfer", $$"""{"vendorId":"kr.evcharge","messageId":"{{S51}}"}""", OcppErrorCode.PropertyConstraintViolation },
        // bad enums and ranges
        { "StatusNotification", """{"connectorId":1,"errorCode":"NoError","status":"Sleeping"}""", OcppErrorCode.PropertyConstraintViolation },
        { "StatusNotification", """{"connectorId":1,"errorCode":"noerror","status":"Available"}""", OcppErrorCode.PropertyConstraintViolation },
        { "StatusNotification", """{"connectorId":-1,"errorCode":"NoError","status":"Available"}""", OcppErrorCode.PropertyConstraintViolation },
        { "StartTransaction", """{"connectorId":0,"idTag":"T","meterStart":100,"timestamp":"2025-01-31T09:00:00Z"}""", OcppErrorCode.PropertyConstraintViolation },
        { "StartTransaction", """{"connectorId":1,"idTag":"T","meterStart":-5,"timestamp":"2025-01-31T09:00:00Z"}""", OcppErrorCode.PropertyConstraintViolation },
        { "StopTransaction", """{"transactionId":1,"meterStop":1,"timestamp":"2025-01-31T09:00:00Z","reason":"Bored"}""", OcppErrorCode.PropertyConstraintViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[{"value":"1","unit":"Joule"}]}]}""", OcppErrorCode.PropertyConstraintViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[{"value":"1","measurand":"Energy"}]}]}""", OcppErrorCode.PropertyConstraintViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[{"value":"lots"}]}]}""", OcppErrorCode.PropertyConstraintViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[{"value":"-3"}]}]}""", OcppErrorCode.PropertyConstraintViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[{"value":"5","unit":"W"}]}]}""", OcppErrorCode.PropertyConstraintViolation },
        // properties the schema does not have
        { "Heartbeat", """{"uptime":5}""", OcppErrorCode.FormationViolation },
        { "Authorize", """{"idTag":"T","pin":"1234"}""", OcppErrorCode.FormationViolation },
        { "MeterValues", """{"connectorId":1,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[{"value":"1","extra":1}]}]}""", OcppErrorCode.FormationViolation },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public void Schema_violations_get_the_spec_error_code(string action, string payload, OcppErrorCode expected)
    {
        var e = Assert.Throws<OcppException>(() => Validate(action, payload));
        Assert.Equal(expected, e.Code);
        Assert.False(string.IsNullOrWhiteSpace(e.Description));
    }

    [Theory]
    [InlineData("BootNotification", """{"chargePointVendor":"AAAAAAAAAAAAAAAAAAAA","chargePointModel":"M","iccid":"89820000000000000000","meterType":"AC","meterSerialNumber":"MS-1"}""")]
    [InlineData("StatusNotification", """{"connectorId":0,"errorCode":"OtherError","status":"Faulted","vendorErrorCode":"E42","info":null}""")]
    [InlineData("StartTransaction", """{"connectorId":2,"idTag":"AAAAAAAAAAAAAAAAAAAA","meterStart":0,"reservationId":7,"timestamp":"2025-01-31T09:00:00.123+09:00"}""")]
    [InlineData("StopTransaction", """{"transactionId":-1,"meterStop":0,"timestamp":"2025-01-31T09:00:00Z","reason":"DeAuthorized","transactionData":[]}""")]
    [InlineData("MeterValues", """{"connectorId":0,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[{"value":"230.1","measurand":"Voltage","unit":"V","phase":"L1-N","location":"Outlet","context":"Sample.Clock","format":"Raw"}]}]}""")]
    [InlineData("DataTransfer", """{"vendorId":"kr.evcharge"}""")]
    [InlineData("Heartbeat", """{}""")]
    public void Valid_payloads_pass(string action, string payload) => Validate(action, payload);

    [Theory]
    [InlineData("1234", "Wh", 1234)]
    [InlineData("1234.5", "Wh", 1235)]
    [InlineData("1.2344", "kWh", 1234)]
    [InlineData("1.2345", "kWh", 1235)]
    [InlineData("0", "kWh", 0)]
    [InlineData("1e3", "Wh", 1000)]
    public void Energy_register_values_become_integer_Wh(string value, string unit, long expected) =>
        Assert.Equal(expected, OcppRequests.ToWattHours(value, unit));

    [Fact]
    public void Signed_and_phase_specific_energy_samples_are_not_read_as_the_register()
    {
        using var doc = JsonDocument.Parse("""
            {"connectorId":1,"transactionId":5,"meterValue":[{"timestamp":"2025-01-31T09:00:00Z","sampledValue":[
              {"value":"Base64Signature==","format":"SignedData"},
              {"value":"400","phase":"L1"},
              {"value":"1.5","unit":"kWh","measurand":"Energy.Active.Import.Register"}]}]}
            """);
        var values = OcppRequests.MeterValues(doc.RootElement);
        Assert.Equal(1500, Assert.Single(values.Samples).EnergyWh);
    }
}
