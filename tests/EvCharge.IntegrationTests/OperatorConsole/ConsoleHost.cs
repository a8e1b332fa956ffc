using System.Net.Http.Json;
using Microsoft.Extensions.Configuration;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Api;
using EvCharge.IntegrationTests.Bridge;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.SocialSandbox;
using Microsoft.Playwright;
using static EvCharge.IntegrationTests.Bridge.Frames;

namespace EvCharge.IntegrationTests.OperatorConsole;

/// <summary>
/// The real silo host (see <see cref="ApiHost"/>) with a small network on it, and a real headless Chromium (Debian's
/// /usr/bin/chromium, driven by Playwright) to look at it through the console:
/// <list type="bullet">
/// <item>CPO alpha: CP-A-LIVE, a charger on a real MQTT connection with a transaction in progress; CP-A-FAULT, connected
/// with a faulted connector; CP-A-1, with settled charges; CP-A-OFF, registered and never connected; CP-A-STOP, which the
/// remote-stop test connects and charges on itself.</item>
/// <item>CPO bravo: CP-B-1 with settled charges. Alpha's key must never show any of it.</item>
/// </list>
/// </summary>
public sealed class ConsoleHost : ApiHost
{
    public const string LiveCharger = "CP-A-LIVE";
    public const string StopCharger = "CP-A-STOP";
    public const string FaultCharger = "CP-A-FAULT";
    public const string AlphaCharger = "CP-A-1";
    public const string OfflineCharger = "CP-A-OFF";
    public const string BravoCharger = "CP-B-1";

    private static readonly string[] ChromiumArgs =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    private IPlaywright? _playwright;
    private readonly List<SimulatedCharger> _chargers = [];
    private readonly List<PhoneClient> _phones = [];

    public IBrowser Browser { get; private set; } = null!;
    public SimulatedCharger Live { get; private set; } = null!;
    public int LiveTransactionId { get; private set; }
    public string LiveSessionId { get; private set; } = "";
    /// <summary>Sessions that started a transaction, per CPO: what the charges-per-hour chart must add up to.</summary>
    public Dictionary<string, int> Started { get; } = new() { [CpoA] = 0, [CpoB] = 0 };
    public List<string> AlphaSessions { get; } = [];
    public List<string> BravoSessions { get; } = [];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await CreateCpoAsync(CpoA);
        await CreateCpoAsync(CpoB, basisPoints: 800);
        using (var op = Client())
        {
            // A time-of-use tariff too, so the tariffs page has something to show.
            var tou = await op.PutAsJsonAsync($"/api/v1/cpos/{CpoA}/tariffs/night", new
            {
                pricePerKwh = 320, timeOfUse = new[] { new { startHour = 22, endHour = 6, pricePerKwh = 180 } }, idleFeePerMinute = 100, idleGraceMinutes = 10,
            });
            tou.EnsureSuccessStatusCode();
        }
        foreach (var (id, cpo) in new[] { (LiveCharger, CpoA), (StopCharger, CpoA), (FaultCharger, CpoA), (AlphaCharger, CpoA), (OfflineCharger, CpoA), (BravoCharger, CpoB) })
            await RegisterChargerAsync(id, cpo);

        foreach (var wh in new[] { 12_000L, 20_000, 7_500 }) AlphaSessions.Add(await ChargeAsync(AlphaCharger, wh));
        foreach (var wh in new[] { 9_000L, 15_000 }) BravoSessions.Add(await ChargeAsync(BravoCharger, wh));
        Started[CpoA] += 3;
        Started[CpoB] += 2;

        var fault = await ConnectAsync(FaultCharger);
        Result(await fault.CallAsync("StatusNotification", new { connectorId = 2, errorCode = "GroundFailure", status = "Faulted" }));
        Live = await ConnectAsync(LiveCharger);
        (LiveSessionId, LiveTransactionId) = await StartChargeAsync(Live);

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium", Headless = true, Args = ChromiumArgs,
        });
    }

    /// <summary>A charger on a real MQTT connection to the silo's embedded broker, booted.</summary>
    public async Task<SimulatedCharger> ConnectAsync(string chargerId)
    {
        var port = App.Configuration.GetValue<int>("ChargerBridge:Port");
        var charger = await SimulatedCharger.ConnectAsync(port, chargerId, "charger-secret-" + chargerId);
        _chargers.Add(charger);
        Result(await charger.CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC100", firmwareVersion = "1.4.2" }));
        return charger;
    }

    /// <summary>
    /// A paid charge in progress on connector 1 over MQTT, as a charger runs it: the driver's payment code in a
    /// DataTransfer, StartTransaction at meter 100,000 Wh half an hour ago, three meter readings up to 110,400 Wh.
    /// </summary>
    public async Task<(string SessionId, int TransactionId)> StartChargeAsync(SimulatedCharger charger)
    {
        var phone = await PhoneClient.CreateAsync(Sandbox.BaseAddress, 200_000);
        _phones.Add(phone);
        var code = await phone.ShowPaymentCodeAsync();
        var answer = Result(await charger.CallAsync("DataTransfer", new
        {
            vendorId = "kr.evcharge", messageId = "PaymentAuthorize",
            data = JsonSerializer.Serialize(new { connectorId = 1, provider = "kakaopay", paymentCode = code }),
        }));
        using var data = JsonDocument.Parse(answer.GetProperty("data").GetString()!);
        var sessionId = data.RootElement.GetProperty("authorizationReference").GetString()!;
        var started = DateTimeOffset.UtcNow.AddMinutes(-30);
        Result(await charger.CallAsync("StatusNotification", new { connectorId = 1, errorCode = "NoError", status = "Charging" }));
        var transactionId = Result(await charger.CallAsync("StartTransaction", new { connectorId = 1, idTag = sessionId, meterStart = 100_000, timestamp = Timestamp(started) }))
            .GetProperty("transactionId").GetInt32();
        lock (Started) Started[CpoA]++;
        foreach (var (minute, wh) in new[] { (10, 103_200L), (20, 106_900L), (30, 110_400L) })
            Result(await charger.CallAsync("MeterValues", new
            {
                connectorId = 1, transactionId,
                meterValue = new[]
                {
                    new { timestamp = Timestamp(started.AddMinutes(minute)), sampledValue = new[] { new { value = wh.ToString(), measurand = "Energy.Active.Import.Register", unit = "Wh" } } },
                },
            }));
        return (sessionId, transactionId);
    }

    /// <summary>
    /// A charge on CP-A-1's connector 2 whose capture the provider refuses (the sandbox's fault switch is left on: the
    /// caller turns it off with <see cref="FaultSettings.None"/>): it waits in NeedsAttention for an operator.
    /// </summary>
    public async Task<string> StuckSessionAsync()
    {
        var charger = Grains.GetGrain<IChargerGrain>(AlphaCharger);
        await using var phone = await PhoneClient.CreateAsync(Sandbox.BaseAddress, 100_000);
        var auth = await charger.AuthorizePayment(2, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));
        var start = await charger.StartTransaction(new Ocpp.StartTransaction(2, auth.AuthorizationReference!, 0, T0, null));
        lock (Started) Started[CpoA]++;
        Sandbox.Faults.Set(new FaultSettings(ErrorRate: 1.0, AppliesTo: ["capture"]));
        await charger.StopTransaction(new Ocpp.StopTransaction(start.TransactionId, null, 4_000, T0.AddMinutes(25), "Local", []));
        var view = await WaitForSessionAsync(auth.SessionId!, SessionState.NeedsAttention);
        Assert.Equal(SessionState.NeedsAttention, view.State);
        return auth.SessionId!;
    }

    /// <summary>A fresh browser context (its own cookies) signed in with <paramref name="key"/>.</summary>
    public async Task<(IBrowserContext Context, IPage Page)> SignInAsync(string key)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseAddress.ToString().TrimEnd('/'),
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            TimezoneId = "Asia/Seoul",
            Locale = "en-US",
        });
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync(); // data-confirm forms
        await page.GotoAsync("/console");
        Assert.EndsWith("/console/signin?returnUrl=%2Fconsole", page.Url);
        await page.FillAsync("#apiKey", key);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync("**/console");
        return (context, page);
    }

    /// <summary>
    /// Where the browser tests save their screenshots: docs/images in the repository this test was built from when
    /// <c>EVCHARGE_UPDATE_SCREENSHOTS=1</c> (scripts/update-screenshots.sh; the screenshots are documentation), otherwise a
    /// directory of the test run, so an ordinary test run leaves the working tree as it was.
    /// </summary>
    public static string ImagesDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("EVCHARGE_UPDATE_SCREENSHOTS") != "1")
                return Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "evcharge-screenshots")).FullName;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Orleans.EvCharge.sln")))
                    return Directory.CreateDirectory(Path.Combine(dir.FullName, "docs", "images")).FullName;
            throw new DirectoryNotFoundException("Orleans.EvCharge.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public override async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        foreach (var c in _chargers) await c.DisposeAsync();
        foreach (var p in _phones) await p.DisposeAsync();
        await base.DisposeAsync();
    }
}
