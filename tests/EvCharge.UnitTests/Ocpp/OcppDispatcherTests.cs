using System.Text.Json;
using EvCharge.ChargerBridge.Ocpp;
using EvCharge.Charging;
using EvCharge.Ocpp;

namespace EvCharge.UnitTests.Ocpp;

public class OcppDispatcherTests
{
    private readonly FakeChargerGrain _grain = new();
    private readonly Dictionary<string, FakeChargerGrain> _grains = new();
    private readonly OcppPendingCalls _pending = new();
    private readonly OcppDispatcher _dispatcher;

    public OcppDispatcherTests()
    {
        _grains["CP-1"] = _grain;
        _dispatcher = new OcppDispatcher(id => _grains.TryGetValue(id, out var g) ? g : _grains[id] = new FakeChargerGrain(), _pending);
    }

    private async Task<JsonElement> Send(string frame, string chargerId = "CP-1")
    {
        var response = await _dispatcher.DispatchAsync(chargerId, frame);
        Assert.NotNull(response);
        return JsonDocument.Parse(response!).RootElement;
    }

    private static void AssertCallError(JsonElement response, string messageId, OcppErrorCode code)
    {
        Assert.Equal(5, response.GetArrayLength());
        Assert.Equal(4, response[0].GetInt32());
        Assert.Equal(messageId, response[1].GetString());
        Assert.Equal(code.ToWire(), response[2].GetString());
        Assert.Equal(JsonValueKind.Object, response[4].ValueKind);
    }

    private static JsonElement AssertCallResult(JsonElement response, string messageId)
    {
        Assert.Equal(3, response[0].GetInt32());
        Assert.Equal(messageId, response[1].GetString());
        return response[2];
    }

    [Fact]
    public async Task BootNotification_is_answered_with_the_grains_registration_status()
    {
        var payload = AssertCallResult(await Send("""[2,"b1","BootNotification",{"chargePointVendor":"EVC","chargePointModel":"AC7","firmwareVersion":"1.2.3"}]"""), "b1");
        Assert.Equal("Accepted", payload.GetProperty("status").GetString());
        Assert.Equal("2025-01-31T09:00:00.000Z", payload.GetProperty("currentTime").GetString());
        Assert.Equal(300, payload.GetProperty("interval").GetInt32());
        var boot = Assert.IsType<BootNotification>(Assert.Single(_grain.Calls));
        Assert.Equal(("EVC", "AC7", "1.2.3"), (boot.ChargePointVendor, boot.ChargePointModel, boot.FirmwareVersion));
    }

    [Fact]
    public async Task Heartbeat_answers_the_current_time()
    {
        var payload = AssertCallResult(await Send("""[2,"h1","Heartbeat",{}]"""), "h1");
        Assert.Equal("2025-01-31T09:00:01.000Z", payload.GetProperty("currentTime").GetString());
    }

    [Fact]
    public async Task StatusNotification_maps_status_and_error_code()
    {
        var payload = AssertCallResult(await Send("""[2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Preparing","timestamp":"2025-01-31T09:00:00Z"}]"""), "s1");
        Assert.Empty(payload.EnumerateObject());
        var status = Assert.IsType<StatusNotification>(Assert.Single(_grain.Calls));
        Assert.Equal(ConnectorStatus.Preparing, status.Status);
        Assert.Equal("NoError", status.ErrorCode);
        Assert.Equal(1, status.ConnectorId);
    }

    [Fact]
    public async Task Authorize_answers_idTagInfo()
    {
        var payload = AssertCallResult(await Send("""[2,"a1","Authorize",{"idTag":"VID:0A1B2C3D4E5F"}]"""), "a1");
        Assert.Equal("Accepted", payload.GetProperty("idTagInfo").GetProperty("status").GetString());
        Assert.Equal("VID:0A1B2C3D4E5F", Assert.Single(_grain.Calls));
    }

    [Fact]
    public async Task StartTransaction_answers_the_transaction_id()
    {
        var payload = AssertCallResult(await Send("""[2,"t1","StartTransaction",{"connectorId":1,"idTag":"AUTH-1234567890","meterStart":1000,"timestamp":"2025-01-31T09:01:00+09:00"}]"""), "t1");
        Assert.Equal(42, payload.GetProperty("transactionId").GetInt32());
        Assert.Equal("Accepted", payload.GetProperty("idTagInfo").GetProperty("status").GetString());
        var start = Assert.IsType<StartTransaction>(Assert.Single(_grain.Calls));
        Assert.Equal(1000, start.MeterStartWh);
        Assert.Equal(new DateTimeOffset(2025, 1, 31, 0, 1, 0, TimeSpan.Zero), start.Timestamp);
    }

    [Fact]
    public async Task MeterValues_keeps_the_energy_import_register_in_Wh()
    {
        const string frame = """
            [2,"m1","MeterValues",{"connectorId":1,"transactionId":42,"meterValue":[
              {"timestamp":"2025-01-31T09:05:00Z","sampledValue":[
                {"value":"7.2","measurand":"Power.Active.Import","unit":"kW"},
                {"value":"2.3456","measurand":"Energy.Active.Import.Register","unit":"kWh","context":"Sample.Periodic"}]},
              {"timestamp":"2025-01-31T09:10:00Z","sampledValue":[{"value":"3100"}]},
              {"timestamp":"2025-01-31T09:11:00Z","sampledValue":[{"value":"55","measurand":"SoC","unit":"Percent"}]}]}]
            """;
        Assert.Empty(AssertCallResult(await Send(frame), "m1").EnumerateObject());
        var values = Assert.IsType<MeterValues>(Assert.Single(_grain.Calls));
        Assert.Equal(42, values.TransactionId);
        Assert.Equal([2346L, 3100L], values.Samples.Select(s => s.EnergyWh));
        Assert.Equal(new DateTimeOffset(2025, 1, 31, 9, 5, 0, TimeSpan.Zero), values.Samples[0].Timestamp);
    }

    [Fact]
    public async Task StopTransaction_passes_transaction_data_and_omits_idTagInfo_when_grain_has_none()
    {
        _grain.StopAnswer = null;
        const string frame = """
            [2,"p1","StopTransaction",{"transactionId":42,"idTag":"AUTH-1234567890","meterStop":12500,"timestamp":"2025-01-31T10:00:00Z","reason":"EVDisconnected",
              "transactionData":[{"timestamp":"2025-01-31T09:30:00Z","sampledValue":[{"value":"6.5","unit":"kWh"}]}]}]
            """;
        var payload = AssertCallResult(await Send(frame), "p1");
        Assert.False(payload.TryGetProperty("idTagInfo", out _));
        var stop = Assert.IsType<StopTransaction>(Assert.Single(_grain.Calls));
        Assert.Equal((42, 12500L, "EVDisconnected"), (stop.TransactionId, stop.MeterStopWh, stop.Reason));
        Assert.Equal(6500, Assert.Single(stop.TransactionData).EnergyWh);
    }

    [Fact]
    public async Task StopTransaction_with_minus_one_transaction_id_still_reaches_the_grain()
    {
        var payload = AssertCallResult(await Send("""[2,"p2","StopTransaction",{"transactionId":-1,"meterStop":10,"timestamp":"2025-01-31T10:00:00Z"}]"""), "p2");
        Assert.Equal("Accepted", payload.GetProperty("idTagInfo").GetProperty("status").GetString());
        Assert.Equal(-1, Assert.IsType<StopTransaction>(Assert.Single(_grain.Calls)).TransactionId);
    }

    [Fact]
    public async Task PaymentAuthorize_accepted_returns_reference_and_hold()
    {
        var frame = """[2,"d1","DataTransfer",{"vendorId":"kr.evcharge","messageId":"PaymentAuthorize","data":"{\"connectorId\":1,\"provider\":\"kakaopay\",\"paymentCode\":\"KP-123456\"}"}]""";
        var payload = AssertCallResult(await Send(frame), "d1");
        Assert.Equal("Accepted", payload.GetProperty("status").GetString());
        using var data = JsonDocument.Parse(payload.GetProperty("data").GetString()!);
        Assert.Equal("Accepted", data.RootElement.GetProperty("status").GetString());
        Assert.Equal("AUTH-1234567890", data.RootElement.GetProperty("authorizationReference").GetString());
        Assert.Equal(30000, data.RootElement.GetProperty("holdAmount").GetInt64());
        var (connectorId, payment) = Assert.IsType<(int, PaymentPresentation)>(Assert.Single(_grain.Calls));
        Assert.Equal(1, connectorId);
        Assert.Equal(new PaymentPresentation("kakaopay", "KP-123456", null), payment);
    }

    [Fact]
    public async Task PaymentAuthorize_rejected_returns_rejected_with_reason()
    {
        _grain.PaymentResult = PaymentAuthorizationResult.Reject("payment code expired");
        var frame = """[2,"d2","DataTransfer",{"vendorId":"kr.evcharge","messageId":"PaymentAuthorize","data":"{\"connectorId\":1,\"provider\":\"kakaopay\",\"paymentCode\":\"KP-0\"}"}]""";
        var payload = AssertCallResult(await Send(frame), "d2");
        Assert.Equal("Rejected", payload.GetProperty("status").GetString());
        using var data = JsonDocument.Parse(payload.GetProperty("data").GetString()!);
        Assert.Equal("Rejected", data.RootElement.GetProperty("status").GetString());
        Assert.Equal("payment code expired", data.RootElement.GetProperty("reason").GetString());
        Assert.False(data.RootElement.TryGetProperty("authorizationReference", out _));
    }

    [Fact]
    public async Task PaymentAuthorize_with_an_over_long_reference_from_the_grain_is_an_internal_error()
    {
        _grain.PaymentResult = new PaymentAuthorizationResult(AuthorizationStatus.Accepted, new string('R', 21), "s", 1, null);
        var frame = """[2,"d3","DataTransfer",{"vendorId":"kr.evcharge","messageId":"PaymentAuthorize","data":"{\"connectorId\":1,\"provider\":\"kakaopay\",\"paymentCode\":\"KP-1\"}"}]""";
        AssertCallError(await Send(frame), "d3", OcppErrorCode.InternalError);
    }

    [Theory]
    [InlineData("""{"connectorId":1,"provider":"kakaopay"}""", OcppErrorCode.OccurenceConstraintViolation)]
    [InlineData("""{"provider":"kakaopay","paymentCode":"x"}""", OcppErrorCode.OccurenceConstraintViolation)]
    [InlineData("""{"connectorId":"1","provider":"kakaopay","paymentCode":"x"}""", OcppErrorCode.TypeConstraintViolation)]
    [InlineData("""{"connectorId":0,"provider":"kakaopay","paymentCode":"x"}""", OcppErrorCode.PropertyConstraintViolation)]
    [InlineData("""not json""", OcppErrorCode.PropertyConstraintViolation)]
    [InlineData("""[1,2]""", OcppErrorCode.TypeConstraintViolation)]
    public async Task PaymentAuthorize_with_invalid_data_is_refused_before_the_grain(string data, OcppErrorCode expected)
    {
        var payload = JsonSerializer.Serialize(new { vendorId = "kr.evcharge", messageId = "PaymentAuthorize", data });
        AssertCallError(await Send($$"""[2,"d4","DataTransfer",{{payload}}]"""), "d4", expected);
        Assert.Empty(_grain.Calls);
    }

    [Fact]
    public async Task ChargerFee_is_reported_to_the_grain()
    {
        var frame = """[2,"f1","DataTransfer",{"vendorId":"kr.evcharge","messageId":"ChargerFee","data":"{\"transactionId\":42,\"fee\":3575,\"energyWh\":11500}"}]""";
        var payload = AssertCallResult(await Send(frame), "f1");
        Assert.Equal("Accepted", payload.GetProperty("status").GetString());
        Assert.Equal(new ChargerFeeReport(42, 3575, 11500), Assert.Single(_grain.Calls));
    }

    [Fact]
    public async Task DataTransfer_for_another_vendor_is_UnknownVendorId()
    {
        var payload = AssertCallResult(await Send("""[2,"v1","DataTransfer",{"vendorId":"com.other","messageId":"PaymentAuthorize","data":"{}"}]"""), "v1");
        Assert.Equal("UnknownVendorId", payload.GetProperty("status").GetString());
        Assert.Empty(_grain.Calls);
    }

    [Fact]
    public async Task DataTransfer_with_an_unknown_message_id_is_UnknownMessageId()
    {
        var payload = AssertCallResult(await Send("""[2,"v2","DataTransfer",{"vendorId":"kr.evcharge","messageId":"Coffee"}]"""), "v2");
        Assert.Equal("UnknownMessageId", payload.GetProperty("status").GetString());
        Assert.Empty(_grain.Calls);
    }

    [Fact]
    public async Task Unknown_action_is_NotImplemented()
    {
        AssertCallError(await Send("""[2,"u1","MakeCoffee",{}]"""), "u1", OcppErrorCode.NotImplemented);
    }

    [Theory]
    [InlineData("FirmwareStatusNotification")]
    [InlineData("RemoteStopTransaction")]
    public async Task Known_but_unhandled_action_is_NotSupported(string action)
    {
        AssertCallError(await Send($$"""[2,"u2","{{action}}",{}]"""), "u2", OcppErrorCode.NotSupported);
    }

    [Fact]
    public async Task Invalid_json_is_answered_with_formation_violation_and_id_minus_one()
    {
        AssertCallError(await Send("""[2,"x","Heartbeat",{"""), "-1", OcppErrorCode.FormationViolation);
    }

    [Fact]
    public async Task Grain_exception_becomes_internal_error_without_leaking_its_text()
    {
        _grain.Throw = new InvalidOperationException("connection string Host=db;Password=hunter2 at EvCharge.Grains.ChargerGrain.Boot()");
        var response = await _dispatcher.DispatchAsync("CP-1", """[2,"e1","Heartbeat",{}]""");
        var parsed = JsonDocument.Parse(response!).RootElement;
        AssertCallError(parsed, "e1", OcppErrorCode.InternalError);
        Assert.DoesNotContain("hunter2", response);
        Assert.DoesNotContain("ChargerGrain", response);
    }

    [Fact]
    public async Task Call_result_for_our_remote_stop_is_correlated_and_not_answered()
    {
        _pending.Add("rs-1", "CP-1", "RemoteStopTransaction");
        Assert.Null(await _dispatcher.DispatchAsync("CP-1", """[3,"rs-1",{"status":"Accepted"}]"""));
        Assert.Equal(0, _pending.Count);
    }

    [Fact]
    public async Task Answers_from_another_charger_do_not_complete_our_call()
    {
        _pending.Add("rs-2", "CP-1", "RemoteStopTransaction");
        Assert.Null(await _dispatcher.DispatchAsync("CP-2", """[3,"rs-2",{"status":"Accepted"}]"""));
        Assert.Equal(1, _pending.Count);
    }

    [Fact]
    public async Task Call_error_and_unknown_or_invalid_call_results_are_swallowed()
    {
        _pending.Add("rs-3", "CP-1", "RemoteStopTransaction");
        Assert.Null(await _dispatcher.DispatchAsync("CP-1", """[4,"rs-3","NotSupported","no",{}]"""));
        Assert.Equal(0, _pending.Count);
        Assert.Null(await _dispatcher.DispatchAsync("CP-1", """[3,"never-sent",{"status":"Accepted"}]"""));
        _pending.Add("rs-4", "CP-1", "RemoteStopTransaction");
        Assert.Null(await _dispatcher.DispatchAsync("CP-1", """[3,"rs-4",{"status":"Maybe"}]"""));
        Assert.Empty(_grain.Calls);
    }

    [Theory]
    [InlineData("""[3,"{0}",{{"status":"Accepted"}}]""", true, "Accepted")]
    [InlineData("""[3,"{0}",{{"status":"Rejected"}}]""", false, "Rejected")]
    [InlineData("""[3,"{0}",{{"status":"Maybe"}}]""", false, "Invalid")]
    [InlineData("""[4,"{0}","NotSupported","no remote start here",{{}}]""", false, "NotSupported")]
    public async Task The_answer_to_our_remote_start_goes_to_the_charger_grain_with_its_session(string answer, bool accepted, string detail)
    {
        _pending.Add("rst-1", "CP-1", "RemoteStartTransaction", "EV0123456789ABCDEF01");
        Assert.Null(await _dispatcher.DispatchAsync("CP-1", string.Format(answer, "rst-1")));
        Assert.Equal(("RemoteStartAnswered", "EV0123456789ABCDEF01", accepted, detail), Assert.Single(_grain.Calls));
        Assert.Equal(0, _pending.Count);
    }

    [Fact]
    public async Task A_remote_start_answer_from_another_charger_or_for_no_session_reaches_no_grain()
    {
        _pending.Add("rst-2", "CP-1", "RemoteStartTransaction", "EV0123456789ABCDEF02");
        Assert.Null(await _dispatcher.DispatchAsync("CP-2", """[3,"rst-2",{"status":"Rejected"}]"""));
        _pending.Add("rst-3", "CP-1", "RemoteStartTransaction");
        Assert.Null(await _dispatcher.DispatchAsync("CP-1", """[3,"rst-3",{"status":"Rejected"}]"""));
        Assert.Empty(_grain.Calls);
        Assert.False(_grains.ContainsKey("CP-2")); // the answer came from the wrong charger: no grain was even asked
    }

    [Fact]
    public async Task A_refused_frame_does_not_affect_the_next_one()
    {
        AssertCallError(await Send("""[2,"z1","StartTransaction",{"connectorId":1}]"""), "z1", OcppErrorCode.OccurenceConstraintViolation);
        AssertCallResult(await Send("""[2,"z2","Heartbeat",{}]"""), "z2");
        Assert.Equal("Heartbeat", Assert.Single(_grain.Calls));
    }
}
