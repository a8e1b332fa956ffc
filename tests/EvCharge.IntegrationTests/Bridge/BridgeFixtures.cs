using EvCharge.ChargerBridge.Extensions;
using EvCharge.ChargerBridge.Mqtt;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EvCharge.IntegrationTests.Bridge;

/// <summary>
/// The grains (CoreCluster: InProcessTestCluster + sandbox over HTTP + SQLite ledger) plus a charger bridge host
/// using the cluster client as its grain factory, the way the stand-alone bridge process runs.
/// </summary>
public abstract class BridgeFixture : IAsyncLifetime
{
    private readonly List<IHost> _hosts = [];

    public CoreCluster Core { get; } = new();
    public abstract int Port { get; }
    public IReadOnlyList<MqttChargerBridge> Bridges => _hosts.Select(h => h.Services.GetRequiredService<MqttChargerBridge>()).ToList();

    public virtual async Task InitializeAsync() => await Core.InitializeAsync();

    protected async Task StartBridgeAsync(Action<ChargerBridgeOptions> configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton<IGrainFactory>(Core.Client);
        builder.Services.AddChargerBridge(o =>
        {
            o.ReconnectMinMilliseconds = 100;
            o.ReconnectMaxMilliseconds = 1000;
            configure(o);
        });
        var host = builder.Build();
        await host.StartAsync();
        _hosts.Add(host);
        await host.Services.GetRequiredService<MqttChargerBridge>().WaitUntilSubscribedAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Registers the charger on its grain and gives it a broker login; returns its password.</summary>
    public virtual async Task<string> AddChargerAsync(string chargerId, long hold = 30_000)
    {
        await Core.RegisterChargerAsync(chargerId, hold: hold);
        return "secret-" + chargerId;
    }

    public async Task<SimulatedCharger> ConnectChargerAsync(string chargerId, long hold = 30_000)
    {
        var password = await AddChargerAsync(chargerId, hold);
        return await SimulatedCharger.ConnectAsync(Port, chargerId, password);
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }
        await Core.DisposeAsync();
    }
}

/// <summary>The default run: MQTTnet broker embedded, checking passwords against charger grains.</summary>
public class EmbeddedBridgeFixture : BridgeFixture
{
    /// <summary>Which path the embedded broker and bridge use (<see cref="ChargerBridgeOptions.InProcessBridge"/>).</summary>
    protected virtual bool InProcessBridge => true;

    private readonly int _port = MosquittoBroker.FreePort();
    public override int Port => _port;
    public const string OperatorUser = "ops";
    public const string OperatorPassword = "ops-secret";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await StartBridgeAsync(o =>
        {
            o.Broker = BrokerMode.Embedded;
            o.Port = _port;
            o.OperatorUsername = OperatorUser;
            o.OperatorPassword = OperatorPassword;
            o.InProcessBridge = InProcessBridge;
            o.PasswordCacheSeconds = 1;
        });
    }
}

/// <summary>
/// The embedded broker with <see cref="ChargerBridgeOptions.InProcessBridge"/> off: every frame is routed through the
/// broker to the bridge's MQTT subscription and back (the path measured before InProcessBridge, docs/performance.md).
/// </summary>
public sealed class EmbeddedRoutedBridgeFixture : EmbeddedBridgeFixture
{
    protected override bool InProcessBridge => false;
}

/// <summary>The cluster profile: Mosquitto as external broker, two bridge instances in one shared-subscription group.</summary>
public sealed class MosquittoBridgeFixture : BridgeFixture
{
    public MosquittoBroker Broker { get; } = new();
    public override int Port => Broker.Port;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Broker.StartAsync();
        for (var i = 0; i < 2; i++)
        {
            await StartBridgeAsync(o =>
            {
                o.Broker = BrokerMode.External;
                o.Host = "127.0.0.1";
                o.Port = Broker.Port;
                o.BridgeUsername = MosquittoBroker.BridgeUser;
                o.BridgePassword = Broker.BridgePassword;
                o.SharedGroup = "evc-bridge";
            });
        }
    }

    public override async Task<string> AddChargerAsync(string chargerId, long hold = 30_000)
    {
        var password = await base.AddChargerAsync(chargerId, hold);
        await Broker.AddUserAsync(chargerId, password);
        return password;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Broker.DisposeAsync();
    }
}
