using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ocpp;

namespace EvCharge.IntegrationTests.Seamless;

/// <summary>Issue 8: plug in and pay with a vehicle bound to a wallet's saved billing key, no payment code.</summary>
public class SeamlessChargingTests(CoreCluster fx) : IClassFixture<CoreCluster>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 4, 0, 0, TimeSpan.Zero);

    private async Task<(PhoneClient Phone, string BillingKey)> BindAsync(string vehicleId, long perChargeLimit = 0, int dailyLimit = 0, DateTimeOffset? tokenExpires = null)
    {
        var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 200_000);
        var key = await phone.ConsentToBillingKeyAsync($"VID:{vehicleId}");
        await fx.Client.GetGrain<IVehicleBindingGrain>(vehicleId)
            .Bind(new VehicleBindingRequest("kakaopay", phone.WalletId, key, tokenExpires, perChargeLimit, dailyLimit));
        return (phone, key);
    }

    [Fact]
    public async Task Bind_plug_in_charge_stop_pays_with_hold_capture_split_and_receipt()
    {
        var (cpoId, cpoPayee) = await fx.CreateCpoAsync("seamless");
        var charger = await fx.RegisterChargerAsync("CP-SEAM-1", hold: 40_000, cpoId: cpoId);
        var (phone, _) = await BindAsync("00AABBCC0001", perChargeLimit: 25_000);
        await using var _p = phone;
        await phone.ListenForReceiptsAsync();

        // The car is recognised at plug-in: Authorize with the vehicle idTag, then StartTransaction.
        Assert.Equal(IdTagStatus.Accepted, (await charger.Authorize("VID:00AABBCC0001")).Status);
        Assert.Equal(25_000, (await phone.WalletAsync()).GetProperty("held").GetInt64()); // the per-charge limit caps the hold
        var start = await charger.StartTransaction(new StartTransaction(1, "VID:00AABBCC0001", 0, T0, null));
        Assert.Equal(IdTagStatus.Accepted, start.IdTagInfo.Status);
        await charger.MeterValues(new MeterValues(1, start.TransactionId, [new MeterSample(T0.AddMinutes(10), 6_000)]));
        await charger.StopTransaction(new StopTransaction(start.TransactionId, "VID:00AABBCC0001", 11_000, T0.AddMinutes(30), "EVDisconnected", []));

        var sessionId = (await charger.GetView()).Connectors.Single(c => c.ConnectorId == 1).SessionId
                        ?? fx.Sandbox.Store.FindAuthorizations(null, null).Single(a => a.MerchantReference == "CP-SEAM-1").OrderId;
        var session = await fx.WaitForSessionAsync(sessionId, SessionState.Settled);
        Assert.Equal(SessionState.Settled, session.State);
        Assert.True(session.Seamless);
        Assert.Equal(3_300, session.Captured); // 11 kWh x 300
        Assert.Equal(2_970, session.Splits.Single(p => p.Role == PayeeRole.Cpo).Amount);
        Assert.Equal(2_970, fx.Sandbox.Store.Remittances(cpoPayee).Total);
        var receipt = await phone.NextReceiptAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(3_300, receipt.GetProperty("total").GetInt64());
        Assert.Equal(300, receipt.GetProperty("vat").GetInt64());
        Assert.Equal(0, (await phone.WalletAsync()).GetProperty("held").GetInt64());
        Assert.Null((await fx.Client.GetGrain<IVehicleBindingGrain>("00AABBCC0001").GetView())!.ChargingAt);
        var report = await fx.Ledger.CheckInvariantsAsync();
        Assert.True(report.Ok, string.Join("; ", report.Violations.Select(v => $"{v.Rule} {v.SessionId} {v.Detail}")));
    }

    [Fact]
    public async Task Plug_in_without_authorize_starts_directly()
    {
        var charger = await fx.RegisterChargerAsync("CP-SEAM-2");
        var (phone, _) = await BindAsync("00AABBCC0002");
        await using var _p = phone;
        var start = await charger.StartTransaction(new StartTransaction(2, "VID:00AABBCC0002", 100, T0, null));
        Assert.Equal(IdTagStatus.Accepted, start.IdTagInfo.Status);
        var retried = await charger.StartTransaction(new StartTransaction(2, "VID:00AABBCC0002", 100, T0, null));
        Assert.Equal(start.TransactionId, retried.TransactionId); // a retried start is the same transaction
        Assert.Equal(30_000, (await phone.WalletAsync()).GetProperty("held").GetInt64()); // one hold, not two
        await charger.StopTransaction(new StopTransaction(start.TransactionId, null, 2_100, T0.AddMinutes(15), null, []));
        await WaitUntilAsync(async () => (await phone.WalletAsync()).GetProperty("held").GetInt64() == 0);
        Assert.Equal(200_000 - 600, (await phone.WalletAsync()).GetProperty("balance").GetInt64());
    }

    [Theory]
    [InlineData("unbound")]
    [InlineData("revoked")]
    [InlineData("provider_revoked")]
    [InlineData("blocked")]
    [InlineData("expired")]
    [InlineData("daily_limit")]
    public async Task Refusals_leave_no_hold(string kind)
    {
        var vehicle = $"0BAD{kind.GetHashCode():X8}"[..12];
        var charger = await fx.RegisterChargerAsync($"CP-SEAM-R-{kind}");
        PhoneClient? phone = null;
        if (kind != "unbound")
        {
            (phone, var key) = await BindAsync(vehicle, dailyLimit: kind == "daily_limit" ? 1 : 0,
                tokenExpires: kind == "expired" ? DateTimeOffset.UtcNow.AddMinutes(-1) : null);
            if (kind == "revoked") await fx.Client.GetGrain<IVehicleBindingGrain>(vehicle).Revoke("driver_revoked");
            if (kind == "provider_revoked") await phone.RevokeBillingKeyAsync(key);
            if (kind == "blocked") await phone.BlockAsync();
            if (kind == "daily_limit")
            {
                // The one charge allowed today, then the vehicle is unplugged.
                var first = await charger.StartTransaction(new StartTransaction(2, $"VID:{vehicle}", 0, T0, null));
                Assert.Equal(IdTagStatus.Accepted, first.IdTagInfo.Status);
                await charger.StopTransaction(new StopTransaction(first.TransactionId, null, 1_000, T0.AddMinutes(5), null, []));
                await WaitUntilAsync(async () => (await phone.WalletAsync()).GetProperty("held").GetInt64() == 0);
            }
        }

        var result = await charger.AuthorizePayment(1, new PaymentPresentation("", null, vehicle));
        var start = await charger.StartTransaction(new StartTransaction(1, $"VID:{vehicle}", 0, T0.AddHours(1), null));

        Assert.Equal(AuthorizationStatus.Rejected, result.Status);
        var expected = kind switch
        {
            "unbound" => "vehicle_not_bound", "revoked" => "binding_revoked", "provider_revoked" => "token_revoked",
            "blocked" => "wallet_blocked", "expired" => "token_expired", _ => "daily_limit_reached",
        };
        Assert.Equal(expected, result.Reason);
        Assert.NotEqual(IdTagStatus.Accepted, start.IdTagInfo.Status);
        Assert.All((await charger.GetView()).Connectors, c => Assert.Null(c.SessionId));
        if (phone is not null)
        {
            Assert.Equal(0, (await phone.WalletAsync()).GetProperty("held").GetInt64());
            Assert.Null((await fx.Client.GetGrain<IVehicleBindingGrain>(vehicle).GetView())!.ChargingAt);
            await phone.DisposeAsync();
        }
    }

    [Fact]
    public async Task Same_vehicle_at_a_second_charger_is_refused_while_it_charges()
    {
        var a = await fx.RegisterChargerAsync("CP-SEAM-CLONE-A");
        var b = await fx.RegisterChargerAsync("CP-SEAM-CLONE-B");
        var (phone, _) = await BindAsync("00AABBCC0003");
        await using var _p = phone;
        var real = await a.StartTransaction(new StartTransaction(1, "VID:00AABBCC0003", 0, T0, null));
        Assert.Equal(IdTagStatus.Accepted, real.IdTagInfo.Status);

        var clone = await b.AuthorizePayment(1, new PaymentPresentation("", null, "00AABBCC0003"));
        Assert.Equal(AuthorizationStatus.Rejected, clone.Status);
        Assert.Equal("vehicle_charging_elsewhere", clone.Reason);
        Assert.Equal(30_000, (await phone.WalletAsync()).GetProperty("held").GetInt64()); // only the real car's hold
        await a.StopTransaction(new StopTransaction(real.TransactionId, null, 1_000, T0.AddMinutes(5), null, []));
    }

    [Fact]
    public async Task Revocation_during_a_charge_lets_it_finish_and_be_paid_but_refuses_the_next_plug_in()
    {
        var charger = await fx.RegisterChargerAsync("CP-SEAM-REVOKE");
        var (phone, _) = await BindAsync("00AABBCC0004");
        await using var _p = phone;
        var start = await charger.StartTransaction(new StartTransaction(1, "VID:00AABBCC0004", 0, T0, null));
        Assert.Equal(IdTagStatus.Accepted, start.IdTagInfo.Status);

        var revoked = await fx.Client.GetGrain<IVehicleBindingGrain>("00AABBCC0004").Revoke("driver_revoked");
        Assert.True(revoked!.Revoked);
        await charger.StopTransaction(new StopTransaction(start.TransactionId, null, 4_000, T0.AddMinutes(20), null, []));
        await WaitUntilAsync(async () => (await phone.WalletAsync()).GetProperty("held").GetInt64() == 0);
        Assert.Equal(200_000 - 1_200, (await phone.WalletAsync()).GetProperty("balance").GetInt64()); // the running charge was paid

        var next = await charger.StartTransaction(new StartTransaction(1, "VID:00AABBCC0004", 4_000, T0.AddHours(2), null));
        Assert.Equal(IdTagStatus.Invalid, next.IdTagInfo.Status);
        Assert.Equal(0, (await phone.WalletAsync()).GetProperty("held").GetInt64());
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 300 && !await condition(); i++) await Task.Delay(100);
        Assert.True(await condition());
    }
}
