using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Sessions;
using EvCharge.SocialSandbox;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace EvCharge.IntegrationTests.Infrastructure;

/// <summary>
/// Grains in an Orleans InProcessTestCluster, talking real HTTP to a social-sandbox on a loopback port, with
/// the ledger in a real SQLite file. Short timeouts so watchdog paths run within a test.
/// </summary>
public class CoreCluster : IAsyncLifetime
{
    public const string CpoId = "cpo-seoul";
    public const string CpoPayee = "cpo-seoul-settlement";
    public const string PlatformPayee = "platform-operator";
    public static readonly Tariff DefaultTariff = Tariff.Flat("std", 300);

    private readonly string _dir = Directory.CreateTempSubdirectory("evc-core-").FullName;
    public RunningSandbox Sandbox { get; private set; } = null!;
    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IClusterClient Client => Cluster.Client;
    public ILedger Ledger { get; private set; } = null!;
    protected virtual short Silos => 1;
    protected virtual void Configure(EvChargeOptions options) { }

    public async Task InitializeAsync()
    {
        var sandboxOptions = new SandboxOptions();
        ConfigureSandbox(sandboxOptions);
        Sandbox = await SocialSandboxHost.StartAsync(sandboxOptions);
        var ledgerPath = Path.Combine(_dir, "ledger.db");
        var sandboxUri = Sandbox.BaseAddress;
        var builder = new InProcessTestClusterBuilder(Silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddEvChargeTestStorage(postgres: null);
            silo.Services.AddEvChargeCore(o =>
            {
                o.PlatformPayeeAccount = PlatformPayee;
                o.StartTimeout = TimeSpan.FromSeconds(3);
                o.StopTimeout = TimeSpan.FromSeconds(3);
                o.WatchdogPeriod = TimeSpan.FromSeconds(1);
                Configure(o);
            });
            var store = new LedgerOptions { Provider = "Sqlite", ConnectionString = ledgerPath };
            silo.Services.AddEvChargeLedger(store);
            silo.Services.AddEvChargeSessionStore(store);
            silo.Services.AddSandboxPaymentGateway(sandboxUri, o => ConfigureGateway(o));
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        Ledger = Cluster.Silos[0].ServiceProvider.GetRequiredService<ILedger>();
        await Client.GetGrain<ICpoGrain>(CpoId).SetContract(new CpoContract("Seoul Charging", CpoPayee, new Commission(1_000, 0), [DefaultTariff]));
    }

    protected virtual void ConfigureGateway(SandboxGatewayOptions options) { }
    protected virtual void ConfigureSandbox(SandboxOptions options) { }

    /// <summary>A CPO of the test's own, so payee totals are not shared with other tests.</summary>
    public async Task<(string CpoId, string Payee)> CreateCpoAsync(string name, Commission? commission = null, Tariff? tariff = null)
    {
        var cpoId = $"cpo-{name}";
        await Client.GetGrain<ICpoGrain>(cpoId).SetContract(new CpoContract(name, $"{cpoId}-settlement", commission ?? new Commission(1_000, 0), [tariff ?? DefaultTariff]));
        return (cpoId, $"{cpoId}-settlement");
    }

    public async Task<IChargerGrain> RegisterChargerAsync(string chargerId, long hold = 30_000, int connectors = 2, string cpoId = CpoId, string? tariffId = null)
    {
        var charger = Client.GetGrain<IChargerGrain>(chargerId);
        await charger.Register(new ChargerRegistration(cpoId, connectors, tariffId ?? DefaultTariff.TariffId, hold, "secret-" + chargerId));
        return charger;
    }

    /// <summary>Waits (bounded) until the session reaches one of the given states; settlement runs after the stop is confirmed.</summary>
    public async Task<SessionView> WaitForSessionAsync(string sessionId, params SessionState[] states)
    {
        var session = Client.GetGrain<IChargingSessionGrain>(sessionId);
        var view = await session.GetView();
        for (var i = 0; i < 900 && !states.Contains(view.State); i++)
        {
            await Task.Delay(100);
            view = await session.GetView();
        }
        return view;
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        await Sandbox.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
