using System.Net;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.IntegrationTests.Api;
using Microsoft.Playwright;
using static EvCharge.IntegrationTests.Bridge.Frames;

namespace EvCharge.IntegrationTests.OperatorConsole;

/// <summary>
/// Issue 15: the operators' console in a real headless Chromium against the real silo host. Signs in, opens every
/// page (saving a screenshot of each to docs/images for docs/console.md), refunds a session, remote-stops a live
/// charge on a real MQTT connection, and checks that a CPO's key shows that CPO's data and nothing else.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class ConsoleBrowserTests(ConsoleHost fx)
{
    private static readonly LocatorAssertionsToHaveTextOptions Within = new() { Timeout = 20_000 };

    private static async Task ShotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ConsoleHost.ImagesDirectory, $"console-{name}.png"), FullPage = true });

    private static async Task<string> TextAsync(IPage page) => await page.InnerTextAsync("main");

    [Fact]
    public async Task Operator_signs_in_and_every_page_shows_the_network()
    {
        var (context, page) = await fx.SignInAsync(ApiHost.OperatorKey);
        await using var _ = context;

        // Fleet: counts over the whole network, a row per charger, statuses from the chargers themselves.
        await page.WaitForSelectorAsync("#live-indicator.on"); // the server-sent event stream is connected
        Assert.Equal("6", await page.InnerTextAsync("[data-count=total]"));
        Assert.Equal("1", await page.InnerTextAsync("[data-count=faulted]"));
        Assert.Equal("1", await page.InnerTextAsync("[data-count=charging]"));
        Assert.Equal("Charging", await page.InnerTextAsync($"tr[data-charger={ConsoleHost.LiveCharger}] [data-field=status]"));
        Assert.Equal("Faulted", await page.InnerTextAsync($"tr[data-charger={ConsoleHost.FaultCharger}] [data-field=status]"));
        Assert.Equal("Offline", await page.InnerTextAsync($"tr[data-charger={ConsoleHost.OfflineCharger}] [data-field=status]"));
        Assert.Contains(ConsoleHost.BravoCharger, await TextAsync(page));
        await ShotAsync(page, "fleet");

        // A charger with a transaction in progress: its meter chart, the stop button, the registration form.
        await page.ClickAsync($"a[href='/console/chargers/{ConsoleHost.LiveCharger}']");
        await page.WaitForSelectorAsync("#live svg.chart path.line");
        Assert.Equal(4, await page.Locator("#live svg.chart circle.dot").CountAsync()); // the start and three meter readings
        Assert.Contains("10.4 kWh", await page.InnerTextAsync("#live"));
        Assert.Equal(1, await page.Locator("#live button.danger").CountAsync());
        Assert.Equal(1, await page.Locator("form#registration").CountAsync());
        await ShotAsync(page, "charger");

        // Sessions: filters and keyset paging, 2 a page over alpha's sessions (every one of them started a transaction).
        await page.GotoAsync($"/console/sessions?cpoId={ApiHost.CpoA}&limit=2");
        var seen = new List<string>();
        var alpha = fx.Started[ApiHost.CpoA];
        for (var pages = 1; ; pages++)
        {
            seen.AddRange(await page.Locator("#sessions tbody tr td:nth-child(2) a").AllInnerTextsAsync());
            if (pages == 1) await ShotAsync(page, "sessions");
            if (await page.Locator("#older").CountAsync() == 0) { Assert.Equal((alpha + 1) / 2, pages); break; }
            await page.ClickAsync("#older");
        }
        Assert.Equal(alpha, seen.Count);
        Assert.Equal(alpha, seen.Distinct().Count());
        Assert.DoesNotContain(fx.BravoSessions[0], seen);
        await page.GotoAsync($"/console/sessions?state=Settled&chargerId={ConsoleHost.BravoCharger}");
        Assert.Equal(2, await page.Locator("#sessions tbody tr").CountAsync());

        // A settled session: meter plot, fee, split, receipt, ledger journals.
        await page.GotoAsync($"/console/sessions/{fx.AlphaSessions[1]}");
        Assert.Equal("Settled", await page.InnerTextAsync("#session-state"));
        Assert.Contains("₩6,000", await page.InnerTextAsync("#fee"));         // 20 kWh at 300 KRW/kWh
        Assert.Contains("₩5,400", await page.InnerTextAsync("#splits"));      // CPO 90 %
        Assert.Contains("₩545", await page.InnerTextAsync("#receipt"));       // VAT = round(6,000 / 11)
        Assert.Contains("Capture", await page.InnerTextAsync("#ledger"));
        Assert.Equal(1, await page.Locator("svg.chart path.line").CountAsync());
        await ShotAsync(page, "session");

        await page.GotoAsync("/console/payees");
        Assert.Contains(ApiHost.Payee(ApiHost.CpoA), await page.InnerTextAsync("#payees"));
        Assert.Contains(ApiHost.PlatformPayee, await page.InnerTextAsync("#payees"));
        await ShotAsync(page, "payees");
        await page.ClickAsync($"a[href='/console/payees/{ApiHost.Payee(ApiHost.CpoB)}']");
        Assert.Contains("₩6,624", await page.InnerTextAsync("main"));          // 92 % of 2,700 and of 4,500: 2,484 + 4,140
        await ShotAsync(page, "payee");
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#statement-csv"));
        Assert.StartsWith($"statement-{ApiHost.Payee(ApiHost.CpoB)}-", download.SuggestedFilename);
        var csv = (await File.ReadAllLinesAsync((await download.PathAsync())!)).ToList();
        Assert.Equal("payee_account,date_kst,posted_at_kst,session_id,kind,amount_krw,reference", csv[0]);
        Assert.Equal([2_484L, 4_140L], csv.Skip(1).Select(l => long.Parse(l.Split(',')[5])).Order());
        Assert.All(fx.BravoSessions, s => Assert.Contains(csv, l => l.Contains($",{s},Remit,")));

        await page.GotoAsync("/console/cpos");
        await ShotAsync(page, "cpos");
        await page.ClickAsync($"a[href='/console/cpos/{ApiHost.CpoA}']");
        Assert.Contains("22:00–06:00 ₩180/kWh", await page.InnerTextAsync("#tariffs"));
        await ShotAsync(page, "cpo");

        await page.GotoAsync("/console/charts");
        Assert.Equal(3, await page.Locator("svg.chart").CountAsync());
        Assert.True(await page.Locator("#chart-charges rect.bar").CountAsync() == 24);
        Assert.Contains($"Total {fx.Started[ApiHost.CpoA] + fx.Started[ApiHost.CpoB]}.", await page.InnerTextAsync("#chart-charges"));
        await ShotAsync(page, "charts");

        await page.GotoAsync("/console/reconciliation");
        await page.ClickAsync("#reconcile button");
        await page.WaitForSelectorAsync("#reconciliation-summary");
        var numbers = await page.Locator("#reconciliation-summary .n").AllInnerTextsAsync(); // checked, matched, findings
        Assert.Equal((fx.Started[ApiHost.CpoA] + fx.Started[ApiHost.CpoB]).ToString(), numbers[0]); // every session of today
        Assert.Equal(numbers[0], numbers[1]);
        Assert.Equal("0", numbers[2]);
        await ShotAsync(page, "reconciliation");

        await page.GotoAsync("/console/ledger");
        Assert.Equal("OK", await page.InnerTextAsync("#invariants-ok"));
        await ShotAsync(page, "ledger");

        // The cookie the console runs on: HttpOnly, Secure, SameSite=Strict, only for /console.
        var cookie = (await context.CookiesAsync()).Single(c => c.Name == "evcharge.console");
        Assert.True(cookie.HttpOnly);
        Assert.True(cookie.Secure);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.Equal("/console", cookie.Path);
    }

    [Fact]
    public async Task Operator_refunds_part_of_a_session_with_a_reason()
    {
        var (context, page) = await fx.SignInAsync(ApiHost.OperatorKey);
        await using var _ = context;
        var sessionId = fx.AlphaSessions[0]; // 12 kWh: 3,600 KRW captured
        await page.GotoAsync($"/console/sessions/{sessionId}");
        await page.FillAsync("#refund input[name=amount]", "1000");
        await page.FillAsync("#refund input[name=reason]", "connector cable fault reported by the driver");
        await page.ClickAsync("#refund button");
        await page.WaitForSelectorAsync("p.notice.ok");
        Assert.Contains("Refunded ₩1,000", await page.InnerTextAsync("p.notice.ok"));
        Assert.Contains("₩1,000", await page.InnerTextAsync("#fee"));
        Assert.Contains("RefundReversal", await page.InnerTextAsync("#ledger"));
        await ShotAsync(page, "refund");

        var view = await fx.Grains.GetGrain<IChargingSessionGrain>(sessionId).GetView();
        Assert.Equal(1_000, view.Refunded);
        var entries = await fx.Ledger.GetSessionEntriesAsync(sessionId);
        Assert.Equal(-1_000, entries.Where(e => e.Kind == JournalKind.RefundReversal && e.Account.StartsWith("payee:")).Sum(e => e.Amount));
        Assert.True((await fx.Ledger.CheckInvariantsAsync()).Ok);

        // Reloading the page shows the result and repeats nothing (redirect after post).
        await page.ReloadAsync();
        Assert.Equal(1_000, (await fx.Grains.GetGrain<IChargingSessionGrain>(sessionId).GetView()).Refunded);

        // More than is left is refused with the reason, and nothing moves.
        await page.FillAsync("#refund input[name=amount]", "2601");
        await page.EvaluateAsync("document.querySelector('#refund input[name=amount]').removeAttribute('max')");
        await page.FillAsync("#refund input[name=reason]", "too much");
        await page.ClickAsync("#refund button");
        await page.WaitForSelectorAsync("#refund .field-error");
        Assert.Contains("exceeds", await page.InnerTextAsync("#refund .field-error"));
        Assert.Equal(1_000, (await fx.Grains.GetGrain<IChargingSessionGrain>(sessionId).GetView()).Refunded);
    }

    [Fact]
    public async Task Operator_remote_stops_a_live_charge_and_the_fleet_updates_without_a_reload()
    {
        var (context, page) = await fx.SignInAsync(ApiHost.OperatorKey);
        await using var _ = context;
        var fleetPage = await context.NewPageAsync();
        await fleetPage.GotoAsync("/console");
        await fleetPage.WaitForSelectorAsync("#live-indicator.on");
        var row = $"tr[data-charger={ConsoleHost.StopCharger}] [data-field=status]";

        // The charger connects and a driver starts a charge while the fleet page is open.
        await using var charger = await fx.ConnectAsync(ConsoleHost.StopCharger);
        var (sessionId, transactionId) = await fx.StartChargeAsync(charger);
        await Assertions.Expect(fleetPage.Locator(row)).ToHaveTextAsync("Charging", Within);

        await page.GotoAsync($"/console/chargers/{ConsoleHost.StopCharger}");
        await page.ClickAsync("#live button.danger");
        await page.WaitForSelectorAsync("p.notice.ok");
        Assert.Contains($"RemoteStopTransaction sent for transaction {transactionId}", await page.InnerTextAsync("p.notice.ok"));

        // The charger receives the OCPP call on its MQTT down topic, confirms it and stops.
        var call = await charger.NextOtherFrameAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("RemoteStopTransaction", call[2].GetString());
        Assert.Equal(transactionId, call[3].GetProperty("transactionId").GetInt32());
        await charger.PublishAsync(EvCharge.ChargerBridge.Mqtt.ChargerTopics.Up(ConsoleHost.StopCharger),
            $$"""[3,{{JsonSerializer.Serialize(call[1].GetString())}},{"status":"Accepted"}]""");
        Result(await charger.CallAsync("StopTransaction", new
        {
            transactionId, idTag = sessionId, meterStop = 110_400, timestamp = Timestamp(DateTimeOffset.UtcNow), reason = "Remote",
        }));
        Result(await charger.CallAsync("StatusNotification", new { connectorId = 1, errorCode = "NoError", status = "Available" }));
        var settled = await fx.WaitForSessionAsync(sessionId, SessionState.Settled);
        Assert.Equal(SessionState.Settled, settled.State);
        Assert.Equal(3_120, settled.Captured); // 10.4 kWh at 300 KRW/kWh

        // The fleet page, untouched since it loaded, follows over server-sent events; so does the charger page.
        await Assertions.Expect(fleetPage.Locator(row)).ToHaveTextAsync("Available", Within);
        await page.WaitForSelectorAsync("#live[data-live-count='0']");
    }

    [Fact]
    public async Task A_session_the_provider_would_not_capture_waits_in_the_attention_queue_until_the_operator_resumes_it()
    {
        var (context, page) = await fx.SignInAsync(ApiHost.OperatorKey);
        await using var _ = context;
        string sessionId;
        try
        {
            sessionId = await fx.StuckSessionAsync();
            await page.GotoAsync("/console/attention");
            Assert.Contains(sessionId, await page.InnerTextAsync("#attention"));
            Assert.Contains("NeedsAttention", await page.InnerTextAsync("#attention"));
            await ShotAsync(page, "attention");
        }
        finally
        {
            fx.Sandbox.Faults.Set(SocialSandbox.FaultSettings.None);
        }
        // The provider answers again; the operator resumes (the watchdog may have got there first: settled either way).
        await page.ClickAsync($"#attention tr:has(a[href='/console/sessions/{sessionId}']) button");
        await page.WaitForSelectorAsync("p.notice");
        var settled = await fx.WaitForSessionAsync(sessionId, SessionState.Settled);
        Assert.Equal(SessionState.Settled, settled.State);
        Assert.Equal(1_200, settled.Captured); // 4 kWh at 300 KRW/kWh
        await page.GotoAsync("/console/attention");
        Assert.DoesNotContain(sessionId, await page.InnerTextAsync("main"));
    }

    [Fact]
    public async Task A_cpo_sees_only_its_own_chargers_sessions_settlement_and_contract()
    {
        var (context, page) = await fx.SignInAsync(ApiHost.CpoAKey);
        await using var _ = context;
        var fleet = await TextAsync(page);
        Assert.Contains(ConsoleHost.AlphaCharger, fleet);
        Assert.DoesNotContain(ConsoleHost.BravoCharger, fleet);
        Assert.Equal("5", await page.InnerTextAsync("[data-count=total]"));
        Assert.Equal(0, await page.Locator("header nav a[href='/console/reconciliation']").CountAsync());
        await ShotAsync(page, "cpo-fleet");

        await page.GotoAsync("/console/sessions?limit=200");
        var sessions = await TextAsync(page);
        Assert.All(fx.AlphaSessions, s => Assert.Contains(s, sessions));
        Assert.All(fx.BravoSessions, s => Assert.DoesNotContain(s, sessions));
        Assert.Contains("kakaopay:****", sessions); // the wallet is the operator's to see
        await page.GotoAsync($"/console/sessions?cpoId={ApiHost.CpoB}"); // asking for bravo's gives alpha's
        Assert.DoesNotContain(fx.BravoSessions[0], await TextAsync(page));

        // Another CPO's pages are not found, the operator's pages are not allowed, and no button moves money.
        foreach (var url in new[] { $"/console/chargers/{ConsoleHost.BravoCharger}", $"/console/sessions/{fx.BravoSessions[0]}", $"/console/cpos/{ApiHost.CpoB}",
                     $"/console/payees/{ApiHost.Payee(ApiHost.CpoB)}", $"/console/payees/{ApiHost.PlatformPayee}" })
        {
            var response = await page.GotoAsync(url);
            Assert.Equal(404, response!.Status);
            Assert.Contains("Not found", await TextAsync(page));
        }
        foreach (var url in new[] { "/console/reconciliation", "/console/ledger" })
        {
            var response = await page.GotoAsync(url);
            Assert.Equal(403, response!.Status);
            Assert.EndsWith("/console/denied?returnUrl=" + Uri.EscapeDataString(url), page.Url);
        }
        await page.GotoAsync($"/console/sessions/{fx.AlphaSessions[2]}");
        Assert.Equal(0, await page.Locator("#refund").CountAsync());
        await page.GotoAsync("/console/charts");
        Assert.Contains($"Total {fx.Started[ApiHost.CpoA]}.", await page.InnerTextAsync("#chart-charges")); // alpha's charges only
        await page.GotoAsync("/console/payees");
        Assert.DoesNotContain(ApiHost.PlatformPayee, await TextAsync(page));

        // Even a hand-made POST of another CPO's refund or a remote stop is refused: the handlers check the role.
        var csrf = await page.Locator("form.who input[name=__csrf]").GetAttributeAsync("value");
        var refund = await page.APIRequest.PostAsync($"/console/sessions/{fx.AlphaSessions[2]}?handler=Refund", new APIRequestContextOptions
        {
            Form = FormOf(page.APIRequest, ("amount", "100"), ("reason", "x"), ("idempotencyKey", "k1"), ("__csrf", csrf!)),
            MaxRedirects = 0,
        });
        Assert.Equal(302, refund.Status);
        Assert.Contains("/console/denied", refund.Headers["location"]);
        Assert.Equal(0, (await fx.Grains.GetGrain<IChargingSessionGrain>(fx.AlphaSessions[2]).GetView()).Refunded);

        // The live stream carries alpha's chargers only.
        var events = await page.EvaluateAsync<string>("""
            () => new Promise(resolve => {
              const seen = [];
              const source = new EventSource('/console/fleet/events');
              source.addEventListener('charger', e => seen.push(JSON.parse(e.data).chargerId));
              setTimeout(() => { source.close(); resolve(seen.join(',')); }, 1500);
            })
            """);
        Assert.Contains(ConsoleHost.AlphaCharger, events);
        Assert.DoesNotContain(ConsoleHost.BravoCharger, events);
    }

    [Fact]
    public async Task Sign_in_refuses_a_wrong_key_and_posts_without_the_anti_forgery_token_are_refused()
    {
        await using var context = await fx.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fx.BaseAddress.ToString().TrimEnd('/') });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/console/signin");
        await page.FillAsync("#apiKey", "not-a-key-of-this-silo-0000");
        await page.ClickAsync("button[type=submit]");
        Assert.Contains("That key is not valid.", await page.InnerTextAsync(".field-error"));
        Assert.DoesNotContain(await context.CookiesAsync(), c => c.Name == "evcharge.console");
        await ShotAsync(page, "signin");

        // Signed in, a POST that does not carry the page's anti-forgery token (what another site's form would send) is 400.
        var (signedIn, operatorPage) = await fx.SignInAsync(ApiHost.OperatorKey);
        await using var __ = signedIn;
        var forged = await operatorPage.APIRequest.PostAsync($"/console/sessions/{fx.AlphaSessions[2]}?handler=Refund", new APIRequestContextOptions
        {
            Form = FormOf(operatorPage.APIRequest, ("amount", "100"), ("reason", "forged"), ("idempotencyKey", "forged-1")),
            MaxRedirects = 0,
        });
        Assert.Equal(400, forged.Status);
        Assert.Equal(0, (await fx.Grains.GetGrain<IChargingSessionGrain>(fx.AlphaSessions[2]).GetView()).Refunded);

        // The REST API does not take the console's session (its cookie is scoped to /console): it wants the key itself.
        var api = await operatorPage.APIRequest.GetAsync("/api/v1/sessions");
        Assert.Equal(401, api.Status);
    }

    private static IFormData FormOf(IAPIRequestContext request, params (string Name, string Value)[] fields)
    {
        var form = request.CreateFormData();
        foreach (var (name, value) in fields) form.Set(name, value);
        return form;
    }
}

[CollectionDefinition(Name)]
public sealed class ConsoleCollection : ICollectionFixture<ConsoleHost>
{
    public const string Name = "console";
}
