using System.Collections.Concurrent;
using System.Net.WebSockets;
using EvCharge.ChargerBridge.Extensions;
using EvCharge.ChargerBridge.Ocpp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvCharge.ChargerBridge.WebSockets;

/// <summary>
/// What every WebSocket connection of this process shares: the frame handler, the grain factory, the options, and
/// <see cref="Connections"/>, the live connections by charger id (one per charger: a newer one replaces the older).
/// </summary>
public sealed class WebSocketHub(
    OcppDispatcher dispatcher,
    OcppPendingCalls pendingCalls,
    IGrainFactory grains,
    ChargerLogin login,
    IOptions<OcppWebSocketOptions> options,
    IOptions<ChargerBridgeOptions> bridgeOptions,
    TimeProvider time,
    ILogger<WebSocketHub> logger)
{
    private long _framesHandled;

    public OcppDispatcher Dispatcher { get; } = dispatcher;
    public OcppPendingCalls PendingCalls { get; } = pendingCalls;
    public IGrainFactory Grains { get; } = grains;
    public ChargerLogin Login { get; } = login;
    public OcppWebSocketOptions Options { get; } = options.Value;
    public TimeProvider Time { get; } = time;
    public ILogger Logger { get; } = logger;
    internal ConnectionTable Connections { get; } = new();

    /// <summary>The connection re-attaches itself to its charger grain at least this often (grains may move or restart).</summary>
    public int LinkRefreshSeconds => Math.Max(1, bridgeOptions.Value.LinkRefreshSeconds);

    /// <summary>Chargers connected over WebSocket right now.</summary>
    public int ConnectedChargers => Connections.Count;

    /// <summary>Frames handled since start, for diagnostics and tests.</summary>
    public long FramesHandled => Interlocked.Read(ref _framesHandled);

    internal void FrameHandled() => Interlocked.Increment(ref _framesHandled);

    /// <summary>Whether the charger has a live (not closing) WebSocket here.</summary>
    public bool IsConnected(string chargerId) => Connections.TryGet(chargerId, out var c) && !c.IsClosing;

    /// <summary>Whether the charger has a live WebSocket here, and over which security profile.</summary>
    public bool TryGetConnection(string chargerId, out (string RemoteAddress, Charging.OcppSecurityProfile Profile) connection)
    {
        if (Connections.TryGet(chargerId, out var c) && !c.IsClosing)
        {
            connection = (c.RemoteAddress, c.Profile);
            return true;
        }
        connection = default;
        return false;
    }

    /// <summary>Closes connections that sent no OCPP message for <see cref="OcppWebSocketOptions.IdleTimeoutSeconds"/>.</summary>
    public int CloseIdle()
    {
        if (Options.IdleTimeoutSeconds <= 0) return 0;
        var cutoff = Time.GetUtcNow() - TimeSpan.FromSeconds(Options.IdleTimeoutSeconds);
        var closed = 0;
        foreach (var c in Connections.All)
        {
            if (c.LastMessageAt >= cutoff || c.IsClosing) continue;
            Logger.LogInformation("Charger {ChargerId} sent nothing for {Seconds} s; closing its WebSocket", c.ChargerId, Options.IdleTimeoutSeconds);
            c.RequestClose(WebSocketCloseStatus.PolicyViolation, "idle timeout");
            closed++;
        }
        return closed;
    }

    /// <summary>Shutdown: every charger is told the server is going away (1001) and reconnects elsewhere or later.</summary>
    public async Task CloseAllAsync(TimeSpan grace)
    {
        var all = Connections.All.ToList();
        foreach (var c in all) c.RequestClose(WebSocketCloseStatus.EndpointUnavailable, "server shutting down");
        await Task.WhenAny(Task.WhenAll(all.Select(c => c.Completion)), Task.Delay(grace));
        foreach (var c in all.Where(c => !c.Completion.IsCompleted)) c.Abort("server shutting down");
    }

    /// <summary>One live connection per charger id.</summary>
    internal sealed class ConnectionTable
    {
        private readonly ConcurrentDictionary<string, OcppWebSocketConnection> _byCharger = new(StringComparer.Ordinal);

        public int Count => _byCharger.Count;
        public IEnumerable<OcppWebSocketConnection> All => _byCharger.Values;

        public bool TryGet(string chargerId, out OcppWebSocketConnection connection) => _byCharger.TryGetValue(chargerId, out connection!);

        /// <summary>Makes <paramref name="connection"/> its charger's connection; returns the one it replaces.</summary>
        public OcppWebSocketConnection? Add(OcppWebSocketConnection connection)
        {
            OcppWebSocketConnection? previous = null;
            _byCharger.AddOrUpdate(connection.ChargerId, connection, (_, old) => { previous = old; return connection; });
            return previous;
        }

        /// <summary>Removes the entry only if it is still this connection (a successor may already have taken it).</summary>
        public void Remove(OcppWebSocketConnection connection) =>
            _byCharger.TryRemove(new KeyValuePair<string, OcppWebSocketConnection>(connection.ChargerId, connection));
    }
}
