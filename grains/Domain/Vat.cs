using EvCharge.Charging;

namespace EvCharge.Domain;

/// <summary>Korean VAT is included in consumer prices: VAT = round(total / 11), supply value = total - VAT.</summary>
public static class Vat
{
    public static long Of(long total) => total < 0
        ? -Of(-total)
        : (2 * total + 11) / 22; // half-up rounding of total/11 in integers; total/11 is never exactly x.5

    public static ReceiptLines Receipt(long total)
    {
        var vat = Of(total);
        return new ReceiptLines(total, total - vat, vat);
    }
}
