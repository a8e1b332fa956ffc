using System.Net;
using System.Net.Sockets;
using EvCharge.ChargerBridge.Extensions;
using EvCharge.ChargerBridge.Mqtt;
using EvCharge.ChargerBridge.WebSockets;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.LoadTests.Driver;
using EvCharge.LoadTests.Reporting;
using EvCharge.LoadTests.Scenarios;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EvCharge.IntegrationTests.Load;

/// <summary>
/// The system hosted in this process for the load scenarios: grains (CoreCluster: InProcessTestCluster, sandbox over
/// real HTTP, SQLite ledger) and the charger bridge with its embedded MQTTnet broker and its OCPP-J WebSocket endpoint
/// on free loopback ports.
/// </summary>
public sealed class LoadSystemFixture : IAsyncLifetime
{
    private IHost? _bridge;
    public CoreCluster Core { get; } = new();
    public int MqttPort { get; } = FreePort();
    public int WsPort { get; } = FreePort();

    public async Task InitializeAsync()
    {
        await Core.InitializeAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton<IGrainFactory>(Core.Client);
        builder.Services.AddChargerBridge(o =>
        {
            o.Broker = BrokerMode.Embedded;
            o.Port = MqttPort;
            o.ReconnectMinMilliseconds = 100;
            o.ReconnectMaxMilliseconds = 1000;
        });
        builder.Services.AddOcppWebSockets(o =>
        {
            o.Port = WsPort;
            o.TlsPort = 0;
        });
        _bridge = builder.Build();
        await _bridge.StartAsync();
        await _bridge.Services.GetRequiredService<MqttChargerBridge>().WaitUntilSubscribedAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public Target Target(ChargerTransport transport = ChargerTransport.Mqtt) => new()
    {
        MqttHost = "127.0.0.1",
        MqttPort = MqttPort,
        WsPort = WsPort,
        Transport = transport,
        Sandbox = Core.Sandbox.BaseAddress,
        Grains = Core.Client,
        Ledger = Core.Ledger,
    };

    private static int FreePort() => EvCharge.IntegrationTests.Infrastructure.LoopbackPorts.Next();

    public async Task DisposeAsync()
    {
        if (_bridge is not null)
        {
            await _bridge.StopAsync();
            _bridge.Dispose();
        }
        await Core.DisposeAsync();
    }
}

/// <summary>
/// A few seconds of each load scenario with a handful of chargers: it must finish with no errors and a balanced
/// ledger with no broken invariant for its sessions. Never asserts on speed (docs/performance.md has the numbers).
/// </summary>
[Collection("load-smoke")]
public sealed class LoadSmokeTests(LoadSystemFixture fx) : IClassFixture<LoadSystemFixture>
{
    private Task<RunReport> RunAsync(string scenario, string prefix, params string[] args) =>
        RunAsync(ChargerTransport.Mqtt, scenario, prefix, args);

    private async Task<RunReport> RunAsync(ChargerTransport transport, string scenario, string prefix, params string[] args)
    {
        var options = new Options(args.Concat(["--prefix", prefix, "--quiet", "--no-report-files", "--max-seconds", "120", "--call-timeout", "20"]));
        var report = await LoadScenarios.RunAsync(scenario, options, fx.Target(transport), CancellationToken.None);
        Assert.True(report.TotalErrors == 0, "errors: " + string.Join(", ", report.Errors.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.NotNull(report.Ledger);
        Assert.True(report.Ledger!.Balanced, $"ledger unbalanced: debits {report.Ledger.TotalDebits} credits {report.Ledger.TotalCredits}");
        Assert.True(report.Ledger.RunViolations == 0, string.Join("; ", report.Ledger.Samples));
        return report;
    }

    [Fact]
    public async Task Simulate_runs_paid_charges_with_receipts()
    {
        var report = await RunAsync("simulate", "lsim-", "--chargers", "3", "--charges", "6", "--charge-seconds", "1", "--meter-seconds", "0.5");
        Assert.Equal(6, report.Counters["charges.completed"]);
        Assert.Equal(6, report.Latencies.Single(l => l.Step == "stop-to-receipt").Count);
    }

    [Fact]
    public async Task Connect_holds_chargers_with_heartbeats()
    {
        var report = await RunAsync("connect", "lcon-", "--chargers", "20", "--ramp", "50", "--hold", "3", "--heartbeat", "1");
        Assert.Equal(20, report.Figures["chargers.connected-end"]);
        Assert.True(report.Counters.GetValueOrDefault("heartbeats") > 0);
    }

    [Fact]
    public async Task Steady_arrivals_complete_paid_charges()
    {
        var report = await RunAsync("steady", "lstd-", "--rate", "2", "--duration", "3", "--chargers", "20", "--charge-seconds", "1", "--meter-seconds", "0.5");
        Assert.True(report.Counters["charges.completed"] > 0);
        Assert.Equal(report.Counters["arrivals.charge"], report.Counters["charges.completed"]);
    }

    [Fact]
    public async Task Bootstorm_loses_no_transaction_message()
    {
        var report = await RunAsync("bootstorm", "lbst-", "--chargers", "20", "--transactions", "5", "--outage", "1");
        Assert.Equal(0, report.Figures["messages.lost"]);
        Assert.Equal(15, report.Figures["messages.confirmed"]);
        Assert.Equal(5, report.Figures["receipts.received"]);
    }

    [Fact]
    public async Task Mixed_runs_charges_declines_and_reads()
    {
        var report = await RunAsync("mixed", "lmix-", "--rate", "1", "--auth-rate", "1", "--read-rate", "5", "--duration", "3",
            "--chargers", "20", "--charge-seconds", "1", "--meter-seconds", "0.5");
        Assert.True(report.Counters["charges.completed"] > 0);
        Assert.True(report.Counters["authorizations.declined"] > 0);
        Assert.True(report.Counters["operator-reads"] > 0);
    }

    [Fact]
    public async Task Over_websocket_chargers_connect_charge_and_survive_a_boot_storm()
    {
        var connect = await RunAsync(ChargerTransport.Ws, "connect", "lwsc-", "--chargers", "20", "--ramp", "50", "--hold", "2", "--heartbeat", "1");
        Assert.Equal(20, connect.Figures["chargers.connected-end"]);
        Assert.True(connect.Counters.GetValueOrDefault("heartbeats") > 0);

        var steady = await RunAsync(ChargerTransport.Ws, "steady", "lwss-", "--rate", "2", "--duration", "3", "--chargers", "20", "--charge-seconds", "1", "--meter-seconds", "0.5");
        Assert.True(steady.Counters["charges.completed"] > 0);
        Assert.Equal(steady.Counters["arrivals.charge"], steady.Counters["charges.completed"]);

        var storm = await RunAsync(ChargerTransport.Ws, "bootstorm", "lwsb-", "--chargers", "20", "--transactions", "5", "--outage", "1");
        Assert.Equal(0, storm.Figures["messages.lost"]);
        Assert.Equal(15, storm.Figures["messages.confirmed"]);
        Assert.Equal(5, storm.Figures["receipts.received"]);
    }
}
