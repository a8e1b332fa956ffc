using EvCharge.Silo.Apis;
using System.Net;
using EvCharge.ChargerBridge.Extensions;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Payments.Providers;
using EvCharge.Sessions;
using EvCharge.Silo.Health;
using EvCharge.Silo.Persistence;
using Orleans.Dashboard;
using EvCharge.SocialSandbox;
using Orleans.Configuration;

namespace EvCharge.Silo.Extensions;

/// <summary>Everything one EvCharge silo process hosts, chosen by configuration (see docs/operations.md).</summary>
public static class SiloHostExtensions
{
    public static WebApplicationBuilder AddEvChargeSilo(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var profile = StorageProfile.FromConfiguration(config);
        if (profile.Provider == StorageProvider.Sqlite && profile.ConnectionString is null)
        {
            var dataDirectory = config["Storage:DataDirectory"] ?? "data";
            Directory.CreateDirectory(dataDirectory);
            profile = profile with { ConnectionString = Path.Combine(dataDirectory, "evcharge.db") };
        }

        builder.UseOrleans(silo =>
        {
            silo.UseEvChargeStorage(profile);
            // Orleans' own tuning knobs from configuration (docs/operations.md; not under "Orleans:", whose
            // subsections Orleans reads as provider settings): reminders' minimum period (the session
            // watchdog's EvCharge:WatchdogPeriod must not be below it) and membership failure detection.
            silo.Configure<ReminderOptions>(config.GetSection("Silo:Reminders"));
            silo.Configure<ClusterMembershipOptions>(config.GetSection("Silo:Membership"));
            silo.AddActivityPropagation(); // grain calls join the caller's trace (TelemetryExtensions)
            if (config.GetValue("Dashboard:Enabled", true)) silo.AddDashboard(); // not under "Orleans": Orleans reads that section for providers
            if (profile.Provider == StorageProvider.Postgres)
            {
                // Several silos on one host need their own ports; across hosts the defaults do.
                var address = IPAddress.TryParse(config["Orleans:AdvertisedIP"], out var ip) ? ip : IPAddress.Loopback;
                silo.ConfigureEndpoints(address, profile.SiloPort, profile.GatewayPort, listenOnAnyHostAddress: false);
            }
        });

        builder.Services.AddEvChargeCore(o => config.GetSection("EvCharge").Bind(o));
        // A watchdog period below Orleans' minimum reminder period would fail every session at its first reminder
        // registration; refuse such a configuration at start instead.
        builder.Services.AddOptions<EvChargeOptions>()
            .Validate<Microsoft.Extensions.Options.IOptions<ReminderOptions>>((o, reminders) => o.WatchdogPeriod >= reminders.Value.MinimumReminderPeriod,
                "EvCharge:WatchdogPeriod must not be below Silo:Reminders:MinimumReminderPeriod (Orleans refuses shorter reminders).")
            .ValidateOnStart();
        var ledger = profile.ToLedgerOptions();
        builder.Services.AddEvChargeLedger(ledger);
        builder.Services.AddEvChargeSessionStore(ledger);
        var providerUrl = builder.AddPaymentProvider(ledger);
        builder.Services.AddChargerBridge(config.GetSection(ChargerBridgeOptions.SectionName));
        builder.Services.AddEvChargeHealth(ledger, providerUrl);
        builder.AddEvChargeApi();
        builder.AddEvChargeTelemetry();
        return builder;
    }

    /// <summary>The HTTP surface: operators' API, OpenAPI and /docs, health, /metrics, the Orleans dashboard.</summary>
    public static WebApplication MapEvChargeSilo(this WebApplication app)
    {
        app.MapEvChargeApi();
        app.MapDriverApi();
        app.MapPaymentWebhooks();
        app.MapEvChargeTelemetry();
        app.MapGet("/", () => Results.Redirect("/docs")).ExcludeFromDescription();
        return app;
    }

    /// <summary>
    /// The wallet provider: an external adapter URL (Payments:ProviderUrl), or by default the social-sandbox
    /// started inside this process on its own loopback port. Either way the silo speaks HTTP to it.
    /// </summary>
    private static Uri AddPaymentProvider(this WebApplicationBuilder builder, LedgerOptions ledger)
    {
        var config = builder.Configuration;
        var external = config["Payments:ProviderUrl"];
        var embeddedUrl = config["Payments:EmbeddedSandboxUrl"] ?? SocialSandboxHost.DefaultUrl;
        var providerUrl = new Uri(string.IsNullOrWhiteSpace(external) ? embeddedUrl : external);
        builder.Services.AddSandboxPaymentGateway(providerUrl, o => config.GetSection("Payments:Gateway").Bind(o));
        // Real wallet providers (Toss Payments, KakaoPay, Stripe) under Payments:Providers:{name}; docs/payments.md.
        builder.Services.AddPaymentProviders(config.GetSection("Payments"), ledger);
        builder.Services.AddSingleton<ProviderEventLog>();
        if (string.IsNullOrWhiteSpace(external))
        {
            var dataFile = config["Payments:SandboxDataFile"] ?? Path.Combine(config["Storage:DataDirectory"] ?? "data", "sandbox.jsonl");
            builder.Services.AddHostedService(_ => new EmbeddedSandboxService(embeddedUrl, new SandboxOptions { DataFile = dataFile }));
        }
        return providerUrl;
    }

    private sealed class EmbeddedSandboxService(string url, SandboxOptions options) : IHostedService
    {
        private RunningSandbox? _sandbox;
        public async Task StartAsync(CancellationToken cancellationToken) => _sandbox = await SocialSandboxHost.StartAsync(options, url, cancellationToken);
        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (_sandbox is not null) await _sandbox.DisposeAsync();
        }
    }
}
