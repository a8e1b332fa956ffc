namespace EvCharge.Domain;

/// <summary>Hold sizing and the "running cost reached the hold" rule.</summary>
public static class HoldPolicy
{
    /// <summary>The charger's own hold if configured, else the CPO's default, else the platform default.</summary>
    public static long Resolve(long chargerHold, long? cpoDefault, long platformDefault)
    {
        var hold = chargerHold > 0 ? chargerHold : cpoDefault is > 0 ? cpoDefault.Value : platformDefault;
        if (hold <= 0) throw new InvalidOperationException("No positive hold amount is configured.");
        return hold;
    }

    /// <summary>
    /// Stop once the running cost is within the margin of the hold: energy keeps flowing between meter
    /// samples and while the stop travels to the charger, so stopping exactly at the hold would overrun it.
    /// </summary>
    public static bool ShouldStop(long runningCost, long hold, int marginBasisPoints) =>
        runningCost >= hold - hold * marginBasisPoints / 10_000;

    /// <summary>Capture never exceeds the hold; whatever the fee exceeds it by is the overshoot, written off.</summary>
    public static (long Capture, long Excess) CaptureWithin(long fee, long hold) =>
        fee <= hold ? (fee, 0) : (hold, fee - hold);
}
