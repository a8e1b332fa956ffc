using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Driver;
using EvCharge.Ocpp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvCharge.Grains;

/// <summary>
/// The price on the charger's display, for chargers registered with <see cref="ChargerRegistration.PricingMessages"/>:
/// the OCA California pricing messages over DataTransfer (<see cref="CostMessages"/>, docs/protocol.md). SetUserPrice
/// once the driver is identified, RunningCost right after the start and then at most once per
/// <see cref="DriverOptions.RunningCostInterval"/> of meter time, FinalCost after the stop with the receipt link.
/// Each goes out after the charger has its answer to the message that caused it; none is awaited by a charger's request,
/// and a charger that does not answer them changes nothing about the charge.
/// </summary>
internal sealed partial class ChargerGrain
{
    private const int PricedSessionsKept = 64;
    /// <summary>The tariff each live session was authorized with (a fresh activation asks the session).</summary>
    private readonly Dictionary<string, Tariff> _sessionTariffs = [];
    /// <summary>Per transaction: the meter value the last RunningCost was based on.</summary>
    private readonly Dictionary<int, MeterSample> _runningCostSent = [];
    /// <summary>Per transaction: the latest meter value, to tell charging from idle.</summary>
    private readonly Dictionary<int, MeterSample> _lastMeter = [];
    private DriverOptions? _driverOptions;

    private DriverOptions DriverSettings => _driverOptions ??= ServiceProvider.GetRequiredService<IOptions<DriverOptions>>().Value;
    private bool ShowsPrices => S.Registration?.PricingMessages == true;

    /// <summary>
    /// A payment was authorized for <paramref name="sessionId"/>: SetUserPrice after the charger has its answer, for the
    /// idTag the charger will start with (the authorization reference, or a bound vehicle's <c>VID:</c> idTag).
    /// </summary>
    private void DriverIdentified(string sessionId, PaymentPresentation payment, Tariff tariff, long hold)
    {
        Remember(sessionId, tariff);
        var idTag = payment.VehicleId is { } vehicle ? "VID:" + vehicle : sessionId;
        if (ShowsPrices) Later(() => SendUserPrice(idTag, tariff, hold));
    }

    private Task SendUserPrice(string idTag, Tariff tariff, long hold) =>
        SendCostMessage(CostMessages.SetUserPrice, CostMessages.UserPrice(idTag, tariff, hold, Now));

    private void TransactionStarted(string sessionId, int transactionId, StartTransaction start)
    {
        if (_remoteStarts.Remove(sessionId, out var watch)) watch.Dispose();
        if (!ShowsPrices) return;
        var sample = new MeterSample(start.Timestamp, start.MeterStartWh);
        _lastMeter[transactionId] = sample;
        _runningCostSent[transactionId] = sample;
        Later(async () => await SendCostMessage(CostMessages.RunningCost,
            CostMessages.Running(transactionId, sample, 0, idle: false, await TariffOf(sessionId))));
    }

    private void MeterProgressed(string sessionId, MeterValues values, MeterProgress progress)
    {
        if (!ShowsPrices || values.Samples.Count == 0) return;
        var transactionId = values.TransactionId ?? _pending.GetValueOrDefault(sessionId)?.TransactionId;
        if (transactionId is not { } tx) return;
        var latest = values.Samples.MaxBy(x => x.Timestamp)!;
        var previous = _lastMeter.GetValueOrDefault(tx);
        if (previous is not null && latest.Timestamp <= previous.Timestamp) return; // an older reading delivered late
        _lastMeter[tx] = latest;
        var sent = _runningCostSent.GetValueOrDefault(tx);
        if (!CostMessages.RunningCostDue(sent?.Timestamp, latest.Timestamp, DriverSettings.RunningCostInterval)) return;
        _runningCostSent[tx] = latest;
        var idle = previous is not null && latest.EnergyWh <= previous.EnergyWh;
        Later(async () => await SendCostMessage(CostMessages.RunningCost,
            CostMessages.Running(tx, latest, progress.RunningCost, idle, await TariffOf(sessionId))));
    }

    /// <summary>After StopTransaction.conf: the final cost (what the wallet is charged, never more than the hold) and the receipt link.</summary>
    private void TransactionStopped(int transactionId, SessionView session)
    {
        _runningCostSent.Remove(transactionId);
        _lastMeter.Remove(transactionId);
        _sessionTariffs.Remove(session.SessionId);
        if (!ShowsPrices || session.TransactionId != transactionId || session.Fee is not { } fee) return;
        var cost = Math.Min(fee, session.HoldAmount);
        var duration = (session.StoppedAt ?? Now) - (session.StartedAt ?? session.StoppedAt ?? Now);
        Later(async () =>
        {
            var receipt = ServiceProvider.GetService<DriverLinks>() is { } links ? await links.UrlFor(session.SessionId) : null;
            await SendCostMessage(CostMessages.FinalCost, CostMessages.Final(transactionId, cost, session.EnergyWh, duration, receipt));
        });
    }

    private async Task<Tariff> TariffOf(string sessionId)
    {
        if (_sessionTariffs.TryGetValue(sessionId, out var known)) return known;
        var tariff = (await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).GetView()).Tariff ?? Tariff.Flat("unknown", 0);
        Remember(sessionId, tariff);
        return tariff;
    }

    private void Remember(string sessionId, Tariff tariff)
    {
        _sessionTariffs[sessionId] = tariff;
        if (_sessionTariffs.Count > PricedSessionsKept)
            foreach (var stale in _sessionTariffs.Keys.Where(k => !_pending.ContainsKey(k)).ToList()) _sessionTariffs.Remove(stale);
    }

    private async Task SendCostMessage(string messageId, string data)
    {
        if (_link is not { } link)
        {
            logger.LogInformation("{Message} for {Charger} not sent: no link to the charger", messageId, ChargerId);
            return;
        }
        try
        {
            await link.Send(ChargerId, new ChargerCommand("DataTransfer", CostMessages.DataTransfer(messageId, data)));
        }
        catch (Exception ex)
        {
            // Display only: the charge goes on whatever happens to it.
            logger.LogWarning(ex, "{Message} to {Charger} could not be sent", messageId, ChargerId);
        }
    }

    /// <summary>Runs <paramref name="work"/> in this grain's next turn, after the answer to the current request has gone.</summary>
    private void Later(Func<Task> work)
    {
        IGrainTimer? timer = null;
        timer = this.RegisterGrainTimer(async () =>
        {
            timer?.Dispose();
            await work();
        }, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
    }
}
