using System.Net;
using System.Net.Http.Json;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Api;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ocpp;

namespace EvCharge.IntegrationTests.Seamless;

/// <summary>Issue 8 over HTTP: the phone binds, views and revokes with the billing key; operators see seamless sessions.</summary>
public class DriverApiTests(ApiHost fx) : IClassFixture<ApiHost>
{
    [Fact]
    public async Task Phone_binds_sees_and_revokes_a_vehicle_with_its_billing_key()
    {
        await fx.CreateCpoAsync(ApiHost.CpoA);
        await fx.RegisterChargerAsync("CP-DRV-1", ApiHost.CpoA);
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        var key = await phone.ConsentToBillingKeyAsync("VID:00DD00DD0001", perChargeLimit: 20_000);
        using var driver = new HttpClient { BaseAddress = fx.BaseAddress }; // no operator key: the phone's own surface

        var bind = await driver.PostAsJsonAsync("/api/v1/driver/vehicles", new { vehicleId = "00dd00dd0001", provider = "kakaopay", billingKey = key, perChargeLimit = 20_000, dailyChargeLimit = 5 });
        Assert.Equal(HttpStatusCode.Created, bind.StatusCode);
        var bound = await bind.ReadJsonAsync();
        Assert.Equal("00DD00DD0001", bound.GetProperty("vehicleId").GetString());
        Assert.DoesNotContain(key, (await bind.Content.ReadAsStringAsync())); // the token is never returned in clear

        // Plug in and pay: the binding's per-charge limit (the one the driver agreed with the provider) caps the hold.
        var charger = fx.Grains.GetGrain<IChargerGrain>("CP-DRV-1");
        var start = await charger.StartTransaction(new StartTransaction(1, "VID:00DD00DD0001", 0, ApiHost.T0, null));
        Assert.Equal(IdTagStatus.Accepted, start.IdTagInfo.Status);
        Assert.Equal(20_000, (await phone.WalletAsync()).GetProperty("held").GetInt64());
        await charger.StopTransaction(new StopTransaction(start.TransactionId, null, 5_000, ApiHost.T0.AddMinutes(20), null, []));
        for (var i = 0; i < 100 && (await phone.WalletAsync()).GetProperty("held").GetInt64() != 0; i++) await Task.Delay(100);
        var sessions = await (await fx.Client().GetAsync("/api/v1/sessions?chargerId=CP-DRV-1&seamless=true")).ReadJsonAsync();
        var listed = Assert.Single(sessions.GetProperty("items").EnumerateArray());
        Assert.True(listed.GetProperty("seamless").GetBoolean());
        Assert.Equal(100_000 - 1_500, (await phone.WalletAsync()).GetProperty("balance").GetInt64());

        var wrongKey = new HttpRequestMessage(HttpMethod.Get, "/api/v1/driver/vehicles/00DD00DD0001");
        wrongKey.Headers.Add("X-Billing-Key", "bk_not_mine");
        Assert.Equal(HttpStatusCode.NotFound, (await driver.SendAsync(wrongKey)).StatusCode);
        var mine = new HttpRequestMessage(HttpMethod.Get, "/api/v1/driver/vehicles/00DD00DD0001");
        mine.Headers.Add("X-Billing-Key", key);
        var view = await (await driver.SendAsync(mine)).ReadJsonAsync();
        Assert.False(view.GetProperty("revoked").GetBoolean());

        var revoke = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/driver/vehicles/00DD00DD0001");
        revoke.Headers.Add("X-Billing-Key", key);
        var revoked = await (await driver.SendAsync(revoke)).ReadJsonAsync();
        Assert.True(revoked.GetProperty("revoked").GetBoolean());

        await Task.Delay(200);
        var next = await charger.StartTransaction(new StartTransaction(2, "VID:00DD00DD0001", 5_000, ApiHost.T0.AddHours(3), null));
        Assert.Equal(IdTagStatus.Invalid, next.IdTagInfo.Status);
    }

    [Fact]
    public async Task Invalid_binding_requests_are_problem_details()
    {
        using var driver = new HttpClient { BaseAddress = fx.BaseAddress };
        var bad = await driver.PostAsJsonAsync("/api/v1/driver/vehicles", new { vehicleId = "not a vehicle!", provider = "cashpay", billingKey = "" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = await bad.ReadJsonAsync();
        Assert.True(problem.GetProperty("errors").TryGetProperty("vehicleId", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("provider", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("billingKey", out _));

        var noKey = await driver.DeleteAsync("/api/v1/driver/vehicles/00DD00DD0002");
        Assert.Equal(HttpStatusCode.NotFound, noKey.StatusCode);
    }
}
