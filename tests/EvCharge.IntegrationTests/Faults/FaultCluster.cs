using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Reconciliation;
using EvCharge.Sessions;
using EvCharge.Silo.Persistence;
using EvCharge.SocialSandbox;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace EvCharge.IntegrationTests.Faults;

/// <summary>
/// Two silos in an InProcessTestCluster whose grain state and reminders live in PostgreSQL (ADO.NET providers, our
/// schema scripts), the ledger in the same database, the sandbox over real HTTP with a short time-out hang, and a
/// <see cref="CrashPoints"/> decorator around the real gateway. Killing a silo loses only what a real crash loses.
/// </summary>
public sealed class FaultCluster : IAsyncDisposable
{
    public const string CpoId = "cpo-faults";
    public const string CpoPayee = "cpo-faults-settlement";
    public const string PlatformPayee = "platform-operator";
    public static readonly Tariff DefaultTariff = Tariff.Flat("std", 300);

    public RunningSandbox Sandbox { get; private set; } = null!;
    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IClusterClient Client => Cluster.Client;
    public ILedger Ledger => Cluster.Silos[0].ServiceProvider.GetRequiredService<ILedger>();
    public ReconciliationService Reconciler => Cluster.Silos[0].ServiceProvider.GetRequiredService<ReconciliationService>();
    public CrashPoints Crashes { get; } = new();
    public string ConnectionString { get; private set; } = "";

    public static async Task<FaultCluster> StartAsync(PostgresServer pg, string name, short silos = 2, Action<EvChargeOptions>? configure = null)
    {
        var fx = new FaultCluster();
        Trace("database");
        fx.ConnectionString = await pg.CreateDatabaseAsync(name);
        await SchemaMigrator.MigrateAsync("Postgres", fx.ConnectionString);
        Trace("migrated");
        fx.Sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions { FaultTimeoutHang = TimeSpan.FromMilliseconds(400) });
        var sandboxUri = fx.Sandbox.BaseAddress;
        var cs = fx.ConnectionString;
        var crashes = fx.Crashes;
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning).AddProvider(new TraceLoggerProvider()));
            silo.AddEvChargeTestStorage(cs);
            silo.Services.AddEvChargeCore(o =>
            {
                o.PlatformPayeeAccount = PlatformPayee;
                o.StartTimeout = TimeSpan.FromSeconds(4);
                o.StopTimeout = TimeSpan.FromSeconds(6);
                o.WatchdogPeriod = TimeSpan.FromMilliseconds(500);
                o.MaxSettlementAttempts = 4;
                configure?.Invoke(o);
            });
            // The migrator created the ledger tables. With EnsureSchema the ledger singleton blocks on async DDL when it is
            // first resolved, and when that happens inside a grain activation (Orleans' scheduler) it deadlocks.
            var ledger = new LedgerOptions { Provider = "Postgres", ConnectionString = cs, EnsureSchema = false };
            silo.Services.AddEvChargeLedger(ledger);
            silo.Services.AddEvChargeSessionStore(ledger);
            silo.Services.AddEvChargeReconciliation(ledger);
            silo.Services.AddSingleton(crashes);
            // Registered before the adapter so its TryAdd keeps ours: the real HTTP adapter, wrapped.
            silo.Services.AddTransient<IPaymentGateway>(sp => new CrashPointGateway(
                sp.GetRequiredService<SandboxPaymentGateway>(), sp.GetRequiredService<CrashPoints>(), sp.GetRequiredService<ILocalSiloDetails>().SiloAddress));
            silo.Services.AddSandboxPaymentGateway(sandboxUri, o =>
            {
                o.AttemptTimeout = TimeSpan.FromMilliseconds(300);
                o.TotalTimeout = TimeSpan.FromSeconds(3);
                o.MaxRetryAttempts = 3;
                o.RetryBaseDelay = TimeSpan.FromMilliseconds(20);
                o.MaxRetryDelay = TimeSpan.FromMilliseconds(200);
            });
        });
        fx.Cluster = builder.Build();
        Trace("deploying");
        await fx.Cluster.DeployAsync();
        Trace("deployed");
        crashes.OnCrash = fx.KillAsync;
        Trace("contract");
        await fx.Client.GetGrain<ICpoGrain>(CpoId).SetContract(new CpoContract("Faults", CpoPayee, new Commission(1_000, 0), [DefaultTariff]));
        return fx;
    }

    /// <summary>Progress of the fixture, for diagnosing a slow or stuck start (EVCHARGE_FAULTS_TRACE=path).</summary>
    public static void Trace(string step)
    {
        if (Environment.GetEnvironmentVariable("EVCHARGE_FAULTS_TRACE") is { Length: > 0 } path)
            File.AppendAllText(path, $"{DateTime.UtcNow:HH:mm:ss.fff} {step}\n");
    }

    /// <summary>Kills the silo at <paramref name="address"/> abruptly and starts a fresh one, so two silos keep running.</summary>
    public async Task KillAsync(SiloAddress address)
    {
        var handle = Cluster.Silos.FirstOrDefault(s => s.SiloAddress.Equals(address));
        if (handle is null) return;
        Trace($"killing {address}");
        await Cluster.KillSiloAsync(handle);
        Trace("killed; starting a replacement");
        await Cluster.StartAdditionalSiloAsync();
        Trace("replacement up");
    }

    public async Task<IChargerGrain> RegisterChargerAsync(string chargerId, long hold = 30_000, int connectors = 2, string cpoId = CpoId)
    {
        var charger = Client.GetGrain<IChargerGrain>(chargerId);
        await Retry(() => charger.Register(new ChargerRegistration(cpoId, connectors, DefaultTariff.TariffId, hold, "secret-" + chargerId)));
        return charger;
    }

    /// <summary>Calls through a silo kill: a call to a grain on a silo that just died fails until the cluster notices.</summary>
    public static async Task<T> Retry<T>(Func<Task<T>> call, int attempts = 60)
    {
        for (var i = 0; ; i++)
        {
            try { return await call(); }
            catch (Exception e) when (i < attempts)
            {
                Trace($"retrying after {e.GetType().Name}: {e.Message}");
                await Task.Delay(250);
            }
        }
    }

    public static Task Retry(Func<Task> call, int attempts = 60) => Retry(async () => { await call(); return true; }, attempts);

    /// <summary>Drives the session (Resume) until it reaches an end state with no pending refund, or gives up.</summary>
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

    public async ValueTask DisposeAsync()
    {
        try { await Cluster.StopAllSilosAsync(); } catch (Exception) { }
        await Cluster.DisposeAsync();
        await Sandbox.DisposeAsync();
    }
}

/// <summary>Thrown by <see cref="CrashPointGateway"/> where the silo "dies": nothing after this point runs.</summary>
public sealed class SimulatedSiloCrashException(string point) : Exception($"simulated silo crash {point}");

/// <summary>One armed crash point: the next call of an operation, before or after the real HTTP call.</summary>
public sealed class CrashPoints
{
    private readonly Lock _gate = new();
    private (string Operation, bool After)? _armed;
    public Func<SiloAddress, Task>? OnCrash { get; set; }
    public Task Fired { get; private set; } = Task.CompletedTask;
    public bool Armed { get { lock (_gate) return _armed is not null; } }

    public void Arm(string operation, bool after)
    {
        lock (_gate) _armed = (operation, after);
    }

    internal void Hit(string operation, bool after, SiloAddress silo)
    {
        lock (_gate)
        {
            if (_armed != (operation, after)) return;
            _armed = null;
            // Kill off the grain's own thread; the grain's call ends here as if its process had died.
            Fired = Task.Run(() => OnCrash?.Invoke(silo) ?? Task.CompletedTask);
        }
        throw new SimulatedSiloCrashException($"{(after ? "after" : "before")} {operation}");
    }
}

/// <summary>The real HTTP adapter, with a crash point around each money-moving call.</summary>
internal sealed class CrashPointGateway(SandboxPaymentGateway inner, CrashPoints points, SiloAddress silo) : IPaymentGateway
{
    public ProviderCapabilities Capabilities => inner.Capabilities;

    private async Task<T> Around<T>(string operation, Func<Task<T>> call)
    {
        FaultCluster.Trace($"gateway {operation} on {silo}");
        points.Hit(operation, after: false, silo);
        var result = await call();
        FaultCluster.Trace($"gateway {operation} answered");
        points.Hit(operation, after: true, silo);
        return result;
    }

    public Task<AuthorizeOutcome> AuthorizeAsync(AuthorizeRequest request, string idempotencyKey, CancellationToken ct = default) =>
        Around("authorize", () => inner.AuthorizeAsync(request, idempotencyKey, ct));
    public Task<CaptureOutcome> CaptureAsync(CaptureRequest request, string idempotencyKey, CancellationToken ct = default) =>
        Around("capture", () => inner.CaptureAsync(request, idempotencyKey, ct));
    public Task<VoidOutcome> VoidAsync(string authorizationId, string idempotencyKey, CancellationToken ct = default) =>
        Around("void", () => inner.VoidAsync(authorizationId, idempotencyKey, ct));
    public Task<RefundResult> RefundAsync(RefundRequest request, string idempotencyKey, CancellationToken ct = default) =>
        Around("refund", () => inner.RefundAsync(request, idempotencyKey, ct));
    public Task<ProviderAuthorization?> GetAsync(string authorizationId, CancellationToken ct = default) => inner.GetAsync(authorizationId, ct);
    public Task<ProviderAuthorization?> FindByOrderAsync(string orderId, CancellationToken ct = default) => inner.FindByOrderAsync(orderId, ct);
    public Task<IReadOnlyList<ProviderAuthorization>> ListAuthorizationsAsync(ProviderAuthorizationStatus status, CancellationToken ct = default) =>
        inner.ListAuthorizationsAsync(status, ct);
}

/// <summary>Silo log lines (warnings and up) into the <see cref="FaultCluster.Trace"/> file when tracing is on.</summary>
internal sealed class TraceLoggerProvider : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new TraceLogger(categoryName);
    public void Dispose() { }

    private sealed class TraceLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            FaultCluster.Trace($"[{logLevel}] {category}: {formatter(state, exception)} {exception?.GetType().Name} {exception?.Message}");
    }
}
