using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Driver;
using EvCharge.IntegrationTests.Api;
using EvCharge.IntegrationTests.Bridge;
using EvCharge.Silo.Driver;
using EvCharge.SocialSandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using static EvCharge.IntegrationTests.Bridge.Frames;

namespace EvCharge.IntegrationTests.Driver;

/// <summary>
/// The real silo host (<see cref="ApiHost"/>: Kestrel, embedded MQTT broker, SQLite, the sandbox over HTTP) on a fixed
/// loopback port, so the drivers' links it hands out (to wallets, to chargers' displays) are real addresses. Short
/// remote-start deadlines so the timeouts happen within a test; RunningCost once a minute of meter time.
/// </summary>
public class DriverHost : ApiHost
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(6);
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(3);
    private readonly List<IAsyncDisposable> _owned = [];

    protected override void Configure(WebApplicationBuilder builder)
    {
        var port = FreePort();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Driver:PublicBaseUrl"] = $"http://127.0.0.1:{port}",
            ["Driver:RemoteStartTimeout"] = StartTimeout.ToString(),
            ["Driver:RemoteStartAnswerTimeout"] = AnswerTimeout.ToString(),
            ["Driver:RunningCostInterval"] = "00:01:00",
            ["Driver:StartsPerAddressPerMinute"] = "3",
            ["Driver:StartsPerConnectorPerMinute"] = "2",
        });
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await CreateCpoAsync(CpoA);
    }

    public DriverLinks Links => App.Services.GetRequiredService<DriverLinks>();

    /// <summary>A charger registered for the CPO (2 connectors, 30,000 KRW hold, flat 300 KRW/kWh) that shows prices.</summary>
    public async Task RegisterAsync(string chargerId, bool pricingMessages = true, string tariffId = "std")
    {
        using var http = Client();
        var response = await http.PutAsJsonAsync($"/api/v1/chargers/{chargerId}", new
        {
            cpoId = CpoA, connectorCount = 2, tariffId, holdAmount = 30_000, password = "charger-secret-" + chargerId,
            location = "서울 강남구 테헤란로 152 지하 2층", pricingMessages,
        });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>A charger on a real MQTT connection, booted, its connectors reported Available.</summary>
    public async Task<SimulatedCharger> ConnectAsync(string chargerId)
    {
        var port = App.Configuration.GetValue<int>("ChargerBridge:Port");
        var charger = await SimulatedCharger.ConnectAsync(port, chargerId, "charger-secret-" + chargerId);
        _owned.Add(charger);
        Result(await charger.CallAsync("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC100", firmwareVersion = "1.4.2" }));
        foreach (var connector in new[] { 1, 2 })
            Result(await charger.CallAsync("StatusNotification", new { connectorId = connector, errorCode = "NoError", status = "Available" }));
        return charger;
    }

    public async Task<string> WalletAsync(long balance = 200_000)
    {
        using var sandbox = new HttpClient { BaseAddress = Sandbox.BaseAddress };
        var created = await sandbox.PostAsJsonAsync("/v1/wallets", new { owner = "driver", balance });
        created.EnsureSuccessStatusCode();
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("walletId").GetString()!;
    }

    /// <summary>
    /// The phone's side of Scan &amp; Charge over real HTTP: the checkout is opened for the connector (what the page's
    /// "Pay and start" does), the driver approves on the sandbox wallet's page, the wallet sends the phone back to our
    /// approval address, which starts the hold and the remote start. Returns the session id.
    /// </summary>
    public async Task<string> ScanAndApproveAsync(string chargerId, int connectorId, string walletId)
    {
        var sessionId = DriverExtensions.NewSessionId();
        var page = await Links.PathFor(sessionId);
        var checkout = await Grains.GetGrain<IDriverChargeGrain>(sessionId).BeginCheckout(new DriverCheckoutRequest(
            chargerId, connectorId, "kakaopay", new Uri(BaseAddress, page + "/approved"), new Uri(BaseAddress, page + "/cancelled"), null));
        Assert.Equal(DriverChargeStage.AwaitingApproval, checkout.Stage);

        using var phone = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var approved = await phone.PostAsync(checkout.ApprovalUrl, new FormUrlEncodedContent(new Dictionary<string, string> { ["action"] = "approve", ["walletId"] = walletId }));
        Assert.Equal(HttpStatusCode.Redirect, approved.StatusCode);
        var back = approved.Headers.Location!;
        Assert.StartsWith(new Uri(BaseAddress, page + "/approved?approval=").AbsoluteUri, back.AbsoluteUri);
        var landed = await phone.GetAsync(back);
        Assert.Equal(HttpStatusCode.Redirect, landed.StatusCode);
        Assert.Equal(page, landed.Headers.Location!.OriginalString);
        return sessionId;
    }

    /// <summary>The sandbox's record of the session's hold (order id = session id).</summary>
    public AuthorizationView Hold(string sessionId) => Assert.Single(Sandbox.Store.FindAuthorizations(sessionId, null));

    public override async Task DisposeAsync()
    {
        foreach (var o in _owned) await o.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>What a scripted charger reads from the server: its CALLs, in order.</summary>
public static class ServerCalls
{
    public sealed record Call(string MessageId, string Action, JsonElement Payload)
    {
        /// <summary>For DataTransfer: the message id and the parsed data.</summary>
        public (string? VendorId, string? MessageId, JsonElement Data) Transfer =>
            (Payload.GetProperty("vendorId").GetString(), Payload.GetProperty("messageId").GetString(),
             JsonDocument.Parse(Payload.GetProperty("data").GetString()!).RootElement.Clone());
    }

    public static async Task<Call> NextCallAsync(this TestCharger charger, TimeSpan? timeout = null)
    {
        var frame = await charger.NextOtherFrameAsync(timeout ?? TimeSpan.FromSeconds(20));
        Assert.True(frame[0].GetInt32() == 2, $"expected a CALL from the server, got {frame}");
        return new Call(frame[1].GetString()!, frame[2].GetString()!, frame[3].Clone());
    }

    /// <summary>The next CALL, which must be <paramref name="action"/> (and, for DataTransfer, <paramref name="messageId"/>).</summary>
    public static async Task<Call> ExpectAsync(this TestCharger charger, string action, string? messageId = null)
    {
        var call = await charger.NextCallAsync();
        Assert.Equal(action, call.Action);
        if (messageId is not null) Assert.Equal(messageId, call.Transfer.MessageId);
        return call;
    }

    public static Task AnswerAsync(this TestCharger charger, Call call, object payload) =>
        charger.SendAsync($"[3,{JsonSerializer.Serialize(call.MessageId)},{JsonSerializer.Serialize(payload)}]");

    /// <summary>No CALL arrives within <paramref name="within"/>.</summary>
    public static async Task ExpectNothingAsync(this TestCharger charger, TimeSpan within)
    {
        try
        {
            var frame = await charger.NextOtherFrameAsync(within);
            Assert.Fail($"expected no server CALL, got {frame}");
        }
        catch (OperationCanceledException) { }
    }
}
