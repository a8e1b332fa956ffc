using EvCharge.ChargerBridge.Extensions;
using EvCharge.ChargerBridge.Mqtt;
using EvCharge.ChargerBridge.WebSockets;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EvCharge.IntegrationTests.Bridge;

/// <summary>
/// The grains (CoreCluster: InProcessTestCluster + sandbox over HTTP + SQLite ledger) plus charger bridge hosts
/// using the cluster client as their grain factory, the way the stand-alone bridge process runs. Subclasses say
/// which transport a test charger connects over.
/// </summary>
public abstract class BridgeFixture : IAsyncLifetime
{
    protected List<IHost> Hosts { get; } = [];

    public CoreCluster Core { get; } = new();

    public virtual async Task InitializeAsync() => await Core.InitializeAsync();

    /// <summary>Registers the charger on its grain (and, for an external broker, gives it a login); returns its password.</summary>
    public virtual async Task<string> AddChargerAsync(string chargerId, long hold = 30_000)
    {
        await Core.RegisterChargerAsync(chargerId, hold: hold);
        return "secret-" + chargerId;
    }

    /// <summary>Registers the charger and connects it over this fixture's transport.</summary>
    public abstract Task<TestCharger> ConnectChargerAsync(string chargerId, long hold = 30_000);

    /// <summary>Frames the bridges of this fixture have handled (answered or correlated).</summary>
    public abstract long FramesHandled { get; }

    public virtual async Task DisposeAsync()
    {
        foreach (var host in Hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }
        await Core.DisposeAsync();
    }
}

/// <summary>Chargers over MQTT: an embedded or external broker and one or more bridges.</summary>
public abstract class MqttBridgeFixture : BridgeFixture
{
    public abstract int Port { get; }
    public IReadOnlyList<MqttChargerBridge> Bridges => Hosts.Select(h => h.Services.GetRequiredService<MqttChargerBridge>()).ToList();
    public override long FramesHandled => Bridges.Sum(b => b.FramesHandled);

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
        Hosts.Add(host);
        await host.Services.GetRequiredService<MqttChargerBridge>().WaitUntilSubscribedAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public override async Task<TestCharger> ConnectChargerAsync(string chargerId, long hold = 30_000) =>
        await ConnectMqttChargerAsync(chargerId, hold);

    public async Task<SimulatedCharger> ConnectMqttChargerAsync(string chargerId, long hold = 30_000)
    {
        var password = await AddChargerAsync(chargerId, hold);
        return await SimulatedCharger.ConnectAsync(Port, chargerId, password);
    }
}

/// <summary>The default run: MQTTnet broker embedded, checking passwords against charger grains.</summary>
public class EmbeddedBridgeFixture : MqttBridgeFixture
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
public sealed class MosquittoBridgeFixture : MqttBridgeFixture
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

/// <summary>
/// Chargers over OCPP-J WebSocket: one host like the silo's, with the embedded MQTT broker and bridge and the WebSocket
/// endpoint side by side (ws:// and wss:// with a server certificate and a charger CA made by the test), so a charger
/// can also move between the two transports. Test chargers connect over ws:// with HTTP Basic (profile 1).
/// </summary>
public sealed class WebSocketBridgeFixture : BridgeFixture
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evc-ws-").FullName;

    public int MqttPort { get; } = MosquittoBroker.FreePort();
    public int WsPort { get; } = MosquittoBroker.FreePort();
    public int WssPort { get; } = MosquittoBroker.FreePort();
    public TestCertificates Certificates { get; private set; } = null!;
    /// <summary>What the bridge host logged (to check what a refusal log says, and what it must not).</summary>
    public CapturedLogs Logs { get; } = new();
    public Uri WsEndpoint => new($"ws://127.0.0.1:{WsPort}/ocpp/");
    public Uri WssEndpoint => new($"wss://127.0.0.1:{WssPort}/ocpp/");
    public IHost Host => Hosts[0];
    public WebSocketHub Hub => Host.Services.GetRequiredService<WebSocketHub>();
    public MqttChargerBridge MqttBridge => Host.Services.GetRequiredService<MqttChargerBridge>();
    public override long FramesHandled => Hub.FramesHandled + MqttBridge.FramesHandled;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Certificates = new TestCertificates(Path.Combine(_dir, "pki"));
        Hosts.Add(await StartHostAsync(Core.Client, MqttPort, o =>
        {
            o.Port = WsPort;
            o.TlsPort = WssPort;
            o.CertificatePath = Certificates.ServerCertificatePath;
            o.CertificateKeyPath = Certificates.ServerKeyPath;
            o.ChargerCaPath = Certificates.CaPath;
            o.LoginFailuresPerCharger = 5;
            o.LoginFailuresPerAddress = 1000; // every test connects from 127.0.0.1
        }, Logs));
        await MqttBridge.WaitUntilSubscribedAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>A bridge host as the silo and the stand-alone bridge run it: embedded MQTT broker and bridge, plus the WebSocket endpoint.</summary>
    public static async Task<IHost> StartHostAsync(IGrainFactory grains, int mqttPort, Action<OcppWebSocketOptions> configure, CapturedLogs? logs = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        if (logs is not null) builder.Logging.AddProvider(logs);
        builder.Services.AddSingleton(grains);
        builder.Services.AddChargerBridge(o =>
        {
            o.Broker = BrokerMode.Embedded;
            o.Port = mqttPort;
            o.PasswordCacheSeconds = 1;
            o.ReconnectMinMilliseconds = 100;
            o.ReconnectMaxMilliseconds = 1000;
        });
        builder.Services.AddOcppWebSockets(configure);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    public override async Task<TestCharger> ConnectChargerAsync(string chargerId, long hold = 30_000) =>
        await ConnectWebSocketChargerAsync(chargerId, hold);

    public async Task<WebSocketCharger> ConnectWebSocketChargerAsync(string chargerId, long hold = 30_000)
    {
        var password = await AddChargerAsync(chargerId, hold);
        return await WebSocketCharger.ConnectAsync(WsEndpoint, chargerId, new WebSocketCharger.Login(password));
    }

    /// <summary>Registers a charger with a pinned security profile; returns its password.</summary>
    public async Task<string> AddChargerAsync(string chargerId, OcppSecurityProfile? profile, long hold = 30_000)
    {
        var password = "secret-" + chargerId;
        await Core.Client.GetGrain<IChargerGrain>(chargerId).Register(
            new ChargerRegistration(CoreCluster.CpoId, 2, CoreCluster.DefaultTariff.TariffId, hold, password, SecurityProfile: profile));
        return password;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Certificates?.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}

/// <summary>Keeps every formatted log message of a host, with its category.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _messages = new();
    public IReadOnlyCollection<string> Messages => _messages;
    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
    public void Dispose() { }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) owner._messages.Enqueue($"{logLevel} {category}: {formatter(state, exception)}");
        }
    }
}
