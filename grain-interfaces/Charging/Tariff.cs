namespace EvCharge.Charging;

/// <summary>
/// A CPO's price list. All money is integer KRW; prices per kWh apply to Wh with one rounding at the end
/// (see <c>FeeCalculator</c>). Time-of-use bands override <see cref="PricePerKwh"/> for the hours they cover,
/// in Korea Standard Time, because that is where the tariffs are published.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record Tariff(
    [property: Id(0)] string TariffId,
    [property: Id(1)] long PricePerKwh,
    [property: Id(2)] IReadOnlyList<TimeOfUseBand> TimeOfUse,
    [property: Id(3)] long PricePerMinute = 0,
    [property: Id(4)] long IdleFeePerMinute = 0,
    [property: Id(5)] int IdleGraceMinutes = 0,
    [property: Id(6)] long MinimumBillableWh = 0,
    [property: Id(7)] int MinimumBillableSeconds = 0)
{
    public static Tariff Flat(string id, long pricePerKwh) => new(id, pricePerKwh, Array.Empty<TimeOfUseBand>());
}

/// <summary>Price per kWh for local hours [StartHour, EndHour); EndHour may wrap past midnight (22..6).</summary>
[GenerateSerializer, Immutable]
public sealed record TimeOfUseBand(
    [property: Id(0)] int StartHour,
    [property: Id(1)] int EndHour,
    [property: Id(2)] long PricePerKwh);

/// <summary>One cumulative energy register reading from the charger's meter.</summary>
[GenerateSerializer, Immutable]
public sealed record MeterSample(
    [property: Id(0)] DateTimeOffset Timestamp,
    [property: Id(1)] long EnergyWh);

/// <summary>The platform operator's cut from a CPO contract: basis points of the fee plus a fixed amount per session.</summary>
[GenerateSerializer, Immutable]
public sealed record Commission(
    [property: Id(0)] int BasisPoints,
    [property: Id(1)] long FixedPerSession = 0);

/// <summary>One payee's part of a captured fee.</summary>
[GenerateSerializer, Immutable]
public sealed record SplitPart(
    [property: Id(0)] string PayeeAccount,
    [property: Id(1)] PayeeRole Role,
    [property: Id(2)] long Amount);

[GenerateSerializer]
public enum PayeeRole { Cpo = 0, Platform = 1 }

/// <summary>What the driver's phone is shown: total, supply value and VAT (VAT = round(total/11)).</summary>
[GenerateSerializer, Immutable]
public sealed record ReceiptLines(
    [property: Id(0)] long Total,
    [property: Id(1)] long SupplyValue,
    [property: Id(2)] long Vat);
