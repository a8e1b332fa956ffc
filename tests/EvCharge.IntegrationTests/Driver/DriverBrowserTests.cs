using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Bridge;
using EvCharge.IntegrationTests.OperatorConsole;
using Microsoft.Playwright;
using ZXing;
using ZXing.Common;
using ZXing.QrCode;
using static EvCharge.IntegrationTests.Bridge.Frames;

namespace EvCharge.IntegrationTests.Driver;

/// <summary>The silo host of <see cref="DriverHost"/> and a real headless Chromium (Debian's /usr/bin/chromium via Playwright).</summary>
public sealed class DriverBrowserHost : DriverHost
{
    public const string ChargerId = "CP-GANGNAM-01";
    private IPlaywright? _playwright;
    public IBrowser Browser { get; private set; } = null!;
    public SimulatedCharger Charger { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        using (var op = Client())
        {
            // Time-of-use prices with an idle fee, so the page has every kind of price to explain.
            var tou = await op.PutAsJsonAsync($"/api/v1/cpos/{CpoA}/tariffs/tou", new
            {
                pricePerKwh = 320, timeOfUse = new[] { new { startHour = 22, endHour = 8, pricePerKwh = 180 } }, idleFeePerMinute = 100, idleGraceMinutes = 10,
            });
            tou.EnsureSuccessStatusCode();
        }
        await RegisterAsync(ChargerId, tariffId: "tou");
        Charger = await ConnectAsync(ChargerId);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium", Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>A phone: a fresh browser context (no cookies) the size of one, in Korean or English.</summary>
    public async Task<IPage> PhoneAsync(string locale = "ko-KR")
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 390, Height = 844 }, DeviceScaleFactor = 2, IsMobile = true, HasTouch = true,
            Locale = locale, TimezoneId = "Asia/Seoul",
        });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    public override async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>
/// Issue 14 in a real browser: print the connector's QR code from the operators' API, scan it (the browser decodes the
/// PNG, ZXing reads the code), read the price, pay with the sandbox wallet, watch the running cost rise while a simulated
/// charger on MQTT charges, stop from the phone, read the receipt, reopen it from its link. Screenshots of every screen go
/// to docs/images for docs/driver.md.
/// </summary>
public sealed class DriverBrowserTests(DriverBrowserHost fx) : IClassFixture<DriverBrowserHost>
{
    private static async Task ShotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ConsoleHost.ImagesDirectory, $"driver-{name}.png"), FullPage = true });

    /// <summary>Scans a QR code the way a phone camera app would: the PNG decoded by the browser, the code by ZXing.</summary>
    private async Task<string> ScanAsync(byte[] png)
    {
        var page = await fx.PhoneAsync();
        var pixels = await page.EvaluateAsync<int[]>(@"async (src) => {
            const img = new Image(); img.src = src; await img.decode();
            const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
            const g = c.getContext('2d'); g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            return [c.width, c.height, ...d];
        }", "data:image/png;base64," + Convert.ToBase64String(png));
        await page.Context.CloseAsync();
        var (width, height) = (pixels[0], pixels[1]);
        var rgba = pixels.Skip(2).Select(v => (byte)v).ToArray();
        var source = new RGBLuminanceSource(rgba, width, height, RGBLuminanceSource.BitmapFormat.RGBA32);
        var result = new QRCodeReader().decode(new BinaryBitmap(new HybridBinarizer(source)));
        Assert.NotNull(result);
        return result.Text;
    }

    private static object Meter(int transactionId, DateTimeOffset at, long wh) => new
    {
        connectorId = 1, transactionId,
        meterValue = new[] { new { timestamp = Timestamp(at), sampledValue = new[] { new { value = wh.ToString(), measurand = "Energy.Active.Import.Register", unit = "Wh" } } } },
    };

    /// <summary>Taps "Pay and start" and follows the phone to the wallet's page (or fails with what the page said instead).</summary>
    private static async Task PayAsync(IPage page)
    {
        await page.ClickAsync("#pay");
        try
        {
            // Committed is enough: the wallet's form is waited for by what the test does next. The load event can lag
            // far behind on a busy machine (seen: at the wallet's URL with its form shown, no load event in 20 s).
            await page.WaitForURLAsync(new Regex("/checkout/co_"), new() { WaitUntil = WaitUntilState.Commit });
            await page.WaitForSelectorAsync("#approve");
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the wallet's page did not open; the phone is at {page.Url}: {await page.InnerTextAsync("body")}");
        }
    }

    private static long Won(string text) => long.Parse(Regex.Replace(text, "[^0-9]", ""));

    [Fact]
    public async Task A_driver_scans_the_QR_code_pays_in_the_wallet_watches_the_cost_rise_stops_and_reads_the_receipt()
    {
        var charger = fx.Charger;
        var wallet = await fx.WalletAsync(100_000);

        // The operator prints the connector's QR code; the phone scans it.
        using var op = fx.Client();
        var png = await op.GetByteArrayAsync($"/api/v1/chargers/{DriverBrowserHost.ChargerId}/connectors/1/qr?format=png&pixelsPerModule=8");
        var svg = await op.GetStringAsync($"/api/v1/chargers/{DriverBrowserHost.ChargerId}/connectors/1/qr?format=svg");
        Assert.StartsWith("<svg", svg.TrimStart().StartsWith("<?xml") ? svg[(svg.IndexOf("?>") + 2)..].TrimStart() : svg.TrimStart());
        var url = await ScanAsync(png);
        Assert.Equal(new Uri(fx.BaseAddress, $"/c/{DriverBrowserHost.ChargerId}/1").AbsoluteUri, url);

        // Before committing: the charger, the connector, the price now and by time of day, the idle fee, the hold.
        var page = await fx.PhoneAsync();
        await page.GotoAsync(url);
        Assert.Equal("사용 가능", await page.InnerTextAsync("#status"));
        Assert.Contains("테헤란로", await page.InnerTextAsync("#location"));
        var priceNow = Won(await page.InnerTextAsync("#price-now"));
        Assert.Contains(priceNow, new[] { 320L, 180L }); // day or night, whenever the test runs
        var bands = await page.InnerTextAsync("#time-of-use");
        Assert.Contains("22:00–08:00", bands);
        Assert.Contains("180원/kWh", bands);
        Assert.Contains("320원/kWh", bands);
        Assert.Contains("100원/분", await page.InnerTextAsync("#idle-fee"));
        Assert.Equal("30,000원", await page.InnerTextAsync("#hold"));
        await ShotAsync(page, "connector");

        var english = await fx.PhoneAsync("en-US");
        await english.GotoAsync(url);
        Assert.Equal("Available", await english.InnerTextAsync("#status"));
        Assert.Equal("30,000 KRW", await english.InnerTextAsync("#hold"));
        await ShotAsync(english, "connector-en");
        await english.Context.CloseAsync();

        // Pay: the page hands the phone to the wallet, where the driver approves the hold.
        await PayAsync(page);
        Assert.Equal("30,000원", await page.InnerTextAsync("#amount"));
        await page.FillAsync("#walletId", wallet);
        await ShotAsync(page, "wallet");
        await page.ClickAsync("#approve");
        await page.WaitForURLAsync(new Regex("/s/EV[0-9A-F]{18}/"));
        var sessionPage = page.Url;
        var sessionId = Regex.Match(sessionPage, "/s/(EV[0-9A-F]{18})/").Groups[1].Value;

        // The charger: the driver's price on its display, then RemoteStartTransaction with the authorization reference.
        var price = await charger.ExpectAsync("DataTransfer", "SetUserPrice");
        await charger.AnswerAsync(price, new { status = "Accepted" });
        var start = await charger.ExpectAsync("RemoteStartTransaction");
        Assert.Equal(sessionId, start.Payload.GetProperty("idTag").GetString());
        await charger.AnswerAsync(start, new { status = "Accepted" });
        await page.Locator("#phase").Filter(new() { HasText = "케이블을 차에 연결해 주세요" }).WaitForAsync();
        await ShotAsync(page, "plug-in");

        // The cable goes in: the charger starts; the page switches to the live figures by itself.
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-12);
        Result(await charger.CallAsync("Authorize", new { idTag = sessionId }));
        var tx = Result(await charger.CallAsync("StartTransaction", new { connectorId = 1, idTag = sessionId, meterStart = 200_000, timestamp = Timestamp(t0) }))
            .GetProperty("transactionId").GetInt32();
        Result(await charger.CallAsync("StatusNotification", new { connectorId = 1, errorCode = "NoError", status = "Charging" }));
        Assert.Equal(0, (await charger.ExpectAsync("DataTransfer", "RunningCost")).Transfer.Data.GetProperty("cost").GetInt64());
        await page.Locator("#phase").Filter(new() { HasText = "충전 중" }).WaitForAsync();

        var seen = new List<long>();
        foreach (var (minute, wh) in new[] { (4, 203_000L), (8, 207_500L), (12, 212_400L) })
        {
            Result(await charger.CallAsync("MeterValues", Meter(tx, t0.AddMinutes(minute), wh)));
            var onDisplay = (await charger.ExpectAsync("DataTransfer", "RunningCost")).Transfer.Data.GetProperty("cost").GetInt64();
            var energy = $"{(wh - 200_000) / 1000m:0.00} kWh";
            await page.Locator("#energy").Filter(new() { HasText = energy }).WaitForAsync();
            seen.Add(Won(await page.InnerTextAsync("#cost")));
            Assert.Equal(onDisplay, seen[^1]); // the phone and the charger's display show the same running cost
        }
        Assert.True(seen[0] > 0 && seen[0] < seen[1] && seen[1] < seen[2], $"the running cost must rise: {string.Join(", ", seen)}");
        var session = await fx.Grains.GetGrain<IChargingSessionGrain>(sessionId).GetView();
        Assert.Equal(EvCharge.Domain.FeeCalculator.RunningCost(session.Tariff!, 200_000, t0, session.MeterTimeline), seen[2]);
        Assert.NotEqual("0.0 kW", await page.InnerTextAsync("#power"));
        // The figures came from the live stream into the page as it stood, not from reloading it.
        Assert.NotNull(await page.GetAttributeAsync("#live", "data-updated"));
        await ShotAsync(page, "charging");

        // Stop from the phone: RemoteStopTransaction reaches the charger, which stops and reports the meter.
        await page.ClickAsync("#stop button");
        var stop = await charger.ExpectAsync("RemoteStopTransaction");
        Assert.Equal(tx, stop.Payload.GetProperty("transactionId").GetInt32());
        await charger.AnswerAsync(stop, new { status = "Accepted" });
        Result(await charger.CallAsync("StopTransaction", new { transactionId = tx, idTag = sessionId, meterStop = 212_600, timestamp = Timestamp(t0.AddMinutes(13)), reason = "Remote" }));
        var finalCost = (await charger.ExpectAsync("DataTransfer", "FinalCost")).Transfer.Data.GetProperty("cost").GetInt64();

        await page.Locator("#receipt").WaitForAsync();
        await page.Locator("#phase").Filter(new() { HasText = "결제 완료" }).WaitForAsync();
        var settled = await fx.WaitForSessionAsync(sessionId, SessionState.Settled);
        Assert.Equal(finalCost, settled.Captured);
        Assert.Equal(settled.Receipt!.Total, Won(await page.InnerTextAsync("#total")));
        Assert.Equal(settled.Receipt.SupplyValue, Won(await page.InnerTextAsync("#supply")));
        Assert.Equal(settled.Receipt.Vat, Won(await page.InnerTextAsync("#vat")));
        Assert.Equal(settled.Receipt.Total, settled.Receipt.SupplyValue + settled.Receipt.Vat);
        await ShotAsync(page, "receipt");
        await page.Context.CloseAsync();

        // The page was closed; the receipt link opens it again, on another phone too.
        var again = await fx.PhoneAsync("en-US");
        var response = await again.GotoAsync(sessionPage.Split('?')[0]);
        Assert.Equal((int)HttpStatusCode.OK, response!.Status);
        Assert.Equal(settled.Receipt.Total, Won(await again.InnerTextAsync("#total")));
        Assert.Contains("Paid", await again.InnerTextAsync("#phase"));
        await again.Context.CloseAsync();
    }

    [Fact]
    public async Task A_refused_start_tells_the_driver_why_and_that_nothing_was_charged()
    {
        var charger = fx.Charger;
        var wallet = await fx.WalletAsync(100_000);
        var page = await fx.PhoneAsync();
        await page.GotoAsync(new Uri(fx.BaseAddress, $"/c/{DriverBrowserHost.ChargerId}/2").AbsoluteUri);
        await PayAsync(page);
        await page.FillAsync("#walletId", wallet);
        await page.ClickAsync("#approve");
        await page.WaitForURLAsync(new Regex("/s/EV[0-9A-F]{18}/"));
        await charger.AnswerAsync(await charger.ExpectAsync("DataTransfer", "SetUserPrice"), new { status = "Accepted" });
        var start = await charger.ExpectAsync("RemoteStartTransaction");
        Assert.Equal(2, start.Payload.GetProperty("connectorId").GetInt32());
        await charger.AnswerAsync(start, new { status = "Rejected" });

        await page.Locator("#reason").WaitForAsync();
        Assert.Equal("충전기가 시작을 거절했습니다.", await page.InnerTextAsync("#reason"));
        Assert.Contains("결제된 금액은 없습니다", await page.InnerTextAsync("#live"));
        await ShotAsync(page, "refused");
        await page.Context.CloseAsync();
    }
}
