using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EvCharge.ChargerBridge.Extensions;
using EvCharge.Charging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace EvCharge.ChargerBridge.Mqtt;

/// <summary>
/// The MQTT broker of the default single-process run. Authenticates every CONNECT (a charger's client id and
/// username are its charger id, its password is checked by its grain) and enforces the topic ACL: a charger may
/// publish only to its own up topic and subscribe only to its own down topic; the bridge user may read every up
/// topic and write every down topic; the optional operator user may only read.
/// </summary>
public sealed class EmbeddedBroker : IHostedService, IAsyncDisposable, IChargerDownlink
{
    private enum Role { Charger, Bridge, Operator }

    private readonly ChargerBridgeOptions _options;
    private readonly IGrainFactory _grainFactory;
    private readonly ILogger<EmbeddedBroker> _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, CachedCheck> _passwordCache = new(StringComparer.Ordinal);
    private MqttServer? _server;

    private sealed record CachedCheck(byte[] PasswordHash, bool Valid, DateTimeOffset ExpiresAt);

    public EmbeddedBroker(IOptions<ChargerBridgeOptions> options, IGrainFactory grainFactory, ILogger<EmbeddedBroker> logger,
        TimeProvider? time = null)
    {
        _options = options.Value;
        _grainFactory = grainFactory;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    public bool IsRunning => _server?.IsStarted == true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var factory = new MqttServerFactory();
        var builder = factory.CreateServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointPort(_options.Port)
            .WithPersistentSessions(false)
            .WithMaxPendingMessagesPerClient(Math.Max(250, _options.MaxPendingMessagesPerClient))
            .WithConnectionBacklog(Math.Max(100, _options.ConnectionBacklog));

        if (!string.IsNullOrWhiteSpace(_options.PfxPath))
        {
            var certificate = X509CertificateLoader.LoadPkcs12FromFile(_options.PfxPath, _options.PfxPassword);
            builder = builder.WithEncryptedEndpoint()
                .WithEncryptedEndpointPort(_options.TlsPort)
                .WithEncryptionCertificate(certificate);
        }

        _server = factory.CreateMqttServer(builder.Build());
        _server.ValidatingConnectionAsync += ValidateConnectionAsync;
        _server.InterceptingPublishAsync += InterceptPublishAsync;
        _server.InterceptingSubscriptionAsync += InterceptSubscriptionAsync;
        _server.InterceptingUnsubscriptionAsync += InterceptUnsubscriptionAsync;
        _server.ApplicationMessageEnqueuedOrDroppedAsync += OnEnqueuedOrDroppedAsync;
        _server.ClientConnectedAsync += OnClientConnectedAsync;
        _server.ClientDisconnectedAsync += OnClientDisconnectedAsync;
        await _server.StartAsync();
        _logger.LogInformation("Embedded MQTT broker listening on {Port}{Tls}", _options.Port,
            string.IsNullOrWhiteSpace(_options.PfxPath) ? "" : $" and TLS {_options.TlsPort}");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { IsStarted: true } server)
            await server.StopAsync(new MqttServerStopOptionsBuilder().Build());
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is null) return;
        await StopAsync(CancellationToken.None);
        _server.Dispose();
        _server = null;
    }

    /// <summary>Messages dropped so far, to log the first and then every thousandth (the metric counts each).</summary>
    private long _dropped;

    private Task OnEnqueuedOrDroppedAsync(MQTTnet.Server.ApplicationMessageEnqueuedEventArgs e)
    {
        if (!e.IsDropped) return Task.CompletedTask;
        // A QoS 1 message the charger already had acknowledged: it is lost unless the charger retries the CALL.
        if (Interlocked.Increment(ref _dropped) % 1000 == 1)
            _logger.LogWarning("Broker queue for {Client} is full: dropped {Topic} ({Total} dropped so far); raise ChargerBridge:MaxPendingMessagesPerClient",
                e.ReceiverClientId, e.ApplicationMessage.Topic, Interlocked.Read(ref _dropped));
        BrokerTelemetry.Dropped.Add(1);
        return Task.CompletedTask;
    }

    private async Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        var user = e.UserName ?? "";
        var password = e.Password ?? "";

        if (user.Length > 0 && user == _options.BridgeUsername)
        {
            e.ReasonCode = FixedTimeEquals(password, _options.BridgePassword)
                ? MqttConnectReasonCode.Success : MqttConnectReasonCode.BadUserNameOrPassword;
            return;
        }
        if (!string.IsNullOrEmpty(_options.OperatorUsername) && user == _options.OperatorUsername)
        {
            e.ReasonCode = FixedTimeEquals(password, _options.OperatorPassword)
                ? MqttConnectReasonCode.Success : MqttConnectReasonCode.BadUserNameOrPassword;
            return;
        }

        if (!ChargerTopics.IsValidChargerId(user) || password.Length == 0)
        {
            e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            return;
        }
        // A charger is its own client id, so a connection can only ever replace one of the same charger's.
        // "{chargerId}:{suffix}" is allowed too (':' cannot occur in a charger id), e.g. a separate subscriber.
        if (!IsOwnClientId(e.ClientId, user))
        {
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
            e.ReasonString = "client id must be the charger id (the username), optionally followed by ':' and a suffix";
            return;
        }

        try
        {
            e.ReasonCode = await CheckChargerPasswordAsync(user, password)
                ? MqttConnectReasonCode.Success : MqttConnectReasonCode.BadUserNameOrPassword;
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Password check for charger {ChargerId} failed; refusing the connection for now", user);
            e.ReasonCode = MqttConnectReasonCode.ServerUnavailable;
        }
        if (e.ReasonCode != MqttConnectReasonCode.Success)
            _logger.LogInformation("Refused MQTT connection of charger {ChargerId}: {Reason}", user, e.ReasonCode);
    }

    private async Task<bool> CheckChargerPasswordAsync(string chargerId, string password)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(password));
        var now = _time.GetUtcNow();
        if (_passwordCache.TryGetValue(chargerId, out var cached) && cached.ExpiresAt > now
            && CryptographicOperations.FixedTimeEquals(cached.PasswordHash, hash))
            return cached.Valid;

        var valid = await _grainFactory.GetGrain<IChargerGrain>(chargerId).CheckPassword(password);
        _passwordCache[chargerId] = new CachedCheck(hash, valid, now.AddSeconds(Math.Max(0, _options.PasswordCacheSeconds)));
        return valid;
    }

    /// <summary>Forget cached password checks, for example after an operator changed a charger's password.</summary>
    public void InvalidatePassword(string chargerId) => _passwordCache.TryRemove(chargerId, out _);

    private IChargerUplink? _uplink;
    private int _operatorsConnected;

    /// <summary>
    /// Hands every charger uplink straight to <paramref name="uplink"/> (the in-process bridge) instead of routing it
    /// to subscribers. Called before the bridge starts; see <see cref="ChargerBridgeOptions.InProcessBridge"/>.
    /// </summary>
    public void AttachUplink(IChargerUplink uplink) => _uplink = uplink;

    private async Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        var role = RoleOf(e.UserName, e.ClientId);
        var allowed = role switch
        {
            Role.Charger => topic == ChargerTopics.Up(e.UserName!),
            Role.Bridge => ChargerTopics.TryParseDown(topic, out _),
            _ => false,
        };
        if (!allowed)
        {
            // Dropped, not disconnected: a misbehaving charger keeps its connection (MQTT 5 clients see NotAuthorized).
            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            _logger.LogWarning("Refused publish by {ClientId} to {Topic}", e.ClientId, topic);
            return;
        }
        if (role == Role.Charger && _uplink is { } uplink)
        {
            // Awaited: MQTTnet answers the charger's PUBACK after this returns, so a full lane slows the charger down
            // rather than queueing without bound. Routed to subscribers as well only while an operator may be watching.
            await uplink.AcceptUplinkAsync(e.UserName!, e.ApplicationMessage.Payload.ToArray()).ConfigureAwait(false);
            e.ProcessPublish = Volatile.Read(ref _operatorsConnected) > 0;
        }
    }

    private Task OnClientConnectedAsync(MQTTnet.Server.ClientConnectedEventArgs e)
    {
        if (RoleOf(e.UserName, e.ClientId) == Role.Operator) Interlocked.Increment(ref _operatorsConnected);
        return Task.CompletedTask;
    }

    private Task OnClientDisconnectedAsync(MQTTnet.Server.ClientDisconnectedEventArgs e)
    {
        if (RoleOf(e.UserName, e.ClientId) == Role.Operator) Interlocked.Decrement(ref _operatorsConnected);
        return Task.CompletedTask;
    }

    private Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        var filter = e.TopicFilter.Topic;
        var role = RoleOf(e.UserName, e.ClientId);
        var allowed = role switch
        {
            Role.Charger => filter == ChargerTopics.Down(e.UserName!),
            Role.Bridge or Role.Operator => StripShare(filter).StartsWith(ChargerTopics.Prefix, StringComparison.Ordinal),
            _ => false,
        };
        if (!allowed)
        {
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            _logger.LogWarning("Refused subscription by {ClientId} to {Filter}", e.ClientId, filter);
            return Task.CompletedTask;
        }
        if (role == Role.Charger)
        {
            // Remembered on the MQTT session itself: a reconnect with clean start gets a fresh session and must
            // subscribe again, exactly as routed delivery would require. See DeliverDownlinkAsync.
            e.SessionItems[DownQosItem] = e.TopicFilter.QualityOfServiceLevel;
            if (e.ClientId != e.UserName) _extraDownClients.GetOrAdd(e.UserName!, _ => new(StringComparer.Ordinal)).TryAdd(e.ClientId, 0);
        }
        return Task.CompletedTask;
    }

    private Task InterceptUnsubscriptionAsync(InterceptingUnsubscriptionEventArgs e)
    {
        if (RoleOf(e.UserName, e.ClientId) == Role.Charger && e.Topic == ChargerTopics.Down(e.UserName!))
            e.SessionItems.Remove(DownQosItem);
        return Task.CompletedTask;
    }

    private const string DownQosItem = "evc.down-qos";

    /// <summary>Charger clients with a ":suffix" client id that subscribed to their charger's down topic (rare).</summary>
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> _extraDownClients = new(StringComparer.Ordinal);

    /// <summary>
    /// Puts a frame on the charger's down topic. MQTTnet routes a published message by copying and scanning every
    /// subscribed session (the profile of 19,000 connected chargers spent more than half the silo's CPU there), so
    /// while no operator is watching, the frame is queued straight into the session of each of the charger's own
    /// clients that subscribed to its down topic, at the QoS that subscription granted. Same outcome as routing,
    /// without the scan. Returns how many sessions it was queued for (0: the charger is not connected or subscribed).
    /// </summary>
    public async ValueTask<int> DeliverDownlinkAsync(string chargerId, byte[] frame)
    {
        var server = _server ?? throw new InvalidOperationException("The embedded broker is not running");
        if (Volatile.Read(ref _operatorsConnected) > 0)
        {
            var routed = ChargerTopics.DownMessage(chargerId, frame, MqttQualityOfServiceLevel.AtLeastOnce);
            await server.InjectApplicationMessage(new InjectedMqttApplicationMessage(routed) { SenderClientId = _options.BridgeUsername, SenderUserName = _options.BridgeUsername })
                .ConfigureAwait(false);
            return 1;
        }
        var delivered = await DeliverToSessionAsync(server, chargerId, chargerId, frame).ConfigureAwait(false) ? 1 : 0;
        if (_extraDownClients.TryGetValue(chargerId, out var extra))
            foreach (var clientId in extra.Keys)
                if (await DeliverToSessionAsync(server, clientId, chargerId, frame).ConfigureAwait(false)) delivered++;
                else extra.TryRemove(clientId, out _);
        return delivered;
    }

    private static async Task<bool> DeliverToSessionAsync(MqttServer server, string clientId, string chargerId, byte[] frame)
    {
        MqttSessionStatus session;
        try
        {
            session = await server.GetSessionAsync(clientId).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            return false; // no session: not connected (MQTT would drop the message for want of a subscriber too)
        }
        if (session.Items[DownQosItem] is not MqttQualityOfServiceLevel granted) return false;
        var qos = granted < MqttQualityOfServiceLevel.AtLeastOnce ? granted : MqttQualityOfServiceLevel.AtLeastOnce;
        return session.TryEnqueueApplicationMessage(ChargerTopics.DownMessage(chargerId, frame, qos), out _);
    }

    private Role? RoleOf(string? userName, string? clientId)
    {
        if (string.IsNullOrEmpty(userName)) return null;
        if (userName == _options.BridgeUsername) return Role.Bridge;
        if (!string.IsNullOrEmpty(_options.OperatorUsername) && userName == _options.OperatorUsername) return Role.Operator;
        return IsOwnClientId(clientId, userName) ? Role.Charger : null;
    }

    private static bool IsOwnClientId(string? clientId, string chargerId) =>
        clientId is not null && clientId.StartsWith(chargerId, StringComparison.Ordinal)
        && (clientId.Length == chargerId.Length || clientId[chargerId.Length] == ':');

    private static string StripShare(string filter)
    {
        if (!filter.StartsWith("$share/", StringComparison.Ordinal)) return filter;
        var slash = filter.IndexOf('/', "$share/".Length);
        return slash < 0 ? "" : filter[(slash + 1)..];
    }

    private static bool FixedTimeEquals(string presented, string? expected) =>
        !string.IsNullOrEmpty(expected)
        && CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
