using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Domain;

namespace EvCharge.UnitTests.Driver;

/// <summary>The OCA California pricing messages (docs/protocol.md): names, fields and values, and when RunningCost is due.</summary>
public sealed class CostMessagesTests
{
    private static readonly Tariff Night = new("night", 320, [new TimeOfUseBand(22, 6, 180)], PricePerMinute: 0, IdleFeePerMinute: 100, IdleGraceMinutes: 10);
    // 2026-11-25 20:30 KST: 320 KRW/kWh now, 180 from 22:00 KST (13:00 UTC).
    private static readonly DateTimeOffset Evening = new(2026, 11, 25, 11, 30, 0, TimeSpan.Zero);

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement;

    [Fact]
    public void SetUserPrice_names_the_idTag_and_says_the_price_and_hold_in_Korean_and_English()
    {
        var m = Parse(CostMessages.UserPrice("EV0123456789ABCDEF01", Night, 30_000, Evening));
        Assert.Equal("EV0123456789ABCDEF01", m.GetProperty("idToken").GetString());
        var ko = m.GetProperty("priceText").GetString()!;
        Assert.Contains("320원/kWh", ko);
        Assert.Contains("22:00–06:00 180원/kWh", ko);
        Assert.Contains("30,000원", ko);
        Assert.Contains("부가세 포함", ko);
        var en = Assert.Single(m.GetProperty("priceTextExtra").EnumerateArray());
        Assert.Equal("UTF8", en.GetProperty("format").GetString());
        Assert.Equal("en", en.GetProperty("language").GetString());
        Assert.Contains("now 320 KRW/kWh", en.GetProperty("content").GetString());
        Assert.Contains("VAT included", en.GetProperty("content").GetString());
    }

    [Fact]
    public void RunningCost_carries_the_meter_value_cost_unit_prices_and_the_next_period_with_a_trigger_at_its_start()
    {
        var m = Parse(CostMessages.Running(17, new MeterSample(Evening, 110_400), 3_120, idle: false, Night));
        Assert.Equal(17, m.GetProperty("transactionId").GetInt32());
        Assert.Equal("2026-11-25T11:30:00Z", m.GetProperty("timestamp").GetString());
        Assert.Equal(110_400, m.GetProperty("meterValue").GetInt64());
        Assert.Equal(3_120, m.GetProperty("cost").GetInt64());
        Assert.Equal("Charging", m.GetProperty("state").GetString());
        var price = m.GetProperty("chargingPrice");
        Assert.Equal(320, price.GetProperty("kWhPrice").GetInt64());
        Assert.Equal(0, price.GetProperty("hourPrice").GetInt64());
        Assert.Equal(0, price.GetProperty("flatFee").GetInt64());
        Assert.Equal(10, m.GetProperty("idlePrice").GetProperty("graceMinutes").GetInt32());
        Assert.Equal(6_000, m.GetProperty("idlePrice").GetProperty("hourPrice").GetInt64());
        var next = m.GetProperty("nextPeriod");
        Assert.Equal("2026-11-25T13:00:00Z", next.GetProperty("atTime").GetString());
        Assert.Equal(180, next.GetProperty("chargingPrice").GetProperty("kWhPrice").GetInt64());
        Assert.Equal("2026-11-25T13:00:00Z", m.GetProperty("triggerMeterValue").GetProperty("atTime").GetString());
    }

    [Fact]
    public void RunningCost_for_a_flat_tariff_has_no_next_period_or_idle_price_and_idle_is_stated()
    {
        var m = Parse(CostMessages.Running(3, new MeterSample(Evening, 5_000), 0, idle: true, Tariff.Flat("std", 300) with { PricePerMinute = 5 }));
        Assert.Equal("Idle", m.GetProperty("state").GetString());
        Assert.Equal(300, m.GetProperty("chargingPrice").GetProperty("kWhPrice").GetInt64());
        Assert.Equal(300, m.GetProperty("chargingPrice").GetProperty("hourPrice").GetInt64());
        Assert.False(m.TryGetProperty("nextPeriod", out _));
        Assert.False(m.TryGetProperty("triggerMeterValue", out _));
        Assert.False(m.TryGetProperty("idlePrice", out _));
    }

    [Fact]
    public void FinalCost_has_the_total_the_texts_and_the_receipt_link_as_qr_code_text()
    {
        var link = new Uri("https://charge.example.kr/s/EV0123456789ABCDEF01/tok");
        var m = Parse(CostMessages.Final(17, 3_630, 12_100, TimeSpan.FromMinutes(65), link));
        Assert.Equal(17, m.GetProperty("transactionId").GetInt32());
        Assert.Equal(3_630, m.GetProperty("cost").GetInt64());
        Assert.Equal("충전 12.10 kWh, 65분, 요금 3,630원 (부가세 330원 포함)", m.GetProperty("priceText").GetString());
        Assert.Equal("12.10 kWh, 65 min, total 3,630 KRW (VAT 330 KRW included)", m.GetProperty("priceTextExtra")[0].GetProperty("content").GetString());
        Assert.Equal(link.AbsoluteUri, m.GetProperty("qrCodeText").GetString());
    }

    [Fact]
    public void The_DataTransfer_request_uses_the_OCA_vendor_id_and_carries_the_message_as_a_string()
    {
        var req = Parse(CostMessages.DataTransfer(CostMessages.FinalCost, """{"transactionId":1,"cost":0}"""));
        Assert.Equal("org.openchargealliance.costmsg", req.GetProperty("vendorId").GetString());
        Assert.Equal("FinalCost", req.GetProperty("messageId").GetString());
        Assert.Equal(JsonValueKind.String, req.GetProperty("data").ValueKind);
        Assert.Equal(1, Parse(req.GetProperty("data").GetString()!).GetProperty("transactionId").GetInt32());
    }

    [Fact]
    public void RunningCost_is_due_first_and_then_once_per_interval_of_meter_time()
    {
        var interval = TimeSpan.FromMinutes(1);
        Assert.True(CostMessages.RunningCostDue(null, Evening, interval));
        Assert.False(CostMessages.RunningCostDue(Evening, Evening.AddSeconds(59), interval));
        Assert.True(CostMessages.RunningCostDue(Evening, Evening.AddSeconds(60), interval));
        Assert.True(CostMessages.RunningCostDue(Evening, Evening.AddSeconds(1), TimeSpan.Zero)); // 0: every meter value
    }

    [Theory]
    [InlineData(2026, 11, 25, 12, 59, 2026, 11, 25, 13, 180)] // 21:59 KST -> 22:00 KST, night price
    [InlineData(2026, 11, 25, 13, 0, 2026, 11, 25, 21, 320)]  // 22:00 KST (night) -> 06:00 KST, day price
    [InlineData(2026, 11, 25, 20, 30, 2026, 11, 25, 21, 320)] // 05:30 KST -> 06:00 KST
    public void The_next_period_is_the_next_hour_the_price_changes(int y, int mo, int d, int h, int mi, int ny, int nmo, int nd, int nh, long price)
    {
        var next = CostMessages.NextPeriod(Night, new DateTimeOffset(y, mo, d, h, mi, 0, TimeSpan.Zero));
        Assert.Equal((new DateTimeOffset(ny, nmo, nd, nh, 0, 0, TimeSpan.Zero), price), next);
    }

    [Fact]
    public void Minimums_are_said_in_plain_words_or_not_at_all()
    {
        Assert.Null(PriceText.Minimums(Night, "ko"));
        var t = Tariff.Flat("m", 300) with { MinimumBillableWh = 500, MinimumBillableSeconds = 120 };
        Assert.Equal("0.50 kWh 미만 또는 2분 미만 충전은 요금이 없습니다 (홀드 전액 취소)", PriceText.Minimums(t, "ko"));
        Assert.Equal("Charges under 0.50 kWh or under 2 min are free (the hold is released in full)", PriceText.Minimums(t, "en"));
    }
}
