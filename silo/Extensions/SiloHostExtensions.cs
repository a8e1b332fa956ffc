using EvCharge.Silo.Apis;
using System.Net;
using EvCharge.ChargerBridge.Extensions;
using EvCharge.ChargerBridge.WebSockets;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Payments.Providers;
using EvCharge.Sessions;
using EvCharge.Silo.Health;
using EvCharge.Silo.Persistence;
using EvCharge.Silo.Security;
using EvCharge.Silo.OperatorConsole;
using EvCharge.Silo.Driver;
using Orleans.Dashboard;
using EvCharge.SocialSandbox;
using Orleans.Configuration;

namespace EvCharge.Silo.Extensions;

/// <summary>Everything one EvCharge silo process hosts, chosen by configuration (see docs/operations.md).</summary>
public static class SiloHostExtensions
{
    /// <summary>Orleans' own default, stated: how long a grain call (a charger's request) may take.</summary>
    public static readonly TimeSpan DefaultResponseTimeout = TimeSpan.FromSeconds(30);
    /// <summary>Grain addresses cached per silo (Silo:GrainDirectory:CacheSize): a node's chargers, wallets and live sessions.</summary>
    public const int DefaultDirectoryCacheSize = 50_000;
    /// <summary>What the charger's answer needs after the provider's: the session's write and the way back through the bridge.</summary>
    private static readonly TimeSpan AnswerMargin = TimeSpan.FromSeconds(5);

    public static WebApplicationBuilder AddEvChargeSilo(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var profile = StorageProfile.FromConfiguration(config);
        var dataDirectory = config["Storage:DataDirectory"] ?? "data";
        if (profile.Provider == StorageProvider.Sqlite && profile.ConnectionString is null)
        {
            Directory.CreateDirectory(dataDirectory);
            profile = profile with { ConnectionString = Path.Combine(dataDirectory, "evcharge.db") };
        }
        // The embedded default's first run: an owner-only operator key file when no keys are configured.
        var firstRunKey = profile.Provider == StorageProvider.Sqlite ? FirstRunOperatorKey.Apply(builder.Configuration, dataDirectory) : null;
        builder.AddEvChargeLogDefaults();

        builder.UseOrleans(silo =>
        {
            silo.UseEvChargeStorage(profile);
            // Orleans' own tuning knobs from configuration (docs/operations.md; not under "Orleans:", whose
            // subsections Orleans reads as provider settings): reminders' minimum period (the session
            // watchdog's EvCharge:WatchdogPeriod must not be below it) and membership failure detection.
            silo.Configure<ReminderOptions>(config.GetSection("Silo:Reminders"));
            // The charger's answer to a payment is a grain call: its budget is the response timeout, set here rather
            // than inherited, and EvCharge:AuthorizeBudget must end inside it (validated below).
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = DefaultResponseTimeout);
            silo.Configure<SiloMessagingOptions>(config.GetSection("Silo:Messaging"));
            silo.Configure<ClusterMembershipOptions>(config.GetSection("Silo:Membership"));
            // Orleans caches the address of every grain looked up, a million entries by default: with one session grain
            // per charge that kept about a kilobyte per finished charge for hours. Bounded to what live grains need.
            silo.Configure<GrainDirectoryOptions>(o => o.CacheSize = DefaultDirectoryCacheSize);
            silo.Configure<GrainDirectoryOptions>(config.GetSection("Silo:GrainDirectory"));
            // Grain calls join the caller's trace; the filters run on every call, so only when spans are recorded.
            if (TelemetryExtensions.TracingEnabled(config)) silo.AddActivityPropagation();
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
        builder.Services.AddOptions<EvChargeOptions>()
            .Validate<Microsoft.Extensions.Options.IOptions<SiloMessagingOptions>>((o, messaging) => o.AuthorizeBudget + AnswerMargin <= messaging.Value.ResponseTimeout,
                $"EvCharge:AuthorizeBudget plus {AnswerMargin.TotalSeconds:0} s must fit inside Silo:Messaging:ResponseTimeout: the charger's answer must come before its call times out.")
            .ValidateOnStart();
        var ledger = profile.ToLedgerOptions();
        builder.Services.AddEvChargeLedger(ledger);
        builder.Services.AddEvChargeSessionStore(ledger);
        var providerUrl = builder.AddPaymentProvider(ledger);
        builder.Services.AddSingleton(new StartupFacts(profile, providerUrl, string.IsNullOrWhiteSpace(config["Payments:ProviderUrl"]), firstRunKey));
        builder.Services.AddHostedService<StartupReport>();
        builder.Services.AddChargerBridge(config.GetSection(ChargerBridgeOptions.SectionName));
        builder.Services.AddOcppWebSockets(config.GetSection(OcppWebSocketOptions.SectionName));
        builder.Services.AddEvChargeHealth(ledger, providerUrl);
        builder.AddEvChargeApi();
        builder.AddEvChargeConsole(dataDirectory);
        builder.AddEvChargeDriver();
        builder.AddEvChargeTelemetry();
        return builder;
    }

    /// <summary>The HTTP surface: operators' console and API, OpenAPI and /docs, health, /metrics, the Orleans dashboard.</summary>
    public static WebApplication MapEvChargeSilo(this WebApplication app)
    {
        app.MapEvChargeApi();
        app.MapEvChargeConsole();
        app.MapEvChargeDriver();
        app.MapDriverApi();
        app.MapPaymentWebhooks();
        app.MapEvChargeTelemetry();
        app.MapGet("/", () => Results.Redirect("/console")).ExcludeFromDescription();
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

/// <summary>Log levels that keep the console readable at the default level; any configuration source overrides them.</summary>
public static class LogDefaultsExtensions
{
    /// <summary>
    /// Below Information by default: Polly's per-attempt lines (Orleans runs its placement calls through a resilience
    /// pipeline, one "Execution attempt" line per grain placement), HttpClient's four lines per request, ASP.NET
    /// Core's per-request lines, the API key handler's "challenged" line per 401, and Orleans' runtime chatter.
    /// They are added as the first (lowest) configuration source, so appsettings.json, environment variables
    /// (<c>Logging__LogLevel__Polly=Information</c>) and the command line still win; a content root without an
    /// appsettings.json (a published silo started from another directory) gets them too.
    /// </summary>
    public static WebApplicationBuilder AddEvChargeLogDefaults(this WebApplicationBuilder builder)
    {
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                ["Logging:LogLevel:Orleans"] = "Warning",
                ["Logging:LogLevel:Polly"] = "Warning",
                ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
                ["Logging:LogLevel:EvCharge.Silo.Security.ApiKeyAuthenticationHandler"] = "Warning",
            },
        });
        return builder;
    }
}
