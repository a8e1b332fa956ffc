using EvCharge.Charging;

namespace EvCharge.Domain;

/// <summary>
/// Splits a captured fee between the platform operator and the CPO. The platform's part is
/// floor(fee x bp / 10000) + fixed, capped at the fee; the CPO receives the remainder, so the
/// parts always add up to the fee exactly and any fraction of a won goes to the CPO.
/// </summary>
public static class SplitCalculator
{
    public static IReadOnlyList<SplitPart> Split(long fee, Commission commission, string cpoPayee, string platformPayee)
    {
        if (fee < 0) throw new ArgumentOutOfRangeException(nameof(fee), "A fee cannot be negative.");
        if (commission.BasisPoints is < 0 or > 10_000) throw new ArgumentOutOfRangeException(nameof(commission), "Commission basis points must be within 0..10000.");
        if (commission.FixedPerSession < 0) throw new ArgumentOutOfRangeException(nameof(commission), "The fixed commission cannot be negative.");

        var platform = Math.Min(fee, checked(fee * commission.BasisPoints) / 10_000 + commission.FixedPerSession);
        var cpo = fee - platform;
        var parts = new List<SplitPart>(2);
        if (cpo > 0) parts.Add(new SplitPart(cpoPayee, PayeeRole.Cpo, cpo));
        if (platform > 0) parts.Add(new SplitPart(platformPayee, PayeeRole.Platform, platform));
        return parts;
    }

    /// <summary>
    /// Reverses a refund across the original split in proportion to each part (floored), with the remainder
    /// taken from the largest part that still has room, so reversals sum to the refund and no payee gives back
    /// more than it was paid (net of earlier reversals).
    /// </summary>
    public static IReadOnlyList<SplitPart> Reverse(long refund, IReadOnlyList<SplitPart> original, IReadOnlyList<SplitPart> alreadyReversed)
    {
        var captured = original.Sum(p => p.Amount);
        var reversedSoFar = alreadyReversed.Sum(p => p.Amount);
        if (refund <= 0) throw new ArgumentOutOfRangeException(nameof(refund), "A refund must be positive.");
        if (refund > captured - reversedSoFar) throw new ArgumentOutOfRangeException(nameof(refund), "A refund cannot exceed what is left of the capture.");

        var room = original.ToDictionary(p => p.PayeeAccount, p => p.Amount - alreadyReversed.Where(r => r.PayeeAccount == p.PayeeAccount).Sum(r => r.Amount));
        var result = original.ToDictionary(p => p.PayeeAccount, p => Math.Min(room[p.PayeeAccount], refund * p.Amount / captured));
        var left = refund - result.Values.Sum();
        foreach (var p in original.OrderByDescending(p => room[p.PayeeAccount] - result[p.PayeeAccount]).ThenBy(p => p.PayeeAccount, StringComparer.Ordinal))
        {
            var take = Math.Min(left, room[p.PayeeAccount] - result[p.PayeeAccount]);
            result[p.PayeeAccount] += take;
            left -= take;
        }
        return original.Where(p => result[p.PayeeAccount] > 0)
                       .Select(p => new SplitPart(p.PayeeAccount, p.Role, result[p.PayeeAccount])).ToList();
    }
}
