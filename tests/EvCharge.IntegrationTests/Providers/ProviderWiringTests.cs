using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EvCharge.IntegrationTests.Api;
using EvCharge.Payments;
using EvCharge.Payments.Providers;
using EvCharge.SocialSandbox.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace EvCharge.IntegrationTests.Providers;

/// <summary>The silo with a Stripe-shaped provider configured: the registry's choice, and signed webhooks end to end.</summary>
public sealed class StripeApiHost : ApiHost
{
    public RunningProviderServer Stripe { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        Stripe = await ProviderServerHost.StartAsync("stripe");
        await base.InitializeAsync();
    }

    protected override Dictionary<string, string?> Storage()
    {
        var settings = base.Storage();
        settings["Payments:Providers:stripe:Kind"] = "Stripe";
        settings["Payments:Providers:stripe:BaseUrl"] = Stripe.BaseAddress.ToString();
        settings["Payments:Providers:stripe:SecretKey"] = Stripe.Options.SecretKey;
        settings["Payments:Providers:stripe:WebhookSecret"] = Stripe.Options.WebhookSecret;
        settings["Payments:Providers:stripe:Payees:cpo-alpha-settlement"] = "acct_alpha";
        settings["Payments:Routes:cpo-bravo:kakaopay"] = "stripe";
        return settings;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Stripe.DisposeAsync();
    }
}

public sealed class ProviderWiringTests : IClassFixture<StripeApiHost>
{
    private readonly StripeApiHost _host;
    public ProviderWiringTests(StripeApiHost host) => _host = host;

    [Fact]
    public void The_registry_maps_configured_names_to_their_adapters_and_CPO_routes()
    {
        var registry = _host.App.Services.GetRequiredService<IPaymentGatewayRegistry>();
        Assert.True(registry.TryGet("stripe", out var stripe));
        Assert.IsType<StripeGateway>(stripe);
        Assert.True(registry.TryGet("kakaopay", out var sandbox));
        Assert.IsType<SandboxPaymentGateway>(sandbox); // not configured: still the sandbox
        Assert.True(registry.Resolve("kakaopay", "cpo-bravo", out var routed));
        Assert.IsType<StripeGateway>(routed);
        Assert.True(registry.Resolve("kakaopay", "cpo-alpha", out var unrouted));
        Assert.IsType<SandboxPaymentGateway>(unrouted);
        Assert.False(registry.TryGet("paypal", out _));
    }

    [Fact]
    public async Task A_signed_webhook_is_verified_re_read_and_recorded_and_a_forged_one_refused()
    {
        var registry = _host.App.Services.GetRequiredService<IPaymentGatewayRegistry>();
        registry.TryGet("stripe", out var stripe);
        var hold = await stripe.AuthorizeAsync(new AuthorizeRequest("stripe", "pm_card_visa", null, 30_000, "sess-w1", "CP-1"), "sess-w1:authorize");
        Assert.True(hold.Approved, hold.DeclineCode);

        using var http = new HttpClient { BaseAddress = _host.Stripe.BaseAddress };
        var delivery = await http.PostAsJsonAsync("/__test/webhooks/deliver", new
        {
            url = new Uri(_host.BaseAddress, "/webhooks/payments/stripe").ToString(), type = "payment_intent.amount_capturable_updated", payment_intent = hold.AuthorizationId,
        });
        var delivered = await delivery.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(200, delivered.GetProperty("delivered").GetInt32());

        using var api = _host.Client();
        var events = await api.GetFromJsonAsync<JsonElement>("/api/v1/payment-provider-events?provider=stripe");
        var recorded = events.EnumerateArray().Single(e => e.GetProperty("event").GetProperty("eventId").GetString() == delivered.GetProperty("eventId").GetString());
        Assert.Equal(hold.AuthorizationId, recorded.GetProperty("authorization").GetProperty("authorizationId").GetString());
        Assert.Equal("Authorized", recorded.GetProperty("authorization").GetProperty("status").GetString());

        using var anonymous = _host.Client(key: null);
        var forged = await anonymous.PostAsync("/webhooks/payments/stripe", new StringContent("""{"id":"evt_forged","type":"payment_intent.succeeded"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        var unknown = await anonymous.PostAsync("/webhooks/payments/kakaopay", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/payment-provider-events")).StatusCode);
    }
}
