using System.Text;
using System.Text.Json;
using EvCharge.ChargerBridge.Ocpp;

namespace EvCharge.UnitTests.Ocpp;

public class OcppFrameTests
{
    [Fact]
    public void Parses_a_call()
    {
        using var frame = OcppFrame.Parse("""[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}]""");
        Assert.Equal(OcppMessageType.Call, frame.Type);
        Assert.Equal("19223201", frame.MessageId);
        Assert.Equal("BootNotification", frame.Action);
        Assert.Equal("VendorX", frame.Payload.GetProperty("chargePointVendor").GetString());
    }

    [Fact]
    public void Parses_a_call_result()
    {
        using var frame = OcppFrame.Parse("""[3,"abc",{"status":"Accepted"}]""");
        Assert.Equal(OcppMessageType.CallResult, frame.Type);
        Assert.Equal("abc", frame.MessageId);
        Assert.Null(frame.Action);
        Assert.Equal("Accepted", frame.Payload.GetProperty("status").GetString());
    }

    [Fact]
    public void Parses_a_call_error()
    {
        using var frame = OcppFrame.Parse("""[4,"abc","NotSupported","no remote stop",{}]""");
        Assert.Equal(OcppMessageType.CallError, frame.Type);
        Assert.Equal("NotSupported", frame.ErrorCode);
        Assert.Equal("no remote stop", frame.ErrorDescription);
    }

    [Theory]
    [InlineData("not json", "-1", OcppErrorCode.FormationViolation)]
    [InlineData("""[2,"a","Heartbeat",{}""", "-1", OcppErrorCode.FormationViolation)]
    [InlineData("""{"action":"Heartbeat"}""", "-1", OcppErrorCode.FormationViolation)]
    [InlineData("""[2,"a"]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""["2","a","Heartbeat",{}]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""[2.5,"a","Heartbeat",{}]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""[7,"a","Heartbeat",{}]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""[2,17,"Heartbeat",{}]""", "-1", OcppErrorCode.FormationViolation)]
    [InlineData("""[2,"","Heartbeat",{}]""", "-1", OcppErrorCode.FormationViolation)]
    [InlineData("""[2,"a",5,{}]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""[2,"a","Heartbeat"]""", "a", OcppErrorCode.ProtocolError)]
    [InlineData("""[2,"a","Heartbeat",[]]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""[2,"a","Heartbeat","{}"]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""[2,"a","Heartbeat",{},{}]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""[3,"a"]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""[3,"a",{},1]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""[4,"a","GenericError","x"]""", "a", OcppErrorCode.FormationViolation)]
    [InlineData("""[4,"a",1,"x",{}]""", "a", OcppErrorCode.FormationViolation)]
    public void Malformed_frames_carry_the_callerror_to_answer_with(string text, string expectedId, OcppErrorCode expected)
    {
        var e = Assert.Throws<OcppFrameException>(() => OcppFrame.Parse(text));
        Assert.Equal(expected, e.Code);
        Assert.Equal(expectedId, e.MessageId);
        Assert.False(string.IsNullOrWhiteSpace(e.Description));
    }

    [Fact]
    public void Message_id_longer_than_36_characters_is_a_formation_violation()
    {
        var id36 = new string('x', 36);
        using (var ok = OcppFrame.Parse($$"""[2,"{{id36}}","Heartbeat",{}]"""))
            Assert.Equal(id36, ok.MessageId);

        var e = Assert.Throws<OcppFrameException>(() => OcppFrame.Parse($$"""[2,"{{id36}}y","Heartbeat",{}]"""));
        Assert.Equal(OcppErrorCode.FormationViolation, e.Code);
    }

    [Fact]
    public void Call_result_writer_produces_a_parseable_frame()
    {
        var bytes = OcppFrameWriter.CallResult("m1", w => w.WriteString("currentTime", "2025-01-31T09:00:00.000Z"));
        Assert.Equal("""[3,"m1",{"currentTime":"2025-01-31T09:00:00.000Z"}]""", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Call_error_writer_uses_the_spec_spelling_and_an_empty_details_object()
    {
        var text = Encoding.UTF8.GetString(OcppFrameWriter.CallError("m1", OcppErrorCode.OccurenceConstraintViolation, "missing"));
        Assert.Equal("""[4,"m1","OccurenceConstraintViolation","missing",{}]""", text);
    }

    [Fact]
    public void Call_writer_embeds_the_payload_object()
    {
        var text = Encoding.UTF8.GetString(OcppFrameWriter.Call("m9", "RemoteStopTransaction", """{"transactionId":7}"""));
        Assert.Equal("""[2,"m9","RemoteStopTransaction",{"transactionId":7}]""", text);
        Assert.ThrowsAny<JsonException>(() => OcppFrameWriter.Call("m9", "X", "{not json"));
    }

    [Fact]
    public void Error_codes_round_trip_through_their_wire_names()
    {
        foreach (var code in Enum.GetValues<OcppErrorCode>())
        {
            Assert.True(OcppErrorCodes.TryParse(code.ToWire(), out var parsed));
            Assert.Equal(code, parsed);
        }
        Assert.False(OcppErrorCodes.TryParse("OccurrenceConstraintViolation", out _));
    }

    [Fact]
    public void Timestamps_are_utc_with_milliseconds()
    {
        var value = new DateTimeOffset(2025, 1, 31, 18, 30, 5, 123, TimeSpan.FromHours(9));
        Assert.Equal("2025-01-31T09:30:05.123Z", OcppFrameWriter.Timestamp(value));
    }
}
