using EvCharge.Charging;
using EvCharge.Domain;

namespace EvCharge.Silo.Driver;

/// <summary>Where the driver's charge is, as the page shows it (and the live stream sends it).</summary>
public enum DriverPhase { Approval, Starting, PlugIn, Charging, Finishing, Receipt, Ended, Debt, Attention }

/// <summary>
/// The figures on the driver's page: one object for the first render and every server-sent event after it, so the two
/// can never disagree. Money is integer KRW; power is the average over the last two meter readings.
/// </summary>
public sealed record DriverLiveState(
    DriverPhase Phase, long EnergyWh, long PowerW, long ElapsedSeconds, long RunningCost, long HoldAmount, long? FinalCost,
    ReceiptLines? Receipt, string? Reason, DateTimeOffset? StartedAt, DateTimeOffset? StoppedAt)
{
    public bool Final => Phase is DriverPhase.Receipt or DriverPhase.Ended or DriverPhase.Debt;

    public static DriverLiveState From(DriverChargeView charge, SessionView? session, DateTimeOffset now)
    {
        if (session is null || session.State == SessionState.Created)
        {
            var phase = charge.Stage switch
            {
                DriverChargeStage.AwaitingApproval => DriverPhase.Approval,
                DriverChargeStage.Failed => DriverPhase.Ended,
                _ => DriverPhase.Starting,
            };
            return new(phase, 0, 0, 0, 0, charge.HoldAmount, null, null, charge.Reason, null, null);
        }
        var s = session;
        var running = s.Tariff is { } tariff && s.StartedAt is { } started && s.MeterStartWh is { } meterStart && s.MeterTimeline.Count > 0
            ? FeeCalculator.RunningCost(tariff, meterStart, started, s.MeterTimeline)
            : 0;
        var elapsed = s.StartedAt is { } from ? (long)Math.Max(0, ((s.StoppedAt ?? now) - from).TotalSeconds) : 0;
        var phaseOf = s.State switch
        {
            SessionState.Authorizing => DriverPhase.Starting,
            SessionState.Authorized => DriverPhase.PlugIn,
            SessionState.Charging => DriverPhase.Charging,
            SessionState.Stopped or SessionState.Settling => DriverPhase.Finishing,
            SessionState.Settled => DriverPhase.Receipt,
            SessionState.Debt => DriverPhase.Debt,
            SessionState.NeedsAttention => DriverPhase.Attention,
            // Voiding: the hold is being released; nothing more happens for the driver.
            _ => DriverPhase.Ended,
        };
        long? finalCost = s.State switch
        {
            SessionState.Settled => s.Captured - s.Refunded,
            SessionState.Stopped or SessionState.Settling when s.Fee is { } fee => Math.Min(fee, s.HoldAmount),
            SessionState.Voided or SessionState.Voiding when s.StartedAt is not null => 0,
            _ => null,
        };
        var receipt = s.Receipt ?? (finalCost is { } c && s.State is SessionState.Settling or SessionState.Stopped ? Vat.Receipt(c) : null);
        return new(phaseOf, s.EnergyWh, s.State == SessionState.Charging ? Power(s.MeterTimeline) : 0, elapsed,
            s.State == SessionState.Charging ? running : finalCost ?? running, s.HoldAmount, finalCost, receipt, s.Reason, s.StartedAt, s.StoppedAt);
    }

    /// <summary>Average power over the last two readings, in W (0 with fewer than two).</summary>
    public static long Power(IReadOnlyList<MeterSample> timeline)
    {
        if (timeline.Count < 2) return 0;
        var last = timeline[^1];
        var before = timeline[^2];
        var seconds = (last.Timestamp - before.Timestamp).TotalSeconds;
        return seconds <= 0 ? 0 : (long)Math.Round(Math.Max(0, last.EnergyWh - before.EnergyWh) * 3600 / seconds);
    }
}
