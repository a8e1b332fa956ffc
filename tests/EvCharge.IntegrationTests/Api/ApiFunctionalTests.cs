using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Payments;
using Microsoft.Extensions.DependencyInjection;

namespace EvCharge.IntegrationTests.Api;

/// <summary>Issue 5, test 1: every resource over real HTTP against the real silo host, SQLite and the sandbox.</summary>
public class ApiFunctionalTests(ApiHost fx) : IClassFixture<ApiHost>
{
    private const string ProblemJson = "application/problem+json";

    [Fact]
    public async Task No_key_or_an_unknown_key_is_401_with_problem_details()
    {
        using var anonymous = fx.Client(key: null);
        var none = await anonymous.GetAsync("/api/v1/sessions");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(ProblemJson, none.Content.Headers.ContentType?.MediaType);
        Assert.Equal(401, (await none.ReadJsonAsync()).GetProperty("status").GetInt32());
        Assert.Contains("ApiKey", none.Headers.WwwAuthenticate.ToString());

        using var wrong = fx.Client("not-a-configured-key-at-all");
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/api/v1/ledger/invariants")).StatusCode);
        // Probes and the API description stay open.
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task Cpo_contract_and_tariffs_round_trip_and_cpo_keys_cannot_write()
    {
        await fx.CreateCpoAsync("cpo-contract", basisPoints: 750);
        using var op = fx.Client();
        var cpo = await (await op.GetAsync("/api/v1/cpos/cpo-contract")).ReadJsonAsync();
        Assert.Equal("cpo-contract-settlement", cpo.GetProperty("contract").GetProperty("payeeAccount").GetString());
        Assert.Equal(750, cpo.GetProperty("contract").GetProperty("commission").GetProperty("basisPoints").GetInt32());

        var put = await op.PutAsJsonAsync("/api/v1/cpos/cpo-contract/tariffs/night", new
        {
            pricePerKwh = 250, timeOfUse = new[] { new { startHour = 22, endHour = 6, pricePerKwh = 150 } },
        });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var tariffs = await (await op.GetAsync("/api/v1/cpos/cpo-contract/tariffs")).ReadJsonAsync();
        Assert.Equal(["night", "std"], tariffs.EnumerateArray().Select(t => t.GetProperty("tariffId").GetString()).Order());
        var night = await (await op.GetAsync("/api/v1/cpos/cpo-contract/tariffs/night")).ReadJsonAsync();
        Assert.Equal(150, night.GetProperty("timeOfUse")[0].GetProperty("pricePerKwh").GetInt64());

        await fx.RegisterChargerAsync("CP-TARIFF-1", "cpo-contract");
        var inUse = await op.DeleteAsync("/api/v1/cpos/cpo-contract/tariffs/std");
        Assert.Equal(HttpStatusCode.Conflict, inUse.StatusCode);
        Assert.Equal("tariff_in_use", (await inUse.ReadJsonAsync()).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await op.DeleteAsync("/api/v1/cpos/cpo-contract/tariffs/night")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await op.GetAsync("/api/v1/cpos/cpo-contract/tariffs/night")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await op.GetAsync("/api/v1/cpos/cpo-nobody")).StatusCode);

        using var cpoKey = fx.Client(ApiHost.CpoAKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await cpoKey.PutAsJsonAsync($"/api/v1/cpos/{ApiHost.CpoA}/tariffs/x", new { pricePerKwh = 1 })).StatusCode);
    }

    [Fact]
    public async Task Malformed_and_invalid_bodies_are_400_problem_details_with_field_errors()
    {
        using var op = fx.Client();
        var broken = await op.PutAsync("/api/v1/cpos/cpo-broken", new StringContent("{\"name\": 5", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
        Assert.Equal(ProblemJson, broken.Content.Headers.ContentType?.MediaType);
        Assert.True((await broken.ReadJsonAsync()).TryGetProperty("errors", out _));

        var wrongType = await op.PutAsync("/api/v1/cpos/cpo-broken", new StringContent("{\"name\": \"x\", \"commission\": {\"basisPoints\": \"ten\"}}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, wrongType.StatusCode);
        Assert.True((await wrongType.ReadJsonAsync()).GetProperty("errors").TryGetProperty("commission.basisPoints", out _));

        var invalid = await op.PutAsJsonAsync("/api/v1/cpos/cpo-broken", new { name = "", payeeAccount = "has spaces", commission = new { basisPoints = 20_000 }, tariffs = Array.Empty<object>() });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var errors = (await invalid.ReadJsonAsync()).GetProperty("errors");
        foreach (var field in new[] { "name", "payeeAccount", "commission.basisPoints", "tariffs" })
            Assert.True(errors.TryGetProperty(field, out _), $"missing field error for {field}: {errors}");

        var charger = await op.PutAsJsonAsync("/api/v1/chargers/CP-BAD-1", new { cpoId = ApiHost.CpoA, connectorCount = 0, tariffId = "std", holdAmount = -5 });
        var chargerErrors = (await charger.ReadJsonAsync()).GetProperty("errors");
        Assert.True(chargerErrors.TryGetProperty("connectorCount", out _));
        Assert.True(chargerErrors.TryGetProperty("holdAmount", out _));

        var unknownCpo = await op.PutAsJsonAsync("/api/v1/chargers/CP-BAD-2", new { cpoId = "cpo-missing", connectorCount = 1, tariffId = "std", holdAmount = 30_000, password = "long-enough-secret" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, unknownCpo.StatusCode);

        var query = await op.GetAsync("/api/v1/sessions?limit=0&state=Flying&from=yesterday&seamless=maybe&cursor=%%%");
        Assert.Equal(HttpStatusCode.BadRequest, query.StatusCode);
        var qErrors = (await query.ReadJsonAsync()).GetProperty("errors");
        foreach (var field in new[] { "limit", "state", "from", "seamless", "cursor" })
            Assert.True(qErrors.TryGetProperty(field, out _), $"missing query error for {field}: {qErrors}");
    }

    [Fact]
    public async Task Charger_registration_status_connectors_live_transaction_remote_stop_and_unreconciled()
    {
        await fx.CreateCpoAsync("cpo-chargers");
        using var op = fx.Client();
        var created = await op.PutAsJsonAsync("/api/v1/chargers/CP-API-1",
            new { cpoId = "cpo-chargers", connectorCount = 2, tariffId = "std", holdAmount = 40_000, password = "charger-secret-1234", model = "DC100" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.DoesNotContain("charger-secret-1234", await created.Content.ReadAsStringAsync());
        var updated = await op.PutAsJsonAsync("/api/v1/chargers/CP-API-1", new { cpoId = "cpo-chargers", connectorCount = 2, tariffId = "std", holdAmount = 35_000 });
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode); // password omitted: the stored one stays
        Assert.True(await fx.Grains.GetGrain<IChargerGrain>("CP-API-1").CheckPassword("charger-secret-1234"));

        var charger = await (await op.GetAsync("/api/v1/chargers/CP-API-1")).ReadJsonAsync();
        Assert.Equal(35_000, charger.GetProperty("holdAmount").GetInt64());
        Assert.Equal(2, charger.GetProperty("connectors").GetArrayLength());
        Assert.Equal("Available", (await (await op.GetAsync("/api/v1/chargers/CP-API-1/connectors")).ReadJsonAsync())[0].GetProperty("status").GetString());

        // A live transaction, started through the grains as the bridge would.
        var grain = fx.Grains.GetGrain<IChargerGrain>("CP-API-1");
        await using var phone = await Infrastructure.PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        var auth = await grain.AuthorizePayment(2, new PaymentPresentation("tosspay", await phone.ShowPaymentCodeAsync(), null));
        var start = await grain.StartTransaction(new Ocpp.StartTransaction(2, auth.AuthorizationReference!, 0, ApiHost.T0, null));
        var live = await (await op.GetAsync("/api/v1/chargers/CP-API-1/transactions/live")).ReadJsonAsync();
        Assert.Equal(auth.SessionId, live.EnumerateArray().Single().GetProperty("sessionId").GetString());
        Assert.Equal(start.TransactionId, live[0].GetProperty("transactionId").GetInt32());
        Assert.Equal("Charging", live[0].GetProperty("state").GetString());

        var notLive = await op.PostAsJsonAsync("/api/v1/chargers/CP-API-1/remote-stop", new { transactionId = start.TransactionId + 1000 });
        Assert.Equal(HttpStatusCode.Conflict, notLive.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await op.PostAsJsonAsync("/api/v1/chargers/CP-API-1/remote-stop", new { reason = "no id" })).StatusCode);

        await grain.StopTransaction(new Ocpp.StopTransaction(start.TransactionId, null, 2_000, ApiHost.T0.AddMinutes(5), "Local", []));
        await grain.StopTransaction(new Ocpp.StopTransaction(987_654, null, 10, ApiHost.T0.AddMinutes(6), "Local", [])); // never issued
        var unreconciled = await (await op.GetAsync("/api/v1/chargers/CP-API-1/unreconciled")).ReadJsonAsync();
        Assert.Contains(unreconciled.EnumerateArray(), m => m.GetProperty("transactionId").GetInt32() == 987_654);

        var list = await (await op.GetAsync("/api/v1/cpos/cpo-chargers/chargers")).ReadJsonAsync();
        Assert.Equal("CP-API-1", list.EnumerateArray().Single().GetProperty("chargerId").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await op.GetAsync("/api/v1/chargers/CP-NEVER")).StatusCode);
        await fx.WaitForSessionAsync(auth.SessionId!, SessionState.Settled);
    }

    [Fact]
    public async Task Sessions_list_filters_and_keyset_paging_and_detail()
    {
        await fx.CreateCpoAsync("cpo-paging");
        await fx.RegisterChargerAsync("CP-PAGE-1", "cpo-paging");
        await fx.RegisterChargerAsync("CP-PAGE-2", "cpo-paging");
        var ids = new List<string>
        {
            await fx.ChargeAsync("CP-PAGE-1", 10_000), await fx.ChargeAsync("CP-PAGE-1", 20_000), await fx.ChargeAsync("CP-PAGE-2", 5_000),
        };
        using var op = fx.Client();

        var first = await (await op.GetAsync("/api/v1/sessions?cpoId=cpo-paging&limit=2")).ReadJsonAsync();
        Assert.Equal(2, first.GetProperty("items").GetArrayLength());
        var cursor = first.GetProperty("nextCursor").GetString();
        Assert.NotNull(cursor);
        var second = await (await op.GetAsync($"/api/v1/sessions?cpoId=cpo-paging&limit=2&cursor={Uri.EscapeDataString(cursor!)}")).ReadJsonAsync();
        Assert.Equal(1, second.GetProperty("items").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
        var paged = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray()).Select(s => s.GetProperty("sessionId").GetString()).ToList();
        Assert.Equal(ids.Order(), paged.Order()); // every session once, none twice
        var created = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray()).Select(s => s.GetProperty("createdAt").GetDateTimeOffset()).ToList();
        Assert.Equal(created.OrderDescending(), created); // newest first

        var byCharger = await (await op.GetAsync("/api/v1/sessions?chargerId=CP-PAGE-2")).ReadJsonAsync();
        Assert.Equal([ids[2]], byCharger.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("sessionId").GetString()));
        var settled = await (await op.GetAsync("/api/v1/sessions?cpoId=cpo-paging&state=Settled&seamless=false")).ReadJsonAsync();
        Assert.Equal(3, settled.GetProperty("items").GetArrayLength());
        Assert.Equal(0, (await (await op.GetAsync("/api/v1/sessions?cpoId=cpo-paging&state=Voided")).ReadJsonAsync()).GetProperty("items").GetArrayLength());
        Assert.Equal(0, (await (await op.GetAsync("/api/v1/sessions?cpoId=cpo-paging&seamless=true")).ReadJsonAsync()).GetProperty("items").GetArrayLength());
        var before = Uri.EscapeDataString(created.Min().ToString("O"));
        Assert.Equal(0, (await (await op.GetAsync($"/api/v1/sessions?cpoId=cpo-paging&to={before}")).ReadJsonAsync()).GetProperty("items").GetArrayLength());
        var from = Uri.EscapeDataString(created.Max().ToString("O"));
        Assert.Equal(1, (await (await op.GetAsync($"/api/v1/sessions?cpoId=cpo-paging&from={from}")).ReadJsonAsync()).GetProperty("items").GetArrayLength());

        // 20,000 Wh at 300 KRW/kWh = 6,000 KRW; 10% platform = 600, CPO 5,400; VAT = round(6000/11) = 545.
        var detail = await (await op.GetAsync($"/api/v1/sessions/{ids[1]}")).ReadJsonAsync();
        var session = detail.GetProperty("session");
        Assert.Equal(6_000, session.GetProperty("fee").GetInt64());
        Assert.Equal(6_000, session.GetProperty("captured").GetInt64());
        Assert.Equal(545, session.GetProperty("receipt").GetProperty("vat").GetInt64());
        Assert.Equal(5_400, session.GetProperty("splits").EnumerateArray().Single(p => p.GetProperty("role").GetString() == "Cpo").GetProperty("amount").GetInt64());
        Assert.True(session.GetProperty("meterTimeline").GetArrayLength() >= 1);
        Assert.False(session.TryGetProperty("paymentCode", out _));
        var hold = detail.GetProperty("hold");
        Assert.Equal(30_000, hold.GetProperty("authorized").GetInt64());
        Assert.Equal(6_000, hold.GetProperty("captured").GetInt64());
        Assert.Equal(24_000, hold.GetProperty("released").GetInt64());
        Assert.False(hold.GetProperty("open").GetBoolean());
        var kinds = detail.GetProperty("ledger").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "Hold", "Capture", "Release", "Remit" }, kinds);
        Assert.Equal(HttpStatusCode.NotFound, (await op.GetAsync("/api/v1/sessions/no-such-session")).StatusCode);
    }

    [Fact]
    public async Task Partial_refund_reverses_the_split_in_the_ledger_and_at_the_provider_and_is_idempotent()
    {
        await fx.CreateCpoAsync("cpo-refund");
        await fx.RegisterChargerAsync("CP-REFUND-1", "cpo-refund");
        var sessionId = await fx.ChargeAsync("CP-REFUND-1", 10_000); // 3,000 KRW: CPO 2,700, platform 300
        var payee = ApiHost.Payee("cpo-refund");
        var platformBefore = (await fx.Ledger.GetPayeeBalanceAsync(ApiHost.PlatformPayee)).Net;
        using var op = fx.Client();

        var noKey = await op.PostAsJsonAsync($"/api/v1/sessions/{sessionId}/refunds", new { amount = 1_000 });
        Assert.Equal(HttpStatusCode.BadRequest, noKey.StatusCode);
        Assert.True((await noKey.ReadJsonAsync()).GetProperty("errors").TryGetProperty("Idempotency-Key", out _));

        var refund = await Post(op, sessionId, "refund-1", new { amount = 1_000, reason = "meter fault" });
        Assert.Equal(HttpStatusCode.Created, refund.StatusCode);
        var body = await refund.ReadJsonAsync();
        var reversals = body.GetProperty("reversals").EnumerateArray().ToDictionary(r => r.GetProperty("payeeAccount").GetString()!, r => r.GetProperty("amount").GetInt64());
        Assert.Equal(900, reversals[payee]);
        Assert.Equal(100, reversals[ApiHost.PlatformPayee]);

        // Replay: the first answer, nothing moves twice. Same key, other amount: refused.
        var replay = await Post(op, sessionId, "refund-1", new { amount = 1_000, reason = "meter fault" });
        Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
        Assert.Equal(body.GetProperty("refundId").GetString(), (await replay.ReadJsonAsync()).GetProperty("refundId").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await Post(op, sessionId, "refund-1", new { amount = 500 })).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Post(op, sessionId, "refund-2", new { amount = 2_001 })).StatusCode);
        using (var cpo = fx.Client(ApiHost.CpoAKey))
            Assert.Equal(HttpStatusCode.Forbidden, (await Post(cpo, sessionId, "refund-3", new { amount = 1 })).StatusCode);

        // Ledger: CPO net 2,700 - 900, platform -100; the provider's remittance list shows the same.
        Assert.Equal(1_800, (await fx.Ledger.GetPayeeBalanceAsync(payee)).Net);
        Assert.Equal(platformBefore - 100, (await fx.Ledger.GetPayeeBalanceAsync(ApiHost.PlatformPayee)).Net);
        var remitted = fx.Sandbox.Store.Remittances(payee);
        Assert.Equal(1_800, remitted.Total);
        Assert.Contains(remitted.Entries, e => e.Amount == -900);
        var detail = await (await op.GetAsync($"/api/v1/sessions/{sessionId}")).ReadJsonAsync();
        Assert.Equal(1_000, detail.GetProperty("session").GetProperty("refunded").GetInt64());
        Assert.Contains(detail.GetProperty("ledger").EnumerateArray(), e => e.GetProperty("kind").GetString() == "RefundReversal");

        // The rest, as a full refund (no amount): 2,000.
        var rest = await Post(op, sessionId, "refund-rest", new { });
        Assert.Equal(HttpStatusCode.Created, rest.StatusCode);
        Assert.Equal(2_000, (await rest.ReadJsonAsync()).GetProperty("amount").GetInt64());
        Assert.Equal(0, (await fx.Ledger.GetPayeeBalanceAsync(payee)).Net);
        Assert.Equal(HttpStatusCode.Conflict, (await Post(op, sessionId, "refund-more", new { })).StatusCode);

        // Remittances and the KST daily statement come from the ledger.
        var remittances = await (await op.GetAsync($"/api/v1/payees/{payee}/remittances")).ReadJsonAsync();
        Assert.Equal(2_700, remittances.GetProperty("remitted").GetInt64());
        Assert.Equal(2_700, remittances.GetProperty("reversed").GetInt64());
        Assert.Equal(0, remittances.GetProperty("net").GetInt64());
        var postedAt = remittances.GetProperty("lines")[0].GetProperty("postedAt").GetDateTimeOffset();
        var day = DateOnly.FromDateTime(postedAt.ToOffset(TimeSpan.FromHours(9)).DateTime);
        var statement = await (await op.GetAsync($"/api/v1/payees/{payee}/statements/{day:yyyy-MM-dd}")).ReadJsonAsync();
        Assert.Equal(1, statement.GetProperty("sessions").GetInt32());
        Assert.Equal(2_700, statement.GetProperty("remitted").GetInt64());
        var otherDay = await (await op.GetAsync($"/api/v1/payees/{payee}/statements/{day.AddDays(-3):yyyy-MM-dd}")).ReadJsonAsync();
        Assert.Equal(0, otherDay.GetProperty("sessions").GetInt32());
        Assert.Equal(HttpStatusCode.BadRequest, (await op.GetAsync($"/api/v1/payees/{payee}/statements/25-11-2026")).StatusCode);

        var invariants = await (await op.GetAsync("/api/v1/ledger/invariants")).ReadJsonAsync();
        Assert.True(invariants.GetProperty("ok").GetBoolean(), invariants.ToString());
        Assert.Equal(invariants.GetProperty("totalDebits").GetInt64(), invariants.GetProperty("totalCredits").GetInt64());
    }

    [Fact]
    public async Task A_cpo_key_sees_only_its_own_cpo_chargers_sessions_and_remittances()
    {
        await fx.CreateCpoAsync(ApiHost.CpoA);
        await fx.CreateCpoAsync(ApiHost.CpoB);
        await fx.RegisterChargerAsync("CP-A-1", ApiHost.CpoA);
        await fx.RegisterChargerAsync("CP-B-1", ApiHost.CpoB);
        var sessionA = await fx.ChargeAsync("CP-A-1", 3_000);
        var sessionB = await fx.ChargeAsync("CP-B-1", 3_000);
        using var a = fx.Client(ApiHost.CpoAKey);

        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync($"/api/v1/cpos/{ApiHost.CpoA}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await a.GetAsync($"/api/v1/cpos/{ApiHost.CpoB}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/api/v1/chargers/CP-A-1")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await a.GetAsync("/api/v1/chargers/CP-B-1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync($"/api/v1/sessions/{sessionA}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await a.GetAsync($"/api/v1/sessions/{sessionB}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await a.GetAsync($"/api/v1/sessions?cpoId={ApiHost.CpoB}")).StatusCode);
        var own = await (await a.GetAsync("/api/v1/sessions?limit=200")).ReadJsonAsync();
        Assert.All(own.GetProperty("items").EnumerateArray(), s => Assert.Equal(ApiHost.CpoA, s.GetProperty("cpoId").GetString()));
        Assert.Contains(own.GetProperty("items").EnumerateArray(), s => s.GetProperty("sessionId").GetString() == sessionA);
        Assert.All(own.GetProperty("items").EnumerateArray(), s => Assert.EndsWith("****", s.GetProperty("walletKey").GetString()));
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync($"/api/v1/payees/{ApiHost.Payee(ApiHost.CpoA)}/remittances")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await a.GetAsync($"/api/v1/payees/{ApiHost.Payee(ApiHost.CpoB)}/remittances")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await a.GetAsync($"/api/v1/payees/{ApiHost.PlatformPayee}/remittances")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await a.GetAsync("/api/v1/ledger/invariants")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await a.GetAsync("/api/v1/reconciliation")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await a.PutAsJsonAsync("/api/v1/chargers/CP-A-1", new { cpoId = ApiHost.CpoA, connectorCount = 2, tariffId = "std", holdAmount = 1_000 })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await a.GetAsync("/dashboard")).StatusCode);
        using var op = fx.Client();
        Assert.Equal(HttpStatusCode.OK, (await op.GetAsync("/dashboard")).StatusCode);
    }

    [Fact]
    public async Task Reconciliation_matches_settled_sessions_and_lists_a_refund_the_ledger_never_saw()
    {
        await fx.CreateCpoAsync("cpo-recon");
        await fx.RegisterChargerAsync("CP-RECON-1", "cpo-recon");
        var clean = await fx.ChargeAsync("CP-RECON-1", 4_000);
        var tampered = await fx.ChargeAsync("CP-RECON-1", 8_000); // 2,400 KRW
        var view = await fx.Grains.GetGrain<IChargingSessionGrain>(tampered).GetView();
        // Someone refunds at the provider behind EvCharge's back: the ledger has no journal for it.
        var gateway = fx.App.Services.GetRequiredService<IPaymentGateway>();
        var outside = await gateway.RefundAsync(new RefundRequest(view.PaymentId!, 400,
            [new Remittance(ApiHost.Payee("cpo-recon"), 360), new Remittance(ApiHost.PlatformPayee, 40)], "outside"), $"outside-{tampered}");
        Assert.True(outside.Succeeded, outside.ErrorMessage);

        using var op = fx.Client();
        var report = await (await op.GetAsync("/api/v1/reconciliation?cpoId=cpo-recon")).ReadJsonAsync();
        Assert.Equal(2, report.GetProperty("sessionsChecked").GetInt32());
        Assert.Equal(1, report.GetProperty("sessionsMatched").GetInt32());
        var item = report.GetProperty("items").EnumerateArray().Single();
        Assert.Equal(tampered, item.GetProperty("sessionId").GetString());
        Assert.Equal("extra", item.GetProperty("kind").GetString());
        Assert.Equal("refunded", item.GetProperty("field").GetString());
        Assert.Equal(0, item.GetProperty("ledger").GetInt64());
        Assert.Equal(400, item.GetProperty("provider").GetInt64());
        Assert.DoesNotContain(report.GetProperty("items").EnumerateArray(), i => i.GetProperty("sessionId").GetString() == clean);
        Assert.Equal(HttpStatusCode.BadRequest, (await op.GetAsync("/api/v1/reconciliation?from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z")).StatusCode);
    }

    [Fact]
    public async Task Vehicle_binding_is_shown_masked_and_revoked_by_the_operator()
    {
        var binding = fx.Grains.GetGrain<IVehicleBindingGrain>("EVCC-0A1B2C3D4E5F");
        await binding.Bind(new VehicleBindingRequest("kakaopay", "wallet-ref-1", "bt_live_secret_token_9876", null, 50_000, 3));
        using var op = fx.Client();
        var get = await op.GetAsync("/api/v1/vehicles/EVCC-0A1B2C3D4E5F");
        var text = await get.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.DoesNotContain("bt_live_secret_token", text);
        Assert.Equal("****9876", (await get.ReadJsonAsync()).GetProperty("tokenHint").GetString());
        using (var cpo = fx.Client(ApiHost.CpoAKey))
            Assert.Equal(HttpStatusCode.Forbidden, (await cpo.DeleteAsync("/api/v1/vehicles/EVCC-0A1B2C3D4E5F")).StatusCode);
        var revoked = await (await op.DeleteAsync("/api/v1/vehicles/EVCC-0A1B2C3D4E5F?reason=driver_request")).ReadJsonAsync();
        Assert.True(revoked.GetProperty("revoked").GetBoolean());
        Assert.Equal("driver_request", revoked.GetProperty("revokedReason").GetString());
        Assert.True((await binding.GetView())!.Revoked);
        Assert.Equal(HttpStatusCode.NotFound, (await op.GetAsync("/api/v1/vehicles/EVCC-UNBOUND")).StatusCode);
    }

    [Fact]
    public async Task A_capture_the_provider_keeps_failing_needs_attention_and_resume_settles_it()
    {
        await fx.CreateCpoAsync("cpo-attention");
        await fx.RegisterChargerAsync("CP-ATT-1", "cpo-attention");
        var charger = fx.Grains.GetGrain<IChargerGrain>("CP-ATT-1");
        await using var phone = await Infrastructure.PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        var auth = await charger.AuthorizePayment(1, new PaymentPresentation("kakaopay", await phone.ShowPaymentCodeAsync(), null));
        var start = await charger.StartTransaction(new Ocpp.StartTransaction(1, auth.AuthorizationReference!, 0, ApiHost.T0, null));
        fx.Sandbox.Faults.Set(new SocialSandbox.FaultSettings(ErrorRate: 1.0, AppliesTo: ["capture"]));
        try
        {
            await charger.StopTransaction(new Ocpp.StopTransaction(start.TransactionId, null, 5_000, ApiHost.T0.AddMinutes(20), "Local", []));
            var stuck = await fx.WaitForSessionAsync(auth.SessionId!, SessionState.NeedsAttention);
            Assert.Equal(SessionState.NeedsAttention, stuck.State);
            using var op = fx.Client();
            var attention = await (await op.GetAsync("/api/v1/sessions/attention")).ReadJsonAsync();
            Assert.Contains(attention.EnumerateArray(), s => s.GetProperty("sessionId").GetString() == auth.SessionId);
        }
        finally
        {
            fx.Sandbox.Faults.Set(SocialSandbox.FaultSettings.None);
        }
        using (var op = fx.Client())
        {
            var resumed = await op.PostAsync($"/api/v1/sessions/{auth.SessionId}/resume", null);
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
            var settled = await fx.WaitForSessionAsync(auth.SessionId!, SessionState.Settled);
            Assert.Equal(SessionState.Settled, settled.State);
            Assert.Equal(1_500, settled.Captured);
            var attention = await (await op.GetAsync("/api/v1/sessions/attention")).ReadJsonAsync();
            Assert.DoesNotContain(attention.EnumerateArray(), s => s.GetProperty("sessionId").GetString() == auth.SessionId);
        }
    }

    [Fact]
    public async Task OpenApi_document_reference_page_health_and_metrics_are_served()
    {
        using var anonymous = fx.Client(key: null);
        var doc = await (await anonymous.GetAsync("/openapi/v1.json")).ReadJsonAsync();
        var paths = doc.GetProperty("paths");
        foreach (var p in new[] { "/api/v1/cpos/{cpoId}", "/api/v1/chargers/{chargerId}", "/api/v1/sessions", "/api/v1/sessions/{sessionId}/refunds",
                     "/api/v1/payees/{payeeAccount}/statements/{date}", "/api/v1/reconciliation", "/api/v1/ledger/invariants", "/api/v1/vehicles/{vehicleId}" })
            Assert.True(paths.TryGetProperty(p, out _), $"OpenAPI lacks {p}");
        Assert.Equal("header", doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey").GetProperty("in").GetString());
        var docs = await anonymous.GetAsync("/docs/v1");
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Contains("text/html", docs.Content.Headers.ContentType?.MediaType);

        var ready = await (await anonymous.GetAsync("/health/ready")).ReadJsonAsync();
        Assert.Equal("Healthy", ready.GetProperty("status").GetString());
        Assert.Equal(["database", "mqtt-broker", "wallet-provider"], ready.GetProperty("checks").EnumerateObject().Select(c => c.Name).Order());

        await fx.CreateCpoAsync("cpo-metrics");
        await fx.RegisterChargerAsync("CP-METRICS-1", "cpo-metrics");
        await fx.ChargeAsync("CP-METRICS-1", 1_000);
        string metrics = "";
        // The gauge refreshes its snapshot at most every 15 s (SessionStateGauge): wait up to a minute for the settled one.
        static bool GaugeShowsSettled(string text) => text.Split('\n').Any(l => l.StartsWith("evcharge_sessions_by_state{") && l.Contains("state=\"Settled\""));
        for (var i = 0; i < 300 && !GaugeShowsSettled(metrics); i++)
        {
            metrics = await anonymous.GetStringAsync("/metrics");
            if (!GaugeShowsSettled(metrics)) await Task.Delay(200);
        }
        Assert.Contains("evcharge_sessions_by_state{", metrics);
        Assert.Contains("state=\"Settled\"", metrics);
        Assert.Contains("evcharge_authorization_duration", metrics);
        Assert.Contains("evcharge_sessions_transitions", metrics);
    }

    private static Task<HttpResponseMessage> Post(HttpClient http, string sessionId, string key, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/sessions/{sessionId}/refunds") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        return http.SendAsync(request);
    }
}
