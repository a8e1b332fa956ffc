using System.Diagnostics;
using System.Text;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Ocpp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using A = EvCharge.ChargerBridge.Ocpp.OcppSchema.Actions;

namespace EvCharge.ChargerBridge.Ocpp;

/// <summary>
/// The transport-agnostic heart of the bridge: one OCPP-J frame from a charger in, the frame to answer with out.
/// CALLs are validated and routed to the charger's grain; CALLRESULT/CALLERROR answers to our own calls are
/// correlated and logged. Nothing a charger sends can make this throw: every failure becomes a CALLERROR, and
/// unexpected exceptions become InternalError without their text, which stays in the log.
/// </summary>
public sealed class OcppDispatcher
{
    /// <summary>Traces start here: one span per CALL from a charger, parent of the grain calls it makes.</summary>
    public const string ActivitySourceName = "EvCharge.ChargerBridge";
    private static readonly ActivitySource Source = new(ActivitySourceName);

    private readonly Func<string, IChargerGrain> _chargerGrain;
    private readonly OcppPendingCalls _pendingCalls;
    private readonly ILogger _logger;

    public OcppDispatcher(IGrainFactory grainFactory, OcppPendingCalls pendingCalls, ILogger<OcppDispatcher> logger)
        : this(id => grainFactory.GetGrain<IChargerGrain>(id), pendingCalls, logger)
    {
    }

    /// <summary>For tests and alternative hosts: resolves a charger's grain by id.</summary>
    public OcppDispatcher(Func<string, IChargerGrain> chargerGrain, OcppPendingCalls? pendingCalls = null, ILogger? logger = null)
    {
        _chargerGrain = chargerGrain;
        _pendingCalls = pendingCalls ?? new OcppPendingCalls();
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Handles one frame; returns the UTF-8 frame to send back, or null when none is due (answers to our calls).</summary>
    public async ValueTask<byte[]?> DispatchAsync(string chargerId, ReadOnlyMemory<byte> frameUtf8)
    {
        OcppFrame frame;
        try
        {
            frame = OcppFrame.Parse(frameUtf8);
        }
        catch (OcppFrameException e)
        {
            _logger.LogInformation("Charger {ChargerId} sent a malformed frame: {Code} {Description}", chargerId, e.Code.ToWire(), e.Description);
            return OcppFrameWriter.CallError(e.MessageId, e.Code, e.Description);
        }

        using (frame)
        {
            switch (frame.Type)
            {
                case OcppMessageType.Call:
                    return await HandleCallAsync(chargerId, frame);
                case OcppMessageType.CallResult:
                    await HandleCallResult(chargerId, frame);
                    return null;
                default:
                    await HandleCallError(chargerId, frame);
                    return null;
            }
        }
    }

    /// <summary>Text convenience for tests, simulators and text-frame transports.</summary>
    public async ValueTask<string?> DispatchAsync(string chargerId, string frameText) =>
        await DispatchAsync(chargerId, Encoding.UTF8.GetBytes(frameText)) is { } response ? Encoding.UTF8.GetString(response) : null;

    private async ValueTask<byte[]> HandleCallAsync(string chargerId, OcppFrame frame)
    {
        var id = frame.MessageId;
        var action = frame.Action!;
        using var activity = Source.StartActivity($"ocpp {action}", ActivityKind.Server);
        activity?.SetTag("ocpp.charger_id", chargerId);
        activity?.SetTag("ocpp.action", action);
        activity?.SetTag("ocpp.message_id", id);
        try
        {
            return action switch
            {
                A.BootNotification => await BootNotification(chargerId, id, frame.Payload),
                A.Heartbeat => await Heartbeat(chargerId, id, frame.Payload),
                A.StatusNotification => await StatusNotification(chargerId, id, frame.Payload),
                A.Authorize => await Authorize(chargerId, id, frame.Payload),
                A.StartTransaction => await StartTransaction(chargerId, id, frame.Payload),
                A.MeterValues => await MeterValues(chargerId, id, frame.Payload),
                A.StopTransaction => await StopTransaction(chargerId, id, frame.Payload),
                A.DataTransfer => await DataTransfer(chargerId, id, frame.Payload),
                _ when OcppSchema.KnownUnsupportedActions.Contains(action) =>
                    OcppFrameWriter.CallError(id, OcppErrorCode.NotSupported, $"Action {action} is not supported by this central system"),
                _ => OcppFrameWriter.CallError(id, OcppErrorCode.NotImplemented, "Unknown action"),
            };
        }
        catch (OcppException e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Code.ToWire());
            _logger.LogInformation("Charger {ChargerId} {Action} {MessageId} refused: {Code} {Description}",
                chargerId, action, id, e.Code.ToWire(), e.Description);
            return OcppFrameWriter.CallError(id, e.Code, e.Description);
        }
        catch (Exception e)
        {
            // The charger learns only that we failed; the details (grain exceptions, stack) stay in our log.
            activity?.SetStatus(ActivityStatusCode.Error, "InternalError");
            _logger.LogError(e, "Charger {ChargerId} {Action} {MessageId} failed", chargerId, action, id);
            return OcppFrameWriter.CallError(id, OcppErrorCode.InternalError, "Internal error while processing the request");
        }
    }

    private async Task<byte[]> BootNotification(string chargerId, string id, JsonElement payload)
    {
        var boot = OcppRequests.BootNotification(payload);
        var result = await _chargerGrain(chargerId).Boot(boot);
        return OcppFrameWriter.CallResult(id, w =>
        {
            w.WriteString("status", result.Status.ToString());
            w.WriteString("currentTime", OcppFrameWriter.Timestamp(result.CurrentTime));
            w.WriteNumber("interval", result.HeartbeatIntervalSeconds);
        });
    }

    private async Task<byte[]> Heartbeat(string chargerId, string id, JsonElement payload)
    {
        OcppRequests.Heartbeat(payload);
        var now = await _chargerGrain(chargerId).Heartbeat();
        return OcppFrameWriter.CallResult(id, w => w.WriteString("currentTime", OcppFrameWriter.Timestamp(now)));
    }

    private async Task<byte[]> StatusNotification(string chargerId, string id, JsonElement payload)
    {
        var status = OcppRequests.StatusNotification(payload);
        await _chargerGrain(chargerId).StatusChanged(status);
        return OcppFrameWriter.CallResult(id, null);
    }

    private async Task<byte[]> Authorize(string chargerId, string id, JsonElement payload)
    {
        var idTag = OcppRequests.Authorize(payload);
        var info = await _chargerGrain(chargerId).Authorize(idTag);
        return OcppFrameWriter.CallResult(id, w => WriteIdTagInfo(w, info));
    }

    private async Task<byte[]> StartTransaction(string chargerId, string id, JsonElement payload)
    {
        var start = OcppRequests.StartTransaction(payload);
        var result = await _chargerGrain(chargerId).StartTransaction(start);
        return OcppFrameWriter.CallResult(id, w =>
        {
            w.WriteNumber("transactionId", result.TransactionId);
            WriteIdTagInfo(w, result.IdTagInfo);
        });
    }

    private async Task<byte[]> MeterValues(string chargerId, string id, JsonElement payload)
    {
        var values = OcppRequests.MeterValues(payload);
        await _chargerGrain(chargerId).MeterValues(values);
        return OcppFrameWriter.CallResult(id, null);
    }

    private async Task<byte[]> StopTransaction(string chargerId, string id, JsonElement payload)
    {
        var stop = OcppRequests.StopTransaction(payload);
        var info = await _chargerGrain(chargerId).StopTransaction(stop);
        return OcppFrameWriter.CallResult(id, info is null ? null : w => WriteIdTagInfo(w, info));
    }

    private async Task<byte[]> DataTransfer(string chargerId, string id, JsonElement payload)
    {
        var request = OcppRequests.DataTransfer(payload);
        if (!string.Equals(request.VendorId, EvChargeDataTransfer.VendorId, StringComparison.Ordinal))
            return DataTransferAnswer(id, "UnknownVendorId", null);

        switch (request.MessageId)
        {
            case EvChargeDataTransfer.PaymentAuthorize:
            {
                var ask = EvChargeDataTransfer.ParsePaymentAuthorize(request.Data);
                var result = await _chargerGrain(chargerId).AuthorizePayment(ask.ConnectorId, ask.Payment);
                if (result.Status == AuthorizationStatus.Accepted
                    && result.AuthorizationReference is not { Length: > 0 and <= EvChargeDataTransfer.MaxAuthorizationReferenceLength })
                    throw new InvalidOperationException(
                        $"Authorization reference '{result.AuthorizationReference}' cannot be used as an idTag (1-20 characters)");
                return DataTransferAnswer(id, result.Status == AuthorizationStatus.Accepted ? "Accepted" : "Rejected",
                    EvChargeDataTransfer.PaymentAuthorizeAnswer(result));
            }
            case EvChargeDataTransfer.ChargerFee:
            {
                var report = EvChargeDataTransfer.ParseChargerFee(request.Data);
                await _chargerGrain(chargerId).ReportFee(report);
                return DataTransferAnswer(id, "Accepted", null);
            }
            default:
                return DataTransferAnswer(id, "UnknownMessageId", null);
        }
    }

    private static byte[] DataTransferAnswer(string id, string status, string? data) =>
        OcppFrameWriter.CallResult(id, w =>
        {
            w.WriteString("status", status);
            if (data is not null) w.WriteString("data", data);
        });

    private static void WriteIdTagInfo(Utf8JsonWriter w, IdTagInfo info)
    {
        w.WriteStartObject("idTagInfo");
        w.WriteString("status", info.Status.ToString());
        if (info.ExpiryDate is { } expiry) w.WriteString("expiryDate", OcppFrameWriter.Timestamp(expiry));
        if (info.ParentIdTag is { } parent) w.WriteString("parentIdTag", parent);
        w.WriteEndObject();
    }

    private async ValueTask HandleCallResult(string chargerId, OcppFrame frame)
    {
        var call = _pendingCalls.Complete(chargerId, frame.MessageId);
        if (call is null)
        {
            _logger.LogInformation("Charger {ChargerId} answered unknown or expired call {MessageId}", chargerId, frame.MessageId);
            return;
        }

        if (call.Action == A.RemoteStartTransaction)
        {
            // The session waits on this answer: a refusal voids its hold at once (ChargerGrain.RemoteStart.cs).
            string status;
            try
            {
                status = OcppRequests.RemoteStartTransactionResult(frame.Payload);
            }
            catch (OcppException e)
            {
                _logger.LogWarning("Charger {ChargerId} sent an invalid RemoteStartTransaction answer {MessageId}: {Description}",
                    chargerId, frame.MessageId, e.Description);
                status = "Invalid";
            }
            _logger.LogInformation("Charger {ChargerId} answered RemoteStartTransaction {MessageId}: {Status}", chargerId, frame.MessageId, status);
            if (call.Reference is { } session) await TellRemoteStart(chargerId, session, status == "Accepted", status);
            return;
        }

        if (call.Action == A.RemoteStopTransaction)
        {
            try
            {
                var status = OcppRequests.RemoteStopTransactionResult(frame.Payload);
                _logger.LogInformation("Charger {ChargerId} answered RemoteStopTransaction {MessageId}: {Status}", chargerId, frame.MessageId, status);
            }
            catch (OcppException e)
            {
                _logger.LogWarning("Charger {ChargerId} sent an invalid RemoteStopTransaction answer {MessageId}: {Description}",
                    chargerId, frame.MessageId, e.Description);
            }
            return;
        }
        _logger.LogInformation("Charger {ChargerId} answered {Action} {MessageId}", chargerId, call.Action, frame.MessageId);
    }

    private async ValueTask HandleCallError(string chargerId, OcppFrame frame)
    {
        var call = _pendingCalls.Complete(chargerId, frame.MessageId);
        _logger.LogWarning("Charger {ChargerId} refused {Action} {MessageId}: {Code} {Description}",
            chargerId, call?.Action ?? "unknown call", frame.MessageId, frame.ErrorCode, frame.ErrorDescription);
        if (call is { Action: A.RemoteStartTransaction, Reference: { } session })
            await TellRemoteStart(chargerId, session, false, frame.ErrorCode ?? "CallError");
    }

    private async Task TellRemoteStart(string chargerId, string sessionId, bool accepted, string detail)
    {
        try
        {
            await _chargerGrain(chargerId).RemoteStartAnswered(sessionId, accepted, detail);
        }
        catch (Exception e)
        {
            // An answer needs no answer: the start deadline voids the hold if this is lost.
            _logger.LogWarning(e, "Charger {ChargerId}: the RemoteStartTransaction answer for {Session} could not be passed on", chargerId, sessionId);
        }
    }
}
