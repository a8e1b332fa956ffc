namespace EvCharge.ChargerBridge.WebSockets;

/// <summary>
/// Configuration section "ChargerBridge:WebSocket": the OCPP-J endpoint <c>ws(s)://host:port/ocpp/{chargerId}</c>
/// (docs/protocol.md section 8, certificates in docs/operations.md).
/// </summary>
public sealed class OcppWebSocketOptions
{
    public const string SectionName = "ChargerBridge:WebSocket";

    /// <summary>The only OCPP-J subprotocol spoken here.</summary>
    public const string Subprotocol = "ocpp1.6";

    /// <summary>The path chargers connect to; their id is the segment after it.</summary>
    public const string PathPrefix = "/ocpp";

    /// <summary>Serve chargers over WebSocket (beside MQTT).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Listen address: "*" for every interface (IPv4 and IPv6), or an IP address.</summary>
    public string Host { get; set; } = "*";

    /// <summary>Plain ws:// port (security profile 1); 0 turns it off.</summary>
    public int Port { get; set; } = 8180;

    /// <summary>wss:// port (profiles 2 and 3), used when <see cref="CertificatePath"/> is set; 0 turns it off.</summary>
    public int TlsPort { get; set; } = 8443;

    /// <summary>The server certificate: a PKCS#12 file, or a PEM certificate with <see cref="CertificateKeyPath"/>.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key of <see cref="CertificatePath"/> (when that is PEM).</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>Password of the PKCS#12 file or of an encrypted PEM key.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// PEM file with the CA certificate(s) that issue charger certificates (profile 3). A client certificate counts
    /// only if it chains to one of them and its subject CN is the charger id of the URL.
    /// </summary>
    public string? ChargerCaPath { get; set; }

    /// <summary>
    /// Accept HTTP Basic over plain ws:// (profile 1). The password crosses the network in clear: production sets
    /// this false and serves chargers on wss:// only.
    /// </summary>
    public bool AllowBasicAuthWithoutTls { get; set; } = true;

    /// <summary>A message larger than this closes the connection (1009) before more of it is read.</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Frames waiting to be sent to one charger; a charger that stops reading is disconnected when it fills.</summary>
    public int SendQueueFrames { get; set; } = 64;

    /// <summary>Frames read from one charger and waiting for the previous one to be handled (then reading pauses).</summary>
    public int ReceiveQueueFrames { get; set; } = 8;

    /// <summary>WebSocket ping interval; 0 turns pings off.</summary>
    public int PingIntervalSeconds { get; set; } = 30;

    /// <summary>How long a ping may go unanswered before the connection is dropped; 0 only sends pings.</summary>
    public int PingTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// A connection with no OCPP message for this long is closed (0: never). Keep it above the heartbeat interval
    /// given at boot (EvCharge:HeartbeatIntervalSeconds, 300 by default).
    /// </summary>
    public int IdleTimeoutSeconds { get; set; } = 900;

    /// <summary>Failed logins of one charger id within <see cref="LoginThrottleWindowSeconds"/> before it is refused (429).</summary>
    public int LoginFailuresPerCharger { get; set; } = 5;

    /// <summary>Failed logins from one address within the window before it is refused.</summary>
    public int LoginFailuresPerAddress { get; set; } = 20;

    public int LoginThrottleWindowSeconds { get; set; } = 60;

    /// <summary>
    /// TCP listen backlog (Kestrel's default is 512): a boot storm of thousands of chargers overflows a short one and
    /// they wait out SYN retransmits. The kernel caps it at net.core.somaxconn.
    /// </summary>
    public int ConnectionBacklog { get; set; } = 4096;

    /// <summary>How long the connection waits for the charger's answer to our close before dropping it.</summary>
    public int CloseTimeoutSeconds { get; set; } = 5;
}
