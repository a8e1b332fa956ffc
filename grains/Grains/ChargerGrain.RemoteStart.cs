using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Ocpp;
using EvCharge.Sessions;
using Microsoft.Extensions.Logging;

namespace EvCharge.Grains;

/// <summary>
/// Scan &amp; Charge (docs/driver.md): the driver approved the payment on the phone, so the server opens the session (the
/// hold) and asks the charger to start with OCPP RemoteStartTransaction, the authorization reference as idTag. The charger
/// then runs the ordinary Authorize/StartTransaction exchange with that idTag. A refusal (the charger's Rejected or a
/// CALLERROR), no answer within <see cref="RemoteStartRequest.AnswerTimeout"/>, or no StartTransaction within
/// <see cref="RemoteStartRequest.StartTimeout"/> voids the hold at once; the session's own start deadline is the durable
/// backstop the sweepers act on if this activation is gone.
/// </summary>
internal sealed partial class ChargerGrain
{
    private readonly Dictionary<string, RemoteStartWatch> _remoteStarts = [];

    private sealed class RemoteStartWatch : IDisposable
    {
        public IGrainTimer? AnswerTimer;
        public IGrainTimer? StartTimer;
        public void Dispose()
        {
            AnswerTimer?.Dispose();
            StartTimer?.Dispose();
        }
    }

    private bool IsOnline => _link is not null && _lastSeen is { } seen && Now - seen < TimeSpan.FromSeconds(_options.HeartbeatIntervalSeconds * 2.5);

    async Task<RemoteStartResult> IChargerGrain.RemoteStart(RemoteStartRequest request)
    {
        var registration = S.Registration;
        if (registration is null) return Refused("charger_not_registered");
        if (!_connectors.TryGetValue(request.ConnectorId, out var connector)) return Refused("unknown_connector");
        if (_pending.TryGetValue(request.SessionId, out var already)) // the page asked again: same answer
            return new RemoteStartResult(true, true, null, already.HoldAmount);
        if (!IsOnline) return Refused("charger_offline");
        if (connector.SessionId is { } open && _pending.GetValueOrDefault(open) is { } holder)
        {
            if (await StillLive(holder)) return Refused("connector_busy");
            Forget(holder.SessionId);
        }
        if (connector.Status is ConnectorStatus.Faulted or ConnectorStatus.Unavailable) return Refused("connector_unavailable");
        if (connector.Status is not (ConnectorStatus.Available or ConnectorStatus.Preparing)) return Refused("connector_busy");
        if (request.Payment.PaymentCode is not { Length: > 0 }) return Refused("payment_code_missing");

        var contract = await GrainFactory.GetGrain<ICpoGrain>(registration.CpoId).GetContract();
        var tariff = contract?.Tariffs.FirstOrDefault(t => t.TariffId == registration.TariffId);
        if (contract is null || tariff is null) return Refused("tariff_not_configured");

        var hold = HoldPolicy.Resolve(registration.HoldAmount, null, _options.DefaultHoldAmount);
        var sessionId = request.SessionId;
        var start = new SessionStart(ChargerId, request.ConnectorId, registration.CpoId, tariff, hold, contract.Commission,
            contract.PayeeAccount, _options.PlatformPayeeAccount, request.Payment, sessionId, null, request.StartTimeout);
        var outcome = await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).Authorize(start);
        if (!outcome.Accepted) return new RemoteStartResult(false, true, outcome.Reason ?? "rejected", hold);

        _pending[sessionId] = new PendingAuthorization(sessionId, request.ConnectorId, SessionProjection.PresentationOf(request.Payment), Now, null, hold);
        _connectors[request.ConnectorId] = _connectors[request.ConnectorId] with { SessionId = sessionId, TransactionId = null };
        Remember(sessionId, tariff);
        if (ShowsPrices) await SendUserPrice(sessionId, tariff, hold); // before the start, on the same link: in order

        try
        {
            if (_link is not { } link) throw new InvalidOperationException("no link to the charger");
            var payload = JsonSerializer.Serialize(new { connectorId = request.ConnectorId, idTag = sessionId });
            await link.Send(ChargerId, new ChargerCommand("RemoteStartTransaction", payload, sessionId));
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "RemoteStartTransaction for {Session} could not be sent to {Charger}", sessionId, ChargerId);
            await VoidRemoteStart(sessionId, "charger_offline", force: true);
            return new RemoteStartResult(false, true, "charger_offline", hold);
        }
        logger.LogInformation("RemoteStartTransaction {Session} sent to {Charger} connector {Connector}", sessionId, ChargerId, request.ConnectorId);

        var watch = new RemoteStartWatch();
        _remoteStarts[sessionId] = watch;
        watch.AnswerTimer = this.RegisterGrainTimer(() => AnswerOverdue(sessionId), new GrainTimerCreationOptions(request.AnswerTimeout, Timeout.InfiniteTimeSpan));
        watch.StartTimer = this.RegisterGrainTimer(() => VoidRemoteStart(sessionId, "start_timeout"), new GrainTimerCreationOptions(request.StartTimeout, Timeout.InfiniteTimeSpan));
        return new RemoteStartResult(true, true, null, hold);

        RemoteStartResult Refused(string reason)
        {
            logger.LogInformation("Remote start on {Charger} connector {Connector} refused before the hold: {Reason}", ChargerId, request.ConnectorId, reason);
            return new RemoteStartResult(false, false, reason, 0);
        }
    }

    async Task IChargerGrain.RemoteStartAnswered(string sessionId, bool accepted, string? detail)
    {
        if (!_remoteStarts.TryGetValue(sessionId, out var watch)) return; // started, voided or unknown here: nothing waits on it
        if (accepted)
        {
            watch.AnswerTimer?.Dispose();
            watch.AnswerTimer = null;
            return;
        }
        logger.LogInformation("Charger {Charger} refused RemoteStartTransaction for {Session}: {Detail}", ChargerId, sessionId, detail);
        await VoidRemoteStart(sessionId, "charger_refused");
    }

    private Task AnswerOverdue(string sessionId) =>
        _remoteStarts.TryGetValue(sessionId, out var watch) && watch.AnswerTimer is not null
            ? VoidRemoteStart(sessionId, "charger_not_responding")
            : Task.CompletedTask;

    /// <summary>The remote start failed: void the hold now (the session keeps the first reason) and free the connector.</summary>
    private async Task VoidRemoteStart(string sessionId, string reason, bool force = false)
    {
        if (_remoteStarts.Remove(sessionId, out var watch)) watch.Dispose();
        else if (!force) return;
        if (_pending.GetValueOrDefault(sessionId) is { TransactionId: not null }) return; // the charger started after all
        var view = await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).Cancel(reason);
        if (view.State != SessionState.Charging) Forget(sessionId);
        logger.LogInformation("Remote start {Session} on {Charger} ended: {Reason}; session {State}", sessionId, ChargerId, reason, view.State);
    }
}
