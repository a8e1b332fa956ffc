using System.Text;
using BenchmarkDotNet.Attributes;
using EvCharge.ChargerBridge.Ocpp;

namespace EvCharge.Benchmarks;

/// <summary>What the bridge does to every charger message before a grain call: parse the OCPP-J frame, validate
/// the payload against the 1.6 schema rules, and write the answer frame.</summary>
[MemoryDiagnoser]
public class OcppFrameBenchmarks
{
    private static readonly byte[] HeartbeatFrame = Encoding.UTF8.GetBytes("""[2,"cp-1.17","Heartbeat",{}]""");
    private static readonly byte[] MeterFrame = Encoding.UTF8.GetBytes(
        """[2,"cp-1.18","MeterValues",{"connectorId":1,"transactionId":42,"meterValue":[{"timestamp":"2026-11-25T01:10:00.000Z","sampledValue":[{"value":"5000","measurand":"Energy.Active.Import.Register","unit":"Wh"}]}]}]""");
    private static readonly byte[] StopFrame = Encoding.UTF8.GetBytes(
        """[2,"cp-1.19","StopTransaction",{"transactionId":42,"idTag":"az_y7rlpzovmpyskhca","meterStop":13345,"timestamp":"2026-11-25T01:40:00.000Z","reason":"EVDisconnected"}]""");
    private static readonly byte[] PaymentFrame = Encoding.UTF8.GetBytes(
        """[2,"cp-1.20","DataTransfer",{"vendorId":"kr.evcharge","messageId":"PaymentAuthorize","data":"{\"connectorId\":1,\"provider\":\"kakaopay\",\"paymentCode\":\"55844046252862617069\"}"}]""");
    private static readonly byte[] Garbage = Encoding.UTF8.GetBytes("""[2,"cp-1.21","MeterValues",{"connectorId":"one"}]""");

    [Benchmark]
    public string ParseHeartbeat()
    {
        using var f = OcppFrame.Parse(HeartbeatFrame);
        OcppRequests.Heartbeat(f.Payload);
        return f.MessageId;
    }

    [Benchmark]
    public long ParseValidateMeterValues()
    {
        using var f = OcppFrame.Parse(MeterFrame);
        return OcppRequests.MeterValues(f.Payload).ConnectorId;
    }

    [Benchmark]
    public long ParseValidateStopTransaction()
    {
        using var f = OcppFrame.Parse(StopFrame);
        return OcppRequests.StopTransaction(f.Payload).TransactionId;
    }

    [Benchmark]
    public int ParseValidatePaymentAuthorize()
    {
        using var f = OcppFrame.Parse(PaymentFrame);
        var dt = OcppRequests.DataTransfer(f.Payload);
        return EvChargeDataTransfer.ParsePaymentAuthorize(dt.Data).ConnectorId;
    }

    [Benchmark]
    public string RejectSchemaViolation()
    {
        try
        {
            using var f = OcppFrame.Parse(Garbage);
            OcppRequests.MeterValues(f.Payload);
            return "";
        }
        catch (Exception ex) { return ex.GetType().Name; }
    }

    [Benchmark]
    public int WriteHeartbeatResult() =>
        OcppFrameWriter.CallResult("cp-1.17", w => w.WriteString("currentTime", "2026-11-25T01:10:00.000Z")).Length;

    [Benchmark]
    public int WriteStartTransactionResult() =>
        OcppFrameWriter.CallResult("cp-1.22", w =>
        {
            w.WriteNumber("transactionId", 42);
            w.WriteStartObject("idTagInfo");
            w.WriteString("status", "Accepted");
            w.WriteEndObject();
        }).Length;
}
