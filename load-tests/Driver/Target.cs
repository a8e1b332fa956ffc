using System.Net;
using EvCharge.Charging;
using EvCharge.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EvCharge.LoadTests.Driver;

/// <summary>
/// The system under test as the driver sees it: the MQTT broker, the sandbox (phones), a grain factory for
/// registration and operator reads (an Orleans client of the silo, or the test cluster's client), the ledger for
/// the end-of-run invariant check, and the process whose CPU and memory are sampled. Loopback only.
/// </summary>
public sealed class Target : IAsyncDisposable
{
    public const string TariffId = "lt-flat";
    public const long PricePerKwh = 300;
    public const long HoldAmount = 30_000;
    public const int ChargersPerCpo = 1000;

    private IHost? _clientHost;

    /// <summary>The host chargers connect to (MQTT broker or WebSocket endpoint).</summary>
    public required string MqttHost { get; init; }
    public required int MqttPort { get; init; }
    /// <summary>--transport: MQTT (default) or OCPP-J over WebSocket on <see cref="WsPort"/>.</summary>
    public ChargerTransport Transport { get; init; } = ChargerTransport.Mqtt;
    public int WsPort { get; init; } = 8180;
    public int ChargerPort => Transport == ChargerTransport.Ws ? WsPort : MqttPort;
    public required Uri Sandbox { get; init; }
    public required IGrainFactory Grains { get; init; }
    public ILedger? Ledger { get; init; }
    /// <summary>The silo's process id (CPU/memory sampling); the driver's own process when hosted in-process.</summary>
    public int? SutPid { get; init; }
    public int? ProviderPid { get; init; }
    /// <summary>PostgreSQL connection string when the profile is Postgres: commits per charge from pg_stat_database.</summary>
    public string? Postgres { get; init; }
    /// <summary>REST API base (issue 5). Used for the ledger check and operator reads when /api/v1 answers.</summary>
    public Uri? Api { get; init; }
    public bool SkipRegistration { get; init; }

    public static void RequireLoopback(string host)
    {
        if (!(IPAddress.TryParse(host, out var ip) ? IPAddress.IsLoopback(ip) : host is "localhost"))
            throw new ArgumentException($"The load driver only sends traffic to loopback; '{host}' is not.");
    }

    /// <summary>Connects to a running silo as an Orleans client (localhost gateway) and opens the ledger store.</summary>
    public static async Task<Target> ConnectAsync(Options o, CancellationToken ct)
    {
        var mqtt = o.Get("mqtt-host", "127.0.0.1");
        var sandbox = new Uri(o.Get("sandbox", "http://127.0.0.1:5090"));
        var api = o.Get("api", "http://127.0.0.1:5080");
        RequireLoopback(mqtt);
        RequireLoopback(sandbox.Host);
        RequireLoopback(new Uri(api).Host);

        var gatewayPort = o.Int("gateway-port", 30000);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(c => c.UseLocalhostClustering(gatewayPort, o.Get("service-id", "evcharge"), o.Get("cluster-id", "evcharge")));
        var host = builder.Build();
        using (var cts = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            cts.CancelAfter(TimeSpan.FromSeconds(60));
            await host.StartAsync(cts.Token);
        }

        ILedger? ledger = null;
        var pg = o.GetOrNull("postgres");
        if (pg is not null) ledger = new PostgresLedger(pg);
        else if (o.GetOrNull("sqlite") is { } sqlite) ledger = new SqliteLedger(sqlite);

        return new Target
        {
            MqttHost = mqtt,
            MqttPort = o.Int("mqtt-port", 1883),
            Transport = ParseTransport(o.Get("transport", "mqtt")),
            WsPort = o.Int("ws-port", 8180),
            Sandbox = sandbox,
            Api = new Uri(api),
            Grains = host.Services.GetRequiredService<IClusterClient>(),
            Ledger = ledger,
            Postgres = pg,
            SkipRegistration = o.Has("skip-register"),
            SutPid = o.GetOrNull("sut-pid") is { } pid ? int.Parse(pid) : null,
            ProviderPid = o.GetOrNull("provider-pid") is { } providerPid ? int.Parse(providerPid) : null,
            _clientHost = host,
        };
    }

    public static ChargerTransport ParseTransport(string value) => value.ToLowerInvariant() switch
    {
        "mqtt" => ChargerTransport.Mqtt,
        "ws" or "websocket" => ChargerTransport.Ws,
        _ => throw new ArgumentException($"--transport is ws or mqtt, not '{value}'"),
    };

    public static string CpoOf(string prefix, int index) => $"{prefix}cpo{index / ChargersPerCpo}";

    /// <summary>
    /// Registers the chargers (bounded concurrency). Chargers are spread over one CPO per thousand, because every
    /// registration appends to its CPO grain's charger list (see docs/performance.md, "registration").
    /// </summary>
    public async Task RegisterAsync(IReadOnlyList<SimCharger> chargers, string prefix, Metrics metrics, CancellationToken ct, int concurrency = 32)
    {
        // --skip-register: an earlier run with the same --prefix registered them (ids and passwords are derived from it).
        if (SkipRegistration) return;
        var cpos = chargers.Select(c => CpoOf(prefix, c.Index)).Distinct().ToList();
        foreach (var cpo in cpos)
            await Grains.GetGrain<ICpoGrain>(cpo).SetContract(new CpoContract(cpo, $"{cpo}-settlement", new Commission(1_000, 0),
                [Tariff.Flat(TariffId, PricePerKwh)]));

        using var gate = new SemaphoreSlim(concurrency);
        var tasks = new List<Task>(chargers.Count);
        foreach (var c in chargers)
        {
            await gate.WaitAsync(ct);
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    var t0 = Metrics.Now;
                    await Grains.GetGrain<IChargerGrain>(c.Id).Register(
                        new ChargerRegistration(CpoOf(prefix, c.Index), 1, TariffId, HoldAmount, c.Password, "LT-1"));
                    metrics.Record("setup.register", t0);
                }
                catch (Exception ex) { metrics.Error("register:" + ex.GetType().Name); }
                finally { gate.Release(); }
            }, ct));
        }
        await Task.WhenAll(tasks);
    }

    /// <summary>pg_stat_database counters of the current database: commits and row writes.</summary>
    public async Task<(long Commits, long RowWrites)?> PostgresWritesAsync(CancellationToken ct)
    {
        if (Postgres is null) return null;
        try
        {
            await using var conn = new NpgsqlConnection(Postgres);
            await conn.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand(
                "select xact_commit, tup_inserted + tup_updated + tup_deleted from pg_stat_database where datname = current_database()", conn);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            return (r.GetInt64(0), r.GetInt64(1));
        }
        catch (Exception) { return null; }
    }

    public async ValueTask DisposeAsync()
    {
        if (Ledger is IAsyncDisposable d) await d.DisposeAsync();
        if (_clientHost is not null)
        {
            try { await _clientHost.StopAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { }
            _clientHost.Dispose();
        }
    }
}
