using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Driver;
using EvCharge.Payments;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvCharge.Grains;

/// <summary>What a driver's Scan &amp; Charge stores before its session exists. Never the payment code.</summary>
[GenerateSerializer]
public sealed record DriverChargeRecord
{
    [Id(0)] public DriverChargeStage Stage { get; init; }
    [Id(1)] public string? ChargerId { get; init; }
    [Id(2)] public int ConnectorId { get; init; }
    [Id(3)] public string? Provider { get; init; }
    [Id(4)] public string? ProviderReference { get; init; }
    [Id(5)] public Uri? ApprovalUrl { get; init; }
    [Id(6)] public string? Reason { get; init; }
    [Id(7)] public DateTimeOffset CreatedAt { get; init; }
    [Id(8)] public long HoldAmount { get; init; }
    [Id(9)] public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>
/// One Scan &amp; Charge (docs/driver.md), keyed by the session id it will have: opens the wallet checkout for the hold,
/// and when the wallet sends the driver back approved, has the charger grain open the session and send
/// RemoteStartTransaction. No money moves here: the checkout only prepares the approval, and the hold is the session's,
/// with everything the session guarantees (one durable step per decision, a void for every refusal).
/// </summary>
internal sealed class DriverChargeGrain(
    [PersistentState("driver-charge", "evcharge")] IPersistentState<DriverChargeRecord> state,
    IPaymentGatewayRegistry gateways,
    IOptions<DriverOptions> driverOptions,
    IOptions<EvChargeOptions> options,
    TimeProvider clock,
    ILogger<DriverChargeGrain> logger) : Grain, IDriverChargeGrain
{
    /// <summary>Starting, but the activation that ran the start is gone (a silo died): asked again after this long.</summary>
    private static readonly TimeSpan StartingStale = TimeSpan.FromMinutes(2);
    private Task? _starting;

    private DriverChargeRecord S => state.State;
    private string SessionId => this.GetPrimaryKeyString();
    private DateTimeOffset Now => clock.GetUtcNow();

    async Task<DriverChargeView> IDriverChargeGrain.BeginCheckout(DriverCheckoutRequest request)
    {
        if (S.Stage != DriverChargeStage.None) return View();
        var charger = await GrainFactory.GetGrain<IChargerGrain>(request.ChargerId).GetView();
        var refusal = CheckoutRefusal(charger, request.ConnectorId, request.Provider, out var gateway);
        var hold = charger.Registration is { } reg ? HoldPolicy.Resolve(reg.HoldAmount, null, options.Value.DefaultHoldAmount) : 0;
        var record = new DriverChargeRecord
        {
            Stage = DriverChargeStage.Failed, ChargerId = request.ChargerId, ConnectorId = request.ConnectorId,
            Provider = request.Provider, CreatedAt = Now, UpdatedAt = Now, HoldAmount = hold, Reason = refusal,
        };
        if (refusal is null)
        {
            try
            {
                var checkout = await gateway!.PrepareCheckoutAsync(new CheckoutRequest(SessionId, hold, request.DriverRef ?? SessionId,
                    $"EV charging {request.ChargerId} #{request.ConnectorId}", request.ReturnUrl, request.CancelUrl, request.CancelUrl), $"{SessionId}:checkout");
                record = checkout is { Required: true, RedirectUrl: { } redirect }
                    ? record with { Stage = DriverChargeStage.AwaitingApproval, ProviderReference = checkout.ProviderReference, ApprovalUrl = redirect }
                    : record with { Reason = "wallet_checkout_unavailable" };
            }
            catch (Exception ex) when (ex is PaymentProviderUnavailableException or InvalidOperationException or HttpRequestException)
            {
                logger.LogWarning(ex, "Checkout for {Session} at {Provider} failed", SessionId, request.Provider);
                record = record with { Reason = "provider_unavailable" };
            }
        }
        await Save(record);
        return View();
    }

    async Task<DriverChargeView> IDriverChargeGrain.Approve(IReadOnlyDictionary<string, string> approval)
    {
        if (S.Stage != DriverChargeStage.AwaitingApproval) return View(); // a reload of the return URL: same answer
        if (Now - S.CreatedAt > driverOptions.Value.CheckoutLifetime)
        {
            await Save(S with { Stage = DriverChargeStage.Failed, Reason = "checkout_expired", UpdatedAt = Now });
            return View();
        }
        var code = gateways.TryGet(S.Provider!, out var gateway) && gateway is ICheckoutApproval checkout
            ? checkout.PaymentCodeFromApproval(S.ProviderReference, approval)
            : null;
        if (code is null)
        {
            await Save(S with { Stage = DriverChargeStage.Failed, Reason = "approval_missing", UpdatedAt = Now });
            return View();
        }
        await Save(S with { Stage = DriverChargeStage.Starting, UpdatedAt = Now });
        // The hold and the remote start take as long as the provider does: the driver's page shows the progress meanwhile.
        var payment = new PaymentPresentation(S.Provider!, code, null);
        IGrainTimer? timer = null;
        timer = this.RegisterGrainTimer(async () =>
        {
            timer?.Dispose();
            _starting = StartAsync(payment);
            await _starting;
        }, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
        return View();
    }

    private async Task StartAsync(PaymentPresentation payment)
    {
        var o = driverOptions.Value;
        RemoteStartResult result;
        try
        {
            result = await GrainFactory.GetGrain<IChargerGrain>(S.ChargerId!).RemoteStart(
                new RemoteStartRequest(S.ConnectorId, payment, SessionId, o.RemoteStartTimeout, o.RemoteStartAnswerTimeout));
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Remote start {Session} failed", SessionId);
            result = new RemoteStartResult(false, false, "start_failed", 0);
        }
        await Save(result.SessionOpened
            ? S with { Stage = DriverChargeStage.SessionOpened, Reason = result.Reason, UpdatedAt = Now, HoldAmount = result.HoldAmount }
            : S with { Stage = DriverChargeStage.Failed, Reason = result.Reason, UpdatedAt = Now });
    }

    async Task<DriverChargeView> IDriverChargeGrain.Cancel(string reason)
    {
        if (S.Stage == DriverChargeStage.AwaitingApproval)
            await Save(S with { Stage = DriverChargeStage.Failed, Reason = reason, UpdatedAt = Now });
        return View();
    }

    async Task<DriverChargeView> IDriverChargeGrain.GetView()
    {
        if (S.Stage == DriverChargeStage.Starting && _starting is null && Now - S.UpdatedAt > StartingStale)
        {
            // The activation that was starting it is gone: the session, if any, says how it went.
            var session = await GrainFactory.GetGrain<IChargingSessionGrain>(SessionId).GetView();
            await Save(session.State == SessionState.Created
                ? S with { Stage = DriverChargeStage.Failed, Reason = "start_interrupted", UpdatedAt = Now }
                : S with { Stage = DriverChargeStage.SessionOpened, UpdatedAt = Now });
        }
        else if (S.Stage == DriverChargeStage.AwaitingApproval && Now - S.CreatedAt > driverOptions.Value.CheckoutLifetime)
        {
            await Save(S with { Stage = DriverChargeStage.Failed, Reason = "checkout_expired", UpdatedAt = Now });
        }
        return View();
    }

    /// <summary>Why no checkout may be opened, before asking the wallet anything (null: it may).</summary>
    private string? CheckoutRefusal(ChargerView charger, int connectorId, string provider, out IPaymentGateway? gateway)
    {
        gateway = null;
        if (charger.Registration is null) return "charger_not_registered";
        if (charger.Connectors.FirstOrDefault(c => c.ConnectorId == connectorId) is not { } connector) return "unknown_connector";
        if (!charger.Online) return "charger_offline";
        if (connector.Status is ConnectorStatus.Faulted or ConnectorStatus.Unavailable) return "connector_unavailable";
        if (connector.SessionId is not null || connector.Status is not (ConnectorStatus.Available or ConnectorStatus.Preparing)) return "connector_busy";
        if (!driverOptions.Value.Wallets.Contains(provider, StringComparer.OrdinalIgnoreCase)
            // By provider name, as the session will authorize (ChargingSessionGrain resolves its gateway the same way).
            || !gateways.TryGet(provider, out var found) || found is not ICheckoutApproval)
            return "wallet_not_offered";
        gateway = found;
        return null;
    }

    private DriverChargeView View() => new(SessionId, S.Stage, S.ChargerId, S.ConnectorId, S.Provider,
        S.Stage == DriverChargeStage.AwaitingApproval ? S.ApprovalUrl : null, S.Reason, S.CreatedAt, S.HoldAmount);

    private async Task Save(DriverChargeRecord next)
    {
        state.State = next;
        await state.WriteStateAsync();
    }
}
