using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ledger;
using EvCharge.Ocpp;
using EvCharge.Silo.Extensions;
using EvCharge.SocialSandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;

namespace EvCharge.IntegrationTests.Api;

/// <summary>
/// The real silo host (AddEvChargeSilo + MapEvChargeSilo, as Program.cs does) on Kestrel at a loopback port:
/// Orleans with ADO.NET storage in a SQLite file (or PostgreSQL), the session index and ledger in the same
/// database, the embedded MQTT broker and bridge, and a social-sandbox over real HTTP. Charges are driven through
/// the charger grains like the core flow tests; the API is called over HTTP with the configured keys.
/// </summary>
public class ApiHost : IAsyncLifetime
{
    public const string OperatorKey = "test-operator-key-0123456789";
    public const string CpoAKey = "test-cpo-a-key-0123456789abc";
    public const string CpoBKey = "test-cpo-b-key-0123456789abc";
    public const string CpoA = "cpo-alpha";
    public const string CpoB = "cpo-bravo";
    public const string PlatformPayee = "platform-operator";
    public static readonly DateTimeOffset T0 = new(2026, 11, 25, 1, 0, 0, TimeSpan.Zero);

    protected readonly string Dir = Directory.CreateTempSubdirectory("evc-api-").FullName;
    private int _chargeCount;

    public RunningSandbox Sandbox { get; protected set; } = null!;
    public WebApplication App { get; private set; } = null!;
    public Uri BaseAddress { get; private set; } = null!;
    public IGrainFactory Grains => App.Services.GetRequiredService<IGrainFactory>();
    public ILedger Ledger => App.Services.GetRequiredService<ILedger>();

    protected virtual Task<RunningSandbox> StartSandboxAsync() => SocialSandboxHost.StartAsync(new SandboxOptions());
    protected virtual Dictionary<string, string?> Storage() => new() { ["Storage:Provider"] = "Sqlite", ["Storage:DataDirectory"] = Dir };
    protected virtual void Configure(WebApplicationBuilder builder) { }

    public virtual async Task InitializeAsync()
    {
        Sandbox = await StartSandboxAsync();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = Dir });
        var settings = new Dictionary<string, string?>
        {
            ["Storage:SiloPort"] = FreePort().ToString(),
            ["Storage:GatewayPort"] = FreePort().ToString(),
            ["Payments:ProviderUrl"] = Sandbox.BaseAddress.ToString(),
            ["ChargerBridge:Port"] = FreePort().ToString(),
            ["ChargerBridge:WebSocket:Port"] = FreePort().ToString(),
            ["EvCharge:PlatformPayeeAccount"] = PlatformPayee,
            ["EvCharge:WatchdogPeriod"] = "00:00:01",
            ["EvCharge:MaxSettlementAttempts"] = "2",
            ["Auth:ApiKeys:0:Key"] = OperatorKey, ["Auth:ApiKeys:0:Role"] = "Operator", ["Auth:ApiKeys:0:Name"] = "test-operator",
            ["Auth:ApiKeys:1:Key"] = CpoAKey, ["Auth:ApiKeys:1:Role"] = "Cpo", ["Auth:ApiKeys:1:CpoId"] = CpoA,
            ["Auth:ApiKeys:2:Key"] = CpoBKey, ["Auth:ApiKeys:2:Role"] = "Cpo", ["Auth:ApiKeys:2:CpoId"] = CpoB,
        };
        foreach (var kv in Storage()) settings[kv.Key] = kv.Value;
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        Configure(builder); // before the silo reads its configuration
        builder.AddEvChargeSilo();
        // Short watchdog so retries run within a test (not via "Orleans:Reminders": Orleans reads that section as a provider).
        builder.Services.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromMilliseconds(200));
        App = builder.Build();
        App.MapEvChargeSilo();
        await App.StartAsync();
        var address = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1"));
    }

    public HttpClient Client(string? key = OperatorKey)
    {
        var http = new HttpClient { BaseAddress = BaseAddress };
        if (key is not null) http.DefaultRequestHeaders.Add("X-Api-Key", key);
        return http;
    }

    /// <summary>Creates a CPO through the API (10% commission, flat 300 KRW/kWh tariff "std").</summary>
    public async Task CreateCpoAsync(string cpoId, int basisPoints = 1_000)
    {
        using var http = Client();
        var response = await http.PutAsJsonAsync($"/api/v1/cpos/{cpoId}", new
        {
            name = cpoId, payeeAccount = Payee(cpoId), commission = new { basisPoints },
            tariffs = new[] { new { tariffId = "std", pricePerKwh = 300 } },
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public static string Payee(string cpoId) => $"{cpoId}-settlement";

    public async Task RegisterChargerAsync(string chargerId, string cpoId, long hold = 30_000)
    {
        using var http = Client();
        var response = await http.PutAsJsonAsync($"/api/v1/chargers/{chargerId}",
            new { cpoId, connectorCount = 2, tariffId = "std", holdAmount = hold, password = "charger-secret-" + chargerId });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>One paid charge of <paramref name="wh"/> Wh on connector 1 (300 KRW/kWh), settled. Returns the session id.</summary>
    public async Task<string> ChargeAsync(string chargerId, long wh)
    {
        var charger = Grains.GetGrain<IChargerGrain>(chargerId);
        await using var phone = await PhoneClient.CreateAsync(Sandbox.BaseAddress, 200_000);
        var auth = await charger.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));
        Assert.Equal(EvCharge.Charging.AuthorizationStatus.Accepted, auth.Status);
        var t = T0.AddHours(Interlocked.Increment(ref _chargeCount));
        var start = await charger.StartTransaction(new StartTransaction(1, auth.AuthorizationReference!, 1_000, t, null));
        await charger.MeterValues(new MeterValues(1, start.TransactionId, [new MeterSample(t.AddMinutes(10), 1_000 + wh / 2)]));
        await charger.StopTransaction(new StopTransaction(start.TransactionId, auth.AuthorizationReference, 1_000 + wh, t.AddMinutes(30), "Local", []));
        var view = await WaitForSessionAsync(auth.SessionId!, SessionState.Settled);
        Assert.Equal(SessionState.Settled, view.State);
        return auth.SessionId!;
    }

    /// <summary>Bounded wait for a session state; settlement runs after the stop is confirmed.</summary>
    public async Task<SessionView> WaitForSessionAsync(string sessionId, params SessionState[] states)
    {
        var session = Grains.GetGrain<IChargingSessionGrain>(sessionId);
        var view = await session.GetView();
        for (var i = 0; i < 300 && !states.Contains(view.State); i++)
        {
            await Task.Delay(100);
            view = await session.GetView();
        }
        return view;
    }

    public static int FreePort() => EvCharge.IntegrationTests.Infrastructure.LoopbackPorts.Next();

    public virtual async Task DisposeAsync()
    {
        try { await App.StopAsync(); } catch (Exception) { /* best effort on teardown */ }
        await App.DisposeAsync();
        await Sandbox.DisposeAsync();
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}

internal static class Json
{
    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
