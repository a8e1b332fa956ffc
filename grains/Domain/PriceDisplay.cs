using System.Globalization;
using System.Text;
using System.Text.Json;
using EvCharge.Charging;

namespace EvCharge.Domain;

/// <summary>
/// A tariff as a driver reads it, in Korean and English: the price per kWh now and by time of day, per-minute and idle
/// fees, minimums, the hold, and that VAT is included (Korean consumer prices are quoted with VAT). Used by the driver's
/// page and by the price messages on the charger's display, so both say the same thing.
/// </summary>
public static class PriceText
{
    public static readonly TimeSpan Kst = TimeSpan.FromHours(9);

    public static string Won(long amount, string lang) =>
        lang == "ko" ? amount.ToString("#,0", CultureInfo.InvariantCulture) + "원" : amount.ToString("#,0", CultureInfo.InvariantCulture) + " KRW";

    public static string Kwh(long wh) => (wh / 1000m).ToString("0.00", CultureInfo.InvariantCulture) + " kWh";

    /// <summary>The time-of-use bands in plain words, e.g. "22:00–06:00 180원/kWh".</summary>
    public static IEnumerable<string> Bands(Tariff t, string lang) =>
        t.TimeOfUse.Select(b => $"{b.StartHour:00}:00–{b.EndHour:00}:00 {Won(b.PricePerKwh, lang)}/kWh");

    /// <summary>One line for a display: the energy price now, other bands, time and idle fees, VAT included.</summary>
    public static string Summary(Tariff t, DateTimeOffset at, string lang)
    {
        var now = FeeCalculator.PriceAt(t, at);
        var parts = new List<string> { lang == "ko" ? $"지금 {Won(now, lang)}/kWh" : $"now {Won(now, lang)}/kWh" };
        if (t.TimeOfUse.Count > 0)
            parts.Add((lang == "ko" ? "기본 " : "otherwise ") + $"{Won(t.PricePerKwh, lang)}/kWh; " + string.Join(", ", Bands(t, lang)));
        if (t.PricePerMinute > 0) parts.Add(lang == "ko" ? $"시간 요금 {Won(t.PricePerMinute, lang)}/분" : $"{Won(t.PricePerMinute, lang)}/min");
        if (t.IdleFeePerMinute > 0)
            parts.Add(lang == "ko"
                ? $"충전 완료 후 {t.IdleGraceMinutes}분이 지나면 점유 요금 {Won(t.IdleFeePerMinute, lang)}/분"
                : $"idle fee {Won(t.IdleFeePerMinute, lang)}/min from {t.IdleGraceMinutes} min after charging ends");
        parts.Add(lang == "ko" ? "부가세 포함" : "VAT included");
        return string.Join(", ", parts);
    }

    /// <summary>The minimums in plain words, or null when the tariff has none.</summary>
    public static string? Minimums(Tariff t, string lang)
    {
        if (t.MinimumBillableWh <= 0 && t.MinimumBillableSeconds <= 0) return null;
        var wh = t.MinimumBillableWh > 0 ? Kwh(t.MinimumBillableWh) : null;
        var min = t.MinimumBillableSeconds > 0 ? $"{(t.MinimumBillableSeconds + 59) / 60}" : null;
        return lang == "ko"
            ? $"{string.Join(" 또는 ", new[] { wh is null ? null : wh + " 미만", min is null ? null : min + "분 미만" }.Where(x => x is not null))} 충전은 요금이 없습니다 (홀드 전액 취소)"
            : $"Charges under {string.Join(" or under ", new[] { wh, min is null ? null : min + " min" }.Where(x => x is not null))} are free (the hold is released in full)";
    }

    /// <summary>What the driver agrees to when identified: the price and the hold.</summary>
    public static string UserPrice(Tariff t, long hold, DateTimeOffset at, string lang) =>
        Summary(t, at, lang) + (lang == "ko" ? $". 승인 금액(홀드) {Won(hold, lang)}, 실제 요금만 결제" : $". Hold {Won(hold, lang)}; only the final cost is charged");

    /// <summary>The final cost line after the stop.</summary>
    public static string Final(long cost, long energyWh, TimeSpan duration, string lang)
    {
        var vat = Vat.Of(cost);
        var minutes = (int)Math.Max(0, Math.Round(duration.TotalMinutes));
        return lang == "ko"
            ? $"충전 {Kwh(energyWh)}, {minutes}분, 요금 {Won(cost, lang)} (부가세 {Won(vat, lang)} 포함)"
            : $"{Kwh(energyWh)}, {minutes} min, total {Won(cost, lang)} (VAT {Won(vat, lang)} included)";
    }
}

/// <summary>
/// The Open Charge Alliance's "OCPP &amp; California Pricing Requirements" messages for OCPP 1.6 (docs/protocol.md,
/// "Prices on the charger's display"): DataTransfer CALLs from the central system with vendor id
/// <see cref="VendorId"/> and message ids <see cref="SetUserPrice"/>, <see cref="RunningCost"/> and
/// <see cref="FinalCost"/>, whose <c>data</c> is a JSON string. Money is in the currency's units: whole won here, so
/// every cost and price is an integer even where the whitepaper's type is decimal. The text is Korean in
/// <c>priceText</c> (the display's default language) and English in <c>priceTextExtra</c> (v3.0 multi-language support).
/// </summary>
public static class CostMessages
{
    public const string VendorId = "org.openchargealliance.costmsg";
    public const string SetUserPrice = "SetUserPrice";
    public const string RunningCost = "RunningCost";
    public const string FinalCost = "FinalCost";
    private const string DefaultLanguage = "ko";
    private const string ExtraLanguage = "en";

    /// <summary>SetUserPrice: the driver-specific price, shown once the driver is identified (by the idTag the charger will use).</summary>
    public static string UserPrice(string idToken, Tariff tariff, long hold, DateTimeOffset at) => Json(w =>
    {
        w.WriteString("idToken", idToken);
        WriteTexts(w, lang => PriceText.UserPrice(tariff, hold, at, lang));
    });

    /// <summary>
    /// RunningCost: the cost up to the meter value it is based on, the unit prices the charger needs to count on by itself
    /// until the next one, the next time-of-use period, and a trigger asking for a meter value when that period begins.
    /// <paramref name="idle"/>: no energy flowed since the previous meter value (the tariff's idle fee may apply).
    /// </summary>
    public static string Running(int transactionId, MeterSample at, long cost, bool idle, Tariff tariff) => Json(w =>
    {
        w.WriteNumber("transactionId", transactionId);
        w.WriteString("timestamp", at.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        w.WriteNumber("meterValue", at.EnergyWh);
        w.WriteNumber("cost", cost);
        w.WriteString("state", idle ? "Idle" : "Charging");
        WritePrices(w, tariff, FeeCalculator.PriceAt(tariff, at.Timestamp));
        if (NextPeriod(tariff, at.Timestamp) is { } next)
        {
            w.WriteStartObject("nextPeriod");
            w.WriteString("atTime", next.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            WritePrices(w, tariff, next.PricePerKwh);
            w.WriteEndObject();
            w.WriteStartObject("triggerMeterValue");
            w.WriteString("atTime", next.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }
    });

    /// <summary>FinalCost: the total the driver pays, the text for the display, and the receipt link as a QR code.</summary>
    public static string Final(int transactionId, long cost, long energyWh, TimeSpan duration, Uri? receipt) => Json(w =>
    {
        w.WriteNumber("transactionId", transactionId);
        w.WriteNumber("cost", cost);
        WriteTexts(w, lang => PriceText.Final(cost, energyWh, duration, lang));
        if (receipt is not null) w.WriteString("qrCodeText", receipt.AbsoluteUri);
    });

    /// <summary>
    /// Whether a RunningCost is due for a meter value at <paramref name="sampleTime"/>: the first after the start is
    /// always due, later ones once <paramref name="interval"/> of meter time has passed since the last one sent.
    /// </summary>
    public static bool RunningCostDue(DateTimeOffset? lastSentFor, DateTimeOffset sampleTime, TimeSpan interval) =>
        lastSentFor is not { } last || sampleTime - last >= interval;

    /// <summary>When the energy price next changes after <paramref name="at"/> (time-of-use bands are whole KST hours), and to what.</summary>
    public static (DateTimeOffset At, long PricePerKwh)? NextPeriod(Tariff tariff, DateTimeOffset at)
    {
        if (tariff.TimeOfUse.Count == 0) return null;
        var now = FeeCalculator.PriceAt(tariff, at);
        var local = at.ToOffset(PriceText.Kst);
        var hour = new DateTimeOffset(local.Year, local.Month, local.Day, local.Hour, 0, 0, PriceText.Kst);
        for (var i = 1; i <= 24; i++)
        {
            var candidate = hour.AddHours(i);
            var price = FeeCalculator.PriceAt(tariff, candidate);
            if (price != now) return (candidate.ToUniversalTime(), price);
        }
        return null;
    }

    private static void WritePrices(Utf8JsonWriter w, Tariff tariff, long pricePerKwh)
    {
        w.WriteStartObject("chargingPrice");
        w.WriteNumber("kWhPrice", pricePerKwh);
        w.WriteNumber("hourPrice", tariff.PricePerMinute * 60);
        w.WriteNumber("flatFee", 0);
        w.WriteEndObject();
        if (tariff.IdleFeePerMinute > 0)
        {
            w.WriteStartObject("idlePrice");
            w.WriteNumber("graceMinutes", tariff.IdleGraceMinutes);
            w.WriteNumber("hourPrice", tariff.IdleFeePerMinute * 60);
            w.WriteEndObject();
        }
    }

    private static void WriteTexts(Utf8JsonWriter w, Func<string, string> text)
    {
        w.WriteString("priceText", text(DefaultLanguage));
        w.WriteStartArray("priceTextExtra");
        w.WriteStartObject();
        w.WriteString("format", "UTF8");
        w.WriteString("language", ExtraLanguage);
        w.WriteString("content", text(ExtraLanguage));
        w.WriteEndObject();
        w.WriteEndArray();
    }

    private static string Json(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The DataTransfer.req payload carrying one of these messages (its <c>data</c> is the message's JSON as a string).</summary>
    public static string DataTransfer(string messageId, string data) =>
        JsonSerializer.Serialize(new { vendorId = VendorId, messageId, data });
}
