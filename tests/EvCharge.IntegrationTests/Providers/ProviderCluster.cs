using EvCharge.IntegrationTests.Infrastructure;
using System.Net.Http.Json;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Payments.Providers;
using EvCharge.Reconciliation;
using EvCharge.Sessions;
using EvCharge.Silo.Persistence;
using EvCharge.SocialSandbox.Providers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace EvCharge.IntegrationTests.Providers;

/// <summary>How a provider cluster is built: one silo on SQLite (flow tests) or several on PostgreSQL (fault runs).</summary>
public sealed record ProviderClusterOptions
{
    public short Silos { get; init; } = 1;
    /// <summary>A PostgreSQL database (migrated with our scripts) for grain state, reminders, sessions, ledger and journal; null: SQLite.</summary>
    public string? PostgresConnectionString { get; init; }
    public TimeSpan FaultHang { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(2);
    public int MaxRetryAttempts { get; init; } = 2;
    public Action<EvChargeOptions>? Configure { get; init; }
}

/// <summary>
/// Issue 16: grains in an InProcessTestCluster paying through one real adapter (Toss Payments, KakaoPay or Stripe,
/// registered as the silo does from <c>Payments:Providers</c>) over real HTTP against a server shaped like that
/// provider's API. A second server of the same kind is a CPO's own merchant account, reached through
/// <c>Payments:Routes:{cpo}:{provider}</c>. <see cref="Phone"/> plays the driver's side at the provider: a finished
/// checkout's one-time code, or a saved credential for seamless charging.
/// </summary>
public sealed class ProviderCluster : IAsyncDisposable
{
    public const string PlatformPayee = "platform-operator";
    /// <summary>The CPO whose contract routes the wallet provider to its own merchant entry (<see cref="RoutedEntry"/>).</summary>
    public const string RoutedCpo = "cpo-own";
    /// <summary>CPOs whose settlement accounts exist at the provider (a Toss payout seller, a Stripe connected account).</summary>
    public static readonly string[] PayeeCpos = ["cpo-paid", "cpo-refund", "cpo-seamless", "cpo-long", "cpo-lost", "cpo-run"];
    public static readonly Tariff DefaultTariff = Tariff.Flat("std", 300);

    private readonly string _dir = Directory.CreateTempSubdirectory("evc-providers-").FullName;

    private ProviderCluster(string kind) => Kind = kind;

    /// <summary><c>toss</c>, <c>kakaopay</c> or <c>stripe</c>: the adapter, and the wallet provider name chargers present.</summary>
    public string Kind { get; }
    public string RoutedEntry => Kind + "-own";
    public RunningProviderServer Server { get; private set; } = null!;
    public RunningProviderServer RoutedServer { get; private set; } = null!;
    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IClusterClient Client => Cluster.Client;
    public ILedger Ledger => Cluster.Silos[0].ServiceProvider.GetRequiredService<ILedger>();
    public ReconciliationService Reconciler => Cluster.Silos[0].ServiceProvider.GetRequiredService<ReconciliationService>();
    public ProviderPhone Phone { get; private set; } = null!;

    /// <summary>Toss Payments and KakaoPay approve a deposit and cancel the difference; Stripe holds.</summary>
    public bool Deposits => Kind is "toss" or "kakaopay";

    public static async Task<ProviderCluster> StartAsync(string kind, ProviderClusterOptions? options = null)
    {
        options ??= new ProviderClusterOptions();
        var fx = new ProviderCluster(kind);
        var serverOptions = new ProviderServerOptions { FaultHang = options.FaultHang };
        fx.Server = await ProviderServerHost.StartAsync(kind, serverOptions);
        fx.RoutedServer = await ProviderServerHost.StartAsync(kind, serverOptions);

        var postgres = options.PostgresConnectionString;
        var store = postgres is null
            ? new LedgerOptions { Provider = "Sqlite", ConnectionString = Path.Combine(fx._dir, "evcharge.db") }
            : new LedgerOptions { Provider = "Postgres", ConnectionString = postgres, EnsureSchema = false };
        if (postgres is not null) await SchemaMigrator.MigrateAsync("Postgres", postgres);
        // The journal's schema exists before any grain resolves it (a blocking DDL inside a grain turn can deadlock).
        var journal = SqlPaymentOperationJournal.Create(store);
        await journal.EnsureSchemaAsync();
        var payments = new ConfigurationBuilder().AddInMemoryCollection(fx.Settings(options)).Build().GetSection("Payments");

        var builder = new InProcessTestClusterBuilder(options.Silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
            silo.AddEvChargeTestStorage(postgres);
            silo.Services.AddEvChargeCore(o =>
            {
                o.PlatformPayeeAccount = PlatformPayee;
                o.StartTimeout = TimeSpan.FromSeconds(10);
                o.StopTimeout = TimeSpan.FromSeconds(30);
                o.WatchdogPeriod = TimeSpan.FromSeconds(1);
                options.Configure?.Invoke(o);
            });
            silo.Services.AddEvChargeLedger(store);
            silo.Services.AddEvChargeSessionStore(store);
            silo.Services.AddEvChargeReconciliation(store);
            silo.Services.AddSingleton<IPaymentOperationJournal>(journal);
            // Only the configured entries: a name that is not configured has no gateway here.
            silo.Services.AddPaymentProviders(payments, store, sandboxNames: []);
        });
        fx.Cluster = builder.Build();
        await fx.Cluster.DeployAsync();
        foreach (var cpo in PayeeCpos.Append(RoutedCpo))
            await fx.Client.GetGrain<ICpoGrain>(cpo).SetContract(new CpoContract(cpo, $"{cpo}-settlement", new Commission(1_000, 0), [DefaultTariff]));
        fx.Phone = new ProviderPhone(fx);
        return fx;
    }

    /// <summary>What the silo reads from <c>Payments</c>: the provider's entry with this CPO's payees, and the CPO's own merchant entry.</summary>
    private Dictionary<string, string?> Settings(ProviderClusterOptions options)
    {
        var settings = new Dictionary<string, string?>();
        void Entry(string name, RunningProviderServer server, bool payees)
        {
            var p = $"Payments:Providers:{name}:";
            settings[p + "Kind"] = Kind switch { "toss" => "Toss", "kakaopay" => "KakaoPay", _ => "Stripe" };
            settings[p + "BaseUrl"] = server.BaseAddress.ToString();
            settings[p + "SecretKey"] = server.Options.SecretKey;
            settings[p + "WebhookSecret"] = server.Options.WebhookSecret;
            settings[p + "AttemptTimeout"] = options.AttemptTimeout.ToString();
            settings[p + "TotalTimeout"] = (options.AttemptTimeout * (options.MaxRetryAttempts + 2)).ToString();
            settings[p + "MaxRetryAttempts"] = options.MaxRetryAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings[p + "RetryBaseDelay"] = "00:00:00.020";
            settings[p + "MaxRetryDelay"] = "00:00:00.200";
            if (Kind == "kakaopay") (settings[p + "Cid"], settings[p + "SubscriptionCid"]) = ("TC0ONETIME", "TCSUBSCRIP");
            if (!payees) return;
            // Toss pays the sellers out (with the security key); Stripe transfers to connected accounts. KakaoPay cannot.
            if (Kind == "toss") settings[p + "SecurityKey"] = server.Options.SecurityKey;
            foreach (var cpo in PayeeCpos)
                settings[p + $"Payees:{cpo}-settlement"] = Kind == "stripe" ? $"acct_{cpo.Replace('-', '_')}" : $"seller-{cpo}";
        }
        Entry(Kind, Server, payees: true);
        Entry(RoutedEntry, RoutedServer, payees: false);
        settings[$"Payments:Routes:{RoutedCpo}:{Kind}"] = RoutedEntry;
        return settings;
    }

    /// <summary>How the provider pays the payees of this entry (docs/payments.md).</summary>
    public PayeeSettlement PayeesOf(string entry) => Gateway(entry).Capabilities.Payees;

    public IPaymentGateway Gateway(string entry) =>
        Cluster.Silos[0].ServiceProvider.GetRequiredService<IPaymentGatewayRegistry>().TryGet(entry, out var g) ? g : throw new InvalidOperationException($"no entry {entry}");

    public RunningProviderServer ServerOf(string cpoId) => cpoId == RoutedCpo ? RoutedServer : Server;
    public string EntryOf(string cpoId) => cpoId == RoutedCpo ? RoutedEntry : Kind;

    public async Task<IChargerGrain> RegisterChargerAsync(string chargerId, string cpoId, long hold = 30_000, int connectors = 2)
    {
        var charger = Client.GetGrain<IChargerGrain>(chargerId);
        await Retry(() => charger.Register(new ChargerRegistration(cpoId, connectors, DefaultTariff.TariffId, hold, "secret-" + chargerId)));
        return charger;
    }

    /// <summary>Waits (bounded) until the session reaches one of the states.</summary>
    public async Task<SessionView> WaitForSessionAsync(string sessionId, params SessionState[] states)
    {
        var session = Client.GetGrain<IChargingSessionGrain>(sessionId);
        var view = await session.GetView();
        for (var i = 0; i < 600 && !states.Contains(view.State); i++)
        {
            await Task.Delay(100);
            view = await session.GetView();
        }
        return view;
    }

    /// <summary>Drives the session (Resume) until it rests in an end state with no refund pending, or gives up.</summary>
    public async Task<SessionView> SettleAsync(string sessionId, TimeSpan? within = null)
    {
        var session = Client.GetGrain<IChargingSessionGrain>(sessionId);
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(60));
        SessionView view;
        do
        {
            view = await Retry(() => session.Resume());
            if (view.State is SessionState.Settled or SessionState.Voided or SessionState.Rejected or SessionState.Debt) return view;
            await Task.Delay(200);
        } while (DateTime.UtcNow < deadline);
        return view;
    }

    /// <summary>Kills the silo at <paramref name="address"/> abruptly and starts a fresh one, so the cluster keeps its size.</summary>
    public async Task KillAsync(SiloAddress address)
    {
        var handle = Cluster.Silos.FirstOrDefault(s => s.SiloAddress.Equals(address));
        if (handle is null) return;
        await Cluster.KillSiloAsync(handle);
        await Cluster.StartAdditionalSiloAsync();
    }

    /// <summary>Calls through a silo kill: a call to a grain on a silo that just died fails until the cluster notices.</summary>
    public static async Task<T> Retry<T>(Func<Task<T>> call, int attempts = 60)
    {
        for (var i = 0; ; i++)
        {
            try { return await call(); }
            catch (Exception) when (i < attempts) { await Task.Delay(250); }
        }
    }

    public static Task Retry(Func<Task> call, int attempts = 60) => Retry(async () => { await call(); return true; }, attempts);

    /// <summary>The sessions a charger opened (from the session index: a refused one was never told to the charger).</summary>
    public async Task<List<string>> SessionsOfChargerAsync(string chargerId) =>
        (await Cluster.Silos[0].ServiceProvider.GetRequiredService<ISessionIndex>().QueryAsync(new SessionQuery(ChargerId: chargerId)))
            .Items.Select(s => s.SessionId).ToList();

    /// <summary>The ledger journals of a session, every authorization's scope included.</summary>
    public async Task<List<LedgerEntry>> EntriesAsync(SessionView session)
    {
        var entries = new List<LedgerEntry>();
        foreach (var scope in session.Payments.Select(p => p.OrderId).DefaultIfEmpty(session.SessionId).Distinct())
            entries.AddRange(await Ledger.GetSessionEntriesAsync(scope));
        return entries;
    }

    public async Task AssertLedgerOkAsync()
    {
        var report = await Ledger.CheckInvariantsAsync();
        Assert.True(report.Ok, string.Join("; ", report.Violations.Select(v => $"{v.Rule} {v.SessionId} {v.Detail}")));
    }

    public async Task AssertReconciledAsync()
    {
        var report = await Reconciler.RunAsync();
        Assert.True(report.Clean, report.ToString());
    }

    /// <summary>
    /// Every payment the provider-shaped server holds, as the provider shows it (Toss Payment objects, KakaoPay orders,
    /// Stripe PaymentIntents), for checks across all of them.
    /// </summary>
    public async Task<List<JsonElement>> ProviderPaymentsAsync(RunningProviderServer? server = null)
    {
        using var http = new HttpClient { BaseAddress = (server ?? Server).BaseAddress };
        var path = Kind == "stripe" ? "/__test/payment_intents" : "/__test/payments";
        return (await http.GetFromJsonAsync<List<JsonElement>>(path))!;
    }

    public async Task<JsonElement> ProviderPaymentAsync(string authorizationId, RunningProviderServer? server = null) =>
        (await ProviderPaymentsAsync(server)).Single(p => Id(p) == authorizationId);

    public string Id(JsonElement payment) => payment.GetProperty(Kind switch { "toss" => "paymentKey", "kakaopay" => "tid", _ => "id" }).GetString()!;

    public string OrderId(JsonElement payment) => Kind switch
    {
        "toss" => payment.GetProperty("orderId").GetString()!,
        "kakaopay" => payment.GetProperty("partner_order_id").GetString()!,
        _ => payment.GetProperty("metadata").GetProperty("order_id").GetString()!,
    };

    /// <summary>What the driver's card or wallet is charged for this payment now: a deposit net of its cancels, or a hold's capture net of refunds.</summary>
    public long NetCharged(JsonElement p) => Kind switch
    {
        "toss" => p.GetProperty("status").GetString() == "CANCELED" ? 0 : p.GetProperty("balanceAmount").GetInt64(),
        "kakaopay" => p.GetProperty("amount").GetProperty("total").GetInt64() - p.GetProperty("canceled_amount").GetProperty("total").GetInt64(),
        _ => p.GetProperty("amount_received").GetInt64() - p.GetProperty("latest_charge").GetProperty("amount_refunded").GetInt64(),
    };

    /// <summary>The markers of a deposit's cancels (Toss cancelReason, KakaoPay payload): each is one of our keyed requests.</summary>
    public List<string> CancelMarkers(JsonElement p) => Kind switch
    {
        "toss" => p.TryGetProperty("cancels", out var c) && c.ValueKind == JsonValueKind.Array ? c.EnumerateArray().Select(x => x.GetProperty("cancelReason").GetString()!).ToList() : [],
        "kakaopay" => p.GetProperty("payment_action_details").EnumerateArray()
            .Where(a => a.GetProperty("payment_action_type").GetString() == "CANCEL").Select(a => a.GetProperty("payload").GetString()!).ToList(),
        _ => [],
    };

    /// <summary>Still holding the driver's money with nothing decided: a Stripe hold not captured or cancelled.</summary>
    public bool OpenHold(JsonElement p) => Kind == "stripe" && p.GetProperty("status").GetString() == "requires_capture";

    public async ValueTask DisposeAsync()
    {
        try { await Cluster.StopAllSilosAsync(); } catch (Exception) { }
        await Cluster.DisposeAsync();
        await Server.DisposeAsync();
        await RoutedServer.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}

/// <summary>
/// The driver's side at the provider, as the provider's test hooks play it: a finished checkout gives the one-time code
/// the charger forwards (Toss <c>{orderId}:{paymentKey}</c>, KakaoPay <c>{tid}:{pg_token}</c>, a Stripe PaymentMethod
/// <c>pm_…</c>),
/// and a saved credential is what seamless charging binds (Toss billing key, KakaoPay SID, Stripe customer + card).
/// </summary>
public sealed class ProviderPhone(ProviderCluster fx)
{
    /// <summary>A one-time payment code for a hold of <paramref name="amount"/> at the CPO's entry.</summary>
    public async Task<string> OneTimeCodeAsync(long amount, string cpoId, string? decline = null, bool incremental = true)
    {
        var server = fx.ServerOf(cpoId);
        var checkout = $"chk-{Guid.NewGuid():N}"[..24];
        switch (fx.Kind)
        {
            case "toss":
            {
                var window = await HookAsync(server, "/__test/checkouts", new { orderId = checkout, amount, reject = decline });
                return $"{checkout}:{window.GetProperty("paymentKey").GetString()}";
            }
            case "kakaopay":
            {
                // KakaoPay ready is the adapter's (it keeps the tid in its journal); the phone then approves in KakaoTalk.
                var session = await fx.Gateway(fx.EntryOf(cpoId)).PrepareCheckoutAsync(new CheckoutRequest(checkout, amount, "driver-" + checkout[4..12], "EV charging",
                    new Uri("https://evcharge.test/approve"), new Uri("https://evcharge.test/cancel"), new Uri("https://evcharge.test/fail")), checkout + ":ready");
                var tid = session.ProviderReference!;
                var approved = await HookAsync(server, "/__test/approve", new { tid, reject = decline });
                return $"{tid}:{approved.GetProperty("pg_token").GetString()}";
            }
            default:
            {
                // A card of this phone's own (Stripe.js would create the PaymentMethod): its wallet is this card.
                var card = await HookAsync(server, "/__test/payment_methods", new { behavior = decline is null ? "ok" : "insufficient_funds", incremental });
                return card.GetProperty("id").GetString()!;
            }
        }
    }

    /// <summary>A saved credential of driver <paramref name="driver"/> at the CPO's entry (Stripe: increments allowed or not).</summary>
    public async Task<string> SavedCredentialAsync(string driver, string cpoId, bool incremental = true)
    {
        var server = fx.ServerOf(cpoId);
        switch (fx.Kind)
        {
            case "toss":
                var key = await HookAsync(server, "/__test/billing-keys", new { customerKey = driver });
                return $"{driver}:{key.GetProperty("billingKey").GetString()}";
            case "kakaopay":
                var sid = await HookAsync(server, "/__test/sids", new { partner_user_id = driver });
                return $"{driver}:{sid.GetProperty("sid").GetString()}";
            default:
                var customer = "cus_" + driver.Replace('-', '_');
                var pm = await HookAsync(server, "/__test/payment_methods", new { behavior = "ok", customer, incremental });
                return $"{customer}:{pm.GetProperty("id").GetString()}";
        }
    }

    private static async Task<JsonElement> HookAsync(RunningProviderServer server, string path, object body)
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var response = await http.PostAsJsonAsync(path, body);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}

/// <summary>xUnit class fixtures: one cluster per adapter for the flow tests.</summary>
public abstract class ProviderClusterFixture(string kind) : IAsyncLifetime
{
    public ProviderCluster Fx { get; private set; } = null!;
    public async Task InitializeAsync() => Fx = await ProviderCluster.StartAsync(kind);
    public async Task DisposeAsync() => await Fx.DisposeAsync();
}

public sealed class TossClusterFixture() : ProviderClusterFixture("toss");
public sealed class KakaoPayClusterFixture() : ProviderClusterFixture("kakaopay");
public sealed class StripeClusterFixture() : ProviderClusterFixture("stripe");
