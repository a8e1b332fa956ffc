namespace EvCharge.ChargerBridge.Extensions;

public enum BrokerMode
{
    /// <summary>MQTTnet broker inside this process; the bridge connects to it over loopback like any client.</summary>
    Embedded,
    /// <summary>An external MQTT 5 broker (Mosquitto, EMQX, ...); the bridge is an ordinary client.</summary>
    External,
}

/// <summary>Configuration section "ChargerBridge" (see docs/protocol.md, "Running the bridge").</summary>
public sealed class ChargerBridgeOptions
{
    public const string SectionName = "ChargerBridge";

    /// <summary>Turns the whole bridge off (for example a silo that leaves MQTT to stand-alone bridges).</summary>
    public bool Enabled { get; set; } = true;

    public BrokerMode Broker { get; set; } = BrokerMode.Embedded;

    /// <summary>External broker host; the embedded broker is reached on loopback.</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>Plain MQTT port: the embedded broker listens on it, the bridge connects to it.</summary>
    public int Port { get; set; } = 1883;

    /// <summary>TLS port of the embedded broker, used only when <see cref="PfxPath"/> is set.</summary>
    public int TlsPort { get; set; } = 8883;

    /// <summary>PKCS#12 certificate for the embedded broker's TLS listener; empty disables TLS.</summary>
    public string? PfxPath { get; set; }
    public string? PfxPassword { get; set; }

    /// <summary>Connect to the external broker with TLS (then <see cref="Port"/> is its TLS port).</summary>
    public bool UseTls { get; set; }

    /// <summary>
    /// The bridge's own MQTT credentials. For the embedded broker a random password is generated when empty;
    /// for an external broker they must match its password file.
    /// </summary>
    public string BridgeUsername { get; set; } = "evc-bridge";
    public string? BridgePassword { get; set; }

    /// <summary>Optional read-only operator login on the embedded broker (watch all charger topics with mosquitto_sub).</summary>
    public string? OperatorUsername { get; set; }
    public string? OperatorPassword { get; set; }

    /// <summary>MQTT 5 shared-subscription group; empty subscribes without $share (one bridge only).
    /// Ignored for the embedded broker, which does not support shared subscriptions.</summary>
    public string? SharedGroup { get; set; } = "evc-bridge";

    /// <summary>
    /// Lanes: frames processed at once. Each charger's frames stay in order on one lane, and a lane waits while its frame
    /// waits on a grain (a payment authorization waits on the wallet provider), so lanes must far outnumber the frames
    /// in flight, or chargers queue behind each other's slow calls. A lane is a channel and a task, idle when empty.
    /// </summary>
    public int MaxConcurrency { get; set; } = 1024;

    /// <summary>Frames queued per lane before the bridge stops reading from the broker (back-pressure).</summary>
    public int LaneCapacity { get; set; } = 64;

    /// <summary>
    /// Embedded broker: messages queued per subscriber before MQTTnet drops the oldest (its default is 250). The
    /// bridge is one subscriber for every charger; OCPP lets each charger have one CALL outstanding, so what waits
    /// for the bridge is bounded by the fleet size (a boot storm of 20,000 chargers queues ~20,000 BootNotifications).
    /// Keep this above twice the fleet; drops are logged and counted (evcharge.broker.dropped).
    /// </summary>
    public int MaxPendingMessagesPerClient { get; set; } = 100_000;

    /// <summary>
    /// Embedded broker only: the broker and the bridge in one process hand frames to each other directly. Charger
    /// uplinks go from the broker's publish interceptor into the bridge's lanes, and answers go into the charger's
    /// MQTT session, instead of both being routed through the bridge's MQTT client. The profile showed MQTTnet's
    /// broker copying and scanning every connected session for each routed message (more than half the silo's CPU
    /// with 19,000 chargers) plus a socket write per message to and from the bridge; this path skips both, and a
    /// charger's PUBACK waits until its frame is queued (back-pressure instead of a queue that can drop). While an
    /// operator login is connected, messages are routed as well so it sees them. Set false to route everything
    /// through the broker as with an external one (docs/performance.md has both measured).
    /// </summary>
    public bool InProcessBridge { get; set; } = true;

    /// <summary>
    /// Embedded broker: TCP listen backlog (MQTTnet's default is 100). When thousands of chargers reconnect at once
    /// (a boot storm after a site's network outage) a short backlog makes the kernel drop SYNs and the chargers wait
    /// out TCP's 1 s, 3 s, 7 s... retransmits. The kernel caps it at net.core.somaxconn (4096 here).
    /// </summary>
    public int ConnectionBacklog { get; set; } = 4096;

    /// <summary>MQTT client id of this bridge instance; a unique one is generated when empty.</summary>
    public string? ClientId { get; set; }

    /// <summary>How long the embedded broker trusts a CheckPassword answer for the same charger and password.</summary>
    public int PasswordCacheSeconds { get; set; } = 60;

    /// <summary>The bridge re-attaches itself as the charger grain's link at least this often.</summary>
    public int LinkRefreshSeconds { get; set; } = 300;

    /// <summary>Reconnect back-off bounds.</summary>
    public int ReconnectMinMilliseconds { get; set; } = 500;
    public int ReconnectMaxMilliseconds { get; set; } = 30_000;
}
