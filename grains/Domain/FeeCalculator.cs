using EvCharge.Charging;

namespace EvCharge.Domain;

/// <summary>How a fee was made up, in whole won after the single rounding.</summary>
public sealed record FeeBreakdown(long EnergyWh, long Fee, long EnergyPart, long TimePart, long IdlePart, bool BelowMinimum);

/// <summary>
/// Tariff applied to a meter timeline. Every part is accumulated exactly in units of 1/60000 won
/// (Wh x KRW/kWh x 60 and seconds x KRW/min x 1000 are both whole numbers in that unit), and the total is
/// rounded half-up to whole won exactly once, so no part's rounding can drift the sum.
/// </summary>
public static class FeeCalculator
{
    private const long UnitsPerWon = 60_000;
    private static readonly TimeSpan Kst = TimeSpan.FromHours(9);

    public static FeeBreakdown Compute(
        Tariff tariff, long meterStartWh, DateTimeOffset startedAt, IEnumerable<MeterSample> samples,
        long meterStopWh, DateTimeOffset stoppedAt)
    {
        var timeline = Normalize(meterStartWh, startedAt, samples, meterStopWh, stoppedAt);
        var energyWh = Math.Max(0, meterStopWh - meterStartWh);
        var seconds = Math.Max(0L, (long)(stoppedAt - startedAt).TotalSeconds);

        var energyUnits = 0L;
        for (var i = 1; i < timeline.Count; i++)
        {
            var delta = timeline[i].EnergyWh - timeline[i - 1].EnergyWh;
            if (delta <= 0) continue;
            energyUnits += checked(delta * PriceAt(tariff, timeline[i - 1].Timestamp) * 60);
        }

        var timeUnits = checked(seconds * tariff.PricePerMinute * 1000);
        var idleUnits = checked(IdleSeconds(tariff, timeline, stoppedAt) * tariff.IdleFeePerMinute * 1000);

        var belowMinimum = energyWh < tariff.MinimumBillableWh || seconds < tariff.MinimumBillableSeconds;
        var fee = belowMinimum ? 0 : RoundHalfUp(energyUnits + timeUnits + idleUnits);
        return new FeeBreakdown(energyWh, fee, RoundHalfUp(energyUnits), RoundHalfUp(timeUnits), RoundHalfUp(idleUnits), belowMinimum);
    }

    /// <summary>The running cost while charging, from the samples received so far.</summary>
    public static long RunningCost(Tariff tariff, long meterStartWh, DateTimeOffset startedAt, IReadOnlyCollection<MeterSample> samples)
    {
        if (samples.Count == 0) return 0;
        var last = samples.MaxBy(s => s.Timestamp)!;
        var stop = Math.Max(meterStartWh, samples.Max(s => s.EnergyWh));
        var breakdown = Compute(tariff with { MinimumBillableWh = 0, MinimumBillableSeconds = 0 }, meterStartWh, startedAt, samples, stop, last.Timestamp);
        return breakdown.Fee;
    }

    /// <summary>
    /// Sorted by time, de-duplicated by timestamp, clamped between the start and stop registers and made
    /// monotonic: duplicated, reordered or glitching meter values cannot change the energy that is billed,
    /// which is always exactly meterStop - meterStart.
    /// </summary>
    public static List<MeterSample> Normalize(long meterStartWh, DateTimeOffset startedAt, IEnumerable<MeterSample> samples, long meterStopWh, DateTimeOffset stoppedAt)
    {
        var top = Math.Max(meterStartWh, meterStopWh);
        var result = new List<MeterSample> { new(startedAt, meterStartWh) };
        var running = meterStartWh;
        foreach (var s in samples.Where(s => s.Timestamp > startedAt && s.Timestamp < stoppedAt)
                                 .GroupBy(s => s.Timestamp).Select(g => g.MaxBy(x => x.EnergyWh)!)
                                 .OrderBy(s => s.Timestamp))
        {
            running = Math.Clamp(s.EnergyWh, running, top);
            result.Add(new MeterSample(s.Timestamp, running));
        }
        result.Add(new MeterSample(stoppedAt < startedAt ? startedAt : stoppedAt, top));
        return result;
    }

    public static long PriceAt(Tariff tariff, DateTimeOffset at)
    {
        var hour = at.ToOffset(Kst).Hour;
        foreach (var band in tariff.TimeOfUse)
        {
            var inBand = band.StartHour <= band.EndHour
                ? hour >= band.StartHour && hour < band.EndHour
                : hour >= band.StartHour || hour < band.EndHour;
            if (inBand) return band.PricePerKwh;
        }
        return tariff.PricePerKwh;
    }

    /// <summary>Idle time: from the last moment energy still flowed to the stop, less the grace period.</summary>
    private static long IdleSeconds(Tariff tariff, List<MeterSample> timeline, DateTimeOffset stoppedAt)
    {
        if (tariff.IdleFeePerMinute == 0 || timeline.Count < 2) return 0;
        var lastFlow = timeline[0].Timestamp;
        for (var i = 1; i < timeline.Count; i++)
            if (timeline[i].EnergyWh > timeline[i - 1].EnergyWh) lastFlow = timeline[i].Timestamp;
        var idle = (long)(stoppedAt - lastFlow).TotalSeconds - tariff.IdleGraceMinutes * 60L;
        return Math.Max(0, idle);
    }

    private static long RoundHalfUp(long units) => (units + UnitsPerWon / 2) / UnitsPerWon;
}
