using System.Text.Json;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using static EvCharge.IntegrationTests.Bridge.Frames;

namespace EvCharge.IntegrationTests.Driver;

/// <summary>
/// The OCA California pricing messages on a real MQTT connection during an ordinary payment-code charge (the seed's
/// flow, unchanged): SetUserPrice once the driver is identified, RunningCost right after the start and then once per
/// minute of meter time (not for every meter value), FinalCost after the stop. A charger not registered for them gets none.
/// </summary>
public sealed class PriceMessagesTests(DriverHost fx) : IClassFixture<DriverHost>
{
    private static object Meter(int transactionId, DateTimeOffset at, long wh) => new
    {
        connectorId = 1, transactionId,
        meterValue = new[] { new { timestamp = Timestamp(at), sampledValue = new[] { new { value = wh.ToString(), measurand = "Energy.Active.Import.Register", unit = "Wh" } } } },
    };

    private static async Task<(string Session, int Tx)> PaidStartAsync(Bridge.TestCharger charger, PhoneClient phone, DateTimeOffset t0)
    {
        var answer = Result(await charger.CallAsync("DataTransfer", new
        {
            vendorId = "kr.evcharge", messageId = "PaymentAuthorize",
            data = JsonSerializer.Serialize(new { connectorId = 1, provider = "kakaopay", paymentCode = await phone.ShowPaymentCodeAsync() }),
        }));
        Assert.Equal("Accepted", answer.GetProperty("status").GetString());
        var session = JsonDocument.Parse(answer.GetProperty("data").GetString()!).RootElement.GetProperty("authorizationReference").GetString()!;
        var tx = Result(await charger.CallAsync("StartTransaction", new { connectorId = 1, idTag = session, meterStart = 100_000, timestamp = Timestamp(t0) }))
            .GetProperty("transactionId").GetInt32();
        return (session, tx);
    }

    [Fact]
    public async Task Prices_follow_the_charge_once_a_minute_of_meter_time_and_the_final_cost_comes_after_the_stop()
    {
        const string id = "CP-PRICE-1";
        await fx.RegisterAsync(id);
        var charger = await fx.ConnectAsync(id);
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 200_000);
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-10);
        var (session, tx) = await PaidStartAsync(charger, phone, t0);

        var user = (await charger.ExpectAsync("DataTransfer", "SetUserPrice")).Transfer.Data;
        Assert.Equal(session, user.GetProperty("idToken").GetString());
        Assert.Contains("300원/kWh", user.GetProperty("priceText").GetString());
        Assert.Contains("300 KRW/kWh", user.GetProperty("priceTextExtra")[0].GetProperty("content").GetString());
        var atStart = (await charger.ExpectAsync("DataTransfer", "RunningCost")).Transfer.Data;
        Assert.Equal(tx, atStart.GetProperty("transactionId").GetInt32());
        Assert.Equal(100_000, atStart.GetProperty("meterValue").GetInt64());
        Assert.Equal(0, atStart.GetProperty("cost").GetInt64());
        Assert.Equal(300, atStart.GetProperty("chargingPrice").GetProperty("kWhPrice").GetInt64());

        // Meter values every 20 s: a RunningCost at 1:00 and at 2:00 of meter time, none in between.
        var sent = new List<(int Second, long Cost, long Meter)>();
        foreach (var (second, wh) in new[] { (20, 100_500L), (40, 101_000L), (60, 101_500L), (61, 101_520L), (80, 102_000L), (100, 102_500L), (120, 103_000L) })
        {
            Result(await charger.CallAsync("MeterValues", Meter(tx, t0.AddSeconds(second), wh)));
            if (second is 60 or 120)
            {
                var running = (await charger.ExpectAsync("DataTransfer", "RunningCost")).Transfer.Data;
                sent.Add((second, running.GetProperty("cost").GetInt64(), running.GetProperty("meterValue").GetInt64()));
                Assert.Equal(Timestamp(t0.AddSeconds(second)), running.GetProperty("timestamp").GetString());
                Assert.Equal("Charging", running.GetProperty("state").GetString());
            }
            else await charger.ExpectNothingAsync(TimeSpan.FromMilliseconds(700));
        }
        Assert.Equal([(60, 450L, 101_500L), (120, 900L, 103_000L)], sent); // 1.5 kWh and 3 kWh at 300 KRW/kWh

        Result(await charger.CallAsync("StopTransaction", new { transactionId = tx, meterStop = 103_200, timestamp = Timestamp(t0.AddSeconds(130)), reason = "Local" }));
        var final = (await charger.ExpectAsync("DataTransfer", "FinalCost")).Transfer.Data;
        Assert.Equal(960, final.GetProperty("cost").GetInt64());
        Assert.Equal("충전 3.20 kWh, 2분, 요금 960원 (부가세 87원 포함)", final.GetProperty("priceText").GetString());
        Assert.Equal(new Uri(fx.BaseAddress, await fx.Links.PathFor(session)).AbsoluteUri, final.GetProperty("qrCodeText").GetString());
        var settled = await fx.WaitForSessionAsync(session, SessionState.Settled);
        Assert.Equal(960, settled.Captured);
        Assert.Equal(960, settled.Fee);
    }

    [Fact]
    public async Task A_charger_not_registered_for_price_messages_gets_none_and_charges_as_before()
    {
        const string id = "CP-PRICE-0";
        await fx.RegisterAsync(id, pricingMessages: false);
        var charger = await fx.ConnectAsync(id);
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 200_000);
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-10);
        var (session, tx) = await PaidStartAsync(charger, phone, t0);
        Result(await charger.CallAsync("MeterValues", Meter(tx, t0.AddSeconds(90), 101_000)));
        Result(await charger.CallAsync("StopTransaction", new { transactionId = tx, meterStop = 101_000, timestamp = Timestamp(t0.AddSeconds(100)), reason = "Local" }));
        Assert.Equal(300, (await fx.WaitForSessionAsync(session, SessionState.Settled)).Captured);
        await charger.ExpectNothingAsync(TimeSpan.FromSeconds(1));
    }
}
