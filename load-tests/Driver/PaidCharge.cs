using System.Collections.Concurrent;
using System.Text.Json;

namespace EvCharge.LoadTests.Driver;

/// <summary>How a simulated charge behaves: length, meter interval, energy delivered.</summary>
public sealed record ChargeProfile(TimeSpan Length, TimeSpan MeterInterval, long EnergyWh, TimeSpan ReceiptTimeout);

/// <summary>
/// One complete paid charge, the way docs/protocol.md lays it out: payment code from the phone, DataTransfer
/// PaymentAuthorize, StatusNotification Preparing, StartTransaction, Charging, MeterValues every interval,
/// DataTransfer ChargerFee, StopTransaction, Finishing/Available, and the receipt on the phone (SSE).
/// Steps are timed into <see cref="Metrics"/>: authorize, start, meter, stop, stop-to-receipt, charge.
/// </summary>
public sealed class PaidCharge(Metrics metrics, PhonePool phones, TimeSpan callTimeout)
{
    public ConcurrentBag<string> Sessions { get; } = [];

    public async Task<bool> RunAsync(SimCharger c, Phone phone, ChargeProfile profile, CancellationToken ct)
    {
        var begin = Metrics.Now;
        var stage = "payment-code";
        try
        {
            var code = await phones.PaymentCodeAsync(phone, ct);
            var (reference, tx) = await AuthorizeAndStartAsync(c, code, meterStartWh: 0, ct, s => stage = s);
            if (reference is null) return false;

            stage = "meter";
            var samples = Math.Max(1, (int)(profile.Length / profile.MeterInterval));
            var started = DateTimeOffset.UtcNow;
            for (var k = 1; k < samples; k++)
            {
                await Task.Delay(profile.MeterInterval, ct);
                var t = Metrics.Now;
                var meter = await c.CallAsync("MeterValues", OcppPayloads.MeterValues(1, tx, profile.EnergyWh * k / samples, DateTimeOffset.UtcNow), callTimeout, ct);
                metrics.Record("meter", t);
                if (meter.IsError) metrics.Error("meter:" + meter.ErrorCode);
            }
            var remaining = profile.Length - (DateTimeOffset.UtcNow - started);
            if (remaining > TimeSpan.Zero) await Task.Delay(remaining, ct);

            await StopAsync(c, reference, tx, 0, profile.EnergyWh, profile.ReceiptTimeout, ct, s => stage = s);
            metrics.Record("charge", begin);
            metrics.Count("charges.completed");
            return true;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { metrics.Count("charges.cancelled-at-end"); return false; }
        catch (OcppCallException ex) { metrics.Error($"{stage}:{ex.Kind}"); }
        catch (Exception ex) { metrics.Error($"{stage}:{ex.GetType().Name}"); }
        metrics.Count("charges.failed");
        return false;
    }

    /// <summary>PaymentAuthorize + Preparing + StartTransaction + Charging. Returns (null, 0) when the code was rejected.</summary>
    public async Task<(string? Reference, int TransactionId)> AuthorizeAndStartAsync(SimCharger c, string paymentCode, long meterStartWh,
        CancellationToken ct, Action<string>? onStage = null, bool expectRejected = false)
    {
        onStage?.Invoke("authorize");
        var t0 = Metrics.Now;
        var auth = await c.CallAsync("DataTransfer", OcppPayloads.PaymentAuthorize(1, paymentCode), callTimeout, ct);
        metrics.Record(expectRejected ? "authorize.declined" : "authorize", t0);
        if (auth.IsError) throw new OcppCallException("callerror:" + auth.ErrorCode, "PaymentAuthorize CALLERROR");
        var payload = auth.Payload();
        var data = payload.TryGetProperty("data", out var d) && d.GetString() is { } json ? JsonDocument.Parse(json).RootElement : default;
        var accepted = payload.GetProperty("status").GetString() == "Accepted"
                       && data.ValueKind == JsonValueKind.Object && data.GetProperty("status").GetString() == "Accepted";
        if (!accepted)
        {
            var reason = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("reason", out var r) ? r.GetString() : payload.GetProperty("status").GetString();
            if (expectRejected) { metrics.Count("authorizations.declined"); return (null, 0); }
            throw new OcppCallException("rejected:" + reason, "payment authorization rejected");
        }
        if (expectRejected) throw new OcppCallException("accepted-unexpectedly", "an invalid payment code was accepted");
        var reference = data.GetProperty("authorizationReference").GetString()!;
        Sessions.Add(reference);
        metrics.Count("authorizations.accepted");

        onStage?.Invoke("status");
        await c.CallAsync("StatusNotification", OcppPayloads.Status(1, "Preparing", DateTimeOffset.UtcNow), callTimeout, ct);
        onStage?.Invoke("start");
        t0 = Metrics.Now;
        var start = await c.CallAsync("StartTransaction", OcppPayloads.StartTransaction(1, reference, meterStartWh, DateTimeOffset.UtcNow), callTimeout, ct);
        metrics.Record("start", t0);
        if (start.IsError) throw new OcppCallException("callerror:" + start.ErrorCode, "StartTransaction CALLERROR");
        var sp = start.Payload();
        if (sp.GetProperty("idTagInfo").GetProperty("status").GetString() != "Accepted")
            throw new OcppCallException("start-not-accepted", "StartTransaction not accepted");
        var tx = sp.GetProperty("transactionId").GetInt32();
        metrics.Count("charges.started");
        onStage?.Invoke("status");
        await c.CallAsync("StatusNotification", OcppPayloads.Status(1, "Charging", DateTimeOffset.UtcNow), callTimeout, ct);
        return (reference, tx);
    }

    /// <summary>ChargerFee + StopTransaction + Finishing/Available, then waits for the phone's receipt.</summary>
    public async Task StopAsync(SimCharger c, string reference, int tx, long meterStartWh, long energyWh, TimeSpan receiptTimeout,
        CancellationToken ct, Action<string>? onStage = null)
    {
        var receipt = phones.ExpectReceipt(reference);
        try
        {
            onStage?.Invoke("fee");
            var fee = await c.CallAsync("DataTransfer", OcppPayloads.ChargerFee(tx, OcppPayloads.Fee(energyWh, Target.PricePerKwh), energyWh), callTimeout, ct);
            if (fee.IsError) metrics.Error("fee:" + fee.ErrorCode);
            onStage?.Invoke("stop");
            var t0 = Metrics.Now;
            var stop = await c.CallAsync("StopTransaction", OcppPayloads.StopTransaction(tx, reference, meterStartWh + energyWh, DateTimeOffset.UtcNow), callTimeout, ct);
            metrics.Record("stop", t0);
            if (stop.IsError) throw new OcppCallException("callerror:" + stop.ErrorCode, "StopTransaction CALLERROR");
            onStage?.Invoke("status");
            await c.CallAsync("StatusNotification", OcppPayloads.Status(1, "Finishing", DateTimeOffset.UtcNow), callTimeout, ct);
            onStage?.Invoke("receipt");
            try { await receipt.WaitAsync(receiptTimeout, ct); }
            catch (TimeoutException) { throw new OcppCallException("receipt-timeout", "no receipt on the phone"); }
            metrics.Record("stop-to-receipt", t0);
            await c.CallAsync("StatusNotification", OcppPayloads.Status(1, "Available", DateTimeOffset.UtcNow), callTimeout, ct);
        }
        finally { phones.Forget(reference); }
    }
}
